// The run store's schema, one SQL step per version (see migrations.ts). Never edit a released step;
// append a new one. JSON columns hold JSON text; STRICT tables reject values of the wrong type.

export const RUN_STATUSES = [
  'pending',
  'running',
  'paused',
  'stopping',
  'stopped',
  'completed',
  'failed',
  'superseded',
] as const;

export const TURN_STATUSES = ['running', 'completed', 'failed', 'interrupted', 'cancelled'] as const;

const quoted = (values: readonly string[]) => values.map((v) => `'${v}'`).join(', ');

const V1 = `
CREATE TABLE runs (
  id TEXT PRIMARY KEY,
  status TEXT NOT NULL CHECK (status IN (${quoted(RUN_STATUSES)})),
  created_at TEXT NOT NULL,
  started_at TEXT,
  finished_at TEXT,
  updated_at TEXT NOT NULL,
  reason_code TEXT,
  reason TEXT,
  reason_details TEXT,
  state TEXT NOT NULL DEFAULT '{}',
  input TEXT NOT NULL DEFAULT '{}',
  metadata TEXT NOT NULL DEFAULT '{}',
  error TEXT,
  -- per-run event sequence counter; kept here (not MAX(seq)) so pruning never lets a number be reused
  last_event_seq INTEGER NOT NULL DEFAULT 0
) STRICT;
CREATE INDEX runs_by_created ON runs (created_at);

CREATE TABLE turns (
  id INTEGER PRIMARY KEY,
  run_id TEXT NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
  seq INTEGER NOT NULL,
  ticket_path TEXT,
  ticket_id TEXT,
  agent TEXT NOT NULL,
  kind TEXT NOT NULL,
  status TEXT NOT NULL CHECK (status IN (${quoted(TURN_STATUSES)})),
  started_at TEXT NOT NULL,
  finished_at TEXT,
  usage TEXT,
  error TEXT,
  output_excerpt TEXT,
  UNIQUE (run_id, seq)
) STRICT;

CREATE TABLE events (
  run_id TEXT NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
  seq INTEGER NOT NULL,
  turn_id INTEGER REFERENCES turns (id) ON DELETE SET NULL,
  type TEXT NOT NULL,
  at TEXT NOT NULL,
  data TEXT NOT NULL,
  PRIMARY KEY (run_id, seq)
) STRICT;
CREATE INDEX events_by_type ON events (run_id, type, seq);

-- Why a run has the events it has: rows kept, dropped over the cap, truncated, pruned by retention.
CREATE TABLE event_counts (
  run_id TEXT NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
  type TEXT NOT NULL,
  kept INTEGER NOT NULL DEFAULT 0,
  dropped INTEGER NOT NULL DEFAULT 0,
  truncated INTEGER NOT NULL DEFAULT 0,
  pruned INTEGER NOT NULL DEFAULT 0,
  PRIMARY KEY (run_id, type)
) STRICT, WITHOUT ROWID;

CREATE TABLE artifacts (
  id TEXT PRIMARY KEY,
  run_id TEXT NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
  kind TEXT NOT NULL,
  path TEXT NOT NULL,
  created_at TEXT NOT NULL,
  metadata TEXT NOT NULL DEFAULT '{}'
) STRICT;
CREATE INDEX artifacts_by_run ON artifacts (run_id, created_at);
`;

// Chat notifications (car chat run): which chats get notices, a per-chat cursor over each run's event
// log (each event becomes at most one notice), and the durable outbox. Kept in car.db so a notice is
// enqueued and its cursor advanced in one transaction, next to the events it comes from.
const V2 = `
CREATE TABLE chat_bindings (
  platform TEXT NOT NULL,
  chat_id TEXT NOT NULL,
  bound_at TEXT NOT NULL,
  bound_by TEXT,
  PRIMARY KEY (platform, chat_id)
) STRICT;

CREATE TABLE chat_cursors (
  platform TEXT NOT NULL,
  chat_id TEXT NOT NULL,
  run_id TEXT NOT NULL,
  last_seq INTEGER NOT NULL,
  PRIMARY KEY (platform, chat_id, run_id)
) STRICT, WITHOUT ROWID;

CREATE TABLE chat_outbox (
  id INTEGER PRIMARY KEY,
  platform TEXT NOT NULL,
  chat_id TEXT NOT NULL,
  -- one row per (chat, run event, part): enqueueing twice is a no-op
  dedupe_key TEXT NOT NULL UNIQUE,
  text TEXT NOT NULL,
  buttons TEXT NOT NULL DEFAULT '[]',
  run_id TEXT,
  -- platform idempotency key (Discord nonce + enforce_nonce), fixed at enqueue time
  nonce TEXT NOT NULL,
  status TEXT NOT NULL CHECK (status IN ('pending', 'sending', 'sent', 'failed')),
  attempts INTEGER NOT NULL DEFAULT 0,
  -- sends restarted after a crash left the row 'sending' (the send may or may not have happened)
  crash_resends INTEGER NOT NULL DEFAULT 0,
  next_attempt_at INTEGER NOT NULL,
  last_error TEXT,
  message_id TEXT,
  created_at TEXT NOT NULL,
  sent_at TEXT
) STRICT;
CREATE INDEX chat_outbox_due ON chat_outbox (status, next_attempt_at, id);
`;

// A hub-wide chat service binds each chat to one repo of the hub (null: this repo, or every repo of a hub).
const V3 = `
ALTER TABLE chat_bindings ADD COLUMN repo TEXT;
`;

// The project manager agent's conversations: one agent thread per conversation (a terminal user, the web
// Chat page, a chat's user) and its transcript, bounded by config \`pma.transcript_messages\`.
const V4_PMA = `
CREATE TABLE pma_threads (
  conversation TEXT PRIMARY KEY,
  agent TEXT NOT NULL,
  thread_id TEXT,
  updated_at TEXT NOT NULL
) STRICT, WITHOUT ROWID;

CREATE TABLE pma_messages (
  id INTEGER PRIMARY KEY,
  conversation TEXT NOT NULL,
  role TEXT NOT NULL CHECK (role IN ('user', 'assistant', 'error')),
  text TEXT NOT NULL,
  at TEXT NOT NULL
) STRICT;
CREATE INDEX pma_messages_conversation ON pma_messages (conversation, id);
`;

// Pull requests car opened (`car pr open`) and what following them found: the PR's state as last seen,
// the check runs and reviews already acted on, and feedback waiting for the next prompt on a ticket.
const V5_PR = `
CREATE TABLE pull_requests (
  repo_slug TEXT NOT NULL,
  number INTEGER NOT NULL,
  url TEXT NOT NULL,
  head_branch TEXT NOT NULL,
  base_branch TEXT NOT NULL,
  head_sha TEXT,
  -- the ticket car pr open was run for (an open_pr ticket), and the ticket a failed check sends back
  ticket_path TEXT,
  ticket_id TEXT,
  target_ticket_id TEXT,
  -- the closed tickets the body lists (JSON array of ticket ids)
  tickets TEXT NOT NULL DEFAULT '[]',
  state TEXT NOT NULL CHECK (state IN ('open', 'closed', 'merged')),
  draft INTEGER NOT NULL DEFAULT 0,
  checks TEXT NOT NULL DEFAULT 'none' CHECK (checks IN ('none', 'pending', 'success', 'failure')),
  review TEXT,
  -- check runs and reviews already acted on (JSON array of keys)
  seen TEXT NOT NULL DEFAULT '[]',
  opened_at TEXT NOT NULL,
  updated_at TEXT NOT NULL,
  closed_at TEXT,
  last_error TEXT,
  PRIMARY KEY (repo_slug, number)
) STRICT;

CREATE TABLE pr_feedback (
  id INTEGER PRIMARY KEY,
  ticket_id TEXT NOT NULL,
  repo_slug TEXT NOT NULL,
  pr_number INTEGER NOT NULL,
  kind TEXT NOT NULL CHECK (kind IN ('check_failed', 'changes_requested')),
  -- one row per check run or review: recording it twice is a no-op
  dedupe_key TEXT NOT NULL UNIQUE,
  body TEXT NOT NULL,
  created_at TEXT NOT NULL,
  consumed_at TEXT
) STRICT;
CREATE INDEX pr_feedback_pending ON pr_feedback (ticket_id, consumed_at);

CREATE TABLE scm_deliveries (
  delivery_id TEXT PRIMARY KEY,
  event TEXT NOT NULL,
  received_at TEXT NOT NULL
) STRICT;
`;

export const APPROVAL_STATUSES = ['pending', 'answered', 'expired', 'cancelled'] as const;
export const APPROVAL_DECISIONS = ['accept', 'accept_for_session', 'decline', 'cancel'] as const;

// Approvals a supervised agent asked a person for: written by the worker, answered by any process (CLI,
// server, chat bot) with a conditional update, so one answer wins and a late one is refused.
const V6_APPROVALS = `
CREATE TABLE approvals (
  id TEXT PRIMARY KEY,
  run_id TEXT NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
  turn_id INTEGER REFERENCES turns (id) ON DELETE SET NULL,
  ticket TEXT,
  agent TEXT,
  kind TEXT NOT NULL,
  title TEXT NOT NULL,
  command TEXT,
  cwd TEXT,
  paths TEXT NOT NULL DEFAULT '[]',
  diff TEXT,
  reason TEXT,
  worker_pid INTEGER,
  status TEXT NOT NULL CHECK (status IN (${quoted(APPROVAL_STATUSES)})),
  decision TEXT CHECK (decision IN (${quoted(APPROVAL_DECISIONS)})),
  answered_by TEXT,
  note TEXT,
  created_at TEXT NOT NULL,
  expires_at TEXT NOT NULL,
  answered_at TEXT
) STRICT;
CREATE INDEX approvals_by_status ON approvals (status, created_at);
CREATE INDEX approvals_by_run ON approvals (run_id, created_at);
`;

export const RUN_STORE_MIGRATIONS: readonly string[] = [V1, V2, V3, V4_PMA, V5_PR, V6_APPROVALS];
