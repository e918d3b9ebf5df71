import assert from 'node:assert/strict';
import { tmpdir } from 'node:os';
import { type TestContext, test } from 'node:test';
import type { AgentEvent } from '../core/agent.ts';
import { createCommandAgent } from './command/adapter.ts';
import { type StopReason, startTurnHarness, type TurnHarnessOptions } from './turn-harness.ts';

// Mocked timers: the clock moves only when the test ticks it, so a busy machine cannot reorder a touch
// and the timer it was meant to reset.
const clock = (t: TestContext) => {
  t.mock.timers.enable({ apis: ['setTimeout'] });
  return (ms: number) => t.mock.timers.tick(ms);
};

function harness(options: Partial<TurnHarnessOptions> = {}, signal = new AbortController().signal) {
  const stops: [StopReason, string][] = [];
  const events: AgentEvent[] = [];
  const turn = startTurnHarness(
    { signal, onEvent: (e) => events.push(e) },
    {
      stallTimeoutMs: 0,
      turnTimeoutMs: 0,
      onStop: (reason, message) => stops.push([reason, message]),
      ...options,
    },
  );
  return { turn, stops, events };
}

const base = { finalText: 'so far', usage: { outputTokens: 3 } };

test('the stall watchdog stops a silent turn, which ends failed "stalled"', (t) => {
  const tick = clock(t);
  const { turn, stops } = harness({ stallTimeoutMs: 100 });
  tick(60);
  turn.touch();
  tick(60);
  assert.deepEqual(stops, [], 'activity restarts the stall timer');
  tick(50);
  assert.deepEqual(stops, [['stalled', 'agent stalled: no progress for 100 ms']]);
  assert.deepEqual(turn.stoppedResult(base), {
    status: 'failed',
    ...base,
    error: { kind: 'stalled', message: 'agent stalled: no progress for 100 ms' },
  });
  turn.end();
});

test('the wall-clock cap stops a busy turn, which ends failed "timeout"', (t) => {
  const tick = clock(t);
  const { turn, stops } = harness({ stallTimeoutMs: 50, turnTimeoutMs: 200 });
  for (let i = 0; i < 10; i++) {
    tick(30);
    turn.touch();
  }
  assert.deepEqual(stops, [['timeout', 'turn timed out after 200 ms']]);
  assert.equal(turn.stoppedResult(base)?.error?.kind, 'timeout');
  turn.end();
});

test('an abort stops the turn once, and it ends cancelled without an error', () => {
  const ac = new AbortController();
  const { turn, stops } = harness({ stallTimeoutMs: 1000 }, ac.signal);
  assert.equal(turn.stoppedResult(base), null, 'not stopped yet');
  ac.abort();
  assert.deepEqual(stops, [['cancelled', 'turn cancelled']]);
  assert.deepEqual(turn.stoppedResult(base), { status: 'cancelled', ...base });
  assert.deepEqual(turn.stopped, { reason: 'cancelled', message: 'turn cancelled' });
  turn.end();
});

test('a signal aborted while the turn was being prepared still stops it', async () => {
  const ac = new AbortController();
  ac.abort();
  const { turn, stops } = harness({}, ac.signal);
  await Promise.resolve();
  assert.deepEqual(stops, [['cancelled', 'turn cancelled']]);
  assert.equal(turn.stoppedResult(base)?.status, 'cancelled');
  turn.end();
});

test('a stop the agent does not act on is forced after the grace; end() disarms everything', (t) => {
  const tick = clock(t);
  const ac = new AbortController();
  let forced = 0;
  const { turn } = harness({ forceStop: { afterMs: 300, run: () => forced++ } }, ac.signal);
  ac.abort();
  tick(299);
  assert.equal(forced, 0);
  tick(1);
  assert.equal(forced, 1);

  const late = new AbortController();
  const second = harness(
    { stallTimeoutMs: 100, forceStop: { afterMs: 300, run: () => forced++ } },
    late.signal,
  );
  second.turn.end();
  late.abort();
  tick(1000);
  assert.deepEqual(second.stops, [], 'a stop after end() is ignored');
  assert.equal(forced, 1);
  assert.equal(second.turn.stoppedResult(base), null);
  turn.end();
});

test('hold() suspends the stall timer until released', (t) => {
  const tick = clock(t);
  const { turn, stops } = harness({ stallTimeoutMs: 100 });
  const release = turn.hold();
  tick(500);
  assert.deepEqual(stops, [], 'the agent waits for car: not a stall');
  release();
  tick(99);
  assert.deepEqual(stops, []);
  tick(1);
  assert.equal(stops[0]?.[0], 'stalled');
  turn.end();
});

test('a listener that throws does not break the turn: later events still arrive', () => {
  const seen: AgentEvent[] = [];
  const turn = startTurnHarness(
    {
      signal: new AbortController().signal,
      onEvent: (e) => {
        seen.push(e);
        throw new Error('listener bug');
      },
    },
    { stallTimeoutMs: 0, turnTimeoutMs: 0, onStop: () => {} },
  );
  turn.emit({ type: 'status', message: 'one' });
  turn.emit({ type: 'status', message: 'two' });
  assert.equal(seen.length, 2);
  turn.end();
});

test('an adapter turn completes although its listener throws on every event', async () => {
  const agent = createCommandAgent({ id: 'echo', format: 'text', command: ['echo', 'answer:'] });
  const session = await agent.startSession({ cwd: tmpdir(), ticketPath: 't.md', ticketId: 't', runId: 'r' });
  let calls = 0;
  const result = await session.runTurn({
    prompt: 'forty-two',
    signal: new AbortController().signal,
    onEvent: () => {
      calls++;
      throw new Error('listener bug');
    },
  });
  assert.equal(result.status, 'completed');
  assert.equal(result.finalText, 'answer: forty-two');
  assert.ok(calls >= 2, 'every event was still offered');
  await session.close();
});
