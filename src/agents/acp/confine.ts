import { realpathSync } from 'node:fs';
import { basename, dirname, isAbsolute, join, relative, resolve, sep } from 'node:path';

/**
 * Resolves `path` (absolute, or relative to `root`) through symlinks, following the deepest existing
 * ancestor when the file does not exist yet, and returns the real path when it lies inside `rootReal`
 * (itself a real path); null when it points outside.
 */
export function confinePath(rootReal: string, path: string): string | null {
  const target = isAbsolute(path) ? resolve(path) : resolve(rootReal, path);
  const rest: string[] = [];
  let current = target;
  let real: string | null = null;
  for (;;) {
    try {
      real = realpathSync(current);
      break;
    } catch {
      const parent = dirname(current);
      if (parent === current) break;
      rest.unshift(basename(current));
      current = parent;
    }
  }
  if (real === null) return null;
  const full = rest.length > 0 ? join(real, ...rest) : real;
  return isInside(rootReal, full) ? full : null;
}

export function isInside(root: string, path: string): boolean {
  const rel = relative(root, path);
  return rel === '' || !(rel === '..' || rel.startsWith(`..${sep}`) || isAbsolute(rel));
}
