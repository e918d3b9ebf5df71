import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { acquireLock } from '../../src/core/lock.ts';
import { openRunStore } from '../../src/core/store/run-store.ts';
import { type ApiRepo, demoTicket, json, makeApiRepo } from './helpers.ts';

const cleanups: (() => void)[] = [];
after(() => {
  for (const c of cleanups) c();
});

function repo(opts: Parameters<typeof makeApiRepo>[0] = {}): ApiRepo {
  const r = makeApiRepo(opts);
  cleanups.push(r.cleanup);
  return r;
}

interface EventOut {
  seq: number;
  type: string;
  turn_id: number | null;
  data: Record<string, unknown>;
}

interface Frame {
  id?: string;
  event?: string;
  data?: string;
  comment?: boolean;
}

function parseFrames(text: string): Frame[] {
  const frames: Frame[] = [];
  for (const block of text.split('\n\n')) {
    if (block.trim() === '') continue;
    const frame: Frame = {};
    for (const line of block.split('\n')) {
      if (line.startsWith(':')) frame.comment = true;
      else if (line.startsWith('id: ')) frame.id = line.slice(4);
      else if (line.startsWith('event: ')) frame.event = line.slice(7);
      else if (line.startsWith('data: '))
        frame.data = (frame.data === undefined ? '' : `${frame.data}\n`) + line.slice(6);
    }
    frames.push(frame);
  }
  return frames;
}

/** Reads an SSE response to its end (the server ends it once the run is settled and drained). */
async function readStream(res: Response, timeoutMs = 60_000): Promise<{ frames: Frame[]; firstAt: number }> {
  assert.equal(res.status, 200);
  assert.match(res.headers.get('content-type') ?? '', /^text\/event-stream/);
  const reader = res.body!.getReader();
  const decoder = new TextDecoder();
  let text = '';
  let firstAt = 0;
  const timer = setTimeout(() => void reader.cancel(), timeoutMs);
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      if (!firstAt) firstAt = Date.now();
      text += decoder.decode(value, { stream: true });
    }
  } finally {
    clearTimeout(timer);
  }
  return { frames: parseFrames(text), firstAt };
}

describe('runs and events, paged', () => {
  const r = repo();
  const store = openRunStore(r.paths.dbFile);
  cleanups.push(() => store.close());
  const runs = Array.from({ length: 7 }, () => store.createRun({ input: {} }));
  const big = runs.at(-1)!;
  const turn = store.beginTurn({
    runId: big.id,
    agent: 'demo',
    ticketPath: '.codex-autorunner/tickets/TICKET-001.md',
  });
  store.appendEvents(
    big.id,
    Array.from({ length: 2500 }, (_, i) => ({
      type: i % 2 === 0 ? 'agent_message' : 'tool_call',
      data: { i },
      turnId: turn.id,
    })),
  );
  store.finishTurn(turn.id, {
    status: 'completed',
    usage: { inputTokens: 100, outputTokens: 7, costUsd: 0.5 },
  });
  store.updateRun(big.id, { status: 'completed' });

  test('GET /api/runs pages newest first', async () => {
    const first = await json<{ runs: { run_id: string }[]; has_more: boolean }>(
      await r.call('GET', '/api/runs?limit=3'),
    );
    assert.deepEqual(
      first.runs.map((x) => x.run_id),
      runs
        .slice(-3)
        .reverse()
        .map((x) => x.id),
    );
    assert.equal(first.has_more, true);
    const rest = await json<{ runs: unknown[]; has_more: boolean }>(
      await r.call('GET', '/api/runs?offset=3&limit=10'),
    );
    assert.equal(rest.runs.length, 4);
    assert.equal(rest.has_more, false);
    const completed = await json<{ runs: { run_id: string }[] }>(
      await r.call('GET', '/api/runs?status=completed'),
    );
    assert.deepEqual(
      completed.runs.map((x) => x.run_id),
      [big.id],
    );
  });

  test('GET /api/runs/:id has the run with its turns and event stats', async () => {
    const out = await json<{
      run: { run_id: string; status: string; last_event_seq: number };
      turns: { seq: number; usage: unknown }[];
      event_stats: { type: string; kept: number }[];
    }>(await r.call('GET', `/api/runs/${big.id}`));
    assert.equal(out.run.status, 'completed');
    assert.equal(out.run.last_event_seq, 2500);
    assert.equal(out.turns.length, 1);
    assert.deepEqual(out.turns[0]?.usage, { inputTokens: 100, outputTokens: 7, costUsd: 0.5 });
    assert.deepEqual(
      out.event_stats.map((s) => [s.type, s.kept]),
      [
        ['agent_message', 1250],
        ['tool_call', 1250],
      ],
    );
    assert.equal((await r.call('GET', '/api/runs/no-such-run')).status, 404);
    assert.equal((await r.call('GET', '/api/runs/bad%20id')).status, 400);
  });

  test('events page by seq with after/limit, filter by type, and the limit is bounded', async () => {
    const seen: number[] = [];
    let afterSeq = 0;
    for (;;) {
      const page = await json<{ events: EventOut[]; next_after: number; has_more: boolean }>(
        await r.call('GET', `/api/runs/${big.id}/events?after=${afterSeq}&limit=1000`),
      );
      seen.push(...page.events.map((e) => e.seq));
      afterSeq = page.next_after;
      if (!page.has_more) break;
    }
    assert.equal(seen.length, 2500);
    assert.deepEqual(
      seen,
      Array.from({ length: 2500 }, (_, i) => i + 1),
    );
    const typed = await json<{ events: EventOut[] }>(
      await r.call('GET', `/api/runs/${big.id}/events?types=tool_call&after=10&limit=3`),
    );
    assert.deepEqual(
      typed.events.map((e) => [e.seq, e.type]),
      [
        [12, 'tool_call'],
        [14, 'tool_call'],
        [16, 'tool_call'],
      ],
    );
    // random access into a filtered log: the 101st to 103rd tool_call (every other event is one)
    const offset = await json<{ events: EventOut[] }>(
      await r.call('GET', `/api/runs/${big.id}/events?types=tool_call&offset=100&limit=3`),
    );
    assert.deepEqual(
      offset.events.map((e) => e.seq),
      [202, 204, 206],
    );
    assert.equal((await r.call('GET', `/api/runs/${big.id}/events?offset=-5`)).status, 400);
    assert.equal((await r.call('GET', `/api/runs/${big.id}/events?limit=100000`)).status, 400);
    assert.equal((await r.call('GET', `/api/runs/${big.id}/events?after=-1`)).status, 400);
  });

  test('a finished run streams its remaining events then ends; nothing left is 204', async () => {
    const res = await r.call('GET', `/api/runs/${big.id}/stream`, { headers: { 'last-event-id': '2490' } });
    const { frames } = await readStream(res);
    const ids = frames.filter((f) => f.id !== undefined).map((f) => Number(f.id));
    assert.deepEqual(ids, [2491, 2492, 2493, 2494, 2495, 2496, 2497, 2498, 2499, 2500]);
    const end = frames.at(-1)!;
    assert.equal(end.event, 'end');
    assert.deepEqual(JSON.parse(end.data!), { run_id: big.id, status: 'completed', last_seq: 2500 });
    const done = await r.call('GET', `/api/runs/${big.id}/stream`, { headers: { 'last-event-id': '2500' } });
    assert.equal(done.status, 204);
    const bad = await r.call('GET', `/api/runs/${big.id}/stream`, { headers: { 'last-event-id': 'abc' } });
    assert.equal(bad.status, 400);
  });

  test('usage sums tokens and cost by day and by ticket', async () => {
    const byTicket = await json<{
      rows: { key: string; turns: number; input_tokens: number; cost_usd: number }[];
    }>(await r.call('GET', '/api/usage?by=ticket'));
    assert.deepEqual(byTicket.rows, [
      {
        key: '.codex-autorunner/tickets/TICKET-001.md',
        turns: 1,
        input_tokens: 100,
        cached_input_tokens: 0,
        output_tokens: 7,
        cost_usd: 0.5,
      },
    ]);
    const byDay = await json<{ rows: { key: string }[]; total: { output_tokens: number } }>(
      await r.call('GET', '/api/usage'),
    );
    assert.equal(byDay.rows[0]?.key, new Date().toISOString().slice(0, 10));
    assert.equal(byDay.total.output_tokens, 7);
    assert.equal((await r.call('GET', '/api/usage?by=week')).status, 400);
  });
});

describe('flow control over HTTP', () => {
  test('refusals map to status codes: no run 404, a busy repo 409', async () => {
    const r = repo();
    const stop = await r.call('POST', '/api/flow/stop');
    assert.equal(stop.status, 404);
    assert.equal((await json(stop)).error, 'no_run');
    const lock = acquireLock(r.paths.lockFile, { purpose: 'test holds the repo' });
    try {
      const start = await r.call('POST', '/api/flow/start', { body: {} });
      assert.equal(start.status, 409);
      assert.equal((await json(start)).error, 'busy');
    } finally {
      lock.release();
    }
  });

  test('start spawns a real worker; the stream delivers events in seq order and resumes from Last-Event-ID', async () => {
    const r = repo({ stream: { pollMs: 50 } });
    r.ticket(
      'TICKET-001.md',
      demoTicket('first', ['say hello', 'sleep 300', 'write out/one.txt one', 'done', 'commit one']),
    );
    r.ticket(
      'TICKET-002.md',
      demoTicket('second', ['say again', 'sleep 300', 'write out/two.txt two', 'done', 'commit two']),
    );
    r.repo.commitAll('plan');
    const started = await r.call('POST', '/api/flow/start', { body: {} });
    assert.equal(started.status, 202, await started.clone().text());
    const {
      run_id: runId,
      worker_pid: pid,
      action,
    } = await json<{ run_id: string; worker_pid: number; action: string }>(started);
    assert.equal(action, 'created');
    assert.ok(pid > 0);

    const live = await r.call('GET', `/api/runs/${runId}/stream`);
    const { frames, firstAt } = await readStream(live);
    const events = frames.filter((f) => f.id !== undefined);
    const seqs = events.map((f) => Number(f.id));
    assert.ok(seqs.length > 10, `only ${seqs.length} events`);
    assert.deepEqual(
      seqs,
      Array.from({ length: seqs.length }, (_, i) => i + 1),
    );
    for (const f of events) assert.equal((JSON.parse(f.data!) as EventOut).seq, Number(f.id));
    const types = events.map((f) => (JSON.parse(f.data!) as EventOut).type);
    assert.equal(types[0], 'run_created');
    assert.ok(types.includes('agent_message') || types.includes('agent_delta'), types.join(','));
    assert.equal(frames.at(-1)?.event, 'end');
    assert.equal((JSON.parse(frames.at(-1)!.data!) as { status: string }).status, 'completed');
    // the stream was open while the run worked: its first bytes came before the run finished
    const run = await json<{ run: { status: string; finished_at: string; last_event_seq: number } }>(
      await r.call('GET', `/api/runs/${runId}`),
    );
    assert.equal(run.run.status, 'completed');
    assert.ok(firstAt < Date.parse(run.run.finished_at), 'events arrived live');
    assert.equal(seqs.at(-1), run.run.last_event_seq);
    assert.equal(readFileSync(join(r.repo.dir, 'out/two.txt'), 'utf8'), 'two');

    // reconnect: only what came after the last id the client saw
    const half = Math.floor(seqs.length / 2);
    const again = await readStream(
      await r.call('GET', `/api/runs/${runId}/stream?after=1`, {
        headers: { 'last-event-id': String(half) },
      }),
    );
    assert.deepEqual(
      again.frames.filter((f) => f.id !== undefined).map((f) => Number(f.id)),
      seqs.slice(half),
    );
    const status = await json<{ run: { status: string }; tickets: { done: number } }>(
      await r.call('GET', '/api/flow/status'),
    );
    assert.equal(status.run.status, 'completed');
    assert.equal(status.tickets.done, 2);
    // the worker logged where the CLI's worker logs, and let go of the repo
    assert.ok(existsSync(join(r.paths.runsDir, runId, 'worker.log')));
    const deadline = Date.now() + 10_000;
    while (existsSync(r.paths.lockFile) && Date.now() < deadline)
      await new Promise((res) => setTimeout(res, 50));
  });

  test('a run that asks is answered with POST /api/flow/reply {resume: true} and finishes', async () => {
    const r = repo({ stream: { pollMs: 50 } });
    r.ticket(
      'TICKET-001.md',
      demoTicket('asks', ['ask Which colour?', 'write out/colour.txt blue', 'done', 'commit colour']),
    );
    r.repo.commitAll('plan');
    const started = await json<{ run_id: string }>(await r.call('POST', '/api/flow/start', { body: {} }));
    const first = await readStream(await r.call('GET', `/api/runs/${started.run_id}/stream`));
    assert.equal((JSON.parse(first.frames.at(-1)!.data!) as { status: string }).status, 'paused');
    const paused = await json<{ run: { status: string; reason_code: string } }>(
      await r.call('GET', '/api/flow/status'),
    );
    assert.deepEqual([paused.run.status, paused.run.reason_code], ['paused', 'dispatch']);
    const lastSeen = first.frames.filter((f) => f.id !== undefined).at(-1)!.id!;
    const reply = await r.call('POST', '/api/flow/reply', { body: { text: 'Blue, please.', resume: true } });
    assert.equal(reply.status, 200, await reply.clone().text());
    const out = await json<{ resumed: boolean; worker_pid: number; reply_file: string }>(reply);
    assert.equal(out.resumed, true);
    assert.ok(out.worker_pid > 0);
    const rest = await readStream(
      await r.call('GET', `/api/runs/${started.run_id}/stream`, { headers: { 'last-event-id': lastSeen } }),
    );
    const types = rest.frames
      .filter((f) => f.id !== undefined)
      .map((f) => (JSON.parse(f.data!) as EventOut).type);
    assert.ok(types.includes('resume_requested') || types.includes('reply_written'), types.join(','));
    assert.equal((JSON.parse(rest.frames.at(-1)!.data!) as { status: string }).status, 'completed');
    assert.equal(readFileSync(join(r.repo.dir, 'out/colour.txt'), 'utf8'), 'blue');
    const deadline = Date.now() + 10_000;
    while (existsSync(r.paths.lockFile) && Date.now() < deadline)
      await new Promise((res) => setTimeout(res, 50));
  });
});
