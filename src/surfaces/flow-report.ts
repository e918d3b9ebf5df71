// What the CLI (`car flow status|runs|show`) and the HTTP API report about runs: one JSON shape for both.
import type { FlowControl } from '../control/flow-control.ts';
import { readLanesState } from '../core/flow/lanes/lane-state.ts';
import { REASONS, reasonInfo } from '../core/flow/reasons.ts';
import type { RunJson } from '../core/flow/run-json.ts';
import { runJson as buildRunJson } from '../core/flow/run-report.ts';
import { DEFAULT_MAX_TOTAL_TURNS } from '../core/flow/settings.ts';
import { loadState } from '../core/flow/state.ts';
import { readCarFlowsDb } from '../core/store/car-flows-db.ts';
import type { Run } from '../core/store/types.ts';
import type { TicketQueue } from '../core/tickets/index.ts';
import { prsForStatus } from './pr-json.ts';

/** The run as JSON (core/flow/run-json.ts), with the limits of its settings. */
export function runJson(run: Run, control: FlowControl): RunJson {
  return buildRunJson(run, control.settings(run));
}

/** What a person (or agent) should do next, so status never leaves them guessing. */
export function recommendedAction(run: Run, workerAlive: boolean): string {
  switch (run.status) {
    case 'paused':
      return reasonInfo(run.reasonCode)?.next ?? 'fix what the reason says, then car flow resume';
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
      return REASONS.all_done.next;
    case 'failed':
      return reasonInfo(run.reasonCode)?.next ?? 'car flow start begins a new run';
    default:
      return 'car flow start begins a new run';
  }
}

/**
 * The latest run (or `runId`), its worker, the ticket counts, the last event and the next step. `queue`:
 * the ticket queue when the caller keeps it (the server), else it is read here.
 */
export function flowStatusReport(control: FlowControl, runId?: string, queue?: TicketQueue) {
  const { run, lock, workerAlive, tickets } = control.status(runId, queue);
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
  const json = run ? runJson(run, control) : null;
  return {
    // CAR's `ticket-flow status --json` has the run's fields at the top level, where scripts read them
    ...json,
    run: json,
    worker,
    tickets,
    ticket_progress: { done: tickets.done, total: tickets.total },
    last_event: last ? { seq: last.seq, type: last.type, at: last.at } : null,
    last_event_at: last?.at ?? null,
    recommended_action: run
      ? recommendedAction(run, workerAlive)
      : 'car flow start (or car run) begins the first run',
    lanes: run ? lanesReport(control, run) : null,
    /** Pull requests car opened (car pr open): the open ones and the last few that ended. */
    pull_requests: prsForStatus(control.store.prs().list()),
    car_flows_db: readCarFlowsDb(control.paths.root),
  };
}

/** A run with lanes: the integration branch, what it merged, and each open lane with its own run. */
export function lanesReport(control: FlowControl, run: Run) {
  const lanes = readLanesState(run.state);
  if (!lanes) return null;
  return {
    count: control.settings(run).lanes,
    integration: lanes.integration,
    merged: lanes.merged,
    open: lanes.lanes.map((l) => {
      const laneRun = control.store.getRun(l.runId);
      return {
        lane: l.slot,
        ticket: l.ticket,
        phase: l.phase,
        run_id: l.runId,
        status: laneRun?.status ?? null,
        reason_code: laneRun?.reasonCode ?? null,
        reason: laneRun?.reason ?? null,
        branch: l.branch,
        worktree: l.worktree,
        merge_attempts: l.mergeAttempts,
        /** Order in the merge queue (lower first); null until the lane's ticket is done. */
        queued_at: l.queuedAt,
        blocked: l.blocked,
      };
    }),
  };
}
