// Which repo the pages show. A repo's own server has its pages at `/` and its API at `/api`; a hub's
// server has repo <id>'s pages under `/repos/<id>` and its API under `/repos/<id>/api` (the same routes).
// Views build every link and API path through these, so one set of views serves both.
import { route, segments } from './router.svelte.ts';

/** Set once the server said it runs at a hub's root. */
export const scope = $state({ hub: false });

/** The hub repo the current page belongs to (`/repos/<id>/...`), else null. */
export function currentRepo(): string | null {
  if (!scope.hub) return null;
  const [first, id] = segments(route.path);
  return first === 'repos' && id !== undefined ? id : null;
}

/** `/repos/<id>` in a hub's repo, else nothing. */
export function repoBase(): string {
  const id = currentRepo();
  return id === null ? '' : `/repos/${encodeURIComponent(id)}`;
}

/** The current repo's API path for `/api/...`. */
export const repoApi = (path: string): string => repoBase() + path;

/** The current repo's page for an app path (`/`, `/runs/<id>`, ...). */
export function link(path: string): string {
  const base = repoBase();
  return path === '/' ? base || '/' : base + path;
}
