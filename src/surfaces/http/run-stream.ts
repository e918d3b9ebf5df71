// GET /api/runs/:id/stream: a run's events as Server-Sent Events (`id:` = the event's seq), resumable
// with Last-Event-ID.
//
// A new client first replays what it has not seen from the store, one bounded batch (<= `batch` events,
// <= 16 KiB) per step on the StepRunner's bulk lane, and only while its stream has room: the next batch
// waits until less than HIGH_WATER is queued, and the server (@hono/node-server) takes the next chunk
// only once the socket drained the last one, so a client that reads slowly is replayed slowly and costs
// a bounded buffer. Caught up, it joins its run's feed: one poller per followed run, which reads each
// batch of new events from the store once and hands the same text to every client. A client that still has more than `maxBufferedBytes` queued
// when a batch comes is too slow to follow live: it gets a `dropped` event with the reason and its
// stream ends (reconnecting with Last-Event-ID replays the rest at its own pace). A dropped client that
// does not even read that is cut off after DROP_GRACE_MS.
//
// Events come from the store as JSON text (RunStore.listEventsJson), one string each, and chunks are
// text when the stream goes to a Node socket (@hono/node-server): Node encodes a string into the socket
// write and frees it at once, where a Buffer per chunk piles up as garbage until the next GC. With small
// chunks (a replaying client holds about two), 100 clients replaying took the server's peak RSS from
// ~150 to ~107 MiB. A web consumer (app.request) gets bytes.
import type { RunStore } from '../../core/store/run-store.ts';
import type { EventJson, RunStatus } from '../../core/store/types.ts';
import { ServerClosingError, type StepRunner } from './step-runner.ts';

export interface StreamOptions {
  /** How often a followed run is checked for new events (default 200 ms). */
  pollMs?: number;
  /** Comment frames keep proxies from closing an idle stream (default 15 s). */
  keepAliveMs?: number;
  /** Events per store read (default 100). */
  batch?: number;
  /** Bytes a live client may leave unread before it is dropped (default 512 KiB). */
  maxBufferedBytes?: number;
}

export const ACTIVE_STATUSES: ReadonlySet<RunStatus> = new Set(['pending', 'running', 'stopping']);

/** Bytes a stream holds queued before a replay waits for the client to read. */
const HIGH_WATER = 16 * 1024;
/** A chunk stops growing at this size (a batch of large events goes out in several). */
const CHUNK_CHARS = 16 * 1024;
const DROP_GRACE_MS = 30_000;

interface Frame {
  seq: number;
  type: string;
  text: string;
}

/** One fan-out batch for every client that takes all of it: the text, encoded at most once. */
interface SharedFrames {
  text: string;
  lastSeq: number;
  bytes: Uint8Array | null;
}

type Chunk = Uint8Array | string;

/** SSE frames for `events`, in order, cut after CHUNK_CHARS (the rest is read again). */
function framesOf(events: readonly EventJson[]): Frame[] {
  const frames: Frame[] = [];
  let size = 0;
  for (const e of events) {
    const text = `id: ${e.seq}\ndata: ${e.json}\n\n`;
    frames.push({ seq: e.seq, type: e.type, text });
    size += text.length;
    if (size >= CHUNK_CHARS) break;
  }
  return frames;
}

/** `framesOf` as one text, for a replay (the store filtered already): the most garbage-lean form. */
function replayChunk(events: readonly EventJson[]): { text: string; lastSeq: number; count: number } {
  const parts: string[] = [];
  let size = 0;
  let count = 0;
  for (const e of events) {
    parts.push('id: ', String(e.seq), '\ndata: ', e.json, '\n\n');
    count++;
    size += e.json.length;
    if (size >= CHUNK_CHARS) break;
  }
  return { text: parts.join(''), lastSeq: events[count - 1]!.seq, count };
}

class Client {
  readonly runId: string;
  readonly stream: ReadableStream<Chunk>;
  readonly types: ReadonlySet<string> | null;
  /** Every event up to this seq was sent, or is not one this client asked for. */
  cursor: number;
  /** The last event sent (the end event reports it). */
  lastSent: number;
  lastWrite = Date.now();
  closed = false;
  #controller!: ReadableStreamDefaultController<Chunk>;
  readonly #bytes: boolean;
  #room: (() => void) | null = null;
  readonly #onGone: (c: Client) => void;

  /**
   * `bytes`: chunks as bytes (else text, for a Node socket). `onGone`: called once, when the stream
   * ended or its reader went away.
   */
  constructor(
    runId: string,
    after: number,
    types: readonly string[],
    bytes: boolean,
    onGone: (c: Client) => void,
  ) {
    this.runId = runId;
    this.#bytes = bytes;
    this.#onGone = onGone;
    this.cursor = after;
    this.lastSent = after;
    this.types = types.length > 0 ? new Set(types) : null;
    this.stream = new ReadableStream<Chunk>(
      {
        start: (controller) => {
          this.#controller = controller;
        },
        pull: () => this.#wake(),
        cancel: () => this.#gone(),
      },
      {
        highWaterMark: HIGH_WATER,
        size: (chunk) => (typeof chunk === 'string' ? chunk.length : chunk.byteLength),
      },
    );
  }

  /** Bytes sent but not yet taken by the reader. */
  get queued(): number {
    return HIGH_WATER - (this.#controller.desiredSize ?? HIGH_WATER);
  }

  /** Settles once the reader took enough that the stream has room again, or went away. */
  room(): Promise<void> {
    return new Promise((resolve) => {
      this.#room = resolve;
    });
  }

  #wake(): void {
    const room = this.#room;
    this.#room = null;
    room?.();
  }

  /** Sends the frames past this client's cursor that it asked for. */
  send(frames: readonly Frame[]): void {
    let text = '';
    for (const f of frames) {
      if (f.seq <= this.cursor) continue;
      this.cursor = f.seq;
      if (this.types !== null && !this.types.has(f.type)) continue;
      text += f.text;
      this.lastSent = f.seq;
    }
    if (text !== '') this.write(text);
  }

  /** Sends replayed frames (read after this client's cursor, with its filter), the last one `lastSeq`. */
  sendReplayed(text: string, lastSeq: number): void {
    this.cursor = lastSeq;
    this.lastSent = lastSeq;
    this.write(text);
  }

  /** Sends frames to a client without a filter whose cursor is before all of them. */
  sendAll(frames: SharedFrames): void {
    this.cursor = frames.lastSeq;
    this.lastSent = frames.lastSeq;
    if (!this.#bytes) this.write(frames.text);
    else {
      frames.bytes ??= Buffer.from(frames.text);
      this.#enqueue(frames.bytes);
    }
  }

  write(text: string): void {
    this.#enqueue(this.#bytes ? Buffer.from(text) : text);
  }

  #enqueue(chunk: Chunk): void {
    this.#controller.enqueue(chunk);
    this.lastWrite = Date.now();
  }

  /** A last named event, then the stream ends. */
  end(event: 'end' | 'dropped', data: Record<string, unknown>): void {
    if (this.closed) return;
    this.write(`event: ${event}\ndata: ${JSON.stringify(data)}\n\n`);
    this.close();
  }

  close(): void {
    if (this.closed) return;
    this.#controller.close();
    this.#gone();
  }

  #gone(): void {
    if (this.closed) return;
    this.closed = true;
    this.#wake();
    this.#onGone(this);
  }

  /** Discards what the reader has not taken and ends the response (its socket is closed). */
  cutOff(reason: Error): void {
    this.#controller.error(reason);
    this.#gone();
  }
}

/** One followed run: polls the store for new events while it has clients, and fans them out. */
class RunFeed {
  readonly #runId: string;
  readonly #streams: RunStreams;
  readonly #clients = new Set<Client>();
  /** Every event up to this seq was read and handed to the clients. */
  #sentUpTo = 0;
  #timer: NodeJS.Timeout | null = null;
  #polling = false;

  constructor(runId: string, streams: RunStreams) {
    this.#runId = runId;
    this.#streams = streams;
  }

  get idle(): boolean {
    return this.#clients.size === 0 && !this.#polling;
  }

  /**
   * Takes a client that replayed up to its cursor. Its cursor is the store's last seq as the replay
   * last read it, so the feed never sent past it; events the feed reads again are skipped by the client.
   */
  join(client: Client): void {
    if (this.idle) this.#sentUpTo = client.cursor;
    this.#clients.add(client);
    this.#schedule();
  }

  leave(client: Client): void {
    this.#clients.delete(client);
  }

  stop(): void {
    if (this.#timer) clearTimeout(this.#timer);
    this.#timer = null;
    for (const c of this.#clients) c.close();
    this.#clients.clear();
  }

  #schedule(): void {
    if (this.#timer || this.#polling || this.#clients.size === 0) return;
    this.#timer = setTimeout(() => {
      this.#timer = null;
      this.#polling = true;
      this.#streams.steps
        .run(() => this.#step(), 'bulk')
        .catch((err: unknown) => {
          this.#streams.failed(this.#runId, err);
          this.stop();
        })
        .finally(() => {
          this.#polling = false;
          this.#schedule();
          if (this.idle) this.#streams.forget(this.#runId, this);
        });
    }, this.#streams.options.pollMs);
  }

  #step(): boolean | Promise<void> {
    for (const c of this.#clients) if (c.closed) this.#clients.delete(c);
    if (this.#clients.size === 0) return true;
    const { store, options } = this.#streams;
    // status and last seq in one read: a settled run's events are all below its last seq
    const progress = store().runProgress(this.#runId);
    const status = progress?.status ?? 'failed';
    if ((progress?.lastEventSeq ?? 0) > this.#sentUpTo) {
      const events = store().listEventsJson(this.#runId, { afterSeq: this.#sentUpTo, limit: options.batch });
      if (events.length > 0) {
        this.#fanOut(framesOf(events));
        // read on in the next turn (the status again first), once the sockets had a chance to take this
        return new Promise((resolve) => setImmediate(resolve));
      }
    }
    if (!ACTIVE_STATUSES.has(status)) {
      for (const c of this.#clients) c.end('end', { run_id: this.#runId, status, last_seq: c.lastSent });
      this.#clients.clear();
      return true;
    }
    const stale = Date.now() - options.keepAliveMs;
    for (const c of this.#clients) if (c.lastWrite <= stale) c.write(': keep-alive\n\n');
    return true;
  }

  #fanOut(frames: Frame[]): void {
    const first = frames[0]!.seq;
    const last = frames.at(-1)!.seq;
    let shared: SharedFrames | null = null;
    for (const c of this.#clients) {
      if (c.queued > this.#streams.options.maxBufferedBytes) {
        this.#clients.delete(c);
        this.#streams.drop(c);
        continue;
      }
      if (c.types === null && c.cursor < first) {
        shared ??= { text: frames.map((f) => f.text).join(''), lastSeq: last, bytes: null };
        c.sendAll(shared);
      } else c.send(frames);
    }
    this.#sentUpTo = last;
  }
}

/** Every open stream of one server. */
export class RunStreams {
  readonly store: () => RunStore;
  readonly steps: StepRunner;
  readonly options: Required<StreamOptions>;
  readonly log: (line: string) => void;
  readonly #feeds = new Map<string, RunFeed>();
  readonly #clients = new Set<Client>();

  constructor(store: () => RunStore, steps: StepRunner, opts: StreamOptions, log: (line: string) => void) {
    this.store = store;
    this.steps = steps;
    this.log = log;
    this.options = {
      pollMs: opts.pollMs ?? 200,
      keepAliveMs: opts.keepAliveMs ?? 15_000,
      batch: opts.batch ?? 100,
      maxBufferedBytes: opts.maxBufferedBytes ?? 512 * 1024,
    };
  }

  /** A stream of the run's events after `after` (only `types`, when given); `bytes`: see Client. */
  open(runId: string, after: number, types: readonly string[], bytes: boolean): ReadableStream<Chunk> {
    const client = new Client(runId, after, types, bytes, (c) => {
      this.#clients.delete(c);
      this.#feeds.get(runId)?.leave(c);
    });
    this.#clients.add(client);
    this.steps
      .run(() => this.#replay(client), 'bulk')
      .catch((err: unknown) => {
        this.failed(runId, err);
        client.cutOff(err as Error);
      });
    return client.stream;
  }

  /** One replay step: the next batch from the store, or joining the feed once caught up. */
  #replay(client: Client): boolean | Promise<void> {
    if (client.closed) return true;
    if (client.queued >= HIGH_WATER) return client.room();
    const progress = this.store().runProgress(client.runId);
    const status = progress?.status ?? 'failed';
    const { batch } = this.options;
    const filter = client.types ? { types: [...client.types] } : {};
    const events = this.store().listEventsJson(client.runId, {
      afterSeq: client.cursor,
      limit: batch,
      ...filter,
    });
    if (events.length > 0) {
      const chunk = replayChunk(events);
      client.sendReplayed(chunk.text, chunk.lastSeq);
      if (chunk.count < events.length || events.length === batch) return false;
    }
    // every event the store had at the progress read was sent (or filtered out)
    client.cursor = Math.max(client.cursor, progress?.lastEventSeq ?? 0);
    if (!ACTIVE_STATUSES.has(status)) {
      client.end('end', { run_id: client.runId, status, last_seq: client.lastSent });
      return true;
    }
    let feed = this.#feeds.get(client.runId);
    if (!feed) {
      feed = new RunFeed(client.runId, this);
      this.#feeds.set(client.runId, feed);
    }
    feed.join(client);
    return true;
  }

  drop(client: Client): void {
    const max = this.options.maxBufferedBytes;
    const waiting = client.queued;
    client.end('dropped', {
      run_id: client.runId,
      reason: 'slow_client',
      message: `${waiting} bytes of events were still unread (limit ${max}); reconnect with Last-Event-ID to replay the rest`,
      last_seq: client.lastSent,
    });
    this.log(`stream: run ${client.runId}: a client was dropped (slow_client: ${waiting} bytes unread)`);
    setTimeout(() => client.cutOff(new Error('dropped: slow client')), DROP_GRACE_MS).unref();
  }

  /** Reports a stream's failure (a server closing is none). */
  failed(runId: string, err: unknown): void {
    if (!(err instanceof ServerClosingError))
      this.log(`stream: run ${runId}: ${(err as Error).stack ?? String(err)}`);
  }

  forget(runId: string, feed: RunFeed): void {
    if (this.#feeds.get(runId) === feed) this.#feeds.delete(runId);
  }

  close(): void {
    for (const feed of this.#feeds.values()) feed.stop();
    this.#feeds.clear();
    for (const c of this.#clients) c.close();
    this.#clients.clear();
  }
}
