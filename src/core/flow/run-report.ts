// Builds a run's JSON (run-json.ts) from its row and the run's settings.
import type { Run } from '../store/types.ts';
import type { RunJson } from './run-json.ts';
import type { FlowSettings } from './settings.ts';
import { loadState } from './state.ts';

export type RunLimits = Pick<FlowSettings, 'maxTotalTurns' | 'maxTokensPerRun' | 'maxTokensPerTicket'>;

/** CAR's reason_summary: the reason, at most 120 characters. */
const SUMMARY_CHARS = 120;

/** Seconds from start to finish; a run not over yet (finishedAt null) counts to `now`, as CAR does. */
function durationSeconds(run: Run, now: number): number | null {
  if (!run.startedAt) return null;
  const end = run.finishedAt ? Date.parse(run.finishedAt) : now;
  return Math.max(0, Math.round((end - Date.parse(run.startedAt)) / 1000));
}

export function runJson(run: Run, limits: RunLimits, now = Date.now()): RunJson {
  const state = loadState(run.state, limits.maxTotalTurns);
  const reason = run.reason;
  return {
    run_id: run.id,
    flow_type: 'ticket_flow',
    status: run.status,
    reason_code: run.reasonCode,
    reason,
    reason_summary:
      reason && reason.length > SUMMARY_CHARS ? `${reason.slice(0, SUMMARY_CHARS).trimEnd()}…` : reason,
    reason_details: run.reasonDetails,
    error_message: run.error ?? (run.status === 'failed' ? reason : null),
    created_at: run.createdAt,
    started_at: run.startedAt,
    finished_at: run.finishedAt,
    updated_at: run.updatedAt,
    // every write to a paused run's row ends the pause (resume, stop, supersede): its last write paused it
    paused_at: run.status === 'paused' ? run.updatedAt : null,
    duration_seconds: durationSeconds(run, now),
    total_turns: state.totalTurns,
    turn_limit: state.turnLimit,
    current_ticket: state.ticket?.path ?? null,
    tokens: {
      run: state.tokens,
      run_limit: state.tokenLimit ?? limits.maxTokensPerRun,
      ticket: state.ticket ? (state.ticket.tokens ?? 0) : null,
      ticket_limit: state.ticket ? (state.ticket.tokenLimit ?? limits.maxTokensPerTicket) : null,
    },
    quota_wait: state.quotaWait ? { agent: state.quotaWait.agent, until: state.quotaWait.until } : null,
    last_event_seq: run.lastEventSeq,
    requested: requestOf(run),
    lane: laneOf(run),
  };
}

/** A lane run's place: the run that drives it (metadata.parent_run_id), its lane and its ticket. */
function laneOf(run: Run): RunJson['lane'] {
  const m = run.metadata;
  if (typeof m.parent_run_id !== 'string') return null;
  return {
    parent_run_id: m.parent_run_id,
    lane: typeof m.lane === 'number' ? m.lane : null,
    ticket: typeof m.ticket === 'string' ? m.ticket : null,
  };
}

/** The pause or stop a person asked a live worker for, still to be acted on (flow-control `request`). */
function requestOf(run: Run): RunJson['requested'] {
  if (run.status !== 'pending' && run.status !== 'running' && run.status !== 'stopping') return null;
  const asked = run.metadata.requested;
  return asked === 'pause' || asked === 'stop' ? asked : null;
}
