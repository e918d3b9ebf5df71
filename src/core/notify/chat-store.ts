// Chat state in the run store's database (tables from schema step 2): bound chats, a per-chat cursor
// over each run's event log, and the durable outbox.
//
// Delivery guarantees:
// - a notice is enqueued and its chat's cursor advanced in one transaction, and the outbox row's
//   `dedupe_key` is unique, so each event gives each chat at most one row, even across restarts;
// - a row is claimed (`sending`) before the send and marked `sent` right after it succeeds; a row found
//   `sending` at start-up was interrupted by a crash and is sent again (counted in `crash_resends`).
//   With Discord the fixed `nonce` + `enforce_nonce` makes that resend a no-op; Telegram has no
//   idempotency key, so only the crash window between Telegram accepting a message and car marking it
//   sent can repeat it (at-least-once there, exactly-once everywhere else).
import { randomBytes } from 'node:crypto';
import { openSqlite, type SqlDb } from '../store/sqlite.ts';
import type { NoticeButton } from './notices.ts';

export type Platform = 'telegram' | 'discord';
export type OutboxStatus = 'pending' | 'sending' | 'sent' | 'failed';

export interface Binding {
  platform: Platform;
  chatId: string;
  boundAt: string;
  boundBy: string | null;
  /** The hub repo the chat follows; null: the service's own repo, or every repo of a hub. */
  repo: string | null;
}

export interface OutboxMessage {
  id: number;
  platform: Platform;
  chatId: string;
  dedupeKey: string;
  text: string;
  buttons: NoticeButton[];
  runId: string | null;
  nonce: string;
  status: OutboxStatus;
  attempts: number;
  crashResends: number;
  nextAttemptAt: number;
  lastError: string | null;
  messageId: string | null;
  createdAt: string;
  sentAt: string | null;
}

export interface NewOutboxMessage {
  platform: Platform;
  chatId: string;
  dedupeKey: string;
  text: string;
  buttons?: NoticeButton[];
  runId?: string | null;
}

interface OutboxRow {
  id: number;
  platform: Platform;
  chat_id: string;
  dedupe_key: string;
  text: string;
  buttons: string;
  run_id: string | null;
  nonce: string;
  status: OutboxStatus;
  attempts: number;
  crash_resends: number;
  next_attempt_at: number;
  last_error: string | null;
  message_id: string | null;
  created_at: string;
  sent_at: string | null;
}

const toMessage = (r: OutboxRow): OutboxMessage => ({
  id: r.id,
  platform: r.platform,
  chatId: r.chat_id,
  dedupeKey: r.dedupe_key,
  text: r.text,
  buttons: JSON.parse(r.buttons) as NoticeButton[],
  runId: r.run_id,
  nonce: r.nonce,
  status: r.status,
  attempts: r.attempts,
  crashResends: r.crash_resends,
  nextAttemptAt: r.next_attempt_at,
  lastError: r.last_error,
  messageId: r.message_id,
  createdAt: r.created_at,
  sentAt: r.sent_at,
});

/** Discord accepts nonces of up to 25 characters. */
function newNonce(): string {
  return `car${randomBytes(10).toString('hex')}`;
}

export interface OutboxCounts {
  platform: Platform;
  status: OutboxStatus;
  count: number;
}

export class ChatStore {
  readonly db: SqlDb;
  readonly #now: () => number;

  /** `db` must already be migrated (open the RunStore on the same file first). */
  constructor(db: SqlDb, opts: { now?: () => number } = {}) {
    this.db = db;
    this.#now = opts.now ?? Date.now;
  }

  close(): void {
    this.db.close();
  }

  transaction<T>(fn: () => T): T {
    return this.db.transaction(fn);
  }

  // --- bindings and cursors ---

  /**
   * Binds a chat for notices (to `repo` of a hub; null: this repo, or all of a hub's), or moves an
   * existing binding to another repo. Runs that exist now start at their current last event, so binding
   * does not replay history; runs created later are told from their first event. False when the chat
   * was already bound just so.
   */
  bind(
    platform: Platform,
    chatId: string,
    boundBy: string | null,
    runs: readonly { id: string; lastEventSeq: number }[],
    repo: string | null = null,
  ): boolean {
    return this.transaction(() => {
      const res = this.db
        .prepare(
          `INSERT INTO chat_bindings (platform, chat_id, bound_at, bound_by, repo) VALUES (?, ?, ?, ?, ?)
           ON CONFLICT (platform, chat_id) DO UPDATE
             SET repo = excluded.repo, bound_at = excluded.bound_at, bound_by = excluded.bound_by
             WHERE repo IS NOT excluded.repo`,
        )
        .run(platform, chatId, new Date(this.#now()).toISOString(), boundBy, repo);
      if (res.changes === 0) return false;
      const cursor = this.db.prepare(
        'INSERT OR IGNORE INTO chat_cursors (platform, chat_id, run_id, last_seq) VALUES (?, ?, ?, ?)',
      );
      for (const run of runs) cursor.run(platform, chatId, run.id, run.lastEventSeq);
      return true;
    });
  }

  unbind(platform: Platform, chatId: string): boolean {
    return this.transaction(() => {
      this.db.prepare('DELETE FROM chat_cursors WHERE platform = ? AND chat_id = ?').run(platform, chatId);
      return (
        this.db.prepare('DELETE FROM chat_bindings WHERE platform = ? AND chat_id = ?').run(platform, chatId)
          .changes > 0
      );
    });
  }

  bindings(platform?: Platform): Binding[] {
    const rows = this.db
      .prepare(
        `SELECT platform, chat_id, bound_at, bound_by, repo FROM chat_bindings
         ${platform ? 'WHERE platform = ?' : ''} ORDER BY bound_at, chat_id`,
      )
      .all<{
        platform: Platform;
        chat_id: string;
        bound_at: string;
        bound_by: string | null;
        repo: string | null;
      }>(...(platform ? [platform] : []));
    return rows.map((r) => ({
      platform: r.platform,
      chatId: r.chat_id,
      boundAt: r.bound_at,
      boundBy: r.bound_by,
      repo: r.repo,
    }));
  }

  binding(platform: Platform, chatId: string): Binding | null {
    return this.bindings(platform).find((b) => b.chatId === chatId) ?? null;
  }

  isBound(platform: Platform, chatId: string): boolean {
    return (
      this.db
        .prepare('SELECT 1 AS one FROM chat_bindings WHERE platform = ? AND chat_id = ?')
        .get(platform, chatId) !== undefined
    );
  }

  cursor(platform: Platform, chatId: string, runId: string): number | null {
    const row = this.db
      .prepare('SELECT last_seq FROM chat_cursors WHERE platform = ? AND chat_id = ? AND run_id = ?')
      .get<{ last_seq: number }>(platform, chatId, runId);
    return row ? row.last_seq : null;
  }

  setCursor(platform: Platform, chatId: string, runId: string, seq: number): void {
    this.db
      .prepare(
        `INSERT INTO chat_cursors (platform, chat_id, run_id, last_seq) VALUES (?, ?, ?, ?)
         ON CONFLICT (platform, chat_id, run_id) DO UPDATE SET last_seq = MAX(last_seq, excluded.last_seq)`,
      )
      .run(platform, chatId, runId, seq);
  }

  // --- outbox ---

  /** Adds a message unless one with the same dedupe key exists; returns the new row id or null. */
  enqueue(msg: NewOutboxMessage): number | null {
    const res = this.db
      .prepare(
        `INSERT OR IGNORE INTO chat_outbox
           (platform, chat_id, dedupe_key, text, buttons, run_id, nonce, status, next_attempt_at, created_at)
         VALUES (?, ?, ?, ?, ?, ?, ?, 'pending', ?, ?)`,
      )
      .run(
        msg.platform,
        msg.chatId,
        msg.dedupeKey,
        msg.text,
        JSON.stringify(msg.buttons ?? []),
        msg.runId ?? null,
        newNonce(),
        this.#now(),
        new Date(this.#now()).toISOString(),
      );
    return res.changes > 0 ? Number(res.lastInsertRowid) : null;
  }

  /** Pending rows due now, oldest first (per-chat order is kept by id). */
  due(platforms: readonly Platform[], limit = 100): OutboxMessage[] {
    if (platforms.length === 0) return [];
    const marks = platforms.map(() => '?').join(', ');
    const now = this.#now();
    // A chat's messages go out in order: nothing of a chat is due while an earlier one of it waits.
    return this.db
      .prepare(
        `SELECT * FROM chat_outbox o WHERE status = 'pending' AND next_attempt_at <= ?
           AND platform IN (${marks})
           AND NOT EXISTS (SELECT 1 FROM chat_outbox p WHERE p.platform = o.platform
             AND p.chat_id = o.chat_id AND p.status = 'pending' AND p.id < o.id AND p.next_attempt_at > ?)
         ORDER BY id LIMIT ?`,
      )
      .all<OutboxRow>(now, ...platforms, now, limit)
      .map(toMessage);
  }

  /** Claims a pending row for one send attempt; false when someone else claimed or finished it. */
  claim(id: number): boolean {
    return (
      this.db
        .prepare(
          "UPDATE chat_outbox SET status = 'sending', attempts = attempts + 1 WHERE id = ? AND status = 'pending'",
        )
        .run(id).changes > 0
    );
  }

  /** The run a message car sent is about (a reply to a notice answers that run), or null. */
  runOfMessage(platform: Platform, chatId: string, messageId: string): string | null {
    const row = this.db
      .prepare('SELECT run_id FROM chat_outbox WHERE platform = ? AND chat_id = ? AND message_id = ?')
      .get<{ run_id: string | null }>(platform, chatId, messageId);
    return row?.run_id ?? null;
  }

  markSent(id: number, messageId: string): void {
    this.db
      .prepare(
        "UPDATE chat_outbox SET status = 'sent', message_id = ?, sent_at = ?, last_error = NULL WHERE id = ?",
      )
      .run(messageId, new Date(this.#now()).toISOString(), id);
  }

  /** Back to pending, to try again at `nextAttemptAt`; `refund` gives the attempt back (rate limits). */
  reschedule(id: number, nextAttemptAt: number, error: string, refund = false): void {
    this.db
      .prepare(
        `UPDATE chat_outbox SET status = 'pending', next_attempt_at = ?, last_error = ?,
           attempts = attempts - ? WHERE id = ?`,
      )
      .run(nextAttemptAt, error.slice(0, 500), refund ? 1 : 0, id);
  }

  markFailed(id: number, error: string): void {
    this.db
      .prepare("UPDATE chat_outbox SET status = 'failed', last_error = ? WHERE id = ?")
      .run(error.slice(0, 500), id);
  }

  /**
   * Start-up: rows a crash left `sending` go back to pending (sent again; see the header for what that
   * means per platform). Returns how many.
   */
  recoverInterrupted(): number {
    return this.db
      .prepare(
        "UPDATE chat_outbox SET status = 'pending', crash_resends = crash_resends + 1 WHERE status = 'sending'",
      )
      .run().changes;
  }

  get(id: number): OutboxMessage | null {
    const row = this.db.prepare('SELECT * FROM chat_outbox WHERE id = ?').get<OutboxRow>(id);
    return row ? toMessage(row) : null;
  }

  list(opts: { status?: OutboxStatus; limit?: number } = {}): OutboxMessage[] {
    const where = opts.status ? 'WHERE status = ?' : '';
    return this.db
      .prepare(`SELECT * FROM chat_outbox ${where} ORDER BY id LIMIT ?`)
      .all<OutboxRow>(...(opts.status ? [opts.status] : []), opts.limit ?? 1000)
      .map(toMessage);
  }

  counts(): OutboxCounts[] {
    return this.db
      .prepare(
        'SELECT platform, status, COUNT(*) AS count FROM chat_outbox GROUP BY platform, status ORDER BY platform, status',
      )
      .all<OutboxCounts>();
  }
}

/** Opens a second connection to a run store database that is already migrated. */
export function openChatStore(dbFile: string, opts: { now?: () => number } = {}): ChatStore {
  return new ChatStore(openSqlite(dbFile), opts);
}
