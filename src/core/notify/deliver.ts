// Drains the outbox through platform transports: per-chat spacing, retries with exponential backoff,
// rate limits honoured (a 429's retry_after holds the whole platform), permanent errors give up at once.
import type { ChatStore, OutboxMessage, Platform } from './chat-store.ts';

export type SendErrorKind = 'rate_limited' | 'transient' | 'permanent';

/** How a transport reports a failed send; the message must not contain secrets. */
export class SendError extends Error {
  readonly kind: SendErrorKind;
  readonly retryAfterMs: number | null;
  constructor(kind: SendErrorKind, message: string, retryAfterMs: number | null = null) {
    super(message);
    this.name = 'SendError';
    this.kind = kind;
    this.retryAfterMs = retryAfterMs;
  }
}

export interface ChatTransport {
  readonly platform: Platform;
  /** Sends one message; resolves to the platform's message id. Throws SendError (or anything: transient). */
  send(msg: OutboxMessage): Promise<{ messageId: string }>;
}

export interface DelivererOptions {
  /** Least time between two sends to one chat. */
  minIntervalMs?: number;
  maxAttempts?: number;
  backoffBaseMs?: number;
  backoffMaxMs?: number;
  now?: () => number;
  sleep?: (ms: number) => Promise<void>;
  log?: (line: string) => void;
}

export interface DrainResult {
  sent: number;
  retried: number;
  failed: number;
}

export class Deliverer {
  readonly #store: ChatStore;
  readonly #transports: Map<Platform, ChatTransport>;
  readonly #minInterval: number;
  readonly #maxAttempts: number;
  readonly #base: number;
  readonly #max: number;
  readonly #now: () => number;
  readonly #sleep: (ms: number) => Promise<void>;
  readonly #log: (line: string) => void;
  /** When each chat may get its next message. */
  readonly #chatReady = new Map<string, number>();
  /** A platform-wide hold after a 429. */
  readonly #platformReady = new Map<Platform, number>();

  constructor(store: ChatStore, transports: readonly ChatTransport[], opts: DelivererOptions = {}) {
    this.#store = store;
    this.#transports = new Map(transports.map((t) => [t.platform, t]));
    this.#minInterval = opts.minIntervalMs ?? 1000;
    this.#maxAttempts = opts.maxAttempts ?? 8;
    this.#base = opts.backoffBaseMs ?? 1000;
    this.#max = opts.backoffMaxMs ?? 5 * 60_000;
    this.#now = opts.now ?? Date.now;
    this.#sleep = opts.sleep ?? ((ms) => new Promise((r) => setTimeout(r, ms)));
    this.#log = opts.log ?? (() => {});
  }

  /** Exponential backoff for the n-th failed attempt (1-based), with ±20% jitter. */
  backoffMs(attempt: number): number {
    const raw = Math.min(this.#max, this.#base * 2 ** (attempt - 1));
    return Math.round(raw * (0.8 + Math.random() * 0.4));
  }

  /**
   * Sends every due row once (in id order per chat), waiting out per-chat spacing up to `maxWaitMs`
   * per row; a rate-limited platform is skipped for the rest of the pass.
   */
  async drain(opts: { maxWaitMs?: number; signal?: AbortSignal } = {}): Promise<DrainResult> {
    const result: DrainResult = { sent: 0, retried: 0, failed: 0 };
    const rows = this.#store.due([...this.#transports.keys()]);
    const blockedChats = new Set<string>();
    for (const row of rows) {
      if (opts.signal?.aborted) break;
      const chatKey = `${row.platform}:${row.chatId}`;
      // keep a chat's order: once one of its rows waits, the later ones wait too
      if (blockedChats.has(chatKey)) continue;
      const transport = this.#transports.get(row.platform)!;
      const now = this.#now();
      const platformReady = this.#platformReady.get(row.platform) ?? 0;
      if (platformReady > now) {
        blockedChats.add(chatKey);
        continue;
      }
      const wait = (this.#chatReady.get(chatKey) ?? 0) - now;
      if (wait > 0) {
        if (wait > (opts.maxWaitMs ?? 5000)) {
          blockedChats.add(chatKey);
          continue;
        }
        await this.#sleep(wait);
      }
      if (!this.#store.claim(row.id)) continue;
      const attempt = row.attempts + 1;
      try {
        const { messageId } = await transport.send(row);
        this.#store.markSent(row.id, messageId);
        result.sent++;
      } catch (err) {
        const e =
          err instanceof SendError
            ? err
            : new SendError('transient', err instanceof Error ? err.message : String(err));
        if (e.kind === 'rate_limited') {
          const until = this.#now() + (e.retryAfterMs ?? 1000);
          this.#platformReady.set(row.platform, until);
          this.#store.reschedule(row.id, until, e.message, true);
          this.#log(`${row.platform}: rate limited; retrying outbox #${row.id} in ${e.retryAfterMs} ms`);
          blockedChats.add(chatKey);
          result.retried++;
        } else if (e.kind === 'permanent' || attempt >= this.#maxAttempts) {
          this.#store.markFailed(row.id, e.message);
          this.#log(`${row.platform}: outbox #${row.id} failed after ${attempt} attempt(s): ${e.message}`);
          result.failed++;
        } else {
          const delay = this.backoffMs(attempt);
          this.#store.reschedule(row.id, this.#now() + delay, e.message);
          this.#log(
            `${row.platform}: outbox #${row.id} attempt ${attempt} failed (${e.message}); retry in ${delay} ms`,
          );
          blockedChats.add(chatKey);
          result.retried++;
        }
      } finally {
        this.#chatReady.set(chatKey, this.#now() + this.#minInterval);
      }
    }
    return result;
  }
}
