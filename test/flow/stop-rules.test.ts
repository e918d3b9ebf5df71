// Acceptance tests of every stop rule of the flow engine: turn and wall-clock budgets, the loop guard,
// the commit barrier, frontmatter repair, network retries, agent errors and queue problems. Each one
// checks the machine-readable reason on the run row and the flow_* event (assertOutcome).
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { runWorker } from '../../src/control/flow-control.ts';
import { DEFAULT_CONFIG } from '../../src/core/config/index.ts';
import {
  completed,
  failed,
  finishTicket,
  gitCommit,
  idle,
  makeProgress,
  markDone,
  resolverFor,
  setTicketField,
  type TurnScript,
  writeDispatchFile,
  writeRepoFile,
} from '../fakes/scripted-agent.ts';
import { assertOutcome, countEvents, setup } from './harness.ts';

const times = (n: number, turn: TurnScript): TurnScript[] => Array.from({ length: n }, () => turn);

/** Marks the ticket done with work left uncommitted. */
const doneDirty: TurnScript = (ctx) => {
  writeRepoFile(ctx, `work/${ctx.turn}.txt`, 'work\n');
  markDone(ctx);
  return completed('done, not committed');
};

test('max_turns pauses the run; resume grants a new budget', async (t) => {
  const h = setup({ tickets: 1 });
  t.after(() => h.cleanup());
  const control = h.control();
  const { run } = await control.prepareStart({ maxTotalTurns: 2 });
  const work = () => runWorker({ control, runId: run.id, repo: h.repo, resolveAgent: resolverFor(h.agent) });

  h.agent.script(...times(4, makeProgress()));
  assertOutcome(h, run.id, await work(), 'paused', 'max_turns');
  assert.equal(h.agent.turnsRun, 2);

  await control.resume(run.id);
  assertOutcome(h, run.id, await work(), 'paused', 'max_turns');
  assert.equal(h.agent.turnsRun, 4, 'two more turns after resume');
  assert.equal(h.state(run.id).totalTurns, 4);

  h.agent.script(finishTicket());
  await control.resume(run.id);
  assertOutcome(h, run.id, await work(), 'completed', 'all_done');
  assert.equal(h.store.listTurns(run.id).length, 5);
});

test('max_wallclock pauses once the active time is used; resume grants a new budget', async (t) => {
  const h = setup({ tickets: 1, settings: { maxWallclockSeconds: 1 } });
  t.after(() => h.cleanup());
  let clock = 0;
  const now = () => clock;
  const slowProgress: TurnScript = (ctx) => {
    clock += 600;
    return makeProgress()(ctx);
  };
  const config = {
    ...DEFAULT_CONFIG,
    ticket_flow: { ...DEFAULT_CONFIG.ticket_flow, max_wallclock_seconds: 1 },
  };
  const control = h.control(config);
  const { run } = await control.prepareStart();

  h.agent.script(...times(4, slowProgress));
  assertOutcome(h, run.id, await h.run(run.id, { now }), 'paused', 'max_wallclock');
  assert.equal(h.agent.turnsRun, 2, '600 ms + 600 ms reaches the 1 s budget');
  assert.equal(h.state(run.id).activeMs, 1200);

  clock += 3_600_000; // an hour paused does not count
  await control.resume(run.id);
  assertOutcome(h, run.id, await h.run(run.id, { now }), 'paused', 'max_wallclock');
  assert.equal(h.agent.turnsRun, 4, 'resume granted another full budget');
});

test("stop_after_runs (CAR's runner.stop_after_runs) pauses after n agent turns of each worker; the queue done on the nth completes", async (t) => {
  const h = setup({ tickets: 2 });
  t.after(() => h.cleanup());
  const config = { ...DEFAULT_CONFIG, runner: { ...DEFAULT_CONFIG.runner, stop_after_runs: 2 } };
  const control = h.control(config);
  const { run } = await control.prepareStart();
  const work = (stopAfterRuns?: number) =>
    runWorker({
      control,
      runId: run.id,
      repo: h.repo,
      resolveAgent: resolverFor(h.agent),
      ...(stopAfterRuns !== undefined ? { stopAfterRuns } : {}),
    });

  h.agent.script(...times(2, makeProgress()), finishTicket(), makeProgress());
  assertOutcome(h, run.id, await work(), 'paused', 'stop_after_runs');
  assert.equal(h.agent.turnsRun, 2);
  assert.deepEqual(h.store.getRun(run.id)!.reasonDetails, { runs: 2, stop_after_runs: 2 });

  // the next worker counts afresh; a ticket finished on the way does not end the count
  await control.resume(run.id);
  assertOutcome(h, run.id, await work(), 'paused', 'stop_after_runs');
  assert.equal(h.agent.turnsRun, 4, 'two more turns: the first ticket finished, one turn on the second');

  // the invocation's own count (car run --stop-after-runs) overrides the config's
  h.agent.script(finishTicket());
  await control.resume(run.id);
  assertOutcome(h, run.id, await work(1), 'completed', 'all_done');
  assert.equal(h.agent.turnsRun, 5, 'the turn that finishes the queue completes the run, not pauses it');
  assert.equal(h.state(run.id).totalTurns, 5);
});

test('loop guard: two turns without a repo change pause with loop_no_diff and a runner dispatch', async (t) => {
  const h = setup({ tickets: 1 });
  t.after(() => h.cleanup());
  h.agent.script(idle(), idle(), idle());
  const run = h.newRun();
  const outcome = await h.run(run.id);
  assertOutcome(h, run.id, outcome, 'paused', 'loop_no_diff');
  assert.equal(h.agent.turnsRun, 2);
  assert.doesNotMatch(h.agent.prompt(1), /<CAR_LOOP_GUARD>/);
  assert.match(h.agent.prompt(2), /<CAR_LOOP_GUARD>/);
  const details = h.store.getRun(run.id)!.reasonDetails!;
  assert.equal(details.no_change_turns, 2);
  const dispatch = h.events(run.id, ['dispatch']).at(-1)!;
  assert.equal(dispatch.data.mode, 'pause');
  assert.equal(dispatch.data.runner, true);
  assert.equal(dispatch.data.seq, details.dispatch_seq);
  const file = join(
    h.runPaths(run.id).dispatchHistoryDir,
    String(dispatch.data.seq).padStart(4, '0'),
    'DISPATCH.md',
  );
  assert.match(readFileSync(file, 'utf8'), /Ticket loop detected/);
});

test('loop guard ignores a dispatch-only turn and the turn after a reply (CAR defect 14.3)', async (t) => {
  const h = setup({ tickets: 1 });
  t.after(() => h.cleanup());
  const control = h.control();
  const { run } = await control.prepareStart();
  h.agent.script((ctx) => {
    writeDispatchFile(ctx, { mode: 'pause', title: 'Question', body: 'Which way?' });
    return completed('asked');
  });
  assertOutcome(h, run.id, await h.run(run.id), 'paused', 'dispatch');

  await control.reply(run.id, 'Left.');
  await control.resume(run.id);
  // turn 2 reads the reply and only plans; turns 3 and 4 are real no-change turns
  h.agent.script(idle('planning'), idle(), idle(), idle());
  const outcome = await h.run(run.id);
  assertOutcome(h, run.id, outcome, 'paused', 'loop_no_diff');
  assert.equal(h.agent.turnsRun, 4, 'CAR would have paused after turn 2');
  assert.equal(h.store.getRun(run.id)!.reasonDetails?.no_change_turns, 2);
});

test('loop guard: after a loop_no_diff pause and a reply, the turn reading the reply does not re-trip it', async (t) => {
  const h = setup({ tickets: 1 });
  t.after(() => h.cleanup());
  const control = h.control();
  const { run } = await control.prepareStart();
  h.agent.script(idle(), idle());
  assertOutcome(h, run.id, await h.run(run.id), 'paused', 'loop_no_diff');

  await control.reply(run.id, 'Try the other file.');
  await control.resume(run.id);
  h.agent.script(idle('reading the reply'), finishTicket());
  const outcome = await h.run(run.id);
  assertOutcome(h, run.id, outcome, 'completed', 'all_done');
  assert.equal(h.agent.turnsRun, 4);
});

test('commit barrier: done on a dirty tree → the next prompt requires a commit → agent commits → ticket_done', async (t) => {
  const h = setup({ tickets: 2 });
  t.after(() => h.cleanup());
  h.agent.script(
    doneDirty,
    (ctx) => {
      gitCommit(ctx, 'commit the work');
      return completed('committed');
    },
    finishTicket(),
  );
  const run = h.newRun();
  const outcome = await h.run(run.id);
  assertOutcome(h, run.id, outcome, 'completed', 'all_done');
  assert.doesNotMatch(h.agent.prompt(1), /<CAR_COMMIT_REQUIRED>/);
  assert.match(h.agent.prompt(2), /<CAR_COMMIT_REQUIRED>/);
  assert.equal(h.agent.prompts[1]!.ticketPath, h.ticketPath(1), 'the same ticket stays pinned');
  assert.deepEqual(
    h.store.listTurns(run.id).map((t) => t.kind),
    ['agent', 'commit', 'agent'],
  );
  assert.equal(countEvents(h, run.id, 'commit_barrier'), 1);
  assert.equal(countEvents(h, run.id, 'ticket_done', h.ticketPath(1)), 1);
  const dones = h.events(run.id, ['ticket_done']);
  assert.ok(dones[0]!.seq > h.events(run.id, ['turn_finished'])[1]!.seq, 'recorded only after the commit');
});

test('commit barrier: an agent that never commits pauses with commit_barrier after max_commit_retries', async (t) => {
  const h = setup({ tickets: 1, settings: { maxCommitRetries: 2 } });
  t.after(() => h.cleanup());
  h.agent.script(doneDirty, idle('no'), idle('still no'), idle());
  const run = h.newRun();
  const outcome = await h.run(run.id);
  assertOutcome(h, run.id, outcome, 'paused', 'commit_barrier');
  assert.equal(h.agent.turnsRun, 3, 'one work turn + two commit attempts');
  assert.match(h.agent.prompt(2), /<CAR_COMMIT_REQUIRED>[\s\S]*2/);
  assert.match(h.agent.prompt(3), /<CAR_COMMIT_REQUIRED>/);
  const details = h.store.getRun(run.id)!.reasonDetails!;
  assert.equal(details.ticket, h.ticketPath(1));
  assert.ok((details.status as string[]).some((l) => l.includes('work/1.txt')));
  assert.equal(countEvents(h, run.id, 'ticket_done'), 0);
  assert.equal(countEvents(h, run.id, 'flow_paused'), 1, 'no loop_no_diff on commit turns');
});

test('commit barrier: resume is blocked without a change; a forced resume gives the agent its attempts again', async (t) => {
  const h = setup({ tickets: 1 });
  t.after(() => h.cleanup());
  const control = h.control();
  const { run } = await control.prepareStart();
  const work = () => runWorker({ control, runId: run.id, repo: h.repo, resolveAgent: resolverFor(h.agent) });
  h.agent.script(doneDirty, idle('no'), idle('still no'), (ctx) => {
    gitCommit(ctx, 'the work');
    return completed('committed');
  });
  assertOutcome(h, run.id, await work(), 'paused', 'commit_barrier');
  await assert.rejects(control.resume(run.id), { code: 'blocked' });
  await control.resume(run.id, { force: true });
  assertOutcome(h, run.id, await work(), 'completed', 'all_done');
  assert.equal(h.agent.turnsRun, 4, 'the forced resume ran one more commit turn instead of pausing at once');
  assert.match(h.agent.prompt(4), /<CAR_COMMIT_REQUIRED>/);
  assert.equal(countEvents(h, run.id, 'ticket_done'), 1);
});

test('commit barrier with auto_commit: car commits the checkpoint and the done ticket itself', async (t) => {
  const h = setup({
    tickets: 1,
    settings: { autoCommit: true, commitMessageTemplate: 'car {run_id} turn {turn} {ticket}' },
  });
  t.after(() => h.cleanup());
  h.agent.script(makeProgress(), doneDirty);
  const headBefore = await h.repo.head();
  const run = h.newRun();
  const outcome = await h.run(run.id);
  assertOutcome(h, run.id, outcome, 'completed', 'all_done');
  assert.equal(h.agent.turnsRun, 2, 'no commit turn');
  assert.doesNotMatch(h.agent.prompt(2), /<CAR_COMMIT_REQUIRED>/);
  assert.deepEqual(
    h.events(run.id, ['auto_commit']).map((e) => e.data.why),
    ['checkpoint', 'ticket_done'],
  );
  assert.equal(await h.repo.isDirty(), false);
  const log = h.git
    .git(['log', '--format=%s', `${headBefore}..HEAD`])
    .trim()
    .split('\n');
  assert.deepEqual(log, [`car ${run.id} turn 2 TICKET-001.md`, `car ${run.id} turn 1 TICKET-001.md`]);
  assert.match(h.git.git(['show', 'HEAD:.codex-autorunner/tickets/TICKET-001.md']), /^done: true$/m);
  assert.equal(countEvents(h, run.id, 'ticket_done'), 1);
});

test('frontmatter damaged by the agent → lint-repair turn → repaired → continues', async (t) => {
  const h = setup({ tickets: 1 });
  t.after(() => h.cleanup());
  h.agent.script(
    (ctx) => {
      writeRepoFile(ctx, 'work/a.txt', 'a\n');
      setTicketField(ctx, 'done', 'maybe');
      return completed('oops');
    },
    (ctx) => {
      setTicketField(ctx, 'done', false);
      return completed('repaired');
    },
    finishTicket(),
  );
  const run = h.newRun();
  const outcome = await h.run(run.id);
  assertOutcome(h, run.id, outcome, 'completed', 'all_done');
  assert.doesNotMatch(h.agent.prompt(1), /<CAR_TICKET_FRONTMATTER_LINT_REPAIR>/);
  assert.match(h.agent.prompt(2), /<CAR_TICKET_FRONTMATTER_LINT_REPAIR>[\s\S]*done/);
  assert.doesNotMatch(h.agent.prompt(3), /<CAR_TICKET_FRONTMATTER_LINT_REPAIR>/);
  assert.deepEqual(
    h.store.listTurns(run.id).map((t) => t.kind),
    ['agent', 'lint_repair', 'agent'],
  );
  assert.equal(countEvents(h, run.id, 'lint_repair'), 1);
  assert.equal(countEvents(h, run.id, 'ticket_done'), 1);
});

test('frontmatter never repaired → ticket_invalid pause after max_lint_retries repair turns', async (t) => {
  const h = setup({ tickets: 1, settings: { maxLintRetries: 3 } });
  t.after(() => h.cleanup());
  h.agent.script(
    (ctx) => {
      setTicketField(ctx, 'done', 'maybe');
      return completed('oops');
    },
    ...times(5, idle('cannot fix')),
  );
  const run = h.newRun();
  const outcome = await h.run(run.id);
  assertOutcome(h, run.id, outcome, 'paused', 'ticket_invalid');
  assert.equal(h.agent.turnsRun, 4, 'the damaging turn + 3 repair turns');
  assert.deepEqual(
    h.store.listTurns(run.id).map((t) => t.kind),
    ['agent', 'lint_repair', 'lint_repair', 'lint_repair'],
  );
  const issues = h.store.getRun(run.id)!.reasonDetails!.issues as string[];
  assert.ok(
    issues.some((i) => i.includes('done')),
    issues.join('\n'),
  );
});

test('a ticket invalid before the run pauses with ticket_invalid before any agent call', async (t) => {
  const h = setup();
  t.after(() => h.cleanup());
  h.ticket(1);
  h.commit();
  h.git.write(h.ticketPath(1), h.readTicket(1).replace('done: false', 'done: "no"'));
  h.commit('break');
  const run = h.newRun();
  assertOutcome(h, run.id, await h.run(run.id), 'paused', 'ticket_invalid');
  assert.equal(h.agent.sessions.length, 0);
});

test('network errors are retried with exponential backoff, then pause with agent_error', async (t) => {
  const h = setup({ tickets: 1, settings: { maxNetworkRetries: 5 } });
  t.after(() => h.cleanup());
  const delays: number[] = [];
  const sleep = async (ms: number) => {
    delays.push(ms);
  };
  h.agent.script(...times(7, () => failed('network', 'connection reset by peer')));
  const run = h.newRun();
  const outcome = await h.run(run.id, { sleep });
  assertOutcome(h, run.id, outcome, 'paused', 'agent_error');
  assert.deepEqual(delays, [1000, 2000, 4000, 8000, 16000]);
  assert.equal(h.agent.turnsRun, 6, 'first try + 5 retries');
  assert.deepEqual(
    h.events(run.id, ['network_retry']).map((e) => [e.data.attempt, e.data.delay_ms]),
    [
      [1, 1000],
      [2, 2000],
      [3, 4000],
      [4, 8000],
      [5, 16000],
    ],
  );
  assert.ok(h.store.listTurns(run.id).every((t) => t.status === 'failed' && t.error?.includes('network')));
  assert.equal((h.store.getRun(run.id)!.reasonDetails!.error as { kind: string }).kind, 'network');
});

test('a stalled turn is retried in a fresh session on the same thread, then pauses after max_stall_retries', async (t) => {
  const h = setup({ tickets: 2, settings: { maxStallRetries: 2 } });
  t.after(() => h.cleanup());
  const stalled = () => failed('stalled', 'no agent event for 300 s');
  // ticket 1: one stall, then done (the counter resets); ticket 2: stalls three times in a row
  h.agent.script(stalled, finishTicket(), stalled, stalled, stalled);
  const run = h.newRun();
  const outcome = await h.run(run.id);
  assertOutcome(h, run.id, outcome, 'paused', 'agent_error');
  assert.match(outcome.reason, /no agent event for 300 s/);
  assert.equal(h.agent.turnsRun, 5);
  assert.deepEqual(
    h.events(run.id, ['stall_retry']).map((e) => [String(e.data.ticket).split('/').pop(), e.data.attempt]),
    [
      ['TICKET-001.md', 1],
      ['TICKET-002.md', 1],
      ['TICKET-002.md', 2],
    ],
  );
  // each retry opens a new session that resumes the ticket's thread
  const t1 = h.agent.sessions.filter((s) => s.ticketPath.endsWith('TICKET-001.md'));
  assert.equal(t1.length, 2);
  assert.equal(t1[1]?.threadId, 'thread-1');
});

test('a network blip is retried and the counter resets after a successful turn', async (t) => {
  const h = setup({ tickets: 1, settings: { maxNetworkRetries: 2 } });
  t.after(() => h.cleanup());
  const delays: number[] = [];
  const sleep = async (ms: number) => {
    delays.push(ms);
  };
  const blip = () => failed('network', 'disconnected');
  h.agent.script(blip, blip, makeProgress(), blip, blip, finishTicket());
  const run = h.newRun();
  assertOutcome(h, run.id, await h.run(run.id, { sleep }), 'completed', 'all_done');
  assert.deepEqual(delays, [1000, 2000, 1000, 2000]);
});

test('an agent error pauses with agent_error at once; a throwing agent too', async (t) => {
  const h = setup({ tickets: 1 });
  t.after(() => h.cleanup());
  h.agent.script(() => failed('agent', 'model refused'));
  const run = h.newRun();
  const outcome = await h.run(run.id);
  assertOutcome(h, run.id, outcome, 'paused', 'agent_error');
  assert.match(outcome.reason, /model refused/);
  assert.equal(h.agent.turnsRun, 1);
  assert.equal(h.store.listTurns(run.id)[0]!.status, 'failed');

  await h.control().resume(run.id);
  h.agent.script(() => {
    throw new Error('adapter blew up');
  });
  const again = await h.run(run.id);
  assertOutcome(h, run.id, again, 'paused', 'agent_error');
  assert.match(again.reason, /adapter blew up/);
});

test('an agent that cannot start pauses with agent_unavailable', async (t) => {
  const h = setup({ tickets: 1, agent: { startError: 'codex binary not found' } });
  t.after(() => h.cleanup());
  const run = h.newRun();
  const outcome = await h.run(run.id);
  assertOutcome(h, run.id, outcome, 'paused', 'agent_unavailable');
  assert.match(outcome.reason, /codex binary not found/);
  assert.equal(h.store.listTurns(run.id).length, 0);
});

test('missing required context fails the run before any agent call', async (t) => {
  const h = setup();
  t.after(() => h.cleanup());
  h.ticket(1, { extraYaml: 'context:\n  - path: docs/spec-missing.md\n    required: true' });
  h.commit();
  const run = h.newRun();
  const outcome = await h.run(run.id);
  assertOutcome(h, run.id, outcome, 'failed', 'missing_required_context');
  assert.deepEqual(h.store.getRun(run.id)!.reasonDetails?.missing, ['docs/spec-missing.md']);
  assert.equal(h.agent.sessions.length, 0);
  assert.equal(h.agent.turnsRun, 0);
  assert.equal(h.store.listTurns(run.id).length, 0);
});

test('duplicate ticket numbers pause with duplicate_tickets', async (t) => {
  const h = setup();
  t.after(() => h.cleanup());
  h.ticket(1, { slug: 'first' });
  h.ticket(1, { slug: 'second' });
  h.commit();
  const run = h.newRun();
  const outcome = await h.run(run.id);
  assertOutcome(h, run.id, outcome, 'paused', 'duplicate_tickets');
  assert.ok((h.store.getRun(run.id)!.reasonDetails!.issues as string[]).length > 0);
  assert.equal(h.agent.sessions.length, 0);
});

test('no tickets pauses with no_tickets', async (t) => {
  const h = setup();
  t.after(() => h.cleanup());
  const run = h.newRun();
  assertOutcome(h, run.id, await h.run(run.id), 'paused', 'no_tickets');
  assert.equal(h.agent.sessions.length, 0);
});
