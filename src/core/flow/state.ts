// The engine's state for one run, persisted as JSON in `runs.state` after every transition, so a new
// process continues exactly where a killed one stopped. Disk (tickets, dispatch files) stays the truth;
// this only remembers what cannot be re-derived from disk: counters, bindings and the current phase.

/** What the engine remembers about the ticket it is working. Cleared when the ticket is done. */
export interface TicketProgress {
  path: string;
  id: string;
  agent: string;
  profile: string | null;
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
  };
}

/** Reads state written by this or an older version; missing keys take their initial values. */
export function loadState(raw: Record<string, unknown>, turnLimit: number): EngineState {
  return { ...initialState(turnLimit), ...(raw as Partial<EngineState>) };
}

export function newTicketProgress(
  path: string,
  id: string,
  agent: string,
  profile: string | null,
): TicketProgress {
  return {
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
