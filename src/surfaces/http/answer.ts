// JSON answers with strong ETags. A route builds its body once per state of what it shows (its key:
// the stamps of the files and the store it reads) and keeps it with a digest of its bytes, so an
// unchanged answer costs a lookup, and a client that sends that digest back in If-None-Match gets
// 304 without a body.
import { createHash } from 'node:crypto';
import type { Context } from 'hono';

export interface Answer {
  /** JSON, encoded once (not again for every request that gets it). */
  body: Uint8Array<ArrayBuffer>;
  /** Quoted, as sent in the ETag header. */
  etag: string;
}

const encoder = new TextEncoder();

export function rawAnswer(json: string): Answer {
  const body = encoder.encode(json);
  return { body, etag: `"${createHash('sha256').update(body).digest('base64url').slice(0, 32)}"` };
}

export function jsonAnswer(value: unknown): Answer {
  return rawAnswer(JSON.stringify(value));
}

/**
 * The latest answers by key, a bounded number: keys name a state (a generation, a store stamp), so the
 * answers of past states are never asked for again and age out.
 */
export class AnswerCache {
  readonly #max: number;
  readonly #answers = new Map<string, Promise<Answer>>();

  constructor(max = 32) {
    this.#max = max;
  }

  /** The answer kept for `key`, else what `build` makes (kept unless it fails). */
  get(key: string, build: () => Answer | Promise<Answer>): Promise<Answer> {
    const kept = this.#answers.get(key);
    if (kept) {
      // most recently used last, so the oldest is evicted first
      this.#answers.delete(key);
      this.#answers.set(key, kept);
      return kept;
    }
    const made = Promise.resolve().then(build);
    this.#answers.set(key, made);
    made.catch(() => {
      if (this.#answers.get(key) === made) this.#answers.delete(key);
    });
    if (this.#answers.size > this.#max) this.#answers.delete(this.#answers.keys().next().value!);
    return made;
  }
}

/** If-None-Match against a strong tag: `*`, or a list of tags (a `W/` prefix is ignored, RFC 9110 13.1.2). */
function matches(header: string | undefined, etag: string): boolean {
  if (header === undefined) return false;
  if (header.trim() === '*') return true;
  return header.split(',').some((tag) => tag.trim().replace(/^W\//, '') === etag);
}

/** 304 when the client already holds this answer, else 200 with the body; both carry the ETag. */
export function sendAnswer(c: Context, answer: Answer): Response {
  c.header('ETag', answer.etag);
  if (matches(c.req.header('if-none-match'), answer.etag)) return c.body(null, 304);
  c.header('Content-Type', 'application/json');
  return c.body(answer.body, 200);
}
