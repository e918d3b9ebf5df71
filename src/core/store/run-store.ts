// The run store: runs, their turns, their event log and their artifacts, in one SQLite file
// (`.codex-autorunner/car.db`). Synchronous, like the SQLite port under it.
//
// Event log rules (CAR#1257 let one stalled run pile up 121k events, so the log is bounded):
// - every stored event gets the run's next sequence number: gap-free as handed out, never reused,
//   also across processes (allocation runs under BEGIN IMMEDIATE) and restarts;
// - a payload over `maxEventBytes` is stored as a truncated preview;
// - for high-volume types at most `maxEventsPerType` rows are stored per run; further ones are
//   counted as dropped and do NOT take a sequence number, so an SSE client resuming from
//   `Last-Event-ID` never waits for a number that will not come;
// - `pruneEvents` deletes high-volume events of runs finished long ago (leaving holes, never reusing
//   numbers); lifecycle events stay.
// `eventStats` explains all of it per type.
import { randomUUID } from 'node:crypto';
import {
  APPROVAL_SQL,
  type Approval,
  type ApprovalRow,
  type ApprovalSettlement,
  type ApprovalStatus,
  type NewApproval,
  toApproval,
} from './approvals.ts';
import { boundEventData } from './event-bounds.ts';
import { migrate } from './migrations.ts';
import { PrStore } from './pr-store.ts';
import {
  type ArtifactRow,
  type EventRow,
  type RunRow,
  type TurnRow,
  toArtifact,
  toEvent,
  toRun,
  toTurn,
} from './rows.ts';
import { RUN_STORE_SQL } from './run-store-sql.ts';
import { RUN_STORE_MIGRATIONS } from './schema.ts';
import { openSqlite, type SqlDb, type SqlStatement, type SqlValue } from './sqlite.ts';
import type {
  Artifact,
  EventJson,
  EventTypeStats,
  ListEventsOptions,
  ListRunsOptions,
  NewArtifact,
  NewEvent,
  NewRun,
  NewTurn,
  Run,
  RunEvent,
  RunPatch,
  RunProgress,
  RunStatus,
  Turn,
  TurnOutcome,
} from './types.ts';

export interface RunStoreOptions {
  /** Largest stored event payload (UTF-8 bytes of its JSON). Default 16384. */
  maxEventBytes?: number;
  /** Stored rows per run per high-volume type. Default 10000. */
  maxEventsPerType?: number;
  /** Types subject to the cap and to retention. Default `agent_delta`, `agent_raw`, `command_output`. */
  highVolumeTypes?: readonly string[];
  /** `synchronous=FULL` (CAR's `storage.durable_writes`). */
  durable?: boolean;
  /** Clock, for tests. */
  now?: () => Date;
}

export const DEFAULT_HIGH_VOLUME_TYPES: readonly string[] = ['agent_delta', 'agent_raw', 'command_output'];
/** Turn output excerpts keep this many trailing characters (the end of an agent's output matters most). */
export const MAX_OUTPUT_EXCERPT_CHARS = 4000;
const DEFAULT_EVENT_PAGE = 1000;
const FINISHED_STATUSES: readonly RunStatus[] = ['completed', 'failed', 'stopped', 'superseded'];

interface Counts {
  kept: number;
  dropped: number;
  truncated: number;
}

function boundExcerpt(text: string): string {
  return text.length <= MAX_OUTPUT_EXCERPT_CHARS ? text : text.slice(text.length - MAX_OUTPUT_EXCERPT_CHARS);
}

/** `{run_id, seq, type, at, turn_id, data}` as text; `data` is JSON text already (event-bounds.ts). */
const EVENT_JSON_COLUMNS = `seq, type, '{"run_id":' || json_quote(run_id) || ',"seq":' || seq ||
  ',"type":' || json_quote(type) || ',"at":' || json_quote(at) || ',"turn_id":' || coalesce(turn_id, 'null') ||
  ',"data":' || data || '}' AS json`;

const placeholders = (n: number) => Array.from({ length: n }, () => '?').join(', ');

/** Maps RunPatch keys to columns; JSON-valued keys are serialized. */
const PATCH_COLUMNS: Record<keyof RunPatch, { column: string; json: boolean }> = {
  status: { column: 'status', json: false },
  startedAt: { column: 'started_at', json: false },
  finishedAt: { column: 'finished_at', json: false },
  reasonCode: { column: 'reason_code', json: false },
  reason: { column: 'reason', json: false },
  reasonDetails: { column: 'reason_details', json: true },
  state: { column: 'state', json: true },
  metadata: { column: 'metadata', json: true },
  error: { column: 'error', json: false },
};

export class RunStore {
  readonly path: string;
  readonly #db: SqlDb;
  readonly #now: () => Date;
  readonly #maxEventBytes: number;
  readonly #maxEventsPerType: number;
  readonly #highVolume: ReadonlySet<string>;
  readonly #sql: Record<keyof typeof RUN_STORE_SQL, SqlStatement>;
  /** Statements whose SQL depends on the arguments (type filters), prepared once per shape. */
  readonly #shaped = new Map<string, SqlStatement>();
  #prs: PrStore | null = null;

  /** Migrates `db` to the current schema first; see `openRunStore` for the usual entry point. */
  constructor(db: SqlDb, opts: RunStoreOptions = {}) {
    migrate(db, RUN_STORE_MIGRATIONS);
    this.path = db.path;
    this.#db = db;
    this.#now = opts.now ?? (() => new Date());
    this.#maxEventBytes = opts.maxEventBytes ?? 16384;
    this.#maxEventsPerType = opts.maxEventsPerType ?? 10000;
    this.#highVolume = new Set(opts.highVolumeTypes ?? DEFAULT_HIGH_VOLUME_TYPES);
    if (this.#maxEventBytes < 256) throw new Error('maxEventBytes must be at least 256');
    if (this.#maxEventsPerType < 0) throw new Error('maxEventsPerType must not be negative');
    this.#sql = Object.fromEntries(
      Object.entries(RUN_STORE_SQL).map(([name, sql]) => [name, db.prepare(sql)]),
    ) as Record<keyof typeof RUN_STORE_SQL, SqlStatement>;
  }

  #iso(): string {
    return this.#now().toISOString();
  }

  /** Runs `fn` in one write transaction (BEGIN IMMEDIATE); store calls inside it join it. */
  transaction<T>(fn: () => T): T {
    return this.#db.transaction(fn);
  }

  close(): void {
    this.#db.close();
  }

  /** The pull-request tables on this store's connection (closed with it). */
  prs(): PrStore {
    this.#prs ??= new PrStore(this.#db, { now: this.#now });
    return this.#prs;
  }

  /**
   * Changes whenever the store may have changed: a commit by another connection (a worker process) or
   * a write through this one. Equal stamps from one store mean nothing was written in between, so what
   * was built from it then still holds.
   */
  changeStamp(): string {
    const version = this.#sql.dataVersion.get<{ data_version: number }>()!.data_version;
    const changes = this.#sql.totalChanges.get<{ n: number }>()!.n;
    return `${version}.${changes}`;
  }

  #prepare(sql: string): SqlStatement {
    let stmt = this.#shaped.get(sql);
    if (!stmt) {
      stmt = this.#db.prepare(sql);
      this.#shaped.set(sql, stmt);
    }
    return stmt;
  }

  // --- runs ---

  createRun(run: NewRun = {}): Run {
    const id = run.id ?? randomUUID();
    this.#sql.insertRun.run({
      id,
      now: this.#iso(),
      state: JSON.stringify(run.state ?? {}),
      input: JSON.stringify(run.input ?? {}),
      metadata: JSON.stringify(run.metadata ?? {}),
    });
    return this.#mustGetRun(id);
  }

  getRun(id: string): Run | null {
    const row = this.#sql.getRun.get<RunRow>(id);
    return row ? toRun(row) : null;
  }

  /** The run's status and last event seq, without parsing its state; null for an unknown run. */
  runProgress(id: string): RunProgress | null {
    const row = this.#sql.runProgress.get<{ status: RunStatus; last_event_seq: number }>(id);
    return row ? { status: row.status, lastEventSeq: row.last_event_seq } : null;
  }

  latestRun(): Run | null {
    const row = this.#sql.latestRun.get<RunRow>();
    return row ? toRun(row) : null;
  }

  /** The runs of a run's lanes, oldest first. */
  laneRuns(parentRunId: string): Run[] {
    return this.#sql.laneRuns.all<RunRow>(parentRunId).map(toRun);
  }

  /** Newest first; lane runs only with `includeLanes`. */
  listRuns(opts: ListRunsOptions = {}): Run[] {
    const statuses =
      opts.status === undefined ? [] : typeof opts.status === 'string' ? [opts.status] : opts.status;
    const where = [
      ...(statuses.length > 0 ? [`status IN (${placeholders(statuses.length)})`] : []),
      ...(opts.includeLanes ? [] : ["json_extract(metadata, '$.parent_run_id') IS NULL"]),
    ];
    const whereSql = where.length > 0 ? `WHERE ${where.join(' AND ')}` : '';
    const sql = `SELECT * FROM runs ${whereSql} ORDER BY created_at DESC, rowid DESC LIMIT ? OFFSET ?`;
    const rows = this.#prepare(sql).all<RunRow>(...statuses, opts.limit ?? -1, opts.offset ?? 0);
    return rows.map(toRun);
  }

  updateRun(id: string, patch: RunPatch): Run {
    const sets = ['updated_at = ?'];
    const values: SqlValue[] = [this.#iso()];
    for (const [key, value] of Object.entries(patch)) {
      const col = PATCH_COLUMNS[key as keyof RunPatch];
      if (!col || value === undefined) continue;
      sets.push(`${col.column} = ?`);
      values.push(col.json && value !== null ? JSON.stringify(value) : (value as SqlValue));
    }
    const res = this.#db.prepare(`UPDATE runs SET ${sets.join(', ')} WHERE id = ?`).run(...values, id);
    if (res.changes === 0) throw new Error(`unknown run ${id}`);
    return this.#mustGetRun(id);
  }

  #mustGetRun(id: string): Run {
    const run = this.getRun(id);
    if (!run) throw new Error(`unknown run ${id}`);
    return run;
  }

  // --- turns ---

  /** Starts a turn with the run's next turn number. */
  beginTurn(turn: NewTurn): Turn {
    return this.transaction(() => {
      const seq = this.#sql.nextTurnSeq.get<{ seq: number }>(turn.runId)!.seq;
      const row = this.#sql.insertTurn.get<TurnRow>({
        runId: turn.runId,
        seq,
        ticketPath: turn.ticketPath ?? null,
        ticketId: turn.ticketId ?? null,
        agent: turn.agent,
        kind: turn.kind ?? 'agent',
        now: this.#iso(),
      })!;
      return toTurn(row);
    });
  }

  /** Records how a running turn ended. Throws if the turn is unknown or no longer running. */
  finishTurn(turnId: number, outcome: TurnOutcome): Turn {
    const row = this.#sql.finishTurn.get<TurnRow>({
      id: turnId,
      status: outcome.status,
      now: this.#iso(),
      usage: outcome.usage ? JSON.stringify(outcome.usage) : null,
      error: outcome.error ?? null,
      outputExcerpt: outcome.outputExcerpt === undefined ? null : boundExcerpt(outcome.outputExcerpt),
    });
    if (row) return toTurn(row);
    const existing = this.#sql.getTurn.get<TurnRow>(turnId);
    throw new Error(existing ? `turn ${turnId} is already ${existing.status}` : `unknown turn ${turnId}`);
  }

  /** Crash recovery: marks the run's turns still `running` as `interrupted`; returns how many. */
  interruptRunningTurns(runId: string, error = 'the worker stopped while this turn was running'): number {
    return this.#sql.interruptTurns.run(this.#iso(), error, runId).changes;
  }

  listTurns(runId: string): Turn[] {
    return this.#sql.listTurns.all<TurnRow>(runId).map(toTurn);
  }

  // --- events ---

  /** Appends one event; returns its sequence number, or null when it was dropped by the cap. */
  appendEvent(runId: string, event: NewEvent): number | null {
    const { lastSeq, stored } = this.#append(runId, [event]);
    return stored > 0 ? lastSeq : null;
  }

  /**
   * Appends events in one transaction (the fast path: batch what an agent streams). Returns the run's
   * last sequence number afterwards. Throws for an unknown run.
   */
  appendEvents(runId: string, events: readonly NewEvent[]): number {
    return this.#append(runId, events).lastSeq;
  }

  #append(runId: string, events: readonly NewEvent[]): { lastSeq: number; stored: number } {
    return this.transaction(() => {
      const run = this.#sql.runSeq.get<{ last_event_seq: number }>(runId);
      if (!run) throw new Error(`unknown run ${runId}`);
      let seq = run.last_event_seq;
      const counts = new Map<string, Counts>();
      const now = this.#iso();
      for (const event of events) {
        let c = counts.get(event.type);
        if (!c) {
          c = this.#sql.getCounts.get<Counts>(runId, event.type) ?? { kept: 0, dropped: 0, truncated: 0 };
          counts.set(event.type, c);
        }
        if (this.#highVolume.has(event.type) && c.kept >= this.#maxEventsPerType) {
          c.dropped++;
          continue;
        }
        const bounded = boundEventData(event.data ?? {}, this.#maxEventBytes);
        if (bounded.truncated) c.truncated++;
        c.kept++;
        seq++;
        this.#sql.insertEvent.run(
          runId,
          seq,
          event.turnId ?? null,
          event.type,
          event.at ?? now,
          bounded.json,
        );
      }
      for (const [type, c] of counts) this.#sql.upsertCounts.run(runId, type, c.kept, c.dropped, c.truncated);
      const stored = seq - run.last_event_seq;
      if (stored > 0) this.#sql.setRunSeq.run(seq, runId);
      return { lastSeq: seq, stored };
    });
  }

  /** Events in seq order; at most `limit` (default 1000) per call, page with `afterSeq`. */
  listEvents(runId: string, opts: ListEventsOptions = {}): RunEvent[] {
    return this.#eventQuery<EventRow>('*', runId, opts).map(toEvent);
  }

  /**
   * `listEvents` as JSON text, one object per event, the payload embedded as stored: SQLite builds it,
   * so a caller that only sends events on neither parses nor re-serializes them (json_quote escapes as
   * JSON.stringify does). One string per event also leaves a fraction of the garbage.
   */
  listEventsJson(runId: string, opts: ListEventsOptions = {}): EventJson[] {
    return this.#eventQuery<EventJson>(EVENT_JSON_COLUMNS, runId, opts);
  }

  #eventQuery<T>(columns: string, runId: string, opts: ListEventsOptions): T[] {
    const types = opts.types ?? [];
    const typeFilter = types.length > 0 ? `AND type IN (${placeholders(types.length)})` : '';
    const page = `SELECT ${columns} FROM events WHERE run_id = ? AND seq > ? ${typeFilter} ORDER BY seq ${opts.fromEnd ? 'DESC ' : ''}LIMIT ? OFFSET ?`;
    const sql = opts.fromEnd ? `SELECT * FROM (${page}) ORDER BY seq` : page;
    return this.#prepare(sql).all<T>(
      runId,
      opts.afterSeq ?? 0,
      ...types,
      opts.limit ?? DEFAULT_EVENT_PAGE,
      opts.offset ?? 0,
    );
  }

  /** The run's highest sequence number so far (0 when none); throws for an unknown run. */
  lastEventSeq(runId: string): number {
    const row = this.#sql.runSeq.get<{ last_event_seq: number }>(runId);
    if (!row) throw new Error(`unknown run ${runId}`);
    return row.last_event_seq;
  }

  eventStats(runId: string): EventTypeStats[] {
    return this.#sql.eventStats.all<EventTypeStats>(runId);
  }

  /**
   * Retention: deletes high-volume events of runs that finished (completed, failed, stopped,
   * superseded) more than `olderThanDays` ago. Lifecycle events and sequence counters stay.
   * Returns how many events were deleted.
   */
  pruneEvents(opts: { olderThanDays: number }): number {
    const cutoff = new Date(this.#now().getTime() - opts.olderThanDays * 86_400_000).toISOString();
    const types = [...this.#highVolume];
    if (types.length === 0) return 0;
    const inTypes = `type IN (${placeholders(types.length)})`;
    const inFinished = `status IN (${placeholders(FINISHED_STATUSES.length)})`;
    const oldRuns = `SELECT id FROM runs WHERE ${inFinished} AND COALESCE(finished_at, updated_at) < ?`;
    const runArgs = [...FINISHED_STATUSES, cutoff];
    return this.transaction(() => {
      // Counts first, while the rows to delete are still there to be counted.
      this.#db
        .prepare(
          `UPDATE event_counts SET
             pruned = pruned + (SELECT COUNT(*) FROM events e
                                WHERE e.run_id = event_counts.run_id AND e.type = event_counts.type),
             kept = kept - (SELECT COUNT(*) FROM events e
                            WHERE e.run_id = event_counts.run_id AND e.type = event_counts.type)
           WHERE ${inTypes} AND run_id IN (${oldRuns})`,
        )
        .run(...types, ...runArgs);
      return this.#db
        .prepare(`DELETE FROM events WHERE ${inTypes} AND run_id IN (${oldRuns})`)
        .run(...types, ...runArgs).changes;
    });
  }

  // --- artifacts ---

  addArtifact(artifact: NewArtifact): Artifact {
    const row = this.#sql.insertArtifact.get<ArtifactRow>(
      artifact.id ?? randomUUID(),
      artifact.runId,
      artifact.kind,
      artifact.path,
      this.#iso(),
      JSON.stringify(artifact.metadata ?? {}),
    )!;
    return toArtifact(row);
  }

  listArtifacts(runId: string): Artifact[] {
    return this.#sql.listArtifacts.all<ArtifactRow>(runId).map(toArtifact);
  }

  // --- approvals (a supervised agent's requests to a person) ---

  createApproval(approval: NewApproval): Approval {
    this.#prepare(APPROVAL_SQL.insert).run({
      id: approval.id,
      run_id: approval.runId,
      turn_id: approval.turnId,
      ticket: approval.ticket,
      agent: approval.agent,
      kind: approval.kind,
      title: approval.title,
      command: approval.command ?? null,
      cwd: approval.cwd ?? null,
      paths: JSON.stringify(approval.paths ?? []),
      diff: approval.diff ?? null,
      reason: approval.reason ?? null,
      worker_pid: approval.workerPid,
      now: this.#iso(),
      expires_at: approval.expiresAt,
    });
    return this.getApproval(approval.id)!;
  }

  getApproval(id: string): Approval | null {
    const row = this.#prepare(APPROVAL_SQL.get).get<ApprovalRow>(id);
    return row ? toApproval(row) : null;
  }

  /** Newest first; optionally of one run and in some statuses. */
  listApprovals(
    opts: { runId?: string; status?: readonly ApprovalStatus[]; limit?: number } = {},
  ): Approval[] {
    const where: string[] = [];
    const args: SqlValue[] = [];
    if (opts.runId !== undefined) {
      where.push('run_id = ?');
      args.push(opts.runId);
    }
    if (opts.status && opts.status.length > 0) {
      where.push(`status IN (${placeholders(opts.status.length)})`);
      args.push(...opts.status);
    }
    const sql = `SELECT * FROM approvals ${where.length > 0 ? `WHERE ${where.join(' AND ')}` : ''}
      ORDER BY created_at DESC, id DESC LIMIT ${Math.max(1, Math.floor(opts.limit ?? 200))}`;
    return this.#prepare(sql)
      .all<ApprovalRow>(...args)
      .map(toApproval);
  }

  /**
   * Settles a pending approval; null when it was not pending any more (someone else settled it first)
   * or, with `onlyBefore`, when it had expired by then.
   */
  settleApproval(id: string, settlement: ApprovalSettlement): Approval | null {
    const { changes } = this.#prepare(APPROVAL_SQL.settle).run({
      id,
      status: settlement.status,
      decision: settlement.decision,
      by: settlement.answeredBy,
      note: settlement.note ?? null,
      now: this.#iso(),
      before: settlement.onlyBefore ?? null,
    });
    return changes === 1 ? this.getApproval(id) : null;
  }
}

/** Opens (creating if needed) the run store at `dbPath` and migrates it to the current schema. */
export function openRunStore(dbPath: string, opts: RunStoreOptions = {}): RunStore {
  const db = openSqlite(dbPath, opts.durable === undefined ? {} : { durable: opts.durable });
  try {
    return new RunStore(db, opts);
  } catch (err) {
    db.close();
    throw err;
  }
}
