import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { boundEventData } from './event-bounds.ts';
import { MAX_OUTPUT_EXCERPT_CHARS, openRunStore, type RunStoreOptions } from './run-store.ts';

const dir = mkdtempSync(join(tmpdir(), 'car-store-'));
after(() => rmSync(dir, { recursive: true, force: true }));
let n = 0;
const freshFile = () => join(dir, `run-${++n}.db`);

test('runs: create, get, update, list, latest', () => {
  let clock = Date.parse('2025-01-01T00:00:00Z');
  const tick = () => {
    clock += 1000;
    return new Date(clock);
  };
  const store = openRunStore(freshFile(), { now: tick });
  const a = store.createRun({ id: 'run-a', input: { ticket: 1 }, metadata: { by: 'test' } });
  assert.equal(a.status, 'pending');
  assert.deepEqual(a.input, { ticket: 1 });
  assert.deepEqual(a.state, {});
  assert.equal(a.reasonDetails, null);
  assert.equal(a.lastEventSeq, 0);
  const b = store.createRun({ state: { ticket_engine: { total_turns: 0 } } });
  assert.match(b.id, /^[0-9a-f-]{36}$/);

  const paused = store.updateRun('run-a', {
    status: 'paused',
    startedAt: '2025-01-01T00:00:05.000Z',
    reasonCode: 'dispatch_pause',
    reason: 'agent asked a question',
    reasonDetails: { dispatch_seq: 1 },
    state: { ticket_engine: { status: 'paused' } },
  });
  assert.equal(paused.status, 'paused');
  assert.equal(paused.reasonCode, 'dispatch_pause');
  assert.deepEqual(paused.reasonDetails, { dispatch_seq: 1 });
  assert.deepEqual(paused.state, { ticket_engine: { status: 'paused' } });
  assert.deepEqual(paused.input, { ticket: 1 }, 'fields not in the patch are kept');
  assert.ok(paused.updatedAt > a.updatedAt);
  const cleared = store.updateRun('run-a', { reasonCode: null, reasonDetails: null, status: 'running' });
  assert.equal(cleared.reasonCode, null);
  assert.equal(cleared.reasonDetails, null);
  assert.equal(cleared.reason, 'agent asked a question');

  assert.throws(() => store.updateRun('nope', { status: 'failed' }), /unknown run nope/);
  assert.throws(() => store.updateRun('run-a', { status: 'bogus' as 'failed' }), /CHECK constraint/);
  assert.throws(() => store.createRun({ id: 'run-a' }), /UNIQUE/);

  assert.equal(store.getRun('nope'), null);
  assert.equal(store.latestRun()?.id, b.id);
  assert.deepEqual(
    store.listRuns().map((r) => r.id),
    [b.id, 'run-a'],
  );
  assert.deepEqual(
    store.listRuns({ limit: 1, offset: 1 }).map((r) => r.id),
    ['run-a'],
  );
  assert.deepEqual(
    store.listRuns({ status: 'running' }).map((r) => r.id),
    ['run-a'],
  );
  assert.deepEqual(
    store.listRuns({ status: ['pending', 'running'] }).map((r) => r.id),
    [b.id, 'run-a'],
  );
  store.close();
});

test('turns: seq per run, finish once, bounded excerpt, interrupt on recovery', () => {
  const file = freshFile();
  const store = openRunStore(file);
  store.createRun({ id: 'r1' });
  store.createRun({ id: 'r2' });
  const t1 = store.beginTurn({
    runId: 'r1',
    ticketPath: 'tickets/TICKET-001.md',
    ticketId: 'T1',
    agent: 'demo',
  });
  const t2 = store.beginTurn({ runId: 'r1', agent: 'demo', kind: 'human_wait' });
  const other = store.beginTurn({ runId: 'r2', agent: 'codex' });
  assert.deepEqual([t1.seq, t2.seq, other.seq], [1, 2, 1]);
  assert.equal(t1.status, 'running');
  assert.equal(t1.kind, 'agent');
  assert.equal(t2.ticketPath, null);

  const long = `${'x'.repeat(MAX_OUTPUT_EXCERPT_CHARS)}THE END`;
  const done = store.finishTurn(t1.id, {
    status: 'completed',
    usage: { input_tokens: 10 },
    outputExcerpt: long,
  });
  assert.equal(done.status, 'completed');
  assert.deepEqual(done.usage, { input_tokens: 10 });
  assert.equal(done.outputExcerpt?.length, MAX_OUTPUT_EXCERPT_CHARS);
  assert.ok(done.outputExcerpt?.endsWith('THE END'), 'the tail is kept');
  assert.ok(done.finishedAt);
  assert.throws(() => store.finishTurn(t1.id, { status: 'failed' }), /already completed/);
  assert.throws(() => store.finishTurn(999, { status: 'failed' }), /unknown turn 999/);
  assert.throws(() => store.beginTurn({ runId: 'missing', agent: 'demo' }), /FOREIGN KEY/);
  store.close();

  // A crash leaves t2 and `other` running; recovery marks only the given run's turns.
  const reopened = openRunStore(file);
  assert.equal(reopened.interruptRunningTurns('r1'), 1);
  assert.equal(reopened.interruptRunningTurns('r1'), 0);
  const turns = reopened.listTurns('r1');
  assert.deepEqual(
    turns.map((t) => t.status),
    ['completed', 'interrupted'],
  );
  assert.match(turns[1]!.error ?? '', /stopped/);
  assert.equal(reopened.listTurns('r2')[0]!.status, 'running');
  assert.equal(reopened.beginTurn({ runId: 'r1', agent: 'demo' }).seq, 3);
  reopened.close();
});

test('events: seq per run is gap-free across batches, runs and restarts', () => {
  const file = freshFile();
  const store = openRunStore(file);
  store.createRun({ id: 'r1' });
  store.createRun({ id: 'r2' });
  const turn = store.beginTurn({ runId: 'r1', agent: 'demo' });
  assert.equal(store.appendEvent('r1', { type: 'run_started', data: { a: 1 } }), 1);
  assert.equal(store.appendEvent('r2', { type: 'run_started' }), 1);
  const batch = Array.from({ length: 5 }, (_, i) => ({ type: 'agent_delta', turnId: turn.id, data: { i } }));
  assert.equal(store.appendEvents('r1', batch), 6);
  assert.equal(store.appendEvents('r1', []), 6);
  store.close();

  const again = openRunStore(file);
  assert.equal(again.lastEventSeq('r1'), 6);
  assert.equal(again.appendEvent('r1', { type: 'run_finished', at: '2025-01-01T00:00:00.000Z' }), 7);
  const events = again.listEvents('r1');
  assert.deepEqual(
    events.map((e) => e.seq),
    [1, 2, 3, 4, 5, 6, 7],
  );
  assert.deepEqual(events[0]!.data, { a: 1 });
  assert.equal(events[0]!.turnId, null);
  assert.equal(events[3]!.turnId, turn.id);
  assert.deepEqual(events[3]!.data, { i: 2 });
  assert.equal(events[6]!.at, '2025-01-01T00:00:00.000Z');
  assert.deepEqual(
    again.listEvents('r1', { afterSeq: 5, limit: 1 }).map((e) => e.seq),
    [6],
  );
  assert.deepEqual(
    again.listEvents('r1', { types: ['run_started', 'run_finished'] }).map((e) => e.seq),
    [1, 7],
  );
  // the last ones (car flow events --tail), still oldest first
  assert.deepEqual(
    again.listEvents('r1', { limit: 3, fromEnd: true }).map((e) => e.seq),
    [5, 6, 7],
  );
  assert.deepEqual(
    again.listEvents('r1', { afterSeq: 5, limit: 3, fromEnd: true }).map((e) => e.seq),
    [6, 7],
  );
  assert.deepEqual(
    again.listEvents('r1', { types: ['agent_delta'], limit: 2, fromEnd: true }).map((e) => e.seq),
    [5, 6],
  );
  assert.equal(again.getRun('r1')?.lastEventSeq, 7);
  assert.throws(() => again.appendEvent('missing', { type: 'x' }), /unknown run missing/);
  assert.throws(() => again.appendEvent('r1', { type: 'x', turnId: 12345 }), /FOREIGN KEY/);
  assert.equal(again.lastEventSeq('r1'), 7, 'a failed batch leaves no trace');
  again.close();
});

test('events: high-volume types are capped per run; drops take no seq and are counted', () => {
  const store = openRunStore(freshFile(), { maxEventsPerType: 3 });
  store.createRun({ id: 'r1' });
  store.createRun({ id: 'r2' });
  const deltas = (k: number) => Array.from({ length: k }, (_, i) => ({ type: 'agent_delta', data: { i } }));
  assert.equal(store.appendEvents('r1', deltas(2)), 2);
  assert.equal(store.appendEvents('r1', [...deltas(4), { type: 'turn_completed' }]), 4);
  assert.equal(store.appendEvent('r1', { type: 'agent_delta' }), null);
  assert.equal(store.appendEvent('r1', { type: 'command_output' }), 5);
  // Lifecycle types are never capped.
  for (let i = 0; i < 5; i++) store.appendEvent('r1', { type: 'turn_completed' });
  assert.equal(store.lastEventSeq('r1'), 10);
  assert.equal(store.appendEvents('r2', deltas(3)), 3, 'the cap is per run');
  assert.deepEqual(
    store.listEvents('r1').map((e) => e.seq),
    [1, 2, 3, 4, 5, 6, 7, 8, 9, 10],
  );
  assert.deepEqual(store.eventStats('r1'), [
    { type: 'agent_delta', kept: 3, dropped: 4, truncated: 0, pruned: 0 },
    { type: 'command_output', kept: 1, dropped: 0, truncated: 0, pruned: 0 },
    { type: 'turn_completed', kept: 6, dropped: 0, truncated: 0, pruned: 0 },
  ]);
  store.close();
});

test('events: payloads over maxEventBytes are stored as a bounded, valid preview', () => {
  const store = openRunStore(freshFile(), { maxEventBytes: 1024 });
  store.createRun({ id: 'r1' });
  const big = { text: 'é'.repeat(5000) };
  store.appendEvents('r1', [
    { type: 'agent_message', data: big },
    { type: 'agent_message', data: { text: 'small' } },
  ]);
  const [first, second] = store.listEvents('r1');
  assert.equal(first!.data.truncated, true);
  assert.equal(first!.data.bytes, Buffer.byteLength(JSON.stringify(big)));
  assert.ok(String(first!.data.preview).startsWith('{"text":"éé'));
  assert.deepEqual(second!.data, { text: 'small' });
  assert.equal(store.eventStats('r1')[0]!.truncated, 1);
  store.close();
});

test('boundEventData never exceeds the budget and always yields a JSON object', () => {
  for (const text of ['a'.repeat(10_000), '"\\'.repeat(3000), '😀'.repeat(4000), '\u0001'.repeat(3000)]) {
    const out = boundEventData({ text }, 300);
    assert.equal(out.truncated, true);
    assert.ok(Buffer.byteLength(out.json) <= 300, `${out.json.length} bytes`);
    assert.equal((JSON.parse(out.json) as { truncated: boolean }).truncated, true);
  }
  assert.deepEqual(boundEventData({ a: 'short' }, 300), { json: '{"a":"short"}', truncated: false });
});

test('pruneEvents drops old high-volume events of finished runs only', () => {
  let clock = Date.parse('2025-01-01T00:00:00Z');
  const opts: RunStoreOptions = { now: () => new Date(clock) };
  const store = openRunStore(freshFile(), opts);
  const ids = ['old-done', 'old-paused', 'new-done'];
  for (const id of ids) {
    store.createRun({ id });
    store.appendEvents(id, [{ type: 'run_started' }, { type: 'agent_delta' }, { type: 'agent_raw' }]);
  }
  store.updateRun('old-done', { status: 'completed', finishedAt: new Date(clock).toISOString() });
  store.updateRun('old-paused', { status: 'paused' });
  clock += 10 * 86_400_000;
  store.updateRun('new-done', { status: 'failed', finishedAt: new Date(clock).toISOString() });

  assert.equal(store.pruneEvents({ olderThanDays: 7 }), 2);
  assert.deepEqual(
    store.listEvents('old-done').map((e) => e.type),
    ['run_started'],
  );
  assert.equal(store.listEvents('old-paused').length, 3);
  assert.equal(store.listEvents('new-done').length, 3);
  const stats = store.eventStats('old-done');
  assert.deepEqual(
    stats.find((s) => s.type === 'agent_delta'),
    {
      type: 'agent_delta',
      kept: 0,
      dropped: 0,
      truncated: 0,
      pruned: 1,
    },
  );
  assert.equal(stats.find((s) => s.type === 'run_started')?.kept, 1);
  assert.equal(store.pruneEvents({ olderThanDays: 7 }), 0);
  // Numbers are never reused after pruning.
  assert.equal(store.appendEvent('old-done', { type: 'run_resumed' }), 4);
  store.close();
});

test('artifacts and explicit transactions', () => {
  const store = openRunStore(freshFile());
  store.createRun({ id: 'r1' });
  const art = store.addArtifact({
    runId: 'r1',
    kind: 'worker_crash',
    path: 'runs/r1/crash.json',
    metadata: { code: 1 },
  });
  assert.equal(art.kind, 'worker_crash');
  assert.deepEqual(store.listArtifacts('r1'), [art]);
  assert.throws(() => store.addArtifact({ runId: 'missing', kind: 'x', path: 'p' }), /FOREIGN KEY/);

  assert.throws(() =>
    store.transaction(() => {
      store.updateRun('r1', { status: 'failed' });
      store.appendEvent('r1', { type: 'run_failed' });
      throw new Error('boom');
    }),
  );
  assert.equal(store.getRun('r1')?.status, 'pending', 'rolled back');
  assert.equal(store.lastEventSeq('r1'), 0);
  store.close();
});

test('changeStamp changes with every write, by this connection or another, and only then', () => {
  const file = freshFile();
  const store = openRunStore(file);
  const other = openRunStore(file);
  const run = store.createRun({});
  const first = store.changeStamp();
  assert.equal(store.changeStamp(), first);
  store.getRun(run.id);
  store.listEvents(run.id);
  assert.equal(store.changeStamp(), first, 'reads change nothing');
  store.appendEvent(run.id, { type: 'mine' });
  const mine = store.changeStamp();
  assert.notEqual(mine, first);
  other.updateRun(run.id, { status: 'running' });
  const theirs = store.changeStamp();
  assert.notEqual(theirs, mine);
  assert.deepEqual(store.runProgress(run.id), { status: 'running', lastEventSeq: 1 });
  assert.equal(store.runProgress('nope'), null);
  assert.deepEqual(store.listEventsJson(run.id), [
    {
      seq: 1,
      type: 'mine',
      json: JSON.stringify({
        run_id: run.id,
        seq: 1,
        type: 'mine',
        at: store.listEvents(run.id)[0]!.at,
        turn_id: null,
        data: {},
      }),
    },
  ]);
  other.close();
  store.close();
});

test('listEventsJson: each event as JSON text equal to JSON.stringify of the parsed event', () => {
  const store = openRunStore(freshFile(), { maxEventBytes: 512 });
  const run = store.createRun({ id: 'run "quoted" \\ é' });
  const turn = store.beginTurn({ runId: run.id, agent: 'codex' });
  store.appendEvents(run.id, [
    {
      type: 'agent_message',
      data: { text: 'line\nbreak\t"q" \\ é 😀 \u2028 \ud800 \u0000\u001f\u007f', n: 1e21, f: -0.5 },
    },
    {
      type: 'odd "type" \u0001',
      turnId: turn.id,
      data: { nested: { a: [1, null, true, { '1': 'x', b: 'y' }] } },
    },
    { type: 'empty', at: 'not a date \u2029' },
    { type: 'big', data: { text: 'x'.repeat(2000) } },
  ]);
  const parsed = store.listEvents(run.id);
  const json = store.listEventsJson(run.id);
  assert.equal(json.length, 4);
  for (const [i, e] of parsed.entries()) {
    const expected = { run_id: e.runId, seq: e.seq, type: e.type, at: e.at, turn_id: e.turnId, data: e.data };
    assert.deepEqual(json[i], { seq: e.seq, type: e.type, json: JSON.stringify(expected) });
  }
  assert.deepEqual(
    store.listEventsJson(run.id, { afterSeq: 1, types: ['empty', 'big'], limit: 1 }).map((e) => e.seq),
    [3],
  );
  store.close();
});
