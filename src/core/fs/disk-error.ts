// A full, over-quota or read-only disk is an expected condition, not a bug: every writer reports it as a
// DiskError naming the file it could not write, and the surfaces turn that into one line (the CLI: exit 6).
import { accessSync, constants, existsSync, statfsSync } from 'node:fs';
import { dirname } from 'node:path';

export type DiskErrorCode = 'ENOSPC' | 'EDQUOT' | 'EROFS';

const REASONS: Record<DiskErrorCode, string> = {
  ENOSPC: 'the disk is full (ENOSPC)',
  EDQUOT: 'the disk quota is used up (EDQUOT)',
  EROFS: 'the file system is read-only (EROFS)',
};

const CODES = new Set<string>(Object.keys(REASONS));

export class DiskError extends Error {
  override name = 'DiskError';
  readonly code: DiskErrorCode;
  /** The file (or folder) car could not write. */
  readonly path: string;

  constructor(code: DiskErrorCode, path: string, options?: { cause?: unknown }) {
    super(`cannot write ${path}: ${REASONS[code]}`, options);
    this.code = code;
    this.path = path;
  }
}

/**
 * The DiskError for `err`, or null when it is something else: a DiskError as it is, a Node fs error
 * with a disk code as a DiskError naming `path` (the file the caller was writing; when not given, the
 * file the error names).
 */
export function diskErrorOf(err: unknown, path?: string): DiskError | null {
  if (err instanceof DiskError) return err;
  const e = err as (NodeJS.ErrnoException & { dest?: string }) | null;
  // Node 20's recursive mkdir says ENOENT when the disk is read-only or full.
  if (e?.code === 'ENOENT' && e.syscall === 'mkdir' && e.path) {
    const code = probeDisk(e.path);
    return code && new DiskError(code, path ?? e.path, { cause: err });
  }
  if (typeof e?.code !== 'string' || !CODES.has(e.code)) return null;
  // A copy or rename names its source as `path`; the file that could not be written is `dest`.
  const where = path ?? e.dest ?? e.path ?? '(unknown path)';
  return new DiskError(e.code as DiskErrorCode, where, { cause: err });
}

/**
 * Asks the disk under `path` (its nearest existing folder) why a write failed, for errors that do not
 * say: read-only, or no space left. Null when it is neither (an exhausted quota cannot be seen this way).
 */
export function probeDisk(path: string): DiskErrorCode | null {
  let dir = path;
  while (!existsSync(dir)) {
    if (dirname(dir) === dir) return null;
    dir = dirname(dir);
  }
  try {
    accessSync(dir, constants.W_OK);
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EROFS' ? 'EROFS' : null;
  }
  try {
    return statfsSync(dir).bavail === 0 ? 'ENOSPC' : null;
  } catch {
    return null;
  }
}

/** Space ran out (full or over quota): the write can succeed once space is freed, unlike a read-only disk. */
export function isDiskFullError(err: unknown): boolean {
  const code = diskErrorOf(err)?.code;
  return code === 'ENOSPC' || code === 'EDQUOT';
}
