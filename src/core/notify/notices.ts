// Which run events become chat notices, and what they say. Pure: the watcher feeds events in seq order.
import type { FlowEventType } from '../flow/events.ts';
import type { RunEvent } from '../store/types.ts';

/** What a button on a notice does; the chat service maps it back to a flow action. */
export type NoticeAction = 'resume' | 'stop' | 'status' | 'answer' | ApprovalAction;
/** Answers to an approval: approve once, approve for the agent's session, deny. */
export type ApprovalAction = 'approve' | 'session' | 'deny';
export const APPROVAL_ACTIONS: readonly ApprovalAction[] = ['approve', 'session', 'deny'];

export interface NoticeButton {
  action: NoticeAction;
  runId: string;
  label: string;
  /** For `answer`: which of the dispatch's options (its index). */
  choice?: number;
  /** For approval actions: the approval answered. */
  approvalId?: string;
}

export interface Notice {
  /** The notice kind, as named in `notifications.events`. */
  kind:
    | 'paused'
    | 'failed'
    | 'completed'
    | 'stopped'
    | 'dispatch'
    | 'recovered'
    | 'waiting'
    | 'pull_request'
    | 'approval';
  runId: string;
  seq: number;
  text: string;
  buttons: NoticeButton[];
}

/** Event types the watcher reads; everything else in the log is skipped by the query. */
export const NOTICE_EVENT_TYPES: readonly FlowEventType[] = [
  'flow_paused',
  'flow_failed',
  'flow_completed',
  'flow_stopped',
  'dispatch',
  'recovered',
  'quota_wait',
  'quota_fallback',
  'pull_request',
  'approval_requested',
];

/**
 * A notice's buttons laid out in rows: the dispatch's answers `perRow` at a time (one a row reads best on a
 * phone; Discord allows five rows of five), then the run's controls together.
 */
export function buttonRows(buttons: readonly NoticeButton[], perRow: number): NoticeButton[][] {
  const answers = buttons.filter((b) => b.action === 'answer');
  const controls = buttons.filter((b) => b.action !== 'answer');
  const rows: NoticeButton[][] = [];
  for (let i = 0; i < answers.length; i += perRow) rows.push(answers.slice(i, i + perRow));
  if (controls.length > 0) rows.push(controls);
  return rows;
}

/** A dispatch as notices show it. */
export interface DispatchInfo {
  title: string | null;
  body: string;
  /** Ready answers (buttons). */
  options: string[];
}

export interface NoticeContext {
  /** The repo's folder name, so a person with several repos knows which one. */
  repo: string;
  /** The archived dispatch with this number (for a pause on a dispatch), if still in the log. */
  dispatch: (runId: string, dispatchSeq: number) => DispatchInfo | null;
  /** For a lane's run: which lane and ticket (`lane 2: TICKET-004`), named instead of the run. */
  lane?: (runId: string) => string | null;
}

const short = (runId: string) => runId.slice(0, 8);
const str = (v: unknown): string | null => (typeof v === 'string' && v !== '' ? v : null);

const controls = (runId: string): NoticeButton[] => [
  { action: 'resume', runId, label: 'Resume' },
  { action: 'stop', runId, label: 'Stop' },
];

/** The notice for one event, or null when the event is not one people are told about. */
export function noticeFor(event: RunEvent, ctx: NoticeContext): Notice | null {
  const { runId, seq, data } = event;
  const lane = ctx.lane?.(runId) ?? null;
  const where = `${ctx.repo}, ${lane ?? `run ${short(runId)}`}`;
  const code = str(data.reason_code) ?? 'unknown';
  const reason = str(data.reason) ?? '';
  const base = { runId, seq };
  // A type this version does not write (an older database) falls to `default`; every type it does
  // write is decided on here, so a new event type cannot be forgotten.
  const type = event.type as FlowEventType;
  switch (type) {
    case 'flow_paused': {
      if (code === 'dispatch') {
        const dispatchSeq = typeof data.dispatch_seq === 'number' ? data.dispatch_seq : null;
        const d = dispatchSeq === null ? null : ctx.dispatch(runId, dispatchSeq);
        const title = d?.title ?? (reason || 'The agent asked for input.');
        const body = d?.body.trim() ?? '';
        const lines = [`car needs you (${where}): ${title}`];
        if (body && body !== title) lines.push('', body);
        const options = d?.options ?? [];
        lines.push(
          '',
          options.length > 0
            ? 'Pick an answer, or reply to this chat (or /reply <text>); /stop ends the run.'
            : 'Reply to this chat (or /reply <text>) to answer and resume; /stop ends the run.',
        );
        return {
          ...base,
          kind: 'paused',
          text: lines.join('\n'),
          buttons: [
            ...options.map((label, choice): NoticeButton => ({ action: 'answer', runId, label, choice })),
            { action: 'stop', runId, label: 'Stop' },
          ],
        };
      }
      if (code === 'user_ticket') {
        return {
          ...base,
          kind: 'paused',
          text: `car paused (${where}) at a human step: ${reason}\nDo it, then /resume.`,
          buttons: controls(runId),
        };
      }
      return {
        ...base,
        kind: 'paused',
        text: `car paused (${where}): ${code}${reason ? ` - ${reason}` : ''}\n/resume to continue, /reply <text> to tell the agent something.`,
        buttons: controls(runId),
      };
    }
    case 'flow_failed':
      return {
        ...base,
        kind: 'failed',
        text: `car run failed (${where}): ${code}${reason ? ` - ${reason}` : ''}`,
        buttons: [{ action: 'status', runId, label: 'Status' }],
      };
    case 'flow_completed':
      return {
        ...base,
        kind: 'completed',
        text: `car run completed (${where})${reason ? `: ${reason}` : ''}`,
        buttons: [],
      };
    case 'flow_stopped':
      return {
        ...base,
        kind: 'stopped',
        text: `car run stopped (${where}): ${code}${reason ? ` - ${reason}` : ''}`,
        buttons: [],
      };
    case 'dispatch': {
      // a pause dispatch is told with the pause that follows it (one notice per pause)
      if (data.mode !== 'notify') return null;
      const title = str(data.title);
      const body = str(data.body) ?? '';
      return {
        ...base,
        kind: 'dispatch',
        text: `car note (${where})${title ? `: ${title}` : ''}${body && body !== title ? `\n\n${body}` : ''}`,
        buttons: [],
      };
    }
    case 'recovered': {
      const n = typeof data.interrupted_turns === 'number' ? data.interrupted_turns : 0;
      if (n === 0) return null;
      return {
        ...base,
        kind: 'recovered',
        text: `car recovered (${where}): the previous worker died mid-turn (${n} turn${n === 1 ? '' : 's'} interrupted); the run continues.`,
        buttons: [],
      };
    }
    case 'quota_wait': {
      const agent = str(data.agent) ?? 'the agent';
      const until = str(data.until) ?? 'its reset';
      return {
        ...base,
        kind: 'waiting',
        text: `car is waiting (${where}): ${agent}'s usage limit is used up. The run goes on by itself at ${until}; /stop ends it.`,
        buttons: [{ action: 'stop', runId, label: 'Stop' }],
      };
    }
    case 'quota_fallback': {
      const from = str(data.from) ?? 'the agent';
      const to = str(data.to) ?? 'another agent';
      const ticket = (str(data.ticket) ?? '').split('/').pop() ?? '';
      return {
        ...base,
        kind: 'waiting',
        text: `car switched agents (${where}): ${from}'s usage limit is used up, so ${to} works ${ticket} until it resets.`,
        buttons: [],
      };
    }
    case 'pull_request':
      // `updated` (car pr open again) is the person's own doing: nothing to tell
      if (data.kind === 'updated') return null;
      return {
        ...base,
        kind: 'pull_request',
        text: `${ctx.repo}: ${str(data.text) ?? 'a pull request changed'}`,
        buttons: [],
      };
    case 'approval_requested': {
      const id = str(data.id) ?? '';
      const command = str(data.command);
      const ticket = (str(data.ticket) ?? '').split('/').pop() ?? '';
      const lines = [
        `car asks you (${where}): ${str(data.agent) ?? 'the agent'} wants to ${str(data.title) ?? 'act'}${ticket ? ` (${ticket})` : ''}`,
        ...(command && !(str(data.title) ?? '').includes(command) ? ['', command] : []),
        '',
        `Approval ${id}, expires ${str(data.expires_at) ?? 'soon'}. Diffs are in the web inbox; car flow approve|deny ${id} from a shell.`,
      ];
      return {
        ...base,
        kind: 'approval',
        text: lines.join('\n'),
        buttons: [
          { action: 'approve', runId, label: 'Approve', approvalId: id },
          { action: 'session', runId, label: 'Approve for session', approvalId: id },
          { action: 'deny', runId, label: 'Deny', approvalId: id },
        ],
      };
    }
    case 'approval_answered':
    case 'approval_expired':
    case 'run_created':
    case 'flow_started':
    case 'flow_resumed':
    case 'resume_requested':
    case 'pause_requested':
    case 'stop_requested':
    case 'git_index_lock_removed':
    case 'orphan_agents_stopped':
    case 'internal_error': // the run's flow_failed follows and is told
    case 'reply_written':
    case 'chat_reply':
    case 'reply_archived':
    case 'ticket_selected':
    case 'ticket_vanished':
    case 'commit_barrier':
    case 'user_ticket_done':
    case 'ticket_verified':
    case 'ticket_done':
    case 'lint_repair':
    case 'tamper_finding': // a notify finding arrives as a dispatch; a blocking one as verify_failed
    case 'verify_command':
    case 'verify_passed':
    case 'verify_failed':
    case 'verify_rebaselined':
    case 'turn_started':
    case 'turn_finished':
    case 'diff_updated':
    case 'thread_reset':
    case 'stall_retry':
    case 'network_retry':
    case 'quota_wait_over':
    case 'quota_fallback_over':
    case 'auto_commit':
    case 'auto_commit_failed':
    case 'agent_delta':
    case 'agent_message':
    case 'tool_call':
    case 'tool_result':
    case 'file_change':
    case 'command_output':
    case 'usage':
    case 'agent_status':
    case 'agent_error':
    // lanes: a lane's pause is told from its own run; the driving run's pause (lanes_waiting,
    // merge_blocked) from its flow_paused
    case 'lanes_started':
    case 'lane_started':
    case 'lane_ended':
    case 'merge_started':
    case 'merge_conflict':
    case 'merge_verify_failed':
    case 'merge_blocked':
    case 'lane_merged':
    case 'lane_recovered':
    case 'lane_worktree_removed':
    case 'ticket_job_queued':
    case 'ticket_job_waiting':
      return null;
    default:
      return notToldOf(type);
  }
}

/** Types this version never writes; `never` makes the switch above fail to compile when one is missing. */
function notToldOf(_type: never): null {
  return null;
}
