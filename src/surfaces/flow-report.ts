// What the CLI (`car flow status|runs|show`) and the HTTP API report about runs: one JSON shape for both.
import type { FlowControl } from '../control/flow-control.ts';
import { DEFAULT_MAX_TOTAL_TURNS } from '../core/flow/settings.ts';
import { loadState } from '../core/flow/state.ts';
import type { Run } from '../core/store/types.ts';

export function runJson(run: Run, control: FlowControl) {
  const settings = control.settings(run);
  const state = loadState(run.state, settings.maxTotalTurns);
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
    /** Input + output tokens used, and the budgets (null: none). */
    tokens: {
      run: state.tokens,
      run_limit: state.tokenLimit ?? settings.maxTokensPerRun,
      ticket: state.ticket ? (state.ticket.tokens ?? 0) : null,
      ticket_limit: state.ticket ? (state.ticket.tokenLimit ?? settings.maxTokensPerTicket) : null,
    },
    /** An agent's used-up plan the run is waiting out (it goes on by itself at `until`). */
    quota_wait: state.quotaWait ? { agent: state.quotaWait.agent, until: state.quotaWait.until } : null,
    last_event_seq: run.lastEventSeq,
  };
}

export type RunJson = ReturnType<typeof runJson>;

/** What a person (or agent) should do next, so status never leaves them guessing. */
export function recommendedAction(run: Run, workerAlive: boolean): string {
  switch (run.status) {
    case 'paused':
      if (run.reasonCode === 'dispatch') return 'answer with: car flow reply "<answer>" --resume';
      if (run.reasonCode === 'quota_exhausted')
        return "car flow resume once the agent's usage limit has reset";
      if (run.reasonCode === 'user_ticket')
        return 'do the user ticket, mark it done (car ticket done N), then car flow resume';
      return 'fix what the reason says, then car flow resume';
    case 'pending':
    case 'running':
    case 'stopping': {
      if (!workerAlive) return 'the worker died: car flow start recovers the run';
      const wait = loadState(run.state, DEFAULT_MAX_TOTAL_TURNS).quotaWait;
      if (wait && run.status === 'running')
        return `none: waiting for ${wait.agent}'s usage limit to reset; the run goes on by itself at ${wait.until}`;
      return 'none: the run is working (car flow events --follow)';
    }
    case 'completed':
      return 'none: all tickets are done (add tickets and car flow start for more)';
    default:
      return 'car flow start begins a new run';
  }
}

/** The latest run (or `runId`), its worker, the ticket counts, the last event and the next step. */
export function flowStatusReport(control: FlowControl, runId?: string) {
  const { run, lock, workerAlive, tickets } = control.status(runId);
  const worker = lock?.holder
    ? {
        status: lock.stale ? 'stale' : 'alive',
        pid: lock.holder.pid,
        host: lock.holder.host,
        since: lock.holder.started_at,
        purpose: lock.holder.purpose ?? null,
      }
    : { status: 'none' };
  const last = run
    ? control.store.listEvents(run.id, { afterSeq: Math.max(0, run.lastEventSeq - 1), limit: 1 })[0]
    : undefined;
  return {
    run: run ? runJson(run, control) : null,
    worker,
    tickets,
    last_event: last ? { seq: last.seq, type: last.type, at: last.at } : null,
    recommended_action: run
      ? recommendedAction(run, workerAlive)
      : 'car flow start (or car run) begins the first run',
  };
}
