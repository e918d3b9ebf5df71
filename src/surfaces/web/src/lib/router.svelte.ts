// History-API routing: the server answers every non-/api path with index.html. A view with unsaved work
// registers a leave guard: in-app navigation (links, back/forward) asks before leaving it, and a reload
// or a closed tab gets the browser's own prompt.
export const route = $state({ path: location.pathname });

export const LEAVE_MESSAGE = 'You have unsaved edits on this page. Leave and lose them?';

/** Each returns true while its view holds something a navigation would lose. */
const guards = new Set<() => boolean>();

/** Registers a leave guard; returns its removal (an effect's teardown). */
export function guardLeave(unsaved: () => boolean): () => void {
  guards.add(unsaved);
  return () => guards.delete(unsaved);
}

const unsavedWork = () => [...guards].some((g) => g());

/** True when nothing would be lost, or the user agreed to lose it. */
export function mayLeave(): boolean {
  return !unsavedWork() || confirm(LEAVE_MESSAGE);
}

// Each history entry of the app carries its position, so a refused back/forward can be undone.
let position = typeof history.state?.car === 'number' ? (history.state.car as number) : 0;
if (history.state?.car === undefined) history.replaceState({ car: position }, '');

export function navigate(path: string, replace = false): void {
  if (path === route.path) return;
  if (!mayLeave()) return;
  if (replace) history.replaceState({ car: position }, '', path);
  else history.pushState({ car: ++position }, '', path);
  route.path = path;
  window.scrollTo(0, 0);
}

// the back/forward step being undone after the user chose to stay
let undoing = false;

addEventListener('popstate', (e) => {
  const to = typeof e.state?.car === 'number' ? (e.state.car as number) : 0;
  if (undoing) {
    undoing = false;
    position = to;
    return;
  }
  if (location.pathname !== route.path && !mayLeave()) {
    undoing = true;
    history.go(position - to);
    return;
  }
  position = to;
  route.path = location.pathname;
});

addEventListener('beforeunload', (e) => {
  if (!unsavedWork()) return;
  e.preventDefault();
  // older browsers show the prompt only when returnValue is set
  e.returnValue = '';
});

/** Same-origin links navigate in place (modifier clicks still open a new tab). */
export function interceptLinks(e: MouseEvent): void {
  if (e.defaultPrevented || e.button !== 0 || e.metaKey || e.ctrlKey || e.shiftKey || e.altKey) return;
  const a = (e.target as Element).closest('a');
  const href = a?.getAttribute('href');
  if (!a || !href?.startsWith('/') || href.startsWith('//') || a.target || a.hasAttribute('download')) return;
  e.preventDefault();
  navigate(href);
}

/** The path's segments after a prefix, decoded: match('/runs/abc', 'runs') → ['abc']. */
export function segments(path: string): string[] {
  return path
    .split('/')
    .filter((s) => s !== '')
    .map((s) => {
      try {
        return decodeURIComponent(s);
      } catch {
        return s; // a malformed escape (`/runs/%E0`) is a name that is not found, not a crash
      }
    });
}
