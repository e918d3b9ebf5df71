// A real small file system for disk-full and read-only tests: a tmpfs mounted on a folder. Mounting
// needs root (or CAP_SYS_ADMIN); where it is not permitted the tests skip and say why.
import { spawnSync } from 'node:child_process';
import {
  closeSync,
  cpSync,
  mkdirSync,
  mkdtempSync,
  openSync,
  readdirSync,
  renameSync,
  rmSync,
  unlinkSync,
  writeSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

function run(cmd: string, args: string[]): string | null {
  const res = spawnSync(cmd, args, { encoding: 'utf8' });
  if (res.error) return res.error.message;
  // The first line says why (mount adds a hint about dmesg).
  return res.status === 0 ? null : res.stderr.trim().split('\n')[0] || `${cmd} exited ${res.status}`;
}

/** Null when a tmpfs can be mounted here; otherwise why not (the skip message). */
export const smallFsUnavailable: string | null = (() => {
  if (process.platform !== 'linux') return 'needs Linux to mount a tmpfs';
  const dir = mkdtempSync(join(tmpdir(), 'car-tmpfs-probe-'));
  try {
    const failed = run('mount', ['-t', 'tmpfs', '-o', 'size=64k', 'tmpfs', dir]);
    if (failed) return `cannot mount a tmpfs (needs root): ${failed}`;
    run('umount', [dir]);
    return null;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
})();

export interface SmallFs {
  dir: string;
  /** Fills the file system to the last byte (a hidden filler file in `dir`). */
  fill(): void;
  /** Removes the filler: space is free again. */
  free(): void;
  readOnly(): void;
  readWrite(): void;
  unmount(): void;
}

const FILLER = '.filler';

/**
 * Mounts a tmpfs of `sizeKiB` on `dir` (created when missing). What `dir` held stays: it is copied onto
 * the new file system, so a repo's `.codex-autorunner/` can be moved onto a small disk.
 */
export function mountSmallFs(dir: string, sizeKiB: number): SmallFs {
  mkdirSync(dir, { recursive: true });
  const aside = `${dir}.before-mount`;
  renameSync(dir, aside);
  mkdirSync(dir);
  const failed = run('mount', ['-t', 'tmpfs', '-o', `size=${sizeKiB}k,mode=755`, 'tmpfs', dir]);
  if (failed) throw new Error(`mount tmpfs on ${dir}: ${failed}`);
  for (const name of readdirSync(aside)) cpSync(join(aside, name), join(dir, name), { recursive: true });
  rmSync(aside, { recursive: true, force: true });
  const sh = (args: string[]) => {
    const err = run('mount', args);
    if (err) throw new Error(`mount ${args.join(' ')}: ${err}`);
  };
  return {
    dir,
    fill() {
      const fd = openSync(join(dir, FILLER), 'a');
      const chunk = Buffer.alloc(64 * 1024);
      try {
        // Big chunks first, then ever smaller ones, until not one byte fits.
        for (let size = chunk.length; size >= 1; ) {
          try {
            writeSync(fd, chunk, 0, size);
          } catch (err) {
            if ((err as NodeJS.ErrnoException).code !== 'ENOSPC') throw err;
            size = Math.floor(size / 2);
          }
        }
      } finally {
        closeSync(fd);
      }
    },
    free() {
      unlinkSync(join(dir, FILLER));
    },
    readOnly: () => sh(['-o', 'remount,ro', dir]),
    readWrite: () => sh(['-o', 'remount,rw', dir]),
    unmount() {
      // Lazily when busy: a test that failed half-way may still hold a file open there.
      if (run('umount', [dir])) run('umount', ['-l', dir]);
    },
  };
}
