// What the CLI (`car flow status|runs|show`) and the HTTP API report about runs: one JSON shape for both.
import { type FlowControl, liveLock } from '../control/flow-control.ts';
import { knownAgentIds } from '../core/config/index.ts';
import { REASONS, reasonInfo } from '../core/flow/reasons.ts';
import type { RunJson } from '../core/flow/run-json.ts';
import { runJson as buildRunJson } from '../core/flow/run-report.ts';
import { DEFAULT_MAX_TOTAL_TURNS } from '../core/flow/settings.ts';
import { loadState } from '../core/flow/state.ts';
import { readLock } from '../core/lock.ts';
import type { Run } from '../core/store/types.ts';
import { loadTicketQueue, type TicketQueue } from '../core/tickets/index.ts';

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

/** The ticket counts status reports. */
function ticketProgress(queue: TicketQueue) {
  return {
    total: queue.tickets.length,
    done: queue.tickets.filter((t) => t.isDone).length,
    next: queue.tickets.find((t) => !t.isDone)?.relPath ?? null,
  };
}

/**
 * The latest run (or `runId`), its worker, the ticket counts, the last event and the next step. `queue`:
 * the ticket queue when the caller keeps it (the server), else it is read here.
 */
export function flowStatusReport(control: FlowControl, runId?: string, queue?: TicketQueue) {
  const run = runId ? control.runOrLatest(runId) : control.store.latestRun();
  const lock = readLock(control.paths.lockFile);
  const live = liveLock(control.paths);
  const tickets = ticketProgress(
    queue ??
      loadTicketQueue(control.paths.ticketsDir, {
        repoRoot: control.paths.root,
        agents: knownAgentIds(control.config),
      }),
  );
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
      ? recommendedAction(run, live !== null)
      : 'car flow start (or car run) begins the first run',
  };
}
