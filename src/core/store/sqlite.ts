// The narrow SQLite port the run store is written against. better-sqlite3 is imported here and
// nowhere else, so swapping the backend (node:sqlite, libsql) means rewriting this one file.
import { dirname } from 'node:path';
import Database from 'better-sqlite3';
import { DiskError, probeDisk } from '../fs/disk-error.ts';

export type SqlValue = string | number | bigint | Uint8Array | null;
/** Positional parameters, or a single object for `@name` parameters. */
export type SqlArgs = SqlValue[] | [Readonly<Record<string, SqlValue>>];

export interface SqlRunResult {
  changes: number;
  lastInsertRowid: number | bigint;
}

export interface SqlStatement {
  run(...args: SqlArgs): SqlRunResult;
  get<T>(...args: SqlArgs): T | undefined;
  all<T>(...args: SqlArgs): T[];
}

export interface SqlDb {
  /** The file the database was opened from (for error messages). */
  readonly path: string;
  exec(sql: string): void;
  prepare(sql: string): SqlStatement;
  /**
   * Runs `fn` inside `BEGIN IMMEDIATE` (the write lock is taken up front, so two processes never
   * both read a counter and then race to write it); nested calls become savepoints. Rolls back if
   * `fn` throws.
   */
  transaction<T>(fn: () => T): T;
  close(): void;
}

export interface OpenSqliteOptions {
  /** `synchronous=FULL` instead of NORMAL: survives power loss, not just a process crash. */
  durable?: boolean;
}

/** How long a fresh database's switch to WAL keeps trying while other processes hold it. */
const WAL_SWITCH_MS = 5000;

function sleepSync(ms: number): void {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
}

/**
 * WAL is a property of the file: set once, by whichever process gets there first. SQLite answers a
 * journal-mode change that would have to wait on another connection with SQLITE_BUSY at once (the
 * busy handler is not used), so several processes opening a fresh database retry here.
 */
function ensureWal(db: Database.Database): void {
  const deadline = Date.now() + WAL_SWITCH_MS;
  for (;;) {
    try {
      if (db.pragma('journal_mode', { simple: true }) !== 'wal') db.pragma('journal_mode = WAL');
      return;
    } catch (err) {
      if ((err as { code?: string }).code !== 'SQLITE_BUSY' || Date.now() > deadline) throw err;
      sleepSync(10 + Math.random() * 20);
    }
  }
}

/**
 * SQLite's answer to a full or read-only disk as a DiskError naming the database. SQLITE_FULL is a full
 * disk; otherwise SQLite gives no errno (a read-only disk is READONLY or CANTOPEN, a full one growing
 * the shared-memory file an IOERR), so the disk is asked. Null for anything else.
 */
function sqliteDiskError(err: unknown, path: string): DiskError | null {
  const code = (err as { code?: unknown } | null)?.code;
  if (code === 'SQLITE_FULL') return new DiskError('ENOSPC', path, { cause: err });
  if (typeof code !== 'string' || !/^SQLITE_(READONLY|CANTOPEN|IOERR)/.test(code)) return null;
  const disk = probeDisk(dirname(path));
  return disk && new DiskError(disk, path, { cause: err });
}

function diskGuard<T>(path: string, fn: () => T): T {
  try {
    return fn();
  } catch (err) {
    throw sqliteDiskError(err, path) ?? err;
  }
}

export function openSqlite(path: string, opts: OpenSqliteOptions = {}): SqlDb {
  return diskGuard(path, () => {
    const db = new Database(path);
    try {
      db.pragma('busy_timeout = 5000');
      ensureWal(db);
      db.pragma(`synchronous = ${opts.durable ? 'FULL' : 'NORMAL'}`);
      db.pragma('foreign_keys = ON');
    } catch (err) {
      // Closed, SQLite removes the -wal and -shm files it may have begun (a full disk fails here).
      db.close();
      throw err;
    }
    return wrap(db, path, 'immediate');
  });
}

/**
 * Opens an existing database read-only, without touching its journal mode or creating files: for
 * readers that look at many stores at once (the hub listing). Throws when the file does not exist.
 */
export function openSqliteReadOnly(path: string): SqlDb {
  const db = new Database(path, { readonly: true, fileMustExist: true });
  db.pragma('busy_timeout = 1000');
  return wrap(db, path, 'deferred');
}

/**
 * The port over one better-sqlite3 connection; writers take the write lock up front (IMMEDIATE). A full
 * or read-only disk surfaces as a DiskError naming the database file.
 */
function wrap(db: Database.Database, path: string, txMode: 'immediate' | 'deferred'): SqlDb {
  const guard = <T>(fn: () => T): T => diskGuard(path, fn);
  return {
    path,
    exec: (sql) => {
      guard(() => db.exec(sql));
    },
    prepare: (sql) => {
      const stmt = guard(() => db.prepare<unknown[], unknown>(sql));
      return {
        run: (...args) => guard(() => stmt.run(...args)),
        get: <T>(...args: SqlArgs) => guard(() => stmt.get(...args) as T | undefined),
        all: <T>(...args: SqlArgs) => guard(() => stmt.all(...args) as T[]),
      };
    },
    transaction: (fn) => guard(() => db.transaction(fn)[txMode]()),
    close: () => {
      guard(() => db.close());
    },
  };
}
