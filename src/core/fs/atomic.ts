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
import { diskErrorOf } from './disk-error.ts';

/** `.<name>.<pid>.<12 hex>.tmp`: hidden from every reader of car's folders, and its writer's pid is known. */
const TEMP_NAME_RE = /^\..+\.(\d+)\.[0-9a-f]{12}\.tmp$/;

/** A fresh temp file name next to `path`, for a write that is renamed or linked into place. */
export function tempPathFor(path: string): string {
  return join(dirname(path), `.${basename(path)}.${process.pid}.${randomBytes(6).toString('hex')}.tmp`);
}

/** The pid of the process that made temp file `name` (tempPathFor), or null when it is not one. */
export function tempFileOwner(name: string): number | null {
  const pid = TEMP_NAME_RE.exec(name)?.[1];
  return pid === undefined ? null : Number(pid);
}

/** Writes all of `bytes` (writeSync may write less than asked) and optionally fsyncs. */
export function writeAllSync(fd: number, data: string | Uint8Array, durable: boolean): void {
  const bytes = typeof data === 'string' ? Buffer.from(data, 'utf8') : data;
  let written = 0;
  while (written < bytes.length) written += writeSync(fd, bytes, written, bytes.length - written);
  if (durable) fsyncSync(fd);
}

/** Best-effort removal of a temp file after a failure; the failure is what gets reported. */
export function removeTemp(tmp: string): void {
  try {
    unlinkSync(tmp);
  } catch {
    // Never created, or already renamed.
  }
}

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
 * after. Keeps the target's file mode; removes the temp file when anything fails. A full or read-only
 * disk throws a DiskError naming `path`.
 */
export function writeFileAtomic(
  path: string,
  data: string | Uint8Array,
  opts: AtomicWriteOptions = {},
): void {
  const durable = opts.durable ?? true;
  const dir = dirname(path);
  const tmp = tempPathFor(path);
  let mode: number | undefined;
  try {
    mode = statSync(path).mode & 0o7777;
  } catch {
    // A new file gets the default mode, narrowed by the umask.
  }
  let fd: number | undefined;
  try {
    if (opts.createDirs) mkdirSync(dir, { recursive: true });
    fd = openSync(tmp, 'wx', 0o666);
    // Set explicitly: the umask would otherwise narrow the copied mode.
    if (mode !== undefined) fchmodSync(fd, mode);
    writeAllSync(fd, data, durable);
    // Forget the fd before closing: a close that fails (NFS reports a full disk there) is not retried.
    const open = fd;
    fd = undefined;
    closeSync(open);
    renameSync(tmp, path);
  } catch (error) {
    if (fd !== undefined) closeSync(fd);
    removeTemp(tmp);
    throw diskErrorOf(error, path) ?? error;
  }
  if (durable) fsyncDir(dir);
}
