// The flow engine's inputs and outputs: what a surface gives it (FlowDeps), what it reports while it
// works (FlowProgress) and how a run left the loop (FlowOutcome). Steps answer with a Step.
import type { AgentResolver, TurnResult } from '../agent.ts';
import type { RunStore } from '../store/run-store.ts';
import type { JsonObject, RunStatus } from '../store/types.ts';
import type { Ticket } from '../tickets/index.ts';
import type { Awaiting } from './awaiting.ts';
import type { PullRequestPort, RepoState } from './ports.ts';
import type { ReasonCode } from './reasons.ts';
import type { FlowSettings } from './settings.ts';
import type { RunUsage } from './state.ts';

export type OutcomeStatus = Extract<RunStatus, 'paused' | 'completed' | 'failed' | 'stopped'>;

/** How a run left the loop; `reasonCode` is machine-readable and stable. */
export interface FlowOutcome {
  status: OutcomeStatus;
  reasonCode: ReasonCode;
  reason: string;
  details?: JsonObject;
}

/** Live progress for a terminal (the run store has the full record). */
export type FlowProgress =
  | { type: 'ticket'; ticket: string; title: string | null; agent: string; turn: number; totalTurns: number }
  | { type: 'agent'; text: string }
  | { type: 'tool'; name: string }
  | { type: 'turn_end'; status: TurnResult['status']; ticket: string }
  | { type: 'ticket_done'; ticket: string }
  | { type: 'verify'; ticket: string; passed: boolean; attempt: number; summary: string }
  | { type: 'dispatch'; mode: string; title: string | null }
  | { type: 'note'; text: string }
  /** The agent waits for a person's answer (`car flow approve|deny <id>`, the web inbox, chat). */
  | { type: 'approval'; id: string; title: string; expiresAt: string };

/** Why the caller aborted the signal: stop ends the run, pause makes it resumable. */
export type AbortReason = 'stop' | 'pause';

/** Requests other processes leave for the running engine in `runs.metadata.requested`. */
export type ControlRequest = 'pause' | 'stop';

export interface FlowDeps {
  root: string;
  store: RunStore;
  repo: RepoState;
  resolveAgent: AgentResolver;
  settings: FlowSettings;
  /** Agent ids a ticket may name (configured agents + `user`). */
  knownAgents: ReadonlySet<string>;
  /** Abort with reason 'stop' | 'pause' to end the turn in flight. */
  signal?: AbortSignal;
  onProgress?: (progress: FlowProgress) => void;
  /** Names the engine's open waits, for a report when one can never end (control/run-guard.ts). */
  awaiting?: Awaiting;
  /**
   * Set for a lane's run (lanes/scheduler.ts): the one ticket it works, in its own worktree (`root`), and
   * the run that drives the lanes, whose pause and stop requests apply to it. `mergedWith`: when the merge
   * queue verifies several lanes merged together, the other tickets (their edits are theirs, not tampering).
   * `budget`: the lanes run's turns and tokens and its limits, which the run's budgets are checked against
   * instead of this lane run's own (lanes/shared-budget.ts).
   */
  lane?: {
    ticket: string;
    controlRunId: string;
    mergedWith?: readonly string[];
    budget?: () => RunUsage;
  };
  /** When GitHub is set up: car opens the pull request of an `open_pr` ticket itself (no agent turn). */
  pullRequests?: PullRequestPort;
  /** Waits between network retries; tests pass an instant one. */
  sleep?: (ms: number, signal?: AbortSignal) => Promise<void>;
  now?: () => number;
}

/** What a step decided: go on with the next step, or leave the loop with an outcome. */
export type Step = { kind: 'continue' } | { kind: 'end'; outcome: FlowOutcome };
/** The verify gate reopened the ticket; `ticket` is it as now on disk. */
export type Reopened = { kind: 'reopened'; ticket: Ticket };

export const CONTINUE: Step = { kind: 'continue' };

export function end(outcome: FlowOutcome): Step {
  return { kind: 'end', outcome };
}

export function stopped(): FlowOutcome {
  return { status: 'stopped', reasonCode: 'stop_requested', reason: 'Stopped on request.' };
}
