import { randomBytes } from 'node:crypto';
import {
  closeSync,
  fchmodSync,
  fsyncSync,
  mkdirSync,
  openSync,
  renameSync,
  statSync,
  unlinkSync,
  writeSync,
} from 'node:fs';
import { basename, dirname, join } from 'node:path';

function fsyncDir(dir: string): void {
  let fd: number | undefined;
  try {
    fd = openSync(dir, 'r');
    fsyncSync(fd);
  } catch {
    // Some filesystems refuse to open or fsync a directory; the rename itself already happened.
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
}

export interface AtomicWriteOptions {
  /** Make missing parent folders first. */
  createDirs?: boolean;
  /**
   * fsync the file and its folder (default): the new bytes survive power loss. Without it the write is
   * still all-or-nothing for a crashed or killed process; run records use the store's durability setting.
   */
  durable?: boolean;
}

/**
 * Replaces `path` so that a crash leaves either the old or the new bytes: writes a temp file in the
 * same directory, renames it over the target, and (durable) fsyncs the file before and the directory
 * after. Keeps the target's file mode; removes the temp file when anything fails.
 */
export function writeFileAtomic(
  path: string,
  data: string | Uint8Array,
  opts: AtomicWriteOptions = {},
): void {
  const durable = opts.durable ?? true;
  const dir = dirname(path);
  if (opts.createDirs) mkdirSync(dir, { recursive: true });
  const tmp = join(dir, `.${basename(path)}.${process.pid}.${randomBytes(6).toString('hex')}.tmp`);
  let mode: number | undefined;
  try {
    mode = statSync(path).mode & 0o7777;
  } catch {
    // A new file gets the default mode, narrowed by the umask.
  }
  let fd: number | undefined;
  try {
    fd = openSync(tmp, 'wx', 0o666);
    // Set explicitly: the umask would otherwise narrow the copied mode.
    if (mode !== undefined) fchmodSync(fd, mode);
    const bytes = typeof data === 'string' ? Buffer.from(data, 'utf8') : data;
    let written = 0;
    while (written < bytes.length) written += writeSync(fd, bytes, written, bytes.length - written);
    if (durable) fsyncSync(fd);
    closeSync(fd);
    fd = undefined;
    renameSync(tmp, path);
  } catch (error) {
    if (fd !== undefined) closeSync(fd);
    try {
      unlinkSync(tmp);
    } catch {
      // Never created, or already renamed.
    }
    throw error;
  }
  if (durable) fsyncDir(dir);
}
