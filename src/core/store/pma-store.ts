// The project manager agent's conversations (tables from the `pma_*` schema step): per conversation the
// agent thread it continues and a transcript trimmed to the newest `limit` messages on every append.
import { openRunStore } from './run-store.ts';
import { openSqlite, type SqlDb } from './sqlite.ts';

export type PmaRole = 'user' | 'assistant' | 'error';

export interface PmaMessage {
  id: number;
  role: PmaRole;
  text: string;
  at: string;
}

export interface PmaThread {
  agent: string;
  threadId: string | null;
}

/** Longest message kept in a transcript (an agent's answer can be long); the rest is cut with a note. */
export const PMA_MESSAGE_MAX_CHARS = 64 * 1024;

export class PmaStore {
  readonly #db: SqlDb;
  readonly #limit: number;

  constructor(db: SqlDb, limit: number) {
    this.#db = db;
    this.#limit = limit;
  }

  close(): void {
    this.#db.close();
  }

  thread(conversation: string): PmaThread | null {
    const row = this.#db
      .prepare('SELECT agent, thread_id FROM pma_threads WHERE conversation = ?')
      .get<{ agent: string; thread_id: string | null }>(conversation);
    return row ? { agent: row.agent, threadId: row.thread_id } : null;
  }

  saveThread(conversation: string, agent: string, threadId: string | null): void {
    this.#db
      .prepare(
        `INSERT INTO pma_threads (conversation, agent, thread_id, updated_at) VALUES (?, ?, ?, ?)
         ON CONFLICT (conversation) DO UPDATE SET agent = excluded.agent, thread_id = excluded.thread_id,
         updated_at = excluded.updated_at`,
      )
      .run(conversation, agent, threadId, new Date().toISOString());
  }

  /** Appends a message and drops the conversation's oldest beyond the limit, in one transaction. */
  append(conversation: string, role: PmaRole, text: string): PmaMessage {
    const kept =
      text.length > PMA_MESSAGE_MAX_CHARS
        ? `${text.slice(0, PMA_MESSAGE_MAX_CHARS)}\n[... ${text.length - PMA_MESSAGE_MAX_CHARS} characters not kept]`
        : text;
    const at = new Date().toISOString();
    return this.#db.transaction(() => {
      const id = Number(
        this.#db
          .prepare('INSERT INTO pma_messages (conversation, role, text, at) VALUES (?, ?, ?, ?)')
          .run(conversation, role, kept, at).lastInsertRowid,
      );
      this.#db
        .prepare(
          `DELETE FROM pma_messages WHERE conversation = ? AND id <= (
             SELECT id FROM pma_messages WHERE conversation = ? ORDER BY id DESC LIMIT 1 OFFSET ?)`,
        )
        .run(conversation, conversation, this.#limit);
      return { id, role, text: kept, at };
    });
  }

  /** The transcript, oldest first. */
  messages(conversation: string): PmaMessage[] {
    return this.#db
      .prepare('SELECT id, role, text, at FROM pma_messages WHERE conversation = ? ORDER BY id')
      .all<PmaMessage>(conversation);
  }

  /** Forgets the conversation's thread and transcript (a fresh start). */
  reset(conversation: string): void {
    this.#db.transaction(() => {
      this.#db.prepare('DELETE FROM pma_threads WHERE conversation = ?').run(conversation);
      this.#db.prepare('DELETE FROM pma_messages WHERE conversation = ?').run(conversation);
    });
  }
}

/** Opens the conversations in `dbFile` (a repo's car.db or a hub's chat.db), migrating it first. */
export function openPmaStore(dbFile: string, limit: number): PmaStore {
  openRunStore(dbFile).close();
  return new PmaStore(openSqlite(dbFile), limit);
}
