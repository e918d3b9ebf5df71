// History-API routing: the server answers every non-/api path with index.html.
export const route = $state({ path: location.pathname });

export function navigate(path: string, replace = false): void {
  if (path === route.path) return;
  if (replace) history.replaceState(null, '', path);
  else history.pushState(null, '', path);
  route.path = path;
  window.scrollTo(0, 0);
}

addEventListener('popstate', () => {
  route.path = location.pathname;
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
    .map((s) => decodeURIComponent(s));
}
