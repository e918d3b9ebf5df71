// An agent whose plan is used up (codex's 5-hour window, Claude's usage limit) is waited for when the reset
// is known and near, so an unattended run goes on by itself; otherwise the run pauses for a person.
// A fake clock makes hours of waiting instant.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { TurnResult } from '../../src/core/agent.ts';
import type { EngineState } from '../../src/core/flow/state.ts';
import { noticeFor } from '../../src/core/notify/notices.ts';
import { recommendedAction } from '../../src/surfaces/flow-report.ts';
import { finishTicket, makeProgress, ScriptedAgent, type TurnContext } from '../fakes/scripted-agent.ts';
import { assertOutcome, setup } from './harness.ts';

const HOUR = 3600_000;

function quota(retryAt: number | null): TurnResult {
  return {
    status: 'failed',
    finalText: '',
    error: {
      kind: 'quota',
      message: 'You’ve hit your usage limit.',
      ...(retryAt === null ? {} : { retryAt: new Date(retryAt).toISOString() }),
    },
  };
}

/** A clock that only moves when the engine sleeps; `log` records sleeps and turns in order. */
function fakeClock(start = Date.parse('2026-11-24T22:00:00Z')) {
  const clock = { now: start, slept: 0, log: [] as string[] };
  return {
    clock,
    now: () => clock.now,
    sleep: async (ms: number) => {
      clock.now += ms;
      clock.slept += ms;
      if (clock.log.at(-1) !== 'sleep') clock.log.push('sleep');
    },
  };
}

test('a used-up plan with a known reset is waited out, then the ticket goes on by itself', async (t) => {
  const h = setup({ tickets: 1 });
  t.after(() => h.cleanup());
  const { clock, now, sleep } = fakeClock();
  const resetsAt = clock.now + 2 * HOUR;
  h.agent.script(
    () => {
      clock.log.push('turn');
      return quota(resetsAt);
    },
    (ctx) => {
      clock.log.push('turn');
      return finishTicket()(ctx);
    },
  );
  const run = h.newRun();
  const outcome = await h.run(run.id, { now, sleep });
  assertOutcome(h, run.id, outcome, 'completed', 'all_done');

  assert.deepEqual(clock.log, ['turn', 'sleep', 'turn'], 'the second turn starts only after the wait');
  const wait = h.events(run.id, ['quota_wait'])[0]!;
  assert.equal(wait.data.until, new Date(resetsAt + 30_000).toISOString(), 'half a minute after the reset');
  assert.equal(wait.data.agent, 'codex');
  assert.equal(clock.slept, 2 * HOUR + 30_000);
  assert.equal(h.events(run.id, ['quota_wait_over']).length, 1);
  const state = h.state(run.id);
  assert.equal(state.quotaWait, null);
  assert.ok(state.activeMs < HOUR, `waiting is not working time (activeMs ${state.activeMs})`);

  const notice = noticeFor(wait, { repo: 'demo', dispatch: () => null });
  assert.equal(notice?.kind, 'waiting');
  assert.match(notice?.text ?? '', /usage limit is used up.*goes on by itself/);
});

test('a reset further away than max_quota_wait_seconds, or none known, pauses with quota_exhausted', async (t) => {
  const h = setup({ tickets: 1 });
  t.after(() => h.cleanup());
  const { clock, now, sleep } = fakeClock();
  const resetsAt = clock.now + 3 * 24 * HOUR; // a weekly window
  h.agent.script(() => quota(resetsAt));
  const run = h.newRun();
  const outcome = await h.run(run.id, { now, sleep });
  assertOutcome(h, run.id, outcome, 'paused', 'quota_exhausted');
  assert.equal(clock.slept, 0, 'no wait');
  assert.match(outcome.reason, /codex's usage limit is used up; it resets at 2026-11-27T22:00:00.000Z/);
  assert.equal(outcome.details?.resets_at, new Date(resetsAt).toISOString());
  const paused = h.store.getRun(run.id)!;
  assert.match(recommendedAction(paused, false), /resume once the agent's usage limit has reset/);

  h.agent.script(() => quota(null));
  const again = await h.run(run.id, { now, sleep });
  assertOutcome(h, run.id, again, 'paused', 'quota_exhausted');
  assert.equal(again.details?.resets_at, null);

  // max_quota_wait_seconds: 0 never waits
  h.agent.script(() => quota(clock.now + 60_000));
  const noWait = await h.run(run.id, { now, sleep, settings: h.settings({ maxQuotaWaitSeconds: 0 }) });
  assertOutcome(h, run.id, noWait, 'paused', 'quota_exhausted');
  assert.equal(clock.slept, 0);
});

test('a pause request during the wait pauses at once; resuming tries the agent again straight away', async (t) => {
  const h = setup({ tickets: 1 });
  t.after(() => h.cleanup());
  const { clock, now } = fakeClock();
  h.agent.script(() => quota(clock.now + 4 * HOUR));
  const run = h.newRun();
  let sleeps = 0;
  const sleep = async (ms: number) => {
    clock.now += ms;
    // the request `car flow pause` leaves for a live worker
    if (++sleeps === 3) h.store.updateRun(run.id, { metadata: { requested: 'pause' } });
  };
  const outcome = await h.run(run.id, { now, sleep });
  assertOutcome(h, run.id, outcome, 'paused', 'pause_requested');
  assert.equal(sleeps, 3, 'the request is seen within one poll');
  assert.equal(h.state(run.id).quotaWait, null);

  h.agent.script(finishTicket());
  const resumed = await h.run(run.id, { now, sleep: async () => assert.fail('no wait after a resume') });
  assertOutcome(h, run.id, resumed, 'completed', 'all_done');
});

test('a worker that dies during the wait: the restarted run waits out the rest before its next turn', async (t) => {
  const h = setup({ tickets: 1 });
  t.after(() => h.cleanup());
  const { clock, now } = fakeClock();
  const resetsAt = clock.now + HOUR;
  h.agent.script(() => quota(resetsAt));
  const run = h.newRun();
  const abort = new AbortController();
  // Ctrl-C in the middle of the wait (the worker going away), after 10 minutes
  const first = await h.run(run.id, {
    now,
    signal: abort.signal,
    sleep: async (ms) => {
      clock.now += ms;
      if (clock.now - resetsAt + HOUR >= 10 * 60_000) abort.abort('pause');
    },
  });
  assertOutcome(h, run.id, first, 'paused', 'interrupted');
  const kept = h.state(run.id).quotaWait as EngineState['quotaWait'];
  assert.equal(kept?.until, new Date(resetsAt + 30_000).toISOString(), 'the wait survives in the run state');
  assert.match(
    recommendedAction({ ...h.store.getRun(run.id)!, status: 'running' }, true),
    /waiting for codex's usage limit to reset; the run goes on by itself at/,
  );

  const order: string[] = [];
  h.agent.script((ctx) => {
    order.push(`turn at +${Math.round((clock.now - resetsAt) / 1000)}s`);
    return finishTicket()(ctx);
  });
  const second = await h.run(run.id, {
    now,
    sleep: async (ms) => {
      clock.now += ms;
    },
  });
  assertOutcome(h, run.id, second, 'completed', 'all_done');
  assert.deepEqual(order, ['turn at +30s'], 'no turn before the reset');
});

test('quota_fallback: another agent takes over while the plan is used up, and hands the ticket back after', async (t) => {
  const h = setup({ tickets: 3, settings: { quotaFallback: { codex: 'opencode' } } });
  t.after(() => h.cleanup());
  const { clock, now, sleep } = fakeClock();
  const resetsAt = clock.now + 2 * HOUR;
  const backup = new ScriptedAgent({ id: 'opencode' });
  const who: string[] = [];
  const resolveAgent = (id: string) => {
    if (id === 'opencode') return backup;
    if (id === 'codex') return h.agent;
    throw new Error(`agent "${id}" is not configured`);
  };
  // ticket 1: codex is used up; opencode works a turn (3 hours pass), then codex has it back and finishes
  h.agent.script(
    () => {
      who.push('codex: quota');
      return quota(resetsAt);
    },
    ...[1, 2, 3].map(() => (ctx: TurnContext) => {
      who.push(`codex: ${ctx.ticketPath.split('/').pop()}`);
      return finishTicket()(ctx);
    }),
  );
  backup.script((ctx) => {
    who.push(`opencode: ${ctx.ticketPath.split('/').pop()}`);
    // the reset passes while opencode works
    clock.now = resetsAt + HOUR;
    return makeProgress()(ctx);
  });
  const run = h.newRun();
  const outcome = await h.run(run.id, { now, sleep, resolveAgent });
  assertOutcome(h, run.id, outcome, 'completed', 'all_done');
  assert.deepEqual(who, [
    'codex: quota',
    'opencode: TICKET-001.md',
    'codex: TICKET-001.md',
    'codex: TICKET-002.md',
    'codex: TICKET-003.md',
  ]);
  assert.equal(clock.slept, 0, 'no waiting: the fallback worked meanwhile');
  assert.deepEqual(
    h.events(run.id, ['quota_fallback', 'quota_fallback_over']).map((e) => [e.type, e.data.from, e.data.to]),
    [
      ['quota_fallback', 'codex', 'opencode'],
      ['quota_fallback_over', 'opencode', 'codex'],
    ],
  );
  assert.deepEqual(
    h.store.listTurns(run.id).map((turn) => turn.agent),
    ['codex', 'opencode', 'codex', 'codex', 'codex'],
  );
});

test('quota_fallback: tickets selected while the plan is used up start on the fallback', async (t) => {
  const h = setup({ tickets: 2, settings: { quotaFallback: { codex: 'opencode' } } });
  t.after(() => h.cleanup());
  const { clock, now, sleep } = fakeClock();
  const backup = new ScriptedAgent({ id: 'opencode' });
  h.agent.script(() => quota(clock.now + 5 * HOUR));
  backup.script(finishTicket(), finishTicket());
  const run = h.newRun();
  const outcome = await h.run(run.id, {
    now,
    sleep,
    resolveAgent: (id) => (id === 'opencode' ? backup : h.agent),
  });
  assertOutcome(h, run.id, outcome, 'completed', 'all_done');
  assert.equal(h.agent.turnsRun, 1, 'codex was asked once');
  assert.equal(backup.turnsRun, 2);
  assert.equal(h.events(run.id, ['quota_fallback']).length, 2, 'one switch per ticket');
});
