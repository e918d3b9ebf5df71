// Every repo's latest run, worker and ticket progress, cheaply: the hub listing CAR took 7-30 s to
// answer (CAR#1367, #1479). Per repo it costs one stat of the store, one indexed query on a read-only
// connection that stays open between calls, one read of the lock file, and a ticket directory listing
// with stat stamps (a ticket file is only re-parsed when it changed).
import { existsSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { type CarConfig, DEFAULT_CONFIG, loadConfig } from '../config/index.ts';
import type { RunJson } from '../flow/run-json.ts';
import { runJson } from '../flow/run-report.ts';
import { runSettings } from '../flow/settings.ts';
import { readLock } from '../lock.ts';
import { repoPaths, STATE_DIR } from '../paths.ts';
import { type RunRow, toRun } from '../store/rows.ts';
import { openSqlite, openSqliteReadOnly, type SqlDb, type SqlStatement } from '../store/sqlite.ts';
import type { Run } from '../store/types.ts';
import { loadTicketQueue, readiness, type TicketCache } from '../tickets/index.ts';
import { baseIdOf, type ManifestRepo, repoDir } from './manifest.ts';

export type RepoState =
  | 'missing'
  | 'uninitialized'
  | 'idle'
  | 'pending'
  | 'running'
  | 'crashed'
  | 'paused'
  | 'completed'
  | 'failed'
  | 'stopped';

export interface HubRepoStatus {
  id: string;
  path: string;
  dir: string;
  kind: ManifestRepo['kind'];
  worktree_of: string | null;
  /** The base repo this entry counts against for the per-repo cap. */
  base_id: string;
  branch: string | null;
  enabled: boolean;
  exists: boolean;
  initialized: boolean;
  /** One word for the repo: its latest run's status, `crashed` when that run is active but its worker died. */
  state: RepoState;
  /** The repo's latest run, in the shape every surface shows a run (core/flow/run-json.ts). */
  run: RunJson | null;
  worker: { status: 'alive' | 'stale' | 'none'; pid: number | null; purpose: string | null };
  tickets: { total: number; done: number; open: number; next: string | null };
  /** Pull requests car opened (`car pr open`): how many are open, failing checks, asked to change; the newest. */
  pull_requests: HubPrSummary;
  error?: string;
}

export interface HubPrSummary {
  open: number;
  failing: number;
  changes_requested: number;
  latest: { number: number; url: string; state: string; checks: string; review: string | null } | null;
}

interface PrRow {
  number: number;
  url: string;
  state: string;
  checks: string;
  review: string | null;
}

const PRS_SQL =
  "SELECT number, url, state, checks, review FROM pull_requests WHERE state = 'open' OR rowid = (SELECT max(rowid) FROM pull_requests) ORDER BY opened_at DESC, number DESC";

function prSummary(rows: readonly PrRow[]): HubPrSummary {
  const open = rows.filter((r) => r.state === 'open');
  const latest = rows[0];
  return {
    open: open.length,
    failing: open.filter((r) => r.checks === 'failure').length,
    changes_requested: open.filter((r) => r.review === 'changes_requested').length,
    latest: latest
      ? {
          number: latest.number,
          url: latest.url,
          state: latest.state,
          checks: latest.checks,
          review: latest.review,
        }
      : null,
  };
}

const NO_PRS: HubPrSummary = { open: 0, failing: 0, changes_requested: 0, latest: null };

const LATEST_RUN_SQL = 'SELECT * FROM runs ORDER BY created_at DESC, rowid DESC LIMIT 1';

const ACTIVE = new Set(['pending', 'running', 'stopping']);

interface OpenStore {
  db: SqlDb;
  latest: SqlStatement;
  /** Prepared on first use: a store from before the pull_requests table has none. */
  prs?: SqlStatement | null;
  ino: number;
}

/**
 * Reads hub status. Keep one per process (the server keeps it for its lifetime) so store connections
 * and parsed tickets are reused; `close()` releases the connections.
 */
export class HubStatusReader {
  readonly #stores = new Map<string, OpenStore>();
  readonly #tickets = new Map<string, TicketCache>();
  /** Each repo's config (for its runs' limits), reloaded when one of its files changes. */
  readonly #configs = new Map<string, { files: string[]; stamp: string; config: CarConfig }>();

  /** The repo's config; a broken one is reported and the defaults used. */
  #config(dir: string, problems: string[]): CarConfig {
    const cached = this.#configs.get(dir);
    if (cached && cached.stamp === stampOf(cached.files)) return cached.config;
    try {
      const loaded = loadConfig(dir);
      const files = loaded.sources.flatMap((s) => s.files ?? (s.file ? [s.file] : []));
      this.#configs.set(dir, { files, stamp: stampOf(files), config: loaded.config });
      return loaded.config;
    } catch (err) {
      this.#configs.delete(dir);
      problems.push(`config: ${(err as Error).message}`);
      return DEFAULT_CONFIG;
    }
  }

  #latestRun(dbFile: string): Run | null {
    let ino: number;
    try {
      ino = statSync(dbFile).ino;
    } catch {
      this.#drop(dbFile);
      return null;
    }
    let open = this.#stores.get(dbFile);
    if (open && open.ino !== ino) {
      this.#drop(dbFile);
      open = undefined;
    }
    if (!open) {
      // Read-only when a writer has the store open (its -shm exists: the usual case for an active run).
      // Without a -shm a read-only connection takes SQLite's slow path (~1.7 ms per store, measured), so
      // an idle store is opened normally; this reader still only ever runs the one SELECT.
      const db = existsSync(`${dbFile}-shm`) ? openSqliteReadOnly(dbFile) : openSqlite(dbFile);
      try {
        open = { db, latest: db.prepare(LATEST_RUN_SQL), ino };
      } catch (err) {
        db.close();
        // a store created but not yet migrated has no runs table: no runs yet
        if (/no such table/.test((err as Error).message)) return null;
        throw err;
      }
      this.#stores.set(dbFile, open);
    }
    const row = open.latest.get<RunRow>();
    return row ? toRun(row) : null;
  }

  /** The repo's PR summary, from the connection `#latestRun` opened. */
  #prs(dbFile: string): HubPrSummary {
    const open = this.#stores.get(dbFile);
    if (!open) return NO_PRS;
    if (open.prs === undefined) {
      try {
        open.prs = open.db.prepare(PRS_SQL);
      } catch (err) {
        if (!/no such table/.test((err as Error).message)) throw err;
        open.prs = null;
      }
    }
    return open.prs ? prSummary(open.prs.all<PrRow>()) : NO_PRS;
  }

  #drop(dbFile: string): void {
    const open = this.#stores.get(dbFile);
    if (!open) return;
    this.#stores.delete(dbFile);
    open.db.close();
  }

  /** One repo's status. Never throws: a broken store or ticket folder is reported in `error`. */
  repo(hubRoot: string, entry: ManifestRepo): HubRepoStatus {
    const dir = repoDir(hubRoot, entry);
    const status: HubRepoStatus = {
      id: entry.id,
      path: entry.path,
      dir,
      kind: entry.kind,
      worktree_of: entry.worktree_of ?? null,
      base_id: baseIdOf(entry),
      branch: entry.branch ?? null,
      enabled: entry.enabled && !entry.archived,
      exists: existsSync(dir),
      initialized: false,
      state: 'missing',
      run: null,
      worker: { status: 'none', pid: null, purpose: null },
      tickets: { total: 0, done: 0, open: 0, next: null },
      pull_requests: NO_PRS,
    };
    if (!status.exists) return status;
    status.initialized = existsSync(join(dir, STATE_DIR));
    if (!status.initialized) {
      status.state = 'uninitialized';
      return status;
    }
    const paths = repoPaths(dir);
    const problems: string[] = [];
    try {
      const lock = readLock(paths.lockFile);
      if (lock?.holder) {
        status.worker = {
          status: lock.stale ? 'stale' : 'alive',
          pid: lock.holder.pid,
          purpose: lock.holder.purpose ?? null,
        };
      }
    } catch (err) {
      problems.push(`lock: ${(err as Error).message}`);
    }
    try {
      const run = this.#latestRun(paths.dbFile);
      if (run) status.run = runJson(run, runSettings(this.#config(dir, problems), run));
      status.pull_requests = this.#prs(paths.dbFile);
    } catch (err) {
      this.#drop(paths.dbFile);
      problems.push(`store: ${(err as Error).message}`);
    }
    try {
      let cache = this.#tickets.get(dir);
      if (!cache) {
        cache = new Map();
        this.#tickets.set(dir, cache);
      }
      const queue = loadTicketQueue(paths.ticketsDir, { repoRoot: dir, cache });
      const done = queue.tickets.filter((t) => t.isDone).length;
      const next = readiness(queue.tickets, queue.dependencies).ready[0]?.relPath ?? null;
      status.tickets = { total: queue.tickets.length, done, open: queue.tickets.length - done, next };
    } catch (err) {
      problems.push(`tickets: ${(err as Error).message}`);
    }
    status.state = deriveState(status);
    if (problems.length > 0) status.error = problems.join('; ');
    return status;
  }

  list(hubRoot: string, repos: readonly ManifestRepo[]): HubRepoStatus[] {
    return repos.map((r) => this.repo(hubRoot, r));
  }

  close(): void {
    for (const key of [...this.#stores.keys()]) this.#drop(key);
    this.#tickets.clear();
    this.#configs.clear();
  }
}

function deriveState(s: HubRepoStatus): RepoState {
  const run = s.run;
  if (!run) return 'idle';
  if (ACTIVE.has(run.status)) {
    if (s.worker.status === 'alive') return 'running';
    // a pending run nobody took yet waits; one whose worker took the repo and died has crashed
    return run.status === 'pending' && s.worker.status === 'none' ? 'pending' : 'crashed';
  }
  if (run.status === 'superseded') return 'idle';
  return run.status as RepoState;
}

/** Counts by state, for the summary line. */
export function summarize(repos: readonly HubRepoStatus[]): Record<string, number> {
  const out: Record<string, number> = {};
  for (const r of repos) out[r.state] = (out[r.state] ?? 0) + 1;
  return out;
}

/** Modification times of `files` (a missing one counts too), to tell when a config must be re-read. */
function stampOf(files: readonly string[]): string {
  return files.map((f) => statSync(f, { throwIfNoEntry: false })?.mtimeMs ?? 'none').join(' ');
}
