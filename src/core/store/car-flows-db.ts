// CAR's own run store, `.codex-autorunner/flows.db` (CAR's FlowStore, schema version 4), in a repo CAR
// worked. car keeps its runs in car.db and does not import CAR's: a CAR run's state is CAR's engine's
// (its thread bindings, dispatch counters, recovery bookkeeping), and the tickets on disk already say
// how far the queue got. What is read here (read-only, two small queries) only tells a person that the
// history exists and what CAR's latest run was doing.
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { STATE_DIR } from '../paths.ts';
import { openSqliteReadOnly, type SqlDb } from './sqlite.ts';

export const CAR_FLOWS_DB = `${STATE_DIR}/flows.db`;

export interface CarFlowsDb {
  /** Repo-relative. */
  file: string;
  /** Always false: the runs stay in CAR's file. */
  imported: false;
  /** CAR's ticket_flow runs; null when the file could not be read. */
  ticket_flow_runs: number | null;
  latest: {
    run_id: string;
    status: string;
    created_at: string | null;
    finished_at: string | null;
    reason_code: string | null;
    reason_summary: string | null;
  } | null;
  /** Why the file could not be read as CAR's store (car does not need it). */
  error?: string;
}

/** CAR's run statuses in which CAR's worker may still come back to the run (or still be running). */
export const CAR_OPEN_STATUSES: ReadonlySet<string> = new Set(['pending', 'running', 'stopping', 'paused']);

// json_valid first: one malformed state must not make the whole read fail
const LATEST_SQL = `SELECT id, status, created_at, finished_at,
  CASE WHEN json_valid(state) THEN json_extract(state, '$.ticket_engine.reason_code') END AS reason_code,
  CASE WHEN json_valid(state) THEN json_extract(state, '$.reason_summary') END AS reason_summary
  FROM flow_runs WHERE flow_type = 'ticket_flow' ORDER BY created_at DESC LIMIT 1`;

interface LatestRow {
  id: string;
  status: string;
  created_at: string | null;
  finished_at: string | null;
  reason_code: unknown;
  reason_summary: unknown;
}

const text = (v: unknown): string | null => (typeof v === 'string' && v.trim() ? v : null);

/** CAR's history in the repo at `root`, or null when CAR left none. Never throws for a bad file. */
export function readCarFlowsDb(root: string): CarFlowsDb | null {
  const path = join(root, CAR_FLOWS_DB);
  if (!existsSync(path)) return null;
  const out: CarFlowsDb = { file: CAR_FLOWS_DB, imported: false, ticket_flow_runs: null, latest: null };
  let db: SqlDb | null = null;
  try {
    db = openSqliteReadOnly(path);
    const count = db
      .prepare("SELECT count(*) AS n FROM flow_runs WHERE flow_type = 'ticket_flow'")
      .get<{ n: number }>();
    out.ticket_flow_runs = count?.n ?? 0;
    const row = db.prepare(LATEST_SQL).get<LatestRow>();
    if (row) {
      out.latest = {
        run_id: row.id,
        status: row.status,
        created_at: row.created_at,
        finished_at: row.finished_at,
        reason_code: text(row.reason_code),
        reason_summary: text(row.reason_summary),
      };
    }
  } catch (err) {
    out.error = (err as Error).message;
  } finally {
    try {
      db?.close();
    } catch {
      // read-only: nothing to lose
    }
  }
  return out;
}
