// Builds a run's JSON (run-json.ts) from its row and the run's settings.
import type { Run } from '../store/types.ts';
import type { RunJson } from './run-json.ts';
import type { FlowSettings } from './settings.ts';
import { loadState } from './state.ts';

export type RunLimits = Pick<FlowSettings, 'maxTotalTurns' | 'maxTokensPerRun' | 'maxTokensPerTicket'>;

export function runJson(run: Run, limits: RunLimits): RunJson {
  const state = loadState(run.state, limits.maxTotalTurns);
  return {
    run_id: run.id,
    status: run.status,
    reason_code: run.reasonCode,
    reason: run.reason,
    reason_details: run.reasonDetails,
    created_at: run.createdAt,
    started_at: run.startedAt,
    finished_at: run.finishedAt,
    updated_at: run.updatedAt,
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
  };
}
