// Approvals as the run store keeps them (table `approvals`, schema V4): the row shape, and the SQL of the
// conditional updates that make one answer win. Every change of status is `WHERE status = 'pending'`:
// an answer, an expiry and a recovery race in SQLite, and only the first one changes the row.
import type { APPROVAL_DECISIONS, APPROVAL_STATUSES } from './schema.ts';

export type ApprovalStatus = (typeof APPROVAL_STATUSES)[number];
export type StoredApprovalDecision = (typeof APPROVAL_DECISIONS)[number];

export interface Approval {
  id: string;
  runId: string;
  turnId: number | null;
  ticket: string | null;
  agent: string | null;
  kind: string;
  title: string;
  command: string | null;
  cwd: string | null;
  paths: string[];
  diff: string | null;
  reason: string | null;
  /** The worker process that asked (and waits). */
  workerPid: number | null;
  status: ApprovalStatus;
  decision: StoredApprovalDecision | null;
  /** Who answered: `cli:<user>`, `web`, `telegram:<user id>`, `discord:<user id>`, or `car` (expiry, recovery). */
  answeredBy: string | null;
  /** Why car settled it (expired, the worker died, the turn stopped). */
  note: string | null;
  createdAt: string;
  expiresAt: string;
  answeredAt: string | null;
}

export interface NewApproval {
  id: string;
  runId: string;
  turnId: number | null;
  ticket: string | null;
  agent: string | null;
  kind: string;
  title: string;
  command?: string | null;
  cwd?: string | null;
  paths?: string[];
  diff?: string | null;
  reason?: string | null;
  workerPid: number | null;
  expiresAt: string;
}

/** How a pending approval is settled: by a person (`answered`), by car on expiry or when its asker is gone. */
export interface ApprovalSettlement {
  status: Exclude<ApprovalStatus, 'pending'>;
  decision: StoredApprovalDecision;
  answeredBy: string;
  note?: string | null;
  /** Refuse when the approval expired before now (a late answer). */
  onlyBefore?: string;
}

export interface ApprovalRow {
  id: string;
  run_id: string;
  turn_id: number | null;
  ticket: string | null;
  agent: string | null;
  kind: string;
  title: string;
  command: string | null;
  cwd: string | null;
  paths: string;
  diff: string | null;
  reason: string | null;
  worker_pid: number | null;
  status: ApprovalStatus;
  decision: StoredApprovalDecision | null;
  answered_by: string | null;
  note: string | null;
  created_at: string;
  expires_at: string;
  answered_at: string | null;
}

export function toApproval(row: ApprovalRow): Approval {
  return {
    id: row.id,
    runId: row.run_id,
    turnId: row.turn_id,
    ticket: row.ticket,
    agent: row.agent,
    kind: row.kind,
    title: row.title,
    command: row.command,
    cwd: row.cwd,
    paths: JSON.parse(row.paths) as string[],
    diff: row.diff,
    reason: row.reason,
    workerPid: row.worker_pid,
    status: row.status,
    decision: row.decision,
    answeredBy: row.answered_by,
    note: row.note,
    createdAt: row.created_at,
    expiresAt: row.expires_at,
    answeredAt: row.answered_at,
  };
}

export const APPROVAL_SQL = {
  insert: `INSERT INTO approvals (id, run_id, turn_id, ticket, agent, kind, title, command, cwd, paths, diff,
      reason, worker_pid, status, created_at, expires_at)
    VALUES (@id, @run_id, @turn_id, @ticket, @agent, @kind, @title, @command, @cwd, @paths, @diff, @reason,
      @worker_pid, 'pending', @now, @expires_at)`,
  get: 'SELECT * FROM approvals WHERE id = ?',
  settle: `UPDATE approvals SET status = @status, decision = @decision, answered_by = @by, note = @note,
      answered_at = @now
    WHERE id = @id AND status = 'pending' AND (@before IS NULL OR expires_at > @before)`,
} as const;
