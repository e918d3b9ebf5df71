// The run event stream over a real socket: replay in small batches joins the live feed without a gap or a
// duplicate, Last-Event-ID resumes, and a client that stops reading is dropped with a reason while a
// client that reads keeps receiving.
import assert from 'node:assert/strict';
import { type IncomingMessage, request } from 'node:http';
import { after, describe, test } from 'node:test';
import { initRepo } from '../../src/core/init.ts';
import { repoPaths } from '../../src/core/paths.ts';
import { openRunStore, type RunStore } from '../../src/core/store/run-store.ts';
import { type RunningServer, type ServerOptions, startServer } from '../../src/surfaces/http/server.ts';
import { makeGitRepo } from '../helpers/git-repo.ts';
import { waitFor } from '../helpers/wait.ts';

const cleanups: (() => void | Promise<void>)[] = [];
after(async () => {
  for (const c of cleanups.reverse()) await c();
});

async function serve(stream: ServerOptions['stream'], log?: (line: string) => void) {
  const repo = makeGitRepo();
  cleanups.push(repo.cleanup);
  initRepo(repo.dir);
  const server: RunningServer = await startServer({
    root: repo.dir,
    host: '127.0.0.1',
    port: 0,
    webRoot: null,
    ...(stream ? { stream } : {}),
    ...(log ? { log } : {}),
  });
  cleanups.push(() => server.close());
  const store = openRunStore(repoPaths(repo.dir).dbFile, { maxEventsPerType: 100_000 });
  cleanups.push(() => store.close());
  return { server, store };
}

interface Frame {
  id?: number;
  event?: string;
  data?: string;
}

/** An SSE client on a raw socket: its frames as they arrive; `pause()` stops reading from the socket. */
class SseClient {
  readonly frames: Frame[] = [];
  ended = false;
  status = 0;
  #res: IncomingMessage | null = null;
  #buf = '';
  #paused = false;

  constructor(url: string, headers: Record<string, string> = {}) {
    const req = request(url, { headers: { accept: 'text/event-stream', ...headers } }, (res) => {
      this.status = res.statusCode ?? 0;
      this.#res = res;
      if (this.#paused) res.pause();
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => this.#take(chunk));
      res.on('end', () => {
        this.ended = true;
      });
    });
    req.end();
    cleanups.push(() => void req.destroy());
  }

  #take(chunk: string): void {
    this.#buf += chunk;
    let cut = this.#buf.indexOf('\n\n');
    while (cut >= 0) {
      const frame: Frame = {};
      for (const line of this.#buf.slice(0, cut).split('\n')) {
        if (line.startsWith('id: ')) frame.id = Number(line.slice(4));
        else if (line.startsWith('event: ')) frame.event = line.slice(7);
        else if (line.startsWith('data: ')) frame.data = line.slice(6);
      }
      if (frame.id !== undefined || frame.event !== undefined) this.frames.push(frame);
      this.#buf = this.#buf.slice(cut + 2);
      cut = this.#buf.indexOf('\n\n');
    }
  }

  get ids(): number[] {
    return this.frames.flatMap((f) => (f.id === undefined ? [] : [f.id]));
  }

  get last(): Frame | undefined {
    return this.frames.at(-1);
  }

  pause(): void {
    this.#paused = true;
    this.#res?.pause();
  }

  resume(): void {
    this.#paused = false;
    this.#res?.resume();
  }
}

const upTo = (n: number, from = 1) => Array.from({ length: n - from + 1 }, (_, i) => from + i);

function append(store: RunStore, runId: string, n: number, size = 40): void {
  store.appendEvents(
    runId,
    Array.from({ length: n }, (_, i) => ({
      type: i % 3 === 0 ? 'tool_call' : 'agent_delta',
      data: { text: 'x'.repeat(size), i },
    })),
  );
}

describe('replay and live events', () => {
  test('a replay in batches of 7 joins the live events with no gap and no duplicate; Last-Event-ID resumes', async () => {
    const { server, store } = await serve({ pollMs: 10, batch: 7 });
    const run = store.createRun({});
    store.updateRun(run.id, { status: 'running' });
    append(store, run.id, 60);
    const url = `${server.url}/api/runs/${run.id}/stream`;
    const clients = [new SseClient(url), new SseClient(url), new SseClient(`${url}?types=tool_call`)];
    // events keep coming while the clients replay and after they joined
    for (let round = 0; round < 20; round++) {
      append(store, run.id, 5);
      await waitFor('the first client to be past the first events', () => clients[0]!.ids.length > round);
    }
    const resumed = new SseClient(url, { 'last-event-id': '23' });
    await waitFor(
      'every client to have every event',
      () => clients.slice(0, 2).every((c) => c.ids.length === 160) && resumed.ids.length === 160 - 23,
    );
    store.appendEvent(run.id, { type: 'flow_completed', data: {} });
    store.updateRun(run.id, { status: 'completed' });
    await waitFor('the streams to end', () => [...clients, resumed].every((c) => c.ended));
    for (const c of clients.slice(0, 2)) {
      assert.deepEqual(c.ids, upTo(161));
      assert.deepEqual(c.last, {
        event: 'end',
        data: JSON.stringify({ run_id: run.id, status: 'completed', last_seq: 161 }),
      });
    }
    assert.deepEqual(resumed.ids, upTo(161, 24));
    assert.deepEqual(
      clients[2]!.ids,
      // tool_call: every third of the first 60, then the first and fourth of each five
      upTo(160).filter((seq) => (seq <= 60 ? (seq - 1) % 3 : ((seq - 61) % 5) % 3) === 0),
    );
    const first = JSON.parse(clients[0]!.frames[0]!.data!) as Record<string, unknown>;
    assert.deepEqual(first, {
      run_id: run.id,
      seq: 1,
      type: 'tool_call',
      at: first.at,
      turn_id: null,
      data: { text: 'x'.repeat(40), i: 0 },
    });
  });

  test('a client that stops reading is dropped with a reason; one that reads keeps receiving', async () => {
    const log: string[] = [];
    const { server, store } = await serve({ pollMs: 10, maxBufferedBytes: 128 * 1024 }, (l) => log.push(l));
    const run = store.createRun({});
    store.updateRun(run.id, { status: 'running' });
    append(store, run.id, 1);
    const url = `${server.url}/api/runs/${run.id}/stream`;
    const fast = new SseClient(url);
    const slow = new SseClient(url);
    await waitFor(
      'both clients to get the first event',
      () => fast.ids.length === 1 && slow.ids.length === 1,
    );
    slow.pause();
    // 8 KiB events until the slow client's socket, and then its stream, are full; the fast one reads on
    let last = 1;
    while (!log.some((l) => l.includes('dropped'))) {
      assert.ok(last < 5000, `no client was dropped after ${last} events`);
      append(store, run.id, 50, 8000);
      last += 50;
      await waitFor(`the fast client to read up to ${last}`, () => fast.ids.at(-1) === last);
    }
    assert.match(log.join('\n'), /a client was dropped \(slow_client: \d+ bytes unread\)/);
    append(store, run.id, 10);
    await waitFor('the fast client to get the events after the drop', () => fast.ids.at(-1) === last + 10);
    assert.deepEqual(fast.ids, upTo(last + 10));
    assert.equal(fast.ended, false);

    // the slow client, reading again, finds what was sent before the drop, then the reason, then the end
    slow.resume();
    await waitFor('the slow client to reach the end of its stream', () => slow.ended);
    const dropped = slow.last!;
    assert.equal(dropped.event, 'dropped');
    const reason = JSON.parse(dropped.data!) as { reason: string; last_seq: number; run_id: string };
    assert.equal(reason.reason, 'slow_client');
    assert.equal(reason.run_id, run.id);
    assert.deepEqual(slow.ids, upTo(reason.last_seq));
    assert.ok(reason.last_seq < last, 'the slow client got only part of the events');

    // it resumes from the last event it saw and gets the rest from the store
    const again = new SseClient(url, { 'last-event-id': String(reason.last_seq) });
    await waitFor('the resumed client to catch up', () => again.ids.at(-1) === last + 10);
    assert.deepEqual(again.ids, upTo(last + 10, reason.last_seq + 1));
    store.updateRun(run.id, { status: 'completed' });
    await waitFor('the streams to end', () => fast.ended && again.ended);
    assert.equal(fast.last?.event, 'end');
  });
});
