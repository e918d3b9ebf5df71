// One line of text per run event, and small display helpers.
import { ticketLabel } from './lanes.ts';
import type { RunEvent } from './types.ts';

const str = (v: unknown) => (typeof v === 'string' ? v : v === undefined ? '' : JSON.stringify(v));

/** What kind of line an event is, for colour: agent talk, a tool call, or the run's lifecycle. */
export function eventKind(type: string): 'agent' | 'tool' | 'error' | 'life' {
  if (type === 'agent_message' || type === 'agent_delta') return 'agent';
  if (type.startsWith('tool_') || type === 'file_change' || type === 'command_output') return 'tool';
  if (type.includes('error') || type.includes('fail') || type === 'crashed') return 'error';
  return 'life';
}

/** A commit as short as git shows it; anything else (a branch name) as it is. */
const sha = (v: unknown) => (typeof v === 'string' && /^[0-9a-f]{40}$/.test(v) ? v.slice(0, 8) : str(v));

/** A ticket's name from its repo-relative path: `TICKET-004`. */
const name = (v: unknown) => (typeof v === 'string' ? ticketLabel(v) : str(v));

export function eventText(e: RunEvent): string {
  const d = e.data;
  switch (e.type) {
    case 'agent_delta':
    case 'agent_message':
      return str(d.text);
    case 'tool_call':
      return `${str(d.name)} ${str(d.input)}`.trim();
    case 'tool_result':
      return str(d.error ?? d.output);
    case 'file_change':
      return `${str(d.kind ?? 'change')} ${str(d.path)}`;
    case 'command_output':
      return `$ ${str(d.command)} ${str(d.text)}`;
    case 'dispatch':
      return `[${str(d.mode)}] ${str(d.title ?? d.body)}`;
    case 'reply_written':
      // the reply's text (older runs recorded its size only)
      return typeof d.text === 'string'
        ? d.text
        : `a reply of ${str(d.bytes)} bytes${d.title ? `: ${str(d.title)}` : ''}`;
    // lanes, on the run that drives them
    case 'lanes_started':
      return `${str(d.lanes)} lanes into ${str(d.integration)} (${str(d.mode)})`;
    case 'lane_started':
      return `lane ${str(d.lane)} started ${name(d.ticket)}`;
    case 'lane_ended':
      return `lane ${str(d.lane)} ${name(d.ticket)} ${str(d.status)}${d.reason ? `: ${str(d.reason)}` : ''}`;
    case 'merge_started':
      return `merging ${name(d.ticket)} (lane ${str(d.lane)}) onto ${sha(d.onto)}`;
    case 'merge_conflict': {
      const files = Array.isArray(d.files) ? d.files.map(String) : [];
      const where =
        files.length > 3 ? `${files.slice(0, 3).join(', ')} +${files.length - 3}` : files.join(', ');
      return `merge conflict in ${where || 'the tree'} (${name(d.ticket)}, attempt ${str(d.attempt)})`;
    }
    case 'merge_verify_failed':
      return `merged tree failed verify (${name(d.ticket)}, attempt ${str(d.attempt)}): ${str(d.summary)}`;
    case 'merge_blocked':
      return `merge of ${name(d.ticket)} waits: ${str(d.reason)}${d.detail ? ` (${str(d.detail)})` : ''}`;
    case 'lane_merged':
      return `merged ${name(d.ticket)} in ${str(d.ms)} ms${typeof d.sha === 'string' ? ` (${d.sha.slice(0, 8)})` : ''}`;
    case 'lane_recovered':
      return `lane ${str(d.lane)} ${name(d.ticket)} recovered: ${str(d.action)}`;
    case 'lane_worktree_removed':
      return `removed worktree ${str(d.path)}${d.branch ? ` (${str(d.branch)})` : ''}`;
    case 'ticket_job_queued':
      return `queued ${name(d.ticket)} for any worker (job ${str(d.job_id).slice(0, 8)}${Number(d.merge_attempt) > 0 ? `, merge attempt ${str(d.merge_attempt)}` : ''})`;
    case 'ticket_job_waiting':
      return `${name(d.ticket)} waits for a person: ${str(d.reason ?? d.status)}`;
    case 'approval_requested':
      return `approval ${str(d.id)} asked: ${str(d.title)}`;
    case 'approval_answered':
      return `approval ${str(d.id)}: ${str(d.decision)} by ${str(d.by)}`;
    case 'approval_expired':
      return `approval ${str(d.id)} ${d.why === 'timeout' ? 'expired' : d.why === 'worker_gone' ? 'expired (its worker died)' : 'cancelled (the turn ended)'}: ${str(d.decision)}`;
    default: {
      const text = d.message ?? d.reason ?? d.title ?? d.ticket ?? d.path;
      if (text !== undefined) return str(text);
      const json = JSON.stringify(d);
      return json === '{}' ? '' : json;
    }
  }
}

// Times: one convention everywhere, for every time of the same event: the browser's local time, with
// its zone named. Full times read `2026-05-03 14:05:09 GMT+2`; dense rows (the event log) show the
// time of day `14:05:09` and name the zone once, above them (zoneName).

const pad = (n: number) => String(n).padStart(2, '0');

function parse(iso: string | null | undefined): Date | null {
  if (!iso) return null;
  const d = new Date(iso);
  return Number.isNaN(d.getTime()) ? null : d;
}

/** The browser's time zone at `d` as times show it: `GMT+2`, `GMT+5:30`, `UTC`, `PST`. */
export function zoneName(d: Date = new Date()): string {
  const part = new Intl.DateTimeFormat('en-US', { timeZoneName: 'short' })
    .formatToParts(d)
    .find((p) => p.type === 'timeZoneName');
  return part?.value ?? 'local time';
}

/** Local time of day, `14:05:09`; the zone is zoneName(). */
export function clock(iso: string | null | undefined): string {
  const d = parse(iso);
  if (!d) return iso ?? '';
  return `${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`;
}

/** Local date and time with the zone, `2026-05-03 14:05:09 GMT+2`. */
export function time(iso: string | null | undefined): string {
  const d = parse(iso);
  if (!d) return iso ?? '';
  const date = `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}`;
  return `${date} ${clock(iso)} ${zoneName(d)}`;
}

export function compact(n: number): string {
  if (n >= 1e6) return `${(n / 1e6).toFixed(1)}M`;
  if (n >= 1e4) return `${Math.round(n / 1e3)}k`;
  if (n >= 1e3) return `${(n / 1e3).toFixed(1)}k`;
  return String(Math.round(n));
}
