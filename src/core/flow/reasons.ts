// Why a run paused, failed, stopped or completed: one machine-readable code per reason, and one table
// that says, per code, which status it ends a run with, whether resuming needs a change first, what a
// resume resets, and what a person should do next. The engine, resume gating (control), `car flow
// status`, chat notices and the web app all read this table instead of spelling codes out themselves.

/** What `FlowControl.resume` resets so the next step does not pause again at once. */
export type ResumeReset =
  | 'turn_limit' // max_turns: grant the configured number of turns again
  | 'wallclock' // max_wallclock: the working-time clock starts again
  | 'token_budget' // token_budget: grant the budget (ticket or run, as paused on) again
  | 'loop_guard' // loop_no_diff: count no-change turns afresh
  | 'commit_attempts'; // commit_barrier: the agent gets its commit attempts again

export interface ReasonInfo {
  /** What the reason means, as a heading for a person (the web app's Inbox). */
  title: string;
  status: 'paused' | 'completed' | 'failed' | 'stopped';
  /**
   * Resuming unchanged would just pause again: a reply or a change to the repo must come first (or
   * `--force`).
   */
  blocking: boolean;
  resumeResets: ResumeReset | null;
  /** The recommended next action for a run that ended here, for `car flow status` and the web app. */
  next: string;
}

const FIX_AND_RESUME = 'fix what the reason says, then car flow resume';

export const REASONS = {
  all_done: {
    title: 'All tickets are done',
    status: 'completed',
    blocking: false,
    resumeResets: null,
    next: 'none: all tickets are done (add tickets and car flow start for more)',
  },
  stop_requested: {
    title: 'Stopped on request',
    status: 'stopped',
    blocking: false,
    resumeResets: null,
    next: 'car flow start begins a new run',
  },
  pause_requested: {
    title: 'Paused on request',
    status: 'paused',
    blocking: false,
    resumeResets: null,
    next: 'car flow resume continues',
  },
  interrupted: {
    title: 'Interrupted',
    status: 'paused',
    blocking: false,
    resumeResets: null,
    next: 'car flow resume continues',
  },
  dispatch: {
    title: 'The agent asks',
    status: 'paused',
    blocking: false,
    resumeResets: null,
    next: 'answer with: car flow reply "<answer>" --resume',
  },
  invalid_dispatch: {
    title: "The agent's dispatch is invalid",
    status: 'paused',
    blocking: false,
    resumeResets: null,
    next: FIX_AND_RESUME,
  },
  user_ticket: {
    title: 'A user ticket is yours to do',
    status: 'paused',
    blocking: false,
    resumeResets: null,
    next: 'do the user ticket, mark it done (car ticket done N), then car flow resume',
  },
  no_tickets: {
    title: 'No tickets',
    status: 'paused',
    blocking: false,
    resumeResets: null,
    next: 'add a ticket (car ticket new), then car flow resume',
  },
  duplicate_tickets: {
    title: 'Duplicate tickets',
    status: 'paused',
    blocking: false,
    resumeResets: null,
    next: FIX_AND_RESUME,
  },
  ticket_invalid: {
    title: 'A ticket is invalid',
    status: 'paused',
    blocking: false,
    resumeResets: null,
    next: FIX_AND_RESUME,
  },
  lanes_waiting: {
    title: 'Every lane waits for you',
    status: 'paused',
    blocking: false,
    resumeResets: null,
    next: 'answer or fix what each lane waits for (car flow status lists them; car flow reply --run <lane run id>), then car flow resume',
  },
  pr_failed: {
    title: 'The pull request could not be opened',
    status: 'paused',
    blocking: false,
    resumeResets: null,
    next: 'fix what the reason says (token, remote, rate limit), then car flow resume, or open it with car pr open --ticket N',
  },
  merge_blocked: {
    title: 'A merge waits for your changes',
    status: 'paused',
    blocking: false,
    resumeResets: null,
    next: 'commit or stash your own changes in the repo (they overlap the merged work), then car flow resume',
  },
  lane_setup_failed: {
    title: 'A lane worktree could not be set up',
    status: 'paused',
    blocking: false,
    resumeResets: null,
    next: 'fix ticket_flow.lane_setup (the failing command and its output are in the reason), then car flow resume',
  },
  tickets_uncommitted: {
    title: 'Tickets are not committed',
    status: 'paused',
    blocking: false,
    resumeResets: null,
    next: 'commit the tickets (lanes work from commits), then car flow resume',
  },
  lane_merged: {
    title: "The lane's ticket is merged",
    status: 'completed',
    blocking: false,
    resumeResets: null,
    next: "none: the lane's ticket is merged",
  },
  dependencies_blocked: {
    title: 'Tickets wait for their dependencies',
    status: 'paused',
    blocking: false,
    resumeResets: null,
    next: 'mark a dependency done (car ticket done N) or fix depends_on (car ticket lint), then car flow resume',
  },
  max_turns: {
    title: 'The turn limit is reached',
    status: 'paused',
    blocking: false,
    resumeResets: 'turn_limit',
    next: 'review the tickets, then car flow resume',
  },
  stop_after_runs: {
    title: 'The turns asked for are done',
    status: 'paused',
    blocking: false,
    resumeResets: null,
    next: 'car run (or car flow resume) continues; each worker counts its agent turns afresh',
  },
  max_wallclock: {
    title: 'The time limit is reached',
    status: 'paused',
    blocking: false,
    resumeResets: 'wallclock',
    next: 'car flow resume continues',
  },
  token_budget: {
    title: 'The token budget is spent',
    status: 'paused',
    blocking: false,
    resumeResets: 'token_budget',
    next: 'car flow resume grants the token budget again',
  },
  loop_no_diff: {
    title: 'No change for two turns',
    status: 'paused',
    blocking: true,
    resumeResets: 'loop_guard',
    next: 'reply with guidance (car flow reply "<text>" --resume) or fix the ticket',
  },
  commit_barrier: {
    title: 'Work waits to be committed',
    status: 'paused',
    blocking: true,
    resumeResets: 'commit_attempts',
    next: 'commit the work, then car flow resume',
  },
  verify_failed: {
    title: 'Verification failed',
    status: 'paused',
    blocking: true,
    resumeResets: null,
    next: "fix the ticket's work or its verify commands, then car flow resume",
  },
  agent_unavailable: {
    title: 'The agent is not available',
    status: 'paused',
    blocking: false,
    resumeResets: null,
    next: 'check the agent (car doctor), then car flow resume',
  },
  agent_error: {
    title: 'The agent failed',
    status: 'paused',
    blocking: false,
    resumeResets: null,
    next: FIX_AND_RESUME,
  },
  quota_exhausted: {
    title: "The agent's usage limit is used up",
    status: 'paused',
    blocking: false,
    resumeResets: null,
    next: "car flow resume once the agent's usage limit has reset",
  },
  disk_full: {
    title: 'The disk is full',
    status: 'paused',
    blocking: false,
    resumeResets: null,
    next: 'free disk space: the run goes on by itself (car flow resume if its worker is gone)',
  },
  disk_read_only: {
    title: 'The disk is read-only',
    status: 'paused',
    blocking: false,
    resumeResets: null,
    next: 'make the file system writable, then car flow resume',
  },
  missing_required_context: {
    title: 'A required context file is missing',
    status: 'failed',
    blocking: false,
    resumeResets: null,
    next: "add the ticket's required context file, then car flow start",
  },
  internal_error: {
    title: 'car failed',
    status: 'failed',
    blocking: false,
    resumeResets: null,
    next: 'car run goes on from the first open ticket; please report it (car flow events <run>)',
  },
} as const satisfies Record<string, ReasonInfo>;

export type ReasonCode = keyof typeof REASONS;

/** The table's entry for a code read back from the store (null for a code this version does not know). */
export function reasonInfo(code: string | null | undefined): ReasonInfo | null {
  return code && Object.hasOwn(REASONS, code) ? REASONS[code as ReasonCode] : null;
}

export function isReasonCode(code: string): code is ReasonCode {
  return Object.hasOwn(REASONS, code);
}
