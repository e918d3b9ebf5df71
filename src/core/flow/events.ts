// Every event car records on a run, with the shape of its data. Writers (the engine through RunContext,
// control, chat, the run guard) give the store a FlowEvent, so a misspelt type or a missing field is a
// compile error; readers (notices, reports, the web app) switch on FlowEventType. The store itself stays
// a generic append-only log (old databases may hold types this version no longer writes).
import type { AgentEvent, TurnError, TurnStatus } from '../agent.ts';
import type { JsonObject } from '../store/types.ts';
import type { EvidenceCommand } from '../verify/evidence.ts';
import type { OutcomeStatus } from './flow-types.ts';
import type { ReasonCode } from './reasons.ts';

type AgentData<T extends AgentEvent['type']> = Omit<Extract<AgentEvent, { type: T }>, 'type'>;
type Finding = { kind: string; file: string; detail: string };

/** How a run left the loop (`flow_<status>`); a pause or stop with no worker alive says `worker: null`. */
type FlowEnded = { reason_code: ReasonCode | null; reason?: string; worker?: null } & JsonObject;

export type FlowEventData = {
  // the run's life (control and engine)
  run_created: { superseded: string | null };
  flow_started: { total_turns: number };
  flow_resumed: { total_turns: number };
  flow_paused: FlowEnded;
  flow_completed: FlowEnded;
  flow_failed: FlowEnded;
  flow_stopped: FlowEnded;
  resume_requested: { previous_reason: string | null; force: boolean };
  pause_requested: { worker_pid: number };
  stop_requested: { worker_pid: number };
  recovered: { interrupted_turns: number; phase: string };
  git_index_lock_removed: { reason: string };
  orphan_agents_stopped: { groups: JsonObject[] };
  internal_error: { cause: string; awaiting: string; error: string | null };
  // replies and dispatches
  /** `text`: the reply, cut to REPLY_TEXT_CHARS (`bytes` is the whole reply's size). */
  reply_written: { title: string | null; bytes: number; text?: string };
  chat_reply: { platform: string; chat_id: string; user_id: string; bytes: number };
  reply_archived: { seq: number; title: string | null };
  dispatch: {
    seq: number;
    mode: string;
    title: string | null;
    body: string;
    attachments: string[];
    options?: string[];
    recovered?: boolean;
    runner?: boolean;
    reason?: string;
  };
  /**
   * A pull request car opened changed (core/scm): opened or updated, a check failed, a review asked for
   * changes, merged, closed, a merge refused. Recorded on the repo's latest run, so chat tells of it.
   */
  pull_request: {
    kind:
      | 'opened'
      | 'updated'
      | 'checks_failed'
      | 'changes_requested'
      | 'merged'
      | 'closed'
      | 'merge_refused';
    repo: string;
    number: number;
    url: string;
    text: string;
  };
  // approvals a supervised agent asked a person for (the approvals table has the whole request)
  approval_requested: {
    id: string;
    kind: string;
    title: string;
    command: string | null;
    ticket: string | null;
    agent: string | null;
    expires_at: string;
  };
  /** `by`: who answered (`cli:<user>`, `web`, `telegram:<id>`, `discord:<id>`). */
  approval_answered: { id: string; decision: string; by: string };
  /** Settled by car: nobody answered in time, the worker that asked is gone, or the turn ended first. */
  approval_expired: { id: string; decision: string; why: 'timeout' | 'worker_gone' | 'turn_ended' };
  // ticket life
  ticket_selected: { ticket: string; ticket_id: string; agent: string };
  ticket_vanished: { ticket: string };
  commit_barrier: { ticket: string };
  /** A person marked the user ticket the run waited for done (the web app); `commit`: car committed that edit. */
  user_ticket_done: { ticket: string; commit: string | null };
  ticket_verified: {
    ticket: string;
    ticket_id: string;
    commit: string | null;
    commands: { command: string; exit_code: number | null; duration_ms: number; output_sha256: string }[];
    findings: number;
    failed_attempts: number;
    evidence: string;
  };
  ticket_done: { ticket: string; ticket_id: string; turns: number };
  lint_repair: { ticket: string; attempt: number; errors: string[] };
  // the verify gate
  tamper_finding: Finding & { ticket: string; action: string };
  /** A command's evidence entry without its output tail (that is kept in the evidence file). */
  verify_command: Omit<EvidenceCommand, 'output_tail'> & { ticket: string; passed: boolean };
  verify_passed: { ticket: string; commands: number; findings: number };
  verify_failed: {
    ticket: string;
    attempt: number;
    max_failures: number;
    command: string | null;
    exit_code: number | null;
    timed_out: boolean;
    output_tail: string | null;
    findings: Finding[];
  };
  verify_rebaselined: { ticket: string; previous_failures: number };
  // turns
  turn_started: {
    turn: number;
    ticket: string;
    agent: string;
    kind: string;
    prompt_bytes: number;
    sections: { name: string; bytes: number }[];
  };
  turn_finished: { turn: number; status: TurnStatus; error: TurnError | null };
  diff_updated: { ticket: string; files_changed: number; insertions: number; deletions: number };
  thread_reset: { ticket: string; error: string };
  stall_retry: { ticket: string; attempt: number; error: string };
  network_retry: { attempt: number; delay_ms: number; error: string };
  quota_wait: { ticket: string; agent: string; until: string; wait_seconds: number; error: string };
  quota_wait_over: { agent: string };
  quota_fallback: { ticket: string; from: string; to: string };
  quota_fallback_over: { ticket: string; from: string; to: string };
  auto_commit: { why: 'checkpoint' | 'ticket_done'; ticket: string; sha: string | null };
  auto_commit_failed: { why: 'checkpoint' | 'ticket_done'; ticket: string; error: string };
  // what the agent streamed during a turn
  agent_delta: AgentData<'message_delta'>;
  agent_message: AgentData<'message'>;
  tool_call: AgentData<'tool_call'>;
  tool_result: AgentData<'tool_result'>;
  file_change: AgentData<'file_change'>;
  command_output: AgentData<'command_output'>;
  usage: AgentData<'usage'>;
  agent_status: AgentData<'status'>;
  agent_error: AgentData<'error'>;
  // lanes (a run working tickets side by side, each in a worktree; on the run that drives them)
  lanes_started: { lanes: number; integration: string; mode: string };
  lane_started: {
    lane: number;
    ticket: string;
    run_id: string;
    branch: string;
    worktree: string;
    base: string;
  };
  lane_ended: {
    lane: number;
    ticket: string;
    run_id: string;
    status: string;
    reason_code: string | null;
    reason: string | null;
  };
  /** `batch`: lanes merged in the same pass (absent when one). */
  merge_started: { lane: number; ticket: string; onto: string; batch?: number };
  merge_conflict: { lane: number; ticket: string; files: string[]; attempt: number };
  merge_verify_failed: { lane: number; ticket: string; summary: string; attempt: number };
  merge_blocked: { lane: number; ticket: string; reason: string; detail: string };
  /** `ms`: the whole pass, shared by the `batch` lanes merged in it (absent when one). */
  lane_merged: { lane: number; ticket: string; sha: string; ms: number; batch?: number };
  lane_recovered: { lane: number; ticket: string; action: string };
  lane_worktree_removed: { path: string; branch: string | null };
  /** A hub coordinator (a repo with lanes on the hub queue) queued a ticket job for any machine. */
  ticket_job_queued: { ticket: string; job_id: string; merge_attempt: number; base: string };
  /** A ticket job ended without its ticket done (paused, failed): the coordinator leaves it to a person. */
  ticket_job_waiting: { ticket: string; job_id: string; status: string | null; reason: string | null };
};

export type FlowEventType = keyof FlowEventData;

/** One event to record: its type, its data, and the turn it belongs to. */
export type FlowEvent = {
  [K in FlowEventType]: { type: K; data: FlowEventData[K]; turnId?: number | null; at?: string };
}[FlowEventType];

/** `flow_<status>` for an outcome status. */
export function endedEventType(status: OutcomeStatus): `flow_${OutcomeStatus}` {
  return `flow_${status}`;
}

/** Agent event type → the type it is stored under. */
export const AGENT_EVENT_TYPES = {
  message_delta: 'agent_delta',
  message: 'agent_message',
  tool_call: 'tool_call',
  tool_result: 'tool_result',
  file_change: 'file_change',
  command_output: 'command_output',
  usage: 'usage',
  status: 'agent_status',
  error: 'agent_error',
} as const satisfies Record<AgentEvent['type'], FlowEventType>;
