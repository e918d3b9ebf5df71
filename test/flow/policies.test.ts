// Each engine policy on its own, against a FakeRepoState (test/flow/policy-context.ts): the stop rules,
// ticket selection, settling (commit barrier, evidence), the verify gate's verdict, failed-turn retries,
// quota fallback and waits, and the loop guard. The whole engine is tested end to end in engine.test.ts.
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, test } from 'node:test';
import { DEFAULT_CONFIG } from '../../src/core/config/index.ts';
import { noChangeAfter } from '../../src/core/flow/after-turn.ts';
import { checkBeforeTurn, controlOutcome } from '../../src/core/flow/checks.ts';
import { pickAgent, quotaExhausted } from '../../src/core/flow/quota.ts';
import { chooseTicket } from '../../src/core/flow/select.ts';
import { flowSettings } from '../../src/core/flow/settings.ts';
import { settleCurrent } from '../../src/core/flow/settle.ts';
import { newTicketProgress, newVerifyProgress } from '../../src/core/flow/state.ts';
import { afterFailedTurn, networkRetryDelayMs } from '../../src/core/flow/turn-failure.ts';
import { runVerifyGate } from '../../src/core/flow/verify-gate.ts';
import { dependencyGraph, type Ticket } from '../../src/core/tickets/index.ts';
import { type PolicyContext, policyContext } from './policy-context.ts';

const open: PolicyContext[] = [];
afterEach(() => {
  for (const p of open.splice(0)) p.cleanup();
});
function setup(opts: Parameters<typeof policyContext>[0] = {}): PolicyContext {
  const p = policyContext(opts);
  open.push(p);
  return p;
}
function work(p: PolicyContext, ticket: Ticket, agent = 'codex') {
  p.ctx.state.ticket = newTicketProgress(
    ticket.relPath,
    ticket.ticketId,
    agent,
    null,
    newVerifyProgress(
      p.repo.headSha,
      null,
      p.ctx.settings.verify.commands.map((command) => ({ command, source: 'config' as const })),
    ),
  );
  return p.ctx.state.ticket;
}
const verifyWith = (commands: string[]) => ({
  verify: { ...flowSettings(DEFAULT_CONFIG).verify, commands },
});

describe('stop rules (checks.ts)', () => {
  test('a stop or pause asked for by another process ends the loop', async () => {
    const p = setup();
    assert.equal(await controlOutcome(p.ctx), null);
    p.store.updateRun(p.ctx.runId, { metadata: { requested: 'pause' } });
    assert.equal((await controlOutcome(p.ctx))?.reasonCode, 'pause_requested');
    p.store.updateRun(p.ctx.runId, { metadata: { requested: 'stop' } });
    assert.deepEqual(await controlOutcome(p.ctx), {
      status: 'stopped',
      reasonCode: 'stop_requested',
      reason: 'Stopped on request.',
    });
  });

  test('a user ticket, the turn limit and the budgets stop another turn; else none', async () => {
    const p = setup({ settings: { maxTokensPerRun: 100, maxWallclockSeconds: 60 } });
    const ticket = p.ticket(1);
    const progress = work(p, ticket);
    assert.equal(await checkBeforeTurn(p.ctx, ticket, progress), null);

    progress.agent = 'user';
    assert.equal((await checkBeforeTurn(p.ctx, ticket, progress))?.reasonCode, 'user_ticket');
    progress.agent = 'codex';
    p.ctx.state.turnLimit = 3;
    p.ctx.state.totalTurns = 3;
    assert.equal((await checkBeforeTurn(p.ctx, ticket, progress))?.reasonCode, 'max_turns');
    p.ctx.state.turnLimit = 50;
    p.ctx.state.tokens = 100;
    const budget = await checkBeforeTurn(p.ctx, ticket, progress);
    assert.equal(budget?.reasonCode, 'token_budget');
    assert.deepEqual(budget?.details, { ticket: ticket.relPath, scope: 'run', used: 100, limit: 100 });
    p.ctx.state.tokens = 0;
    p.ctx.state.activeMs = 60_000;
    assert.equal((await checkBeforeTurn(p.ctx, ticket, progress))?.reasonCode, 'max_wallclock');
    // a pause remembers the tree it paused on, for resume gating
    assert.equal(p.ctx.state.pauseContext?.fingerprint, p.repo.fingerprintValue);
  });

  test('a malformed verify: value pauses as an invalid ticket', async () => {
    const p = setup();
    const ticket = p.ticket(1, { extra: 'verify: 42' });
    const outcome = await checkBeforeTurn(p.ctx, ticket, work(p, ticket));
    assert.equal(outcome?.reasonCode, 'ticket_invalid');
    assert.match(outcome?.reason ?? '', /TICKET-001\.md: .*verify/);
  });
});

describe('selection (select.ts)', () => {
  /** The ticket chooseTicket picks, or how the run ends. */
  const choose = async (p: PolicyContext, tickets: Ticket[], current: Ticket | undefined) => {
    const chosen = await chooseTicket(p.ctx, tickets, dependencyGraph(tickets), current);
    return 'ticket' in chosen ? chosen.ticket : chosen.outcome;
  };

  test('the first ticket not done is selected and recorded once; none left completes the run', async () => {
    const p = setup();
    const tickets = [p.ticket(1, { done: true }), p.ticket(2), p.ticket(3)];
    const chosen = (await choose(p, tickets, undefined)) as Ticket;
    assert.equal(chosen.relPath, tickets[1]!.relPath);
    assert.equal(p.ctx.state.ticket?.path, tickets[1]!.relPath);
    assert.equal(p.ctx.state.ticket?.verify?.baseHead, p.repo.headSha);
    await choose(p, tickets, chosen);
    assert.equal(p.events(['ticket_selected']).length, 1);
    assert.deepEqual(await choose(p, [tickets[0]!], undefined), {
      status: 'completed',
      reasonCode: 'all_done',
      reason: 'All tickets done.',
    });
  });

  test('a ticket that owes a commit stays pinned even though it says done', async () => {
    const p = setup();
    const tickets = [p.ticket(1, { done: true }), p.ticket(2)];
    work(p, tickets[0]!).commitPending = true;
    assert.equal(((await choose(p, tickets, tickets[0])) as Ticket).relPath, tickets[0]!.relPath);
  });
});

describe('settling a done ticket (settle.ts)', () => {
  test('done on a dirty tree: commit barrier, then a pause after max_commit_retries', async () => {
    const p = setup({ settings: { maxCommitRetries: 2 } });
    const ticket = p.ticket(1, { done: true });
    const progress = work(p, ticket);
    p.repo.dirty = true;
    const first = await settleCurrent(p.ctx, [ticket]);
    assert.ok('current' in first && first.current?.relPath === ticket.relPath);
    assert.equal(progress.commitPending, true);
    assert.equal(p.events(['commit_barrier']).length, 1);
    progress.commitAttempts = 2;
    const second = await settleCurrent(p.ctx, [ticket]);
    assert.ok('outcome' in second);
    assert.equal(second.outcome.reasonCode, 'commit_barrier');
    assert.equal(p.events(['ticket_done']).length, 0);
  });

  test('a user ticket done on a dirty tree goes straight to the person', async () => {
    const p = setup();
    const ticket = p.ticket(1, { agent: 'user', done: true });
    work(p, ticket, 'user');
    p.repo.dirty = true;
    const settled = await settleCurrent(p.ctx, [ticket]);
    assert.ok('outcome' in settled && settled.outcome.reasonCode === 'commit_barrier');
  });

  test('with auto_commit car commits, then records evidence and ticket_done exactly once', async () => {
    const p = setup({ settings: { autoCommit: true } });
    const ticket = p.ticket(1, { done: true });
    work(p, ticket);
    p.repo.dirty = true;
    const settled = await settleCurrent(p.ctx, [ticket]);
    assert.deepEqual(settled, { current: undefined });
    assert.equal(p.repo.commits.length, 1);
    assert.equal(p.ctx.state.ticket, null);
    const done = p.events(['ticket_verified', 'ticket_done']);
    assert.deepEqual(
      done.map((e) => e.type),
      ['ticket_verified', 'ticket_done'],
    );
    const evidence = join(p.root, String(done[0]!.data.evidence));
    assert.ok(existsSync(evidence), evidence);
    assert.equal(JSON.parse(readFileSync(evidence, 'utf8')).commit, 'c'.repeat(40));
  });

  test('a ticket gone from disk is recorded as vanished and forgotten', async () => {
    const p = setup();
    work(p, p.ticket(1));
    assert.deepEqual(await settleCurrent(p.ctx, []), { current: undefined });
    assert.equal(p.events(['ticket_vanished']).length, 1);
    assert.equal(p.ctx.state.ticket, null);
  });

  test('a failed verification writes done: false back and counts, then pauses at max_failures', async () => {
    const p = setup({ settings: { verify: { ...verifyWith(['exit 3']).verify, maxFailures: 2 } } });
    const ticket = p.ticket(1, { done: true });
    const progress = work(p, ticket);
    progress.verify = newVerifyProgress(p.repo.headSha, null, [{ command: 'exit 3', source: 'config' }]);
    const first = await settleCurrent(p.ctx, [ticket]);
    assert.ok('current' in first && first.current?.isDone === false, 'reopened as on disk');
    assert.match(readFileSync(ticket.path, 'utf8'), /^done: false$/m);
    assert.equal(progress.verify.failures, 1);
    assert.match(progress.verify.feedback?.command?.exit ?? '', /3/);
    const again = p.ticket(1, { done: true });
    const second = await settleCurrent(p.ctx, [again]);
    assert.ok('outcome' in second && second.outcome.reasonCode === 'verify_failed');
    assert.equal(progress.verify.humanPause, true);
  });
});

describe('the verify gate (verify-gate.ts)', () => {
  test('passing commands pass once; the same content is not checked again', async () => {
    const p = setup({ settings: verifyWith(['echo ran >> gate.log']) });
    const ticket = p.ticket(1, { done: true });
    const progress = work(p, ticket);
    delete progress.verify;
    const first = await runVerifyGate(p.ctx, ticket, progress);
    assert.equal(first.kind, 'passed');
    const second = await runVerifyGate(p.ctx, ticket, progress);
    assert.equal(second.kind, 'passed');
    assert.equal(readFileSync(join(p.root, 'gate.log'), 'utf8'), 'ran\n');
    assert.equal(p.events(['verify_passed']).length, 1);
  });

  test('a failing command is a failed verdict naming it; nothing is written back by the gate', async () => {
    const p = setup({ settings: verifyWith(['true', 'echo nope; exit 7', 'echo never > never.txt']) });
    const ticket = p.ticket(1, { done: true });
    const before = readFileSync(ticket.path, 'utf8');
    const verdict = await runVerifyGate(p.ctx, ticket, work(p, ticket));
    assert.equal(verdict.kind, 'failed');
    assert.ok(verdict.kind === 'failed' && verdict.failed?.planned.command === 'echo nope; exit 7');
    assert.equal(verdict.kind === 'failed' && verdict.failed?.result.exitCode, 7);
    assert.equal(existsSync(join(p.root, 'never.txt')), false, 'the gate stops at the first failure');
    assert.equal(readFileSync(ticket.path, 'utf8'), before);
    assert.equal(p.events(['verify_command']).length, 2);
  });

  test('a deleted test file blocks without running the commands', async () => {
    const p = setup({ settings: verifyWith(['echo ran > ran.txt']) });
    const ticket = p.ticket(1, { done: true });
    p.repo.dirty = true;
    p.repo.files.set('test/a.test.ts', "test('x', () => { assert.ok(1); });\n");
    p.repo.changes = [
      {
        path: 'test/a.test.ts',
        oldPath: null,
        status: 'deleted',
        untracked: false,
        binary: false,
        patch: '',
        patchTruncated: false,
      },
    ];
    const verdict = await runVerifyGate(p.ctx, ticket, work(p, ticket));
    assert.equal(verdict.kind, 'failed');
    assert.ok(verdict.kind === 'failed' && verdict.blocking.some((f) => f.file === 'test/a.test.ts'));
    assert.equal(existsSync(join(p.root, 'ran.txt')), false);
  });
});

describe('a failed turn (turn-failure.ts)', () => {
  test('network errors back off 1 s doubling to 30 s, then pause as agent_error', async () => {
    assert.deepEqual([1, 2, 3, 5, 6, 9].map(networkRetryDelayMs), [1000, 2000, 4000, 16_000, 30_000, 30_000]);
    const slept: number[] = [];
    const p = setup({
      settings: { maxNetworkRetries: 2 },
      deps: {
        sleep: async (ms) => {
          slept.push(ms);
        },
      },
    });
    const ticket = p.ticket(1);
    const progress = work(p, ticket);
    const failed = {
      status: 'failed' as const,
      finalText: '',
      error: { kind: 'network' as const, message: 'reset' },
    };
    assert.equal((await afterFailedTurn(p.ctx, ticket, progress, failed)).kind, 'continue');
    assert.equal((await afterFailedTurn(p.ctx, ticket, progress, failed)).kind, 'continue');
    const third = await afterFailedTurn(p.ctx, ticket, progress, failed);
    assert.ok(third.kind === 'end' && third.outcome.reasonCode === 'agent_error');
    assert.deepEqual(slept, [1000, 2000]);
  });

  test('a stalled turn is retried max_stall_retries times, then pauses', async () => {
    const p = setup({ settings: { maxStallRetries: 1 } });
    const ticket = p.ticket(1);
    const progress = work(p, ticket);
    const stalled = {
      status: 'failed' as const,
      finalText: '',
      error: { kind: 'stalled' as const, message: 'idle' },
    };
    assert.equal((await afterFailedTurn(p.ctx, ticket, progress, stalled)).kind, 'continue');
    assert.equal(p.events(['stall_retry']).length, 1);
    const second = await afterFailedTurn(p.ctx, ticket, progress, stalled);
    assert.ok(second.kind === 'end' && second.outcome.reasonCode === 'agent_error');
  });
});

describe('quota (quota.ts)', () => {
  test('a used-up plan hands the ticket to its fallback, and back once it resets', async () => {
    let now = Date.parse('2026-01-01T00:00:00Z');
    const p = setup({ settings: { quotaFallback: { codex: 'opencode' } }, deps: { now: () => now } });
    const ticket = p.ticket(1);
    const progress = work(p, ticket);
    p.ctx.state.exhausted.codex = new Date(now + 60_000).toISOString();
    assert.equal(await pickAgent(p.ctx, ticket, progress), true);
    assert.equal(progress.agent, 'opencode');
    assert.equal(await pickAgent(p.ctx, ticket, progress), false, 'stays while codex is used up');
    now += 61_000;
    assert.equal(await pickAgent(p.ctx, ticket, progress), true);
    assert.equal(progress.agent, 'codex');
    assert.deepEqual(
      p.events(['quota_fallback', 'quota_fallback_over']).map((e) => e.type),
      ['quota_fallback', 'quota_fallback_over'],
    );
  });

  test('a reset within max_quota_wait_seconds waits; a later one pauses', async () => {
    const now = Date.parse('2026-01-01T00:00:00Z');
    const p = setup({ settings: { maxQuotaWaitSeconds: 3600 }, deps: { now: () => now } });
    const ticket = p.ticket(1);
    const progress = work(p, ticket);
    const soon = { kind: 'quota' as const, message: 'limit', retryAt: new Date(now + 600_000).toISOString() };
    assert.equal((await quotaExhausted(p.ctx, ticket, progress, soon)).kind, 'continue');
    assert.equal(p.ctx.state.quotaWait?.until, new Date(now + 630_000).toISOString());
    const late = {
      kind: 'quota' as const,
      message: 'limit',
      retryAt: new Date(now + 7200_000).toISOString(),
    };
    const step = await quotaExhausted(p.ctx, ticket, progress, late);
    assert.ok(step.kind === 'end' && step.outcome.reasonCode === 'quota_exhausted');
  });
});

describe('the loop guard (after-turn.ts)', () => {
  const progress = { noChange: 2, commitPending: false, lintErrors: null };
  test('counts only turns that changed nothing and did nothing else useful', () => {
    assert.equal(noChangeAfter(progress, { changed: false, talked: false, ticketDone: false }), 3);
    assert.equal(noChangeAfter(progress, { changed: true, talked: false, ticketDone: false }), 0);
    assert.equal(noChangeAfter(progress, { changed: false, talked: true, ticketDone: false }), 2);
    assert.equal(noChangeAfter(progress, { changed: false, talked: false, ticketDone: true }), 2);
    assert.equal(
      noChangeAfter(
        { ...progress, commitPending: true },
        { changed: false, talked: false, ticketDone: false },
      ),
      2,
    );
  });
});
