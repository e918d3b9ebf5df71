// The repo lock: one car process owns a repo's flow at a time. The lock is a file holding CAR's JSON
// `{pid, host, started_at}` (plus `purpose` and `argv`). Node has no flock, so ownership is decided by
// exclusive creation, and a lock left by a dead process is detected and taken over.
import { closeSync, openSync, readFileSync, rmSync, statSync } from 'node:fs';
import { hostname } from 'node:os';
import { createFileExclusive } from './fs/create-exclusive.ts';

export interface LockHolder {
  pid: number;
  host: string;
  started_at: string;
  purpose?: string;
  /** The holder's command line, used to tell pid reuse apart from the holder itself. */
  argv?: string[];
}

export interface LockStatus {
  path: string;
  /** Null when the file is not a lock we can read. */
  holder: LockHolder | null;
  stale: boolean;
  /** Why it counts as stale or live, for status output. */
  reason: string;
}

export interface LockHandle {
  readonly path: string;
  readonly holder: LockHolder;
  /** Removes the lock file if it is still ours; returns whether it did. */
  release(): boolean;
}

export interface AcquireOptions {
  purpose?: string;
  /** Take the lock even from a live holder or another host. Only when the holder is known to be gone. */
  force?: boolean;
}

export class LockHeldError extends Error {
  readonly lockPath: string;
  readonly holder: LockHolder | null;
  constructor(lockPath: string, holder: LockHolder | null) {
    super(
      holder
        ? `repo is locked by pid ${holder.pid} on host ${holder.host} since ${holder.started_at} (${lockPath})`
        : `repo lock ${lockPath} exists but is unreadable; if no car process is running, remove it`,
    );
    this.name = 'LockHeldError';
    this.lockPath = lockPath;
    this.holder = holder;
  }
}

/** An unparsable lock younger than this may be mid-write by a foreign tool, so it is left alone. */
const UNPARSABLE_GRACE_MS = 5000;
/** A takeover takes milliseconds; a guard older than this was left by a crash mid-takeover. */
const GUARD_STALE_MS = 10_000;
/** How long racers wait for another process's takeover to settle. */
const ACQUIRE_WAIT_MS = 2000;

function readCmdline(pid: number | 'self'): string[] | null {
  try {
    const raw = readFileSync(`/proc/${pid}/cmdline`, 'utf8');
    return raw === '' ? null : raw.replace(/\0$/, '').split('\0');
  } catch {
    return null;
  }
}

function currentHolder(purpose: string | undefined): LockHolder {
  const argv = readCmdline('self') ?? [process.argv0, ...process.execArgv, ...process.argv.slice(1)];
  return {
    pid: process.pid,
    host: hostname(),
    started_at: new Date().toISOString(),
    ...(purpose === undefined ? {} : { purpose }),
    argv,
  };
}

function parseHolder(raw: string): LockHolder | null {
  try {
    const v = JSON.parse(raw) as Partial<LockHolder> | null;
    if (!v || !Number.isInteger(v.pid) || v.pid! <= 0 || typeof v.host !== 'string') return null;
    const argv = Array.isArray(v.argv) && v.argv.every((a) => typeof a === 'string') ? v.argv : undefined;
    return {
      pid: v.pid!,
      host: v.host,
      started_at: typeof v.started_at === 'string' ? v.started_at : 'unknown time',
      ...(typeof v.purpose === 'string' ? { purpose: v.purpose } : {}),
      ...(argv ? { argv } : {}),
    };
  } catch {
    return null;
  }
}

/** Null when the process is alive; otherwise why it no longer holds the lock. */
function deadReason(holder: LockHolder): string | null {
  try {
    process.kill(holder.pid, 0);
  } catch (err) {
    // EPERM: alive, owned by another user.
    if ((err as NodeJS.ErrnoException).code === 'ESRCH') return 'the holder process is gone';
  }
  try {
    const stat = readFileSync(`/proc/${holder.pid}/stat`, 'utf8');
    if (stat.slice(stat.lastIndexOf(')') + 2).startsWith('Z')) return 'the holder process is a zombie';
  } catch {
    // No /proc (not Linux): trust kill(0).
  }
  if (holder.argv) {
    const cmdline = readCmdline(holder.pid);
    if (cmdline && cmdline.join('\0') !== holder.argv.join('\0')) {
      return `pid ${holder.pid} now runs another program (pid reused)`;
    }
  }
  return null;
}

function readRaw(path: string): string | null {
  try {
    return readFileSync(path, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw err;
  }
}

function ageMs(path: string): number {
  try {
    return Date.now() - statSync(path).mtimeMs;
  } catch {
    return 0;
  }
}

function judge(path: string, raw: string): LockStatus {
  const holder = parseHolder(raw);
  if (!holder) {
    const old = ageMs(path) > UNPARSABLE_GRACE_MS;
    return {
      path,
      holder,
      stale: old,
      reason: old ? 'the lock file is unreadable' : 'the lock file is being written',
    };
  }
  if (holder.host !== hostname()) {
    return {
      path,
      holder,
      stale: false,
      reason: `held on another host (${holder.host}); cannot check the process`,
    };
  }
  const dead = deadReason(holder);
  return { path, holder, stale: dead !== null, reason: dead ?? 'held by a live process' };
}

/** The lock's holder and whether it is stale, for status commands; null when there is no lock. */
export function readLock(lockPath: string): LockStatus | null {
  const raw = readRaw(lockPath);
  return raw === null ? null : judge(lockPath, raw);
}

/**
 * Replaces the lock whose content was `expected` with `body`. The guard file is created exclusively,
 * so of several processes that all saw the same stale lock only one replaces it; the others see the
 * content changed (or the guard held) and start over.
 */
function takeOver(lockPath: string, expected: string, body: string): boolean {
  const guard = `${lockPath}.takeover`;
  try {
    closeSync(openSync(guard, 'wx'));
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    if (ageMs(guard) > GUARD_STALE_MS) rmSync(guard, { force: true });
    return false;
  }
  try {
    if (readRaw(lockPath) !== expected) return false;
    rmSync(lockPath, { force: true });
    return createFileExclusive(lockPath, body);
  } finally {
    rmSync(guard, { force: true });
  }
}

function sleepSync(ms: number): void {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
}

/**
 * Takes the repo lock at `lockPath` or throws `LockHeldError` naming the live holder. A stale lock
 * (dead or zombie holder on this host, pid reused by another program, or an old unreadable file) is
 * taken over. A lock from another host is never judged stale; only `force` takes it.
 */
export function acquireLock(lockPath: string, opts: AcquireOptions = {}): LockHandle {
  const holder = currentHolder(opts.purpose);
  const body = `${JSON.stringify(holder)}\n`;
  const handle: LockHandle = {
    path: lockPath,
    holder,
    release: () => {
      if (readRaw(lockPath) !== body) return false;
      rmSync(lockPath, { force: true });
      return true;
    },
  };
  const deadline = Date.now() + ACQUIRE_WAIT_MS;
  for (;;) {
    if (createFileExclusive(lockPath, body)) return handle;
    const raw = readRaw(lockPath);
    if (raw === null) continue; // released meanwhile
    const status = judge(lockPath, raw);
    if (!status.stale && !opts.force) throw new LockHeldError(lockPath, status.holder);
    if (takeOver(lockPath, raw, body)) return handle;
    if (Date.now() > deadline) throw new LockHeldError(lockPath, status.holder);
    sleepSync(5 + Math.random() * 20);
  }
}
