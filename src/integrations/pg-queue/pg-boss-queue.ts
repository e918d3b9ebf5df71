// The hub queue on PostgreSQL through pg-boss (10.x, the last line for Node 20). pg-boss gives the job
// table, the queue policy (`stately`: at most one queued and one running job per repo key), fetching with
// SKIP LOCKED, retries and the expiry of active jobs (its maintenance, run by every car process attached,
// at most once a second across them). Its lease is a job's `expire_in` counted from `started_on`; pg-boss
// 10 has no call to extend it, so car's heartbeat is the one write car makes to pg-boss's own table: it
// moves `expire_in` so the lease ends `lease_seconds` from now, only while the job is active at the
// attempt the worker took (`retry_count`, which pg-boss raises at every new fetch). A worker that stops
// heartbeating loses the job to maintenance within `lease_seconds` + 1 s; it then goes to `retry` and the
// next worker's fetch takes it. Completion and release are fenced the same way (the job row locked at that
// attempt in the transaction that completes it through pg-boss). Run state and events are mirrored to
// `car_hub.runs` and `car_hub.events` in the heartbeat's transaction, for the hub's status and UI.
// Ticket jobs (a repo with lanes) are a second queue, `car-hub-ticket`, keyed by repo and ticket, leased
// and mirrored the same way; only the holder of the repo's coordinator job may queue one (its job row
// locked at its attempt in the transaction that sends it), so a coordinator taken over never doubles one.
import { hostname } from 'node:os';
import pg from 'pg';
import PgBoss from 'pg-boss';
import type {
  HubJobOutcome,
  HubJobPayload,
  HubJobState,
  HubJobView,
  HubQueue,
  HubQueueWorker,
  HubTicketPayload,
  MirroredEvent,
  RunMirror,
  TakenJob,
  TakenTicketJob,
  TicketJobView,
  WorkerIdentity,
} from '../../control/hub-queue.ts';
import { type AnyTakenJob, isTicketJob } from '../../control/hub-queue.ts';

export const QUEUE_NAME = 'car-hub-repo';
export const TICKET_QUEUE_NAME = 'car-hub-ticket';
const BOSS_SCHEMA = 'pgboss';
const CAR_SCHEMA = 'car_hub';
/** Takeovers one job may see before pg-boss fails it for good. */
const RETRY_LIMIT = 20;

/** The database cannot be reached or refused us; the message names neither the URL nor its password. */
export class PgQueueError extends Error {
  override name = 'PgQueueError';
}

const MIRROR_DDL = `
CREATE SCHEMA IF NOT EXISTS ${CAR_SCHEMA};
CREATE TABLE IF NOT EXISTS ${CAR_SCHEMA}.runs (
  job_id uuid PRIMARY KEY,
  repo_id text NOT NULL,
  attempt int NOT NULL,
  worker text NOT NULL,
  host text NOT NULL,
  pid int NOT NULL,
  run_id text,
  status text,
  reason_code text,
  tickets_done int,
  tickets_total int,
  heartbeat_at timestamptz NOT NULL DEFAULT now()
);
CREATE TABLE IF NOT EXISTS ${CAR_SCHEMA}.events (
  id bigserial PRIMARY KEY,
  job_id uuid NOT NULL,
  repo_id text NOT NULL,
  run_id text NOT NULL,
  worker text NOT NULL,
  seq int NOT NULL,
  type text NOT NULL,
  at timestamptz NOT NULL,
  data jsonb,
  UNIQUE (run_id, seq)
);
`;

/** A database out of reach fails a call within bounds instead of hanging it (pg waits forever by default). */
const POOL_LIMITS = {
  application_name: 'car',
  connectionTimeoutMillis: 10_000,
  query_timeout: 30_000,
} as const;

type Db = { executeSql(text: string, values: unknown[]): Promise<{ rows: unknown[] }> };

function dbOf(client: pg.Pool | pg.PoolClient): Db {
  return {
    executeSql: async (text, values) => {
      const res = await client.query(text, values as unknown[]);
      return { rows: res.rows };
    },
  };
}

/** pg's errors carry the server's message; the connection string never appears in them. */
function describe(err: unknown): string {
  const e = err as { code?: string; message?: string };
  return `${e.message ?? String(err)}${e.code ? ` (${e.code})` : ''}`;
}

export interface PgQueueOptions {
  /** The connection URL, read from the env var `hub.queue.url_env` names; kept in memory only. */
  url: string;
  /** How often this process runs pg-boss's maintenance (expiring jobs whose lease ran out). */
  maintenanceSeconds?: number;
  /** Run that maintenance here (default true; a status reader leaves it to the hub run and workers). */
  supervise?: boolean;
}

class Connection {
  readonly pool: pg.Pool;
  readonly boss: PgBoss;
  #started = false;

  constructor(opts: PgQueueOptions) {
    this.pool = new pg.Pool({ connectionString: opts.url, max: 4, ...POOL_LIMITS });
    // an idle client's error (the server restarted) must not crash the process; the next query says it
    this.pool.on('error', () => {});
    this.boss = new PgBoss({
      db: dbOf(this.pool),
      schema: BOSS_SCHEMA,
      migrate: false,
      supervise: opts.supervise ?? true,
      schedule: false,
      maintenanceIntervalSeconds: Math.max(1, Math.round(opts.maintenanceSeconds ?? 1)),
    } as PgBoss.ConstructorOptions);
    this.boss.on('error', () => {});
  }

  async start(): Promise<void> {
    if (this.#started) return;
    try {
      await this.boss.start();
    } catch (err) {
      throw new PgQueueError(
        `the hub queue's database is not ready: ${describe(err)} (the hub sets it up: car hub queue init)`,
      );
    }
    this.#started = true;
  }

  async tx<T>(fn: (client: pg.PoolClient) => Promise<T>): Promise<T> {
    const client = await this.pool.connect();
    try {
      await client.query('BEGIN');
      const out = await fn(client);
      await client.query('COMMIT');
      return out;
    } catch (err) {
      await client.query('ROLLBACK').catch(() => {});
      throw err;
    } finally {
      client.release();
    }
  }

  async close(): Promise<void> {
    if (this.#started) await this.boss.stop({ graceful: false, close: false, wait: true }).catch(() => {});
    await this.pool.end().catch(() => {});
  }
}

/**
 * Creates (or migrates) pg-boss's schema, the queue and car's mirror tables, then grants each worker
 * role only what a worker needs: rows of pg-boss's tables (fetch, complete, expire, archive) and of the
 * mirror. Run with the hub's owner role.
 */
export async function initPgQueue(url: string, workerRoles: readonly string[] = []): Promise<void> {
  const pool = new pg.Pool({ connectionString: url, max: 2, ...POOL_LIMITS });
  pool.on('error', () => {});
  const boss = new PgBoss({
    db: dbOf(pool),
    schema: BOSS_SCHEMA,
    migrate: true,
    supervise: false,
    schedule: false,
  } as PgBoss.ConstructorOptions);
  boss.on('error', () => {});
  try {
    await boss.start();
    for (const name of [QUEUE_NAME, TICKET_QUEUE_NAME]) {
      if (await boss.getQueue(name)) continue;
      await boss.createQueue(name, { name, policy: 'stately', retryLimit: RETRY_LIMIT, retryDelay: 0 });
    }
    await pool.query(MIRROR_DDL);
    for (const role of workerRoles) {
      const r = pg.escapeIdentifier(role);
      await pool.query(`
        GRANT USAGE ON SCHEMA ${BOSS_SCHEMA}, ${CAR_SCHEMA} TO ${r};
        GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA ${BOSS_SCHEMA} TO ${r};
        ALTER DEFAULT PRIVILEGES IN SCHEMA ${BOSS_SCHEMA} GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO ${r};
        GRANT SELECT, INSERT, UPDATE ON ${CAR_SCHEMA}.runs, ${CAR_SCHEMA}.events TO ${r};
        GRANT USAGE ON ALL SEQUENCES IN SCHEMA ${CAR_SCHEMA} TO ${r};`);
    }
  } catch (err) {
    throw new PgQueueError(`cannot set up the hub queue: ${describe(err)}`);
  } finally {
    await boss.stop({ graceful: false, close: false, wait: true }).catch(() => {});
    await pool.end().catch(() => {});
  }
}

const STATE: Record<string, HubJobState> = {
  created: 'queued',
  retry: 'queued',
  active: 'running',
  completed: 'completed',
  failed: 'failed',
  cancelled: 'cancelled',
};

const JOB_VIEW = (table: string) => `
  SELECT j.id::text AS job_id, j.data->>'repo_id' AS repo_id, j.data->>'ticket' AS ticket,
         j.data->>'coordinator_job' AS coordinator_job, j.state::text AS state, j.retry_count AS attempt,
         j.created_on AS created_at, j.output, r.worker, r.host, r.heartbeat_at, r.run_id, r.status,
         r.reason_code, r.tickets_done, r.tickets_total, r.attempt AS mirrored_attempt
  FROM ${BOSS_SCHEMA}.${table} j LEFT JOIN ${CAR_SCHEMA}.runs r ON r.job_id = j.id
  WHERE j.name = $1`;

interface JobRow {
  job_id: string;
  repo_id: string;
  ticket: string | null;
  coordinator_job: string | null;
  state: string;
  attempt: number;
  created_at: Date;
  output: { run_id?: string; status?: string; reason_code?: string | null } | null;
  worker: string | null;
  host: string | null;
  heartbeat_at: Date | null;
  run_id: string | null;
  status: string | null;
  reason_code: string | null;
  tickets_done: number | null;
  tickets_total: number | null;
  /** The attempt the mirror row was written for. */
  mirrored_attempt: number | null;
}

function toView(row: JobRow): HubJobView {
  const state = STATE[row.state] ?? 'queued';
  // Waiting again after a lost lease, or taken again by a worker that has not yet written who it is: the
  // mirror still describes the attempt before (its worker is not this attempt's).
  if (state === 'queued' || (state === 'running' && row.mirrored_attempt !== row.attempt)) {
    Object.assign(row, {
      worker: null,
      host: null,
      heartbeat_at: null,
      run_id: null,
      status: null,
      reason_code: null,
    });
  }
  const out = state === 'completed' ? row.output : null;
  return {
    job_id: row.job_id,
    repo_id: row.repo_id,
    ticket: row.ticket,
    state,
    attempt: row.attempt,
    worker: row.worker,
    host: row.host,
    heartbeat_at: row.heartbeat_at?.toISOString() ?? null,
    run_id: out?.run_id ?? row.run_id,
    run_status: out?.status ?? row.status,
    reason_code: out ? (out.reason_code ?? null) : row.reason_code,
    tickets_done: row.tickets_done,
    tickets_total: row.tickets_total,
    created_at: row.created_at.toISOString(),
  };
}

/** The hub's side: enqueue repos, list jobs with the worker holding each. */
export async function openHubQueue(opts: PgQueueOptions): Promise<HubQueue> {
  const conn = new Connection(opts);
  await conn.start();
  return {
    async enqueue(payload: HubJobPayload) {
      const open = await conn.pool.query(
        `SELECT 1 FROM ${BOSS_SCHEMA}.job WHERE name = $1 AND singleton_key = $2 AND state < 'completed' LIMIT 1`,
        [QUEUE_NAME, payload.repo_id],
      );
      if (open.rowCount) return null;
      return conn.boss.send(QUEUE_NAME, payload, {
        singletonKey: payload.repo_id,
        expireInSeconds: payload.lease_seconds,
        retryLimit: RETRY_LIMIT,
        retryDelay: 0,
      });
    },
    async jobs(ids?: readonly string[]) {
      const filter = ids ? ' AND j.id = ANY($2::uuid[])' : '';
      const values: unknown[] = ids ? [QUEUE_NAME, ids] : [QUEUE_NAME];
      const all = `${JOB_VIEW('job')}${filter} UNION ALL ${JOB_VIEW('archive')}${filter}`;
      // without ids: each repo's latest job (older ones stay in pg-boss's archive until it deletes them)
      const sql = ids
        ? `${all} ORDER BY created_at DESC`
        : `SELECT * FROM (SELECT DISTINCT ON (repo_id) * FROM (${all}) a ORDER BY repo_id, created_at DESC) l ORDER BY created_at DESC`;
      const res = await conn.pool.query<JobRow>(sql, values);
      const repos = res.rows.map(toView);
      if (ids) return repos;
      // each repo job's tickets (a coordinator's), the latest job of each, after the repo's own
      const tickets = await conn.pool.query<JobRow>(
        `SELECT * FROM (SELECT DISTINCT ON (coordinator_job, ticket) * FROM (
           ${JOB_VIEW('job')} UNION ALL ${JOB_VIEW('archive')}) a
         WHERE coordinator_job = ANY($2::text[]) ORDER BY coordinator_job, ticket, created_at DESC) l
         ORDER BY ticket`,
        [TICKET_QUEUE_NAME, repos.map((r) => r.job_id)],
      );
      return repos.flatMap((r) => [
        r,
        ...tickets.rows.filter((t) => t.coordinator_job === r.job_id).map(toView),
      ]);
    },
    close: () => conn.close(),
  };
}

/** A worker's side: take jobs under a lease, heartbeat (mirroring the run), complete or release. */
export async function openQueueWorker(opts: PgQueueOptions, me: WorkerIdentity): Promise<HubQueueWorker> {
  const conn = new Connection(opts);
  await conn.start();
  const queueOf = (job: AnyTakenJob) => (isTicketJob(job) ? TICKET_QUEUE_NAME : QUEUE_NAME);
  /** Locks the job row if it is still ours (active at our attempt); false when the lease was lost. */
  const holds = async (client: pg.PoolClient, job: AnyTakenJob): Promise<boolean> => {
    const res = await client.query(
      `SELECT 1 FROM ${BOSS_SCHEMA}.job WHERE name = $1 AND id = $2 AND state = 'active' AND retry_count = $3 FOR UPDATE`,
      [queueOf(job), job.id, job.attempt],
    );
    return res.rowCount === 1;
  };
  const take = async <P extends HubJobPayload | HubTicketPayload>(
    name: string,
  ): Promise<{ id: string; attempt: number; payload: P } | null> => {
    const [found] = await conn.boss.fetch<P>(name, { includeMetadata: true });
    if (!found) return null;
    const job = { id: found.id, attempt: found.retryCount, payload: found.data };
    await conn.pool.query(
      `INSERT INTO ${CAR_SCHEMA}.runs (job_id, repo_id, attempt, worker, host, pid)
         VALUES ($1, $2, $3, $4, $5, $6)
         ON CONFLICT (job_id) DO UPDATE SET attempt = $3, worker = $4, host = $5, pid = $6, heartbeat_at = now(),
           run_id = NULL, status = NULL, reason_code = NULL`,
      [job.id, job.payload.repo_id, job.attempt, me.name, me.host, me.pid],
    );
    return job;
  };
  return {
    take: () => take<HubJobPayload>(QUEUE_NAME) as Promise<TakenJob | null>,
    takeTicket: () => take<HubTicketPayload>(TICKET_QUEUE_NAME) as Promise<TakenTicketJob | null>,
    async heartbeat(job, run: RunMirror | null, events: readonly MirroredEvent[]) {
      return conn.tx(async (client) => {
        const res = await client.query(
          `UPDATE ${BOSS_SCHEMA}.job SET expire_in = (now() - started_on) + make_interval(secs => $4)
           WHERE name = $1 AND id = $2 AND state = 'active' AND retry_count = $3`,
          [queueOf(job), job.id, job.attempt, job.payload.lease_seconds],
        );
        if (res.rowCount !== 1) return false;
        await client.query(
          `UPDATE ${CAR_SCHEMA}.runs SET heartbeat_at = now(), run_id = COALESCE($3, run_id),
             status = COALESCE($4, status), reason_code = $5, tickets_done = COALESCE($6, tickets_done),
             tickets_total = COALESCE($7, tickets_total)
           WHERE job_id = $1 AND attempt = $2`,
          [
            job.id,
            job.attempt,
            run?.run_id ?? null,
            run?.status ?? null,
            run?.reason_code ?? null,
            run?.tickets_done ?? null,
            run?.tickets_total ?? null,
          ],
        );
        if (run && events.length > 0) {
          await client.query(
            `INSERT INTO ${CAR_SCHEMA}.events (job_id, repo_id, run_id, worker, seq, type, at, data)
             SELECT $1, $2, $3, $4, e.seq, e.type, e.at, e.data
             FROM jsonb_to_recordset($5::jsonb) AS e(seq int, type text, at timestamptz, data jsonb)
             ON CONFLICT (run_id, seq) DO NOTHING`,
            [job.id, job.payload.repo_id, run.run_id, me.name, JSON.stringify(events)],
          );
        }
        return true;
      });
    },
    async complete(job, outcome: HubJobOutcome) {
      return conn.tx(async (client) => {
        if (!(await holds(client, job))) return false;
        await client.query(
          `UPDATE ${CAR_SCHEMA}.runs SET heartbeat_at = now(), run_id = COALESCE($3, run_id), status = $4,
             reason_code = $5 WHERE job_id = $1 AND attempt = $2`,
          [job.id, job.attempt, outcome.run_id, outcome.status, outcome.reason_code],
        );
        await conn.boss.complete(
          queueOf(job),
          job.id,
          { ...outcome, worker: me.name, host: me.host },
          {
            db: dbOf(client),
          },
        );
        return true;
      });
    },
    async release(job, message: string) {
      await conn.tx(async (client) => {
        if (!(await holds(client, job))) return;
        // a failure with retries left goes back to `retry`, taken again at once (retry_delay 0)
        await conn.boss.fail(queueOf(job), job.id, { message, worker: me.name }, { db: dbOf(client) });
      });
    },
    async enqueueTicket(coordinator, payload: HubTicketPayload) {
      const key = `${payload.repo_id}/${payload.ticket}`;
      return conn.tx(async (client) => {
        if (!(await holds(client, coordinator))) return false;
        const open = await client.query(
          `SELECT 1 FROM ${BOSS_SCHEMA}.job WHERE name = $1 AND singleton_key = $2 AND state < 'completed' LIMIT 1`,
          [TICKET_QUEUE_NAME, key],
        );
        if (open.rowCount) return null;
        return conn.boss.send(TICKET_QUEUE_NAME, payload, {
          singletonKey: key,
          expireInSeconds: payload.lease_seconds,
          retryLimit: RETRY_LIMIT,
          retryDelay: 0,
          db: dbOf(client),
        });
      });
    },
    async ticketJobs(coordinator) {
      const pick = (table: string) => `
        SELECT j.id::text AS job_id, j.data->>'ticket' AS ticket, j.state::text AS state,
               (j.data->>'merge_attempt')::int AS merge_attempt, j.data->>'ticket_branch' AS ticket_branch,
               j.data->>'base_sha' AS base_sha, j.output, j.created_on, r.worker
        FROM ${BOSS_SCHEMA}.${table} j LEFT JOIN ${CAR_SCHEMA}.runs r ON r.job_id = j.id
        WHERE j.name = $1 AND j.data->>'coordinator_job' = $2`;
      const res = await conn.pool.query<{
        job_id: string;
        ticket: string;
        state: string;
        merge_attempt: number;
        ticket_branch: string;
        base_sha: string;
        output: { status?: string; reason_code?: string | null; message?: string | null } | null;
        worker: string | null;
      }>(
        `SELECT DISTINCT ON (ticket) * FROM (${pick('job')} UNION ALL ${pick('archive')}) a
         ORDER BY ticket, created_on DESC`,
        [TICKET_QUEUE_NAME, coordinator.id],
      );
      return res.rows.map((r): TicketJobView => {
        const state = STATE[r.state] ?? 'queued';
        const out = state === 'completed' ? r.output : null;
        return {
          job_id: r.job_id,
          ticket: r.ticket,
          state,
          merge_attempt: r.merge_attempt,
          ticket_branch: r.ticket_branch,
          base_sha: r.base_sha,
          status: out?.status ?? null,
          reason_code: out?.reason_code ?? null,
          message: out?.message ?? null,
          worker: r.worker,
        };
      });
    },
    close: () => conn.close(),
  };
}

export function workerIdentity(name: string | undefined): WorkerIdentity {
  const host = hostname();
  return { name: name ?? `${host}-${process.pid}`, host, pid: process.pid };
}
