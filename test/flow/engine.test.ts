// Acceptance tests of the flow engine: the happy path, dispatches and replies, user tickets. Real git
// repo, real SQLite run store, real git adapter; only the agent is scripted.
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import {
  completed,
  failed,
  finishTicket,
  gitCommit,
  idle,
  makeProgress,
  markDone,
  type TurnScript,
  writeDispatchFile,
  writeRepoFile,
} from '../fakes/scripted-agent.ts';
import { assertOutcome, countEvents, setup } from './harness.ts';

test('happy path: 5 tickets, one turn each, run completed / all_done', async (t) => {
  const h = setup({ tickets: 5 });
  t.after(() => h.cleanup());
  // every turn streams events, does the work, marks the ticket done and commits
  h.agent.script(
    ...Array.from({ length: 5 }, () => (ctx: Parameters<ReturnType<typeof finishTicket>>[0]) => {
      ctx.emit({ type: 'tool_call', name: 'shell', id: `call-${ctx.turn}` });
      ctx.emit({ type: 'message_delta', text: `part-a-${ctx.turn} ` });
      ctx.emit({ type: 'message_delta', text: `part-b-${ctx.turn}` });
      ctx.emit({ type: 'message', text: `message-${ctx.turn}` });
      return finishTicket()(ctx);
    }),
  );
  // exactly the budget the queue needs: finishing the last ticket must not trip max_turns
  const run = h.newRun({ maxTotalTurns: 5 });
  const outcome = await h.run(run.id, { settings: h.settings({ maxTotalTurns: 5 }) });

  assertOutcome(h, run.id, outcome, 'completed', 'all_done');
  const turns = h.store.listTurns(run.id);
  assert.equal(turns.length, 5);
  assert.deepEqual(
    turns.map((t) => [t.seq, t.status, t.kind, t.ticketPath]),
    [1, 2, 3, 4, 5].map((n) => [n, 'completed', 'agent', h.ticketPath(n)]),
  );
  for (let n = 1; n <= 5; n++) {
    assert.equal(countEvents(h, run.id, 'ticket_done', h.ticketPath(n)), 1, `ticket ${n} done once`);
    assert.match(h.readTicket(n), /^done: true$/m);
  }
  assert.equal(countEvents(h, run.id, 'ticket_done'), 5);
  assert.equal(await h.repo.isDirty(), false, 'all work committed');
  assert.equal(h.agent.prompts.length, 5);
  assert.deepEqual(
    h.agent.prompts.map((p) => p.ticketPath),
    [1, 2, 3, 4, 5].map((n) => h.ticketPath(n)),
  );
  assert.match(
    h.agent.prompt(1),
    /<CAR_CURRENT_TICKET_FILE>\nPATH: \.codex-autorunner\/tickets\/TICKET-001\.md/,
  );
  assert.equal(h.state(run.id).totalTurns, 5);
  assert.equal(h.state(run.id).phase, 'idle');

  // per-turn events: turn_started, the agent's events in emission order, turn_finished
  const events = h.events(run.id);
  assert.deepEqual(
    events.map((e) => e.seq),
    events.map((_, i) => i + 1),
    'gap-free sequence',
  );
  for (const turn of turns) {
    const mine = events.filter((e) => e.turnId === turn.id);
    assert.deepEqual(
      mine.map((e) => e.type),
      ['turn_started', 'tool_call', 'agent_delta', 'agent_delta', 'agent_message', 'turn_finished'],
    );
    assert.deepEqual(
      mine.slice(1, 5).map((e) => e.data.text ?? e.data.id),
      [`call-${turn.seq}`, `part-a-${turn.seq} `, `part-b-${turn.seq}`, `message-${turn.seq}`],
    );
    assert.equal(mine[0]!.data.turn, turn.seq);
    assert.equal(mine.at(-1)!.data.status, 'completed');
  }
  // lifecycle order for the first ticket
  const lifecycle = events
    .filter((e) =>
      [
        'flow_started',
        'ticket_selected',
        'turn_started',
        'turn_finished',
        'ticket_done',
        'flow_completed',
      ].includes(e.type),
    )
    .map((e) => e.type);
  assert.deepEqual(lifecycle.slice(0, 5), [
    'flow_started',
    'ticket_selected',
    'turn_started',
    'turn_finished',
    'ticket_done',
  ]);
  assert.equal(lifecycle.at(-1), 'flow_completed');
  // turn summaries archived under runs/<id>/dispatch_history
  const summary = readFileSync(join(h.runPaths(run.id).dispatchHistoryDir, '0001', 'DISPATCH.md'), 'utf8');
  assert.match(summary, /mode: turn_summary[\s\S]*Finished TICKET-001\./);
});

test('a ticket already done when the run starts takes no turn', async (t) => {
  const h = setup();
  t.after(() => h.cleanup());
  h.ticket(1, { done: true });
  h.ticket(2);
  h.commit();
  h.agent.script(finishTicket());
  const run = h.newRun();
  const outcome = await h.run(run.id);
  assertOutcome(h, run.id, outcome, 'completed', 'all_done');
  assert.deepEqual(
    h.agent.prompts.map((p) => p.ticketPath),
    [h.ticketPath(2)],
  );
  assert.equal(countEvents(h, run.id, 'ticket_done'), 1);
});

test('pause dispatch → reply → resume: the reply reaches the next prompt once; notify does not pause', async (t) => {
  const h = setup({ tickets: 1 });
  t.after(() => h.cleanup());
  const control = h.control();
  const { run } = await control.prepareStart();

  h.agent.script((ctx) => {
    writeRepoFile(ctx, 'work/draft.txt', 'draft\n');
    writeDispatchFile(ctx, { mode: 'pause', title: 'Which database?', body: 'Postgres or SQLite?' });
    return completed('asked');
  });
  const first = await h.run(run.id);
  assertOutcome(h, run.id, first, 'paused', 'dispatch');
  assert.equal(first.reason, 'Which database?');
  const archived = join(h.runPaths(run.id).dispatchHistoryDir, '0001', 'DISPATCH.md');
  assert.match(readFileSync(archived, 'utf8'), /mode: pause[\s\S]*Postgres or SQLite\?/);
  assert.equal(existsSync(h.runPaths(run.id).dispatchFile), false, 'staging cleared');
  const dispatchEvents = h.events(run.id, ['dispatch']);
  assert.equal(dispatchEvents.length, 1);
  assert.equal(dispatchEvents[0]!.data.mode, 'pause');
  assert.equal(dispatchEvents[0]!.data.seq, 1);
  assert.equal(h.store.getRun(run.id)!.reasonDetails?.dispatch_seq, 1);

  // resume without a reply: allowed (a dispatch pause is not blocking) but here we reply first
  await control.reply(run.id, 'Use SQLite, please.', 'DB choice');
  await control.resume(run.id);
  assert.equal(h.store.getRun(run.id)!.status, 'pending');

  h.agent.script(
    // first turn after the reply fails on the network: the reply must still be shown next time
    () => failed('network', 'connection reset'),
    (ctx) => {
      writeDispatchFile(ctx, { mode: 'notify', title: 'FYI', body: 'Going with SQLite.' });
      writeRepoFile(ctx, 'work/db.txt', 'sqlite\n');
      return completed('using sqlite');
    },
    finishTicket(),
  );
  const second = await h.run(run.id);
  assertOutcome(h, run.id, second, 'completed', 'all_done');
  const replyBlock = (prompt: string) =>
    /<CAR_HUMAN_REPLIES>([\s\S]*?)<\/CAR_HUMAN_REPLIES>/.exec(prompt)?.[1] ?? '';
  for (const n of [2, 3]) {
    const block = replyBlock(h.agent.prompt(n));
    assert.match(block, /\[USER_REPLY 0001\]/, `prompt ${n} carries the reply`);
    assert.match(block, /Title: DB choice/);
    assert.match(block, /Use SQLite, please\./);
  }
  assert.doesNotMatch(h.agent.prompt(4), /USER_REPLY 0001|Use SQLite, please/, 'seen once a turn succeeded');
  assert.ok(existsSync(join(h.runPaths(run.id).replyHistoryDir, '0001', 'USER_REPLY.md')));
  assert.equal(h.state(run.id).replySeq, 1);

  // the notify dispatch was archived and did not pause
  const dispatches = h.events(run.id, ['dispatch']);
  assert.deepEqual(
    dispatches.map((e) => e.data.mode),
    ['pause', 'notify'],
  );
  const notifyDir = join(
    h.runPaths(run.id).dispatchHistoryDir,
    String(dispatches[1]!.data.seq).padStart(4, '0'),
  );
  assert.match(
    readFileSync(join(notifyDir, 'DISPATCH.md'), 'utf8'),
    /mode: notify[\s\S]*Going with SQLite\./,
  );
  assert.equal(countEvents(h, run.id, 'flow_paused'), 1);
  assert.equal(countEvents(h, run.id, 'ticket_done'), 1);
  // a clean pause is not a crash: resuming it is not a recovery
  assert.equal(countEvents(h, run.id, 'recovered'), 0);
  assert.equal(countEvents(h, run.id, 'flow_resumed'), 1);
});

test('an invalid DISPATCH.md pauses with invalid_dispatch and stays in place', async (t) => {
  const h = setup({ tickets: 1 });
  t.after(() => h.cleanup());
  h.agent.script((ctx) => {
    writeRepoFile(ctx, `.codex-autorunner/runs/${ctx.runId}/DISPATCH.md`, '---\nmode: shout\n---\nHELLO\n');
    writeRepoFile(ctx, 'work/a.txt', 'a\n');
    return completed();
  });
  const run = h.newRun();
  const outcome = await h.run(run.id);
  assertOutcome(h, run.id, outcome, 'paused', 'invalid_dispatch');
  assert.ok(existsSync(h.runPaths(run.id).dispatchFile));
});

test('agent: user ticket pauses with user_ticket before any agent call; resumes once marked done', async (t) => {
  const h = setup();
  t.after(() => h.cleanup());
  h.ticket(1, { agent: 'user', title: 'Approve the design' });
  h.ticket(2);
  h.commit();
  const control = h.control();
  const { run } = await control.prepareStart();

  const first = await h.run(run.id);
  assertOutcome(h, run.id, first, 'paused', 'user_ticket');
  assert.equal(h.agent.sessions.length, 0, 'no agent session for a user ticket');
  assert.equal(h.store.getRun(run.id)!.reasonDetails?.ticket, h.ticketPath(1));

  // resuming without doing it pauses again, no agent turn
  await control.resume(run.id);
  assertOutcome(h, run.id, await h.run(run.id), 'paused', 'user_ticket');
  assert.equal(h.agent.prompts.length, 0);

  // the person does it: marks the ticket done and commits
  markDone({ cwd: h.root, ticketPath: h.ticketPath(1) });
  h.commit('approved');
  await control.resume(run.id);
  h.agent.script(finishTicket());
  const last = await h.run(run.id);
  assertOutcome(h, run.id, last, 'completed', 'all_done');
  assert.equal(countEvents(h, run.id, 'ticket_done', h.ticketPath(1)), 1);
  assert.equal(countEvents(h, run.id, 'ticket_done', h.ticketPath(2)), 1);
  assert.deepEqual(
    h.agent.prompts.map((p) => p.ticketPath),
    [h.ticketPath(2)],
  );
});

test('a user ticket marked done but not committed asks for a commit instead of re-asking for the ticket', async (t) => {
  const h = setup();
  t.after(() => h.cleanup());
  h.ticket(1, { agent: 'user' });
  h.commit();
  const control = h.control();
  const { run } = await control.prepareStart();
  assertOutcome(h, run.id, await h.run(run.id), 'paused', 'user_ticket');

  markDone({ cwd: h.root, ticketPath: h.ticketPath(1) }); // dirty: the ticket itself is versioned
  await control.resume(run.id);
  const outcome = await h.run(run.id);
  assertOutcome(h, run.id, outcome, 'paused', 'commit_barrier');
  assert.equal(h.agent.prompts.length, 0, 'no agent can commit for a person');

  h.commit('done by hand');
  await control.resume(run.id);
  assertOutcome(h, run.id, await h.run(run.id), 'completed', 'all_done');
  assert.equal(countEvents(h, run.id, 'ticket_done'), 1);
});

test('the fakes: makeProgress changes the repo fingerprint, idle does not', async (t) => {
  const h = setup({ tickets: 1 });
  t.after(() => h.cleanup());
  const before = await h.repo.fingerprint();
  const ctx = { cwd: h.root, ticketPath: h.ticketPath(1), turn: 7 } as Parameters<ReturnType<typeof idle>>[0];
  await idle()(ctx);
  assert.equal(await h.repo.fingerprint(), before);
  await makeProgress()(ctx);
  assert.notEqual(await h.repo.fingerprint(), before);
  gitCommit(ctx, 'progress');
  assert.equal(await h.repo.isDirty(), false);
});

test('ticket_flow.include_previous_ticket_context puts the ticket before this one into the prompt', async (t) => {
  const h = setup({ tickets: 2 });
  t.after(() => h.cleanup());
  h.agent.script(finishTicket(), finishTicket());
  const run = h.newRun();
  const outcome = await h.run(run.id, { settings: h.settings({ includePreviousTicketContext: true }) });
  assertOutcome(h, run.id, outcome, 'completed', 'all_done');
  assert.doesNotMatch(h.agent.prompt(1), /<CAR_PREVIOUS_TICKET_REFERENCE>/, 'the first ticket has none');
  const second = h.agent.prompt(2);
  assert.match(
    second,
    /<CAR_PREVIOUS_TICKET_REFERENCE>\nPATH: \.codex-autorunner\/tickets\/TICKET-001\.md\n/,
  );
  assert.match(second, /Do thing 1\./);

  const off = setup({ tickets: 2 });
  t.after(() => off.cleanup());
  off.agent.script(finishTicket(), finishTicket());
  const plain = off.newRun();
  await off.run(plain.id);
  assert.doesNotMatch(off.agent.prompt(2), /CAR_PREVIOUS_TICKET_REFERENCE/, 'off by default, as in CAR');
});

test('the diff stat of a turn is the same whether git was asked with the status (the agent acted) or after it', async (t) => {
  const h = setup({ tickets: 3 });
  t.after(() => h.cleanup());
  // an agent that ran a command: its diff stat (and the gate's diff) are asked for with the status; on a
  // ticket's first turn that marks it done the stat is counted from the gate's diff
  const acted =
    (turn: TurnScript): TurnScript =>
    (ctx) => {
      ctx.emit({ type: 'command_output', command: 'make', text: 'ok', exitCode: 0 });
      return turn(ctx);
    };
  h.agent.script(acted(makeProgress()), acted(finishTicket()), acted(finishTicket()), finishTicket());
  const run = h.newRun();
  assertOutcome(h, run.id, await h.run(run.id), 'completed', 'all_done');
  const stats = h
    .events(run.id, ['diff_updated'])
    .map((e) => [e.data.files_changed, e.data.insertions, e.data.deletions]);
  assert.deepEqual(stats, [
    [1, 1, 0], // a new untracked file of one line
    [3, 3, 1], // that file committed, the work file, done: true in the ticket
    [2, 2, 1], // the work file and the ticket, counted from the gate's diff
    [2, 2, 1], // the same, no command reported (counted from the gate's diff, asked after the status)
  ]);
  assert.equal(h.events(run.id, ['ticket_verified']).length, 3);
});
