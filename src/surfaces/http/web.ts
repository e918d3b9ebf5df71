// The web UI: the vite build in dist/web. Hashed files under /assets are cached for a year; everything
// else (index.html above all) is revalidated, so a new build shows at the next load. Paths that are not
// files get index.html (the app routes in the browser); /api never does. The Host check in app.ts runs
// first; the files need no token (they hold no data), the API they call does.
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { serveStatic } from '@hono/node-server/serve-static';
import { Hono } from 'hono';
import { distDir } from '../dist-paths.ts';

const CSP = [
  "default-src 'self'",
  "script-src 'self'",
  "style-src 'self' 'unsafe-inline'",
  "img-src 'self' data:",
  "connect-src 'self'",
  "object-src 'none'",
  "base-uri 'none'",
  "form-action 'self'",
  "frame-ancestors 'none'",
].join('; ');

/** dist/web next to the bundle (dist/car.js), or from the source tree when run through tsx. */
export function findWebRoot(): string | null {
  const dist = distDir();
  const here = dirname(fileURLToPath(import.meta.url));
  for (const candidate of [dist ? join(dist, 'web') : join(here, '../../../dist/web')]) {
    if (existsSync(join(candidate, 'index.html'))) return candidate;
  }
  return null;
}

const ONE_YEAR = 'public, max-age=31536000, immutable';

export function webRoutes(root: string): Hono {
  const app = new Hono();
  const isApi = (path: string) => path === '/api' || path.startsWith('/api/');

  // Headers go on after the file is found (serveStatic's own hook does not reach in-process responses).
  app.use('*', async (c, next) => {
    if (isApi(c.req.path)) return next();
    await next();
    if (c.res.status !== 200 && c.res.status !== 206) return;
    const h = c.res.headers;
    h.set('Cache-Control', c.req.path.startsWith('/assets/') ? ONE_YEAR : 'no-cache');
    h.set('X-Content-Type-Options', 'nosniff');
    h.set('Referrer-Policy', 'no-referrer');
    h.set('X-Frame-Options', 'DENY');
    h.set('Content-Security-Policy', CSP);
  });
  app.use('*', (c, next) => (isApi(c.req.path) ? next() : serveStatic({ root })(c, next)));
  app.get('*', (c, next) => {
    // A missing asset or top-level file (/robots.txt) is a 404, not the app; page routes such as
    // /tickets/TICKET-010.md get index.html.
    const path = c.req.path;
    if (isApi(path) || path.startsWith('/assets/') || /^\/[^/]+\.[a-z0-9]+$/i.test(path)) {
      return next();
    }
    return c.html(readFileSync(join(root, 'index.html'), 'utf8'));
  });
  return app;
}
