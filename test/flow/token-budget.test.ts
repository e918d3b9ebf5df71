// Token budgets per ticket and per run: a turn whose streamed usage crosses the budget is interrupted on
// the spot, one that reports usage only at its end stops the next turn; resuming grants the budget again.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { TurnResult } from '../../src/core/agent.ts';
import { runJson } from '../../src/surfaces/flow-report.ts';
import { aborted, completed, finishTicket, makeProgress, type TurnScript } from '../fakes/scripted-agent.ts';
import { assertOutcome, setup } from './harness.ts';

/** Streams usage in steps of `step` input tokens until the turn is aborted (then says so) or `steps` ran. */
function spender(step: number, steps: number): TurnScript {
  return async (ctx): Promise<TurnResult> => {
    for (let i = 1; i <= steps; i++) {
      ctx.emit({ type: 'usage', usage: { inputTokens: step * i, outputTokens: 0 } });
      await new Promise((r) => setTimeout(r, 5));
      if (ctx.signal.aborted) return { status: 'cancelled', finalText: '' };
    }
    return completed('spent');
  };
}

test('a turn streaming past the ticket budget is interrupted and the run pauses with token_budget', async (t) => {
  const h = setup({ tickets: 2, settings: { maxTokensPerTicket: 10_000 } });
  t.after(() => h.cleanup());
  let sawAbort = false;
  h.agent.script(async (ctx) => {
    const result = await spender(4000, 100)(ctx);
    sawAbort = ctx.signal.aborted;
    return result;
  });
  const run = h.newRun();
  const outcome = await h.run(run.id);
  assertOutcome(h, run.id, outcome, 'paused', 'token_budget');
  assert.ok(sawAbort, 'the agent was told to stop');
  assert.deepEqual(outcome.details, {
    ticket: h.ticketPath(1),
    scope: 'ticket',
    used: 12_000,
    limit: 10_000,
  });
  assert.match(outcome.reason, /TICKET-001\.md's token budget is used up \(12000 of 10000 tokens/);
  assert.equal(h.store.listTurns(run.id)[0]?.status, 'cancelled');
  assert.equal(h.state(run.id).ticket?.tokens, 12_000);

  // resuming grants the ticket another 10 000 tokens on top of what it used
  const config = { ...h.config, ticket_flow: { ...h.config.ticket_flow, max_tokens_per_ticket: 10_000 } };
  // what `car flow status` and the API report
  assert.deepEqual(runJson(h.store.getRun(run.id)!, h.control(config)).tokens, {
    run: 12_000,
    run_limit: null,
    ticket: 12_000,
    ticket_limit: 10_000,
  });
  await h.control(config).resume(run.id);
  h.agent.script(async (ctx) => {
    ctx.emit({ type: 'usage', usage: { inputTokens: 5000, outputTokens: 1000 } });
    return finishTicket()(ctx);
  }, finishTicket());
  const resumed = await h.run(run.id);
  assertOutcome(h, run.id, resumed, 'completed', 'all_done');
  assert.equal(h.state(run.id).tokens, 18_000, 'the run counts every turn');
});

test('usage reported only at the end of a turn stops the next turn; the run budget spans tickets', async (t) => {
  const h = setup({ tickets: 3, settings: { maxTokensPerRun: 1000 } });
  t.after(() => h.cleanup());
  const endUsage =
    (script: TurnScript, tokens: number): TurnScript =>
    async (ctx) => ({
      ...(await script(ctx)),
      usage: { inputTokens: tokens - 100, outputTokens: 100 },
    });
  h.agent.script(endUsage(finishTicket(), 600), endUsage(makeProgress(), 600), endUsage(finishTicket(), 1));
  const run = h.newRun();
  const outcome = await h.run(run.id);
  assertOutcome(h, run.id, outcome, 'paused', 'token_budget');
  assert.equal(h.agent.turnsRun, 2, 'the turn that crossed the budget finished; no third one started');
  assert.deepEqual(outcome.details, { ticket: h.ticketPath(2), scope: 'run', used: 1200, limit: 1000 });
  assert.match(
    outcome.reason,
    /the run's token budget is used up \(1200 of 1000 tokens, ticket_flow\.max_tokens_per_run\)/,
  );
});

test('no budget set: usage is counted, nothing stops, and an abort is still only the caller\u2019s', async (t) => {
  const h = setup({ tickets: 1 });
  t.after(() => h.cleanup());
  h.agent.script(async (ctx) => {
    ctx.emit({ type: 'usage', usage: { inputTokens: 10_000_000, outputTokens: 5 } });
    await Promise.race([aborted(ctx.signal), new Promise((r) => setTimeout(r, 20))]);
    assert.equal(ctx.signal.aborted, false);
    return finishTicket()(ctx);
  });
  const run = h.newRun();
  assertOutcome(h, run.id, await h.run(run.id), 'completed', 'all_done');
  assert.equal(h.state(run.id).tokens, 10_000_005);
});
