import { basename, dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/**
 * The build's `dist/` folder when running from the bundle (code lives in `dist/car.js` or, split out for
 * lazy loading, `dist/chunks/*.js`); null when running from source under tsx.
 */
export function distDir(): string | null {
  const self = fileURLToPath(import.meta.url);
  if (!self.endsWith('.js')) return null;
  const dir = dirname(self);
  return basename(dir) === 'chunks' ? dirname(dir) : dir;
}

/** The bundled CLI entry, `dist/car.js`, or null from source. */
export function bundledCli(): string | null {
  const dist = distDir();
  return dist ? join(dist, 'car.js') : null;
}
