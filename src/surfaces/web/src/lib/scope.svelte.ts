// Which repo the pages show. A repo's own server has its pages at `/` and its API at `/api`; a hub's
// server has repo <id>'s pages under `/repos/<id>` and its API under `/repos/<id>/api` (the same routes).
// Views build every link and API path through these, so one set of views serves both.
export const scope = $state({ repo: null as string | null });

/** `/repos/<id>` in a hub's repo, else nothing. */
export function repoBase(): string {
  return scope.repo === null ? '' : `/repos/${encodeURIComponent(scope.repo)}`;
}

/** The current repo's API path for `/api/...`. */
export const repoApi = (path: string): string => repoBase() + path;

/** The current repo's page for an app path (`/`, `/runs/<id>`, ...). */
export function link(path: string): string {
  const base = repoBase();
  return path === '/' ? base || '/' : base + path;
}
