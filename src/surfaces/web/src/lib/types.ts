// The API's JSON shapes, as far as the UI reads them.
import type { RunJson } from '../../../../core/flow/run-json.ts';

export interface LintIssue {
  code: string;
  severity: 'error' | 'warning';
  message: string;
  file?: string;
  line?: number | null;
  field?: string | null;
}

export type TicketState = 'open' | 'done' | 'invalid';

export interface TicketSummary {
  name: string;
  index: number;
  path: string;
  ticket_id: string;
  agent: string | null;
  done: boolean;
  state: TicketState;
  title: string | null;
  goal: string | null;
  hash: string;
  issues: LintIssue[];
  /** The tickets its `depends_on` names, as repo-relative paths (like `path`). */
  depends_on: string[];
  /** Those of them not done: the ticket waits for them. */
  blocked_by: string[];
}

export interface TicketFull extends TicketSummary {
  content: string;
}

export interface TicketPage {
  tickets: TicketSummary[];
  total: number;
  has_more: boolean;
  next: string | null;
  summary: { total: number; done: number; open: number; invalid: number };
}

/** A run: the server's own type (src/core/flow/run-json.ts), so the two cannot drift apart. */
export type Run = RunJson;

export interface Turn {
  id: number;
  seq: number;
  ticket_path: string | null;
  agent: string | null;
  kind: string;
  status: string;
  started_at: string;
  finished_at: string | null;
}

export interface RunDetail {
  run: Run;
  turns: Turn[];
  event_stats: { type: string; kept: number; dropped: number; truncated: number; pruned: number }[];
}

export interface RunEvent {
  run_id: string;
  seq: number;
  type: string;
  at: string;
  turn_id: number | null;
  data: Record<string, unknown>;
}

export interface EventPage {
  events: RunEvent[];
  next_after: number;
  has_more: boolean;
  last_event_seq: number;
}

export interface FlowStatus {
  run: Run | null;
  worker: { status: 'alive' | 'stale' | 'none'; pid?: number };
  /** `invalid`: files meant as tickets that car cannot work as they are. */
  tickets: { total: number; done: number; next: string | null; blocked: number; invalid: unknown[] };
  last_event: { seq: number; type: string; at: string } | null;
  recommended_action: string;
  /** A run with lanes (`car run --lanes N`), else null. */
  lanes: LanesStatus | null;
}

/** What a lane is doing (src/core/flow/lanes/lane-state.ts). */
export type LanePhase = 'working' | 'queued' | 'merging' | 'advancing' | 'waiting';

export interface OpenLane {
  lane: number;
  /** The ticket's repo-relative path. */
  ticket: string;
  phase: LanePhase;
  /** The lane's own run (its events, replies). */
  run_id: string;
  status: string | null;
  reason_code: string | null;
  reason: string | null;
  branch: string;
  worktree: string;
  merge_attempts: number;
  /** Order in the merge queue (lower first); null until the lane's ticket is done. */
  queued_at: number | null;
  /** Why the merge waits (the person's own changes in the way). */
  blocked: string | null;
}

export interface LanesStatus {
  count: number;
  integration: string;
  /** Tickets merged by this run, in order. */
  merged: string[];
  open: OpenLane[];
}

export interface Dispatch {
  seq: number;
  mode: string;
  title: string | null;
  body: string;
  /** Ready answers the agent offered (buttons); absent for a free-text question. */
  options?: string[];
  event_seq: number;
}

export interface UsageRow {
  key: string;
  turns: number;
  input_tokens: number;
  cached_input_tokens: number;
  output_tokens: number;
  cost_usd: number | null;
}

export interface DocInfo {
  kind: string;
  label: string;
  path: string;
  exists: boolean;
  bytes: number;
  hash: string;
}

export const ACTIVE_STATUSES: ReadonlySet<string> = new Set(['pending', 'running', 'stopping']);

/** A hash-guarded text file as the editors see it. */
export interface Doc {
  content: string;
  hash: string;
  issues?: LintIssue[];
}

/** One repo of a hub, as `GET /api/hub/repos` lists it (`car hub status --json`). */
export interface HubRepo {
  id: string;
  path: string;
  kind: 'base' | 'worktree';
  worktree_of: string | null;
  branch: string | null;
  enabled: boolean;
  exists: boolean;
  state: string;
  run: Run | null;
  worker: { status: 'alive' | 'stale' | 'none'; pid: number | null };
  tickets: { total: number; done: number; open: number; next: string | null };
  /** Pull requests car opened: open ones, failing checks, asked to change; the newest. */
  pull_requests: {
    open: number;
    failing: number;
    changes_requested: number;
    latest: { number: number; url: string; state: string; checks: string; review: string | null } | null;
  };
  error?: string;
}

export interface HubStatus {
  hub_root: string;
  summary: Record<string, number>;
  repos: HubRepo[];
  /** With `hub.queue.kind: postgres`: each repo's latest job, or why the database could not be read. */
  queue?: { kind: 'postgres'; jobs: HubQueueJob[] } | { kind: 'postgres'; error: string };
}

/** A hub queue job (`car hub status --json` `queue.jobs`): the worker and machine working it. */
export interface HubQueueJob {
  job_id: string;
  repo_id: string;
  /** A ticket job's ticket (a repo with lanes spreads its tickets over the workers); null: the repo's job. */
  ticket: string | null;
  state: 'queued' | 'running' | 'completed' | 'failed' | 'cancelled';
  /** Takeovers so far. */
  attempt: number;
  worker: string | null;
  host: string | null;
  heartbeat_at: string | null;
  run_id: string | null;
  run_status: string | null;
  reason_code: string | null;
  tickets_done: number | null;
  tickets_total: number | null;
  created_at: string;
}

/** An item of the hub's inbox (`GET /api/hub/inbox`); `kind` says which (more kinds may come). */
export type HubInboxItem =
  | { kind: 'run_paused'; repo_id: string; at: string; run: Run; question: Dispatch | null }
  /** A pending approval of the repo, answered through `/repos/<id>/api/approvals/<id>`. */
  | { kind: 'approval'; repo_id: string; at: string; approval: Approval };

export interface HubInbox {
  items: HubInboxItem[];
  count: number;
  errors: { repo_id: string; message: string }[];
}

/** An active run of the hub (`GET /api/hub/live`). */
export interface HubLiveRun {
  repo_id: string;
  run: Run;
  worker: 'alive' | 'stale' | 'none';
  last_line: { at: string; text: string } | null;
}

/** One evidence record (`GET /api/tickets/:name/evidence`, `.../work`): why car closed the ticket. */
export interface EvidenceEntry {
  run_id: string;
  ticket: string;
  verified_at: string;
  commit: string | null;
  base_commit: string | null;
  dirty: boolean;
  commands: {
    command: string;
    source: string;
    exit_code: number | null;
    timed_out: boolean;
    duration_ms: number;
    output_sha256: string;
    output_tail?: string;
  }[];
  findings: { kind: string; file: string; detail: string; action: string }[];
  failed_attempts: number;
  turns: number;
}

/** What a ticket's work changed (`GET /api/tickets/:name/work`). */
export interface TicketWork {
  ticket: string;
  source: 'lane' | 'evidence';
  lane: { lane: number; run_id: string; branch: string } | null;
  evidence: EvidenceEntry | null;
  records: EvidenceEntry[];
  diff: {
    base: string;
    head: string;
    commits: { sha: string; subject: string }[];
    files: { path: string; insertions: number | null; deletions: number | null }[];
    patch: string;
    truncated: boolean;
  };
}

/** A checkout's git state (`GET /api/hub/git`). */
export interface GitState {
  branch: string | null;
  head: string | null;
  upstream: string | null;
  ahead: number | null;
  behind: number | null;
  dirty: number;
  dirty_files: string[];
}

/** An approval a supervised agent waits for (`/api/approvals`, src/surfaces/approval-json.ts). */
export interface Approval {
  id: string;
  run_id: string;
  ticket: string | null;
  agent: string | null;
  kind: 'command' | 'file_change' | 'permission' | string;
  title: string;
  command: string | null;
  cwd: string | null;
  paths: string[];
  diff: string | null;
  reason: string | null;
  status: 'pending' | 'answered' | 'expired' | 'cancelled';
  decision: string | null;
  answered_by: string | null;
  note: string | null;
  created_at: string;
  expires_at: string;
  answered_at: string | null;
}
