import { closeSync, linkSync, openSync } from 'node:fs';
import { removeTemp, tempPathFor, writeAllSync } from './atomic.ts';
import { diskErrorOf } from './disk-error.ts';

/**
 * Creates `path` with `data` only if it does not exist yet, atomically: the bytes are written and synced
 * under a temp name, then hard-linked into place (link fails when the target exists). Returns false when
 * the file already existed; a crash never leaves a half-written target, and a failure leaves no temp
 * file (a full or read-only disk throws a DiskError naming `path`).
 */
export function createFileExclusive(path: string, data: string | Uint8Array): boolean {
  const temp = tempPathFor(path);
  let fd: number | undefined;
  try {
    fd = openSync(temp, 'wx');
    writeAllSync(fd, data, true);
    const open = fd;
    fd = undefined;
    closeSync(open);
    linkSync(temp, path);
    return true;
  } catch (err) {
    if (fd !== undefined) closeSync(fd);
    if ((err as NodeJS.ErrnoException).code === 'EEXIST' && (err as NodeJS.ErrnoException).syscall === 'link')
      return false;
    throw diskErrorOf(err, path) ?? err;
  } finally {
    removeTemp(temp);
  }
}
