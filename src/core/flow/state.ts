// The engine's state for one run, persisted as JSON in `runs.state` after every transition, so a new
// process continues exactly where a killed one stopped. Disk (tickets, dispatch files) stays the truth;
// this only remembers what cannot be re-derived from disk: counters, bindings and the current phase.
import type { JsonObject } from '../store/types.ts';

/** What the engine remembers about the ticket it is working. Cleared when the ticket is done. */
export interface TicketProgress {
  path: string;
  id: string;
  agent: string;
  profile: string | null;
  /** The ticket's own `approval_policy:` (ask: a person answers its agent's approvals); absent: none. */
  approvalPolicy?: string | null;
  /** Turns spent on this ticket. */
  turns: number;
  /** Consecutive turns that changed nothing in the repo (loop guard). */
  noChange: number;
  /** The ticket is done but the tree is dirty: the agent must commit (commit barrier). */
  commitPending: boolean;
  commitAttempts: number;
  /** Frontmatter the agent broke: the next turns repair it (lint repair mode). */
  lintErrors: string[] | null;
  lintRetries: number;
  networkRetries: number;
  /** Stalled turns retried in a row (absent in state from before stall retries). */
  stallRetries?: number;
  /** While a quota fallback works the ticket: the ticket's own agent, back once its plan resets. */
  primary?: { agent: string; profile: string | null };
  /** Tokens (input + output) this ticket's turns used; absent in state from before budgets. */
  tokens?: number;
  /** Pause once `tokens` reaches this; null: `max_tokens_per_ticket`. Resuming a budget pause raises it. */
  tokenLimit?: number | null;
  /** The verify gate's baseline and record for this ticket (absent in state from before the gate). */
  verify?: VerifyProgress;
  /** A lane's done ticket could not be merged: why, for the next prompt (lanes/merge.ts). */
  merge?: MergeFeedback | null;
}

/** Why the merge queue sent a lane's ticket back: a conflict, or the merged tree failed verification. */
export interface MergeFeedback {
  kind: 'conflict' | 'verify_failed';
  /** The branch the lane merges into, and its commit the merge was tried on. */
  integration: string;
  onto: string;
  attempt: number;
  files: string[];
  output: string;
}

/** One failed command or blocking finding, carried into the next prompt. */
export interface VerifyFeedback {
  attempt: number;
  maxFailures: number;
  /** The command that failed (the gate stops at the first failure); null when only findings blocked. */
  command: { command: string; exit: string; output: string; outputBytes: number } | null;
  findings: { kind: string; file: string; detail: string }[];
}

/**
 * Fixed when the ticket is selected (before any turn on it): the base commit of the tamper diff, the
 * ticket's `verify:` value and the commands to run. A human resuming a `verify_failed` pause re-fixes it.
 */
export interface VerifyProgress {
  baseHead: string | null;
  ticketVerify: unknown;
  commands: { command: string; source: 'config' | 'ticket' }[];
  failures: number;
  feedback: VerifyFeedback | null;
  /** Content key (changed files and their bytes) of the last passing verification, and its results. */
  passedKey: string | null;
  passed: JsonObject | null;
  /** Findings already sent as a notify dispatch (`kind file`), so a re-check does not repeat them. */
  notified: string[];
  /** The run paused on `verify_failed`; the next start re-fixes the baseline and resets `failures`. */
  humanPause: boolean;
}

export type EnginePhase = 'idle' | 'turn' | 'post_turn' | 'committing';

export interface EngineState {
  version: 1;
  totalTurns: number;
  /** Pause for a human once totalTurns reaches this; resuming after `max_turns` raises it. */
  turnLimit: number;
  /** Time spent working (not paused), for `max_wallclock_seconds`. */
  activeMs: number;
  /** Highest reply seq the agent has seen in a turn that succeeded. */
  replySeq: number;
  ticket: TicketProgress | null;
  /** Bounded excerpt of the last turn's final text, carried into the next prompt. */
  lastOutput: { ticket: string; text: string } | null;
  /** Backend thread per ticket id, reused across turns of the ticket and across restarts. */
  threads: Record<string, { agent: string; profile: string | null; threadId: string }>;
  phase: EnginePhase;
  checkpointError: string | null;
  /** What the repo looked like when the run paused; resume of a blocking pause needs a change or a reply. */
  pauseContext: { fingerprint: string; replySeq: number } | null;
  /** The agent's plan is used up: its next turn waits until `until` (ISO), across restarts too. */
  quotaWait: QuotaWait | null;
  /** Agents whose plan is used up, and until when (ISO): a ticket for one starts on its fallback. */
  exhausted: Record<string, string>;
  /** Tokens (input + output) the run's turns used. */
  tokens: number;
  /** Pause once `tokens` reaches this; null: `max_tokens_per_run`. Resuming a budget pause raises it. */
  tokenLimit: number | null;
}

export interface QuotaWait {
  agent: string;
  until: string;
  /** The agent's own words, bounded. */
  message: string;
}

export function initialState(turnLimit: number): EngineState {
  return {
    version: 1,
    totalTurns: 0,
    turnLimit,
    activeMs: 0,
    replySeq: 0,
    ticket: null,
    lastOutput: null,
    threads: {},
    phase: 'idle',
    checkpointError: null,
    pauseContext: null,
    quotaWait: null,
    exhausted: {},
    tokens: 0,
    tokenLimit: null,
  };
}

/** Reads state written by this or an older version; missing keys take their initial values. */
export function loadState(raw: Record<string, unknown>, turnLimit: number): EngineState {
  return { ...initialState(turnLimit), ...(raw as Partial<EngineState>) };
}

export interface TokenBudget {
  scope: 'ticket' | 'run';
  limit: number;
  used: number;
}

/** The token budget closest to running out for the current ticket, or null when none is set. */
export function tightestTokenBudget(
  state: EngineState,
  settings: { maxTokensPerTicket: number | null; maxTokensPerRun: number | null },
  run: RunUsage = runUsage(state, settings),
): TokenBudget | null {
  const budgets: TokenBudget[] = [];
  const ticketLimit = state.ticket ? (state.ticket.tokenLimit ?? settings.maxTokensPerTicket) : null;
  if (state.ticket && ticketLimit !== null)
    budgets.push({ scope: 'ticket', limit: ticketLimit, used: state.ticket.tokens ?? 0 });
  if (run.tokenLimit !== null) budgets.push({ scope: 'run', limit: run.tokenLimit, used: run.tokens });
  budgets.sort((a, b) => a.limit - a.used - (b.limit - b.used));
  return budgets[0] ?? null;
}

/** What the run used and may use: its own state's figures, or a lanes run's (lanes/shared-budget.ts). */
export interface RunUsage {
  turns: number;
  turnLimit: number;
  tokens: number;
  tokenLimit: number | null;
}

export function runUsage(state: EngineState, settings: { maxTokensPerRun: number | null }): RunUsage {
  return {
    turns: state.totalTurns,
    turnLimit: state.turnLimit,
    tokens: state.tokens,
    tokenLimit: state.tokenLimit ?? settings.maxTokensPerRun,
  };
}

/** What a turn's usage counts against the token budgets: input plus output tokens. */
export function budgetTokens(usage: { inputTokens?: number; outputTokens?: number } | undefined): number {
  return (usage?.inputTokens ?? 0) + (usage?.outputTokens ?? 0);
}

export function newTicketProgress(
  path: string,
  id: string,
  agent: string,
  profile: string | null,
  verify?: VerifyProgress,
): TicketProgress {
  return {
    ...(verify ? { verify } : {}),
    path,
    id,
    agent,
    profile,
    turns: 0,
    noChange: 0,
    commitPending: false,
    commitAttempts: 0,
    lintErrors: null,
    lintRetries: 0,
    networkRetries: 0,
  };
}

export function newVerifyProgress(
  baseHead: string | null,
  ticketVerify: unknown,
  commands: VerifyProgress['commands'],
): VerifyProgress {
  return {
    baseHead,
    ticketVerify: ticketVerify ?? null,
    commands,
    failures: 0,
    feedback: null,
    passedKey: null,
    passed: null,
    notified: [],
    humanPause: false,
  };
}
