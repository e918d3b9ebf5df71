// Tickets with `depends_on` in one lane: the run takes the first ticket by number whose dependencies are
// all done, pauses (dependencies_blocked) when every ticket left waits for another, and stops at an
// invalid dependency (ticket_invalid) instead of skipping it. Real git repo and SQLite store; only the
// agent is scripted.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { finishTicket, markDone } from '../fakes/scripted-agent.ts';
import { assertOutcome, countEvents, setup } from './harness.ts';

test('a diamond 40 -> {20, 30} -> 10 with an independent 15 runs in dependency order, one lane', async (t) => {
  const h = setup();
  t.after(() => h.cleanup());
  // the dependencies run against the numbers, named each way depends_on takes them
  h.ticket(10, { extraYaml: 'depends_on: [TICKET-020-api.md, tkt_thirty_0030]' });
  h.ticket(15);
  h.ticket(20, { slug: 'api', extraYaml: 'depends_on: [40]' });
  h.ticket(30, { extraYaml: 'ticket_id: tkt_thirty_0030\ndepends_on:\n- TICKET-040' });
  h.ticket(40);
  h.commit();
  const started: string[] = [];
  // each turn checks that every dependency of its ticket is done on disk before it starts
  const turn = finishTicket();
  h.agent.script(
    ...Array.from({ length: 5 }, () => (ctx: Parameters<typeof turn>[0]) => {
      started.push(ctx.ticketPath.split('/').pop()!);
      return turn(ctx);
    }),
  );
  const run = h.newRun();
  const outcome = await h.run(run.id);

  assertOutcome(h, run.id, outcome, 'completed', 'all_done');
  assert.deepEqual(started, [
    'TICKET-015.md',
    'TICKET-040.md',
    'TICKET-020-api.md',
    'TICKET-030.md',
    'TICKET-010.md',
  ]);
  assert.deepEqual(
    h.events(run.id, ['ticket_done']).map((e) => String(e.data.ticket).split('/').pop()),
    started,
  );
  assert.equal(countEvents(h, run.id, 'flow_paused'), 0);
});

test('every ticket left waiting pauses dependencies_blocked; marking a dependency done resumes', async (t) => {
  const h = setup();
  t.after(() => h.cleanup());
  h.ticket(5);
  h.ticket(10, { extraYaml: 'depends_on: [20]' });
  h.ticket(20, { extraYaml: 'depends_on: [10]' });
  h.commit();
  const control = h.control();
  const { run } = await control.prepareStart();
  h.agent.script(finishTicket());

  const first = await h.run(run.id);
  assertOutcome(h, run.id, first, 'paused', 'dependencies_blocked');
  assert.equal(
    first.reason,
    'No ticket is ready: TICKET-010 waits for TICKET-020; TICKET-020 waits for TICKET-010. ' +
      'Mark a dependency done or fix depends_on, then resume.',
  );
  const details = h.store.getRun(run.id)!.reasonDetails!;
  assert.deepEqual(details.blocked, [
    { ticket: h.ticketPath(10), waits_for: [h.ticketPath(20)], unknown: [] },
    { ticket: h.ticketPath(20), waits_for: [h.ticketPath(10)], unknown: [] },
  ]);
  assert.deepEqual(details.issues, [
    `${h.ticketPath(10)}:6: depends_on: cycle TICKET-010 -> TICKET-020 -> TICKET-010`,
  ]);
  assert.deepEqual(
    h.agent.prompts.map((p) => p.ticketPath),
    [h.ticketPath(5)],
    'the ready ticket ran first',
  );

  // resuming unchanged pauses again at once, with no agent turn
  await control.resume(run.id);
  assertOutcome(h, run.id, await h.run(run.id), 'paused', 'dependencies_blocked');
  assert.equal(h.agent.prompts.length, 1);

  // a person breaks the cycle: ticket 20 is done by hand
  markDone({ cwd: h.root, ticketPath: h.ticketPath(20) });
  h.commit('20 done by hand');
  await control.resume(run.id);
  h.agent.script(finishTicket());
  const last = await h.run(run.id);
  assertOutcome(h, run.id, last, 'completed', 'all_done');
  assert.deepEqual(
    h.agent.prompts.map((p) => p.ticketPath),
    [h.ticketPath(5), h.ticketPath(10)],
  );
});

test('a dependency that names no ticket waits until the ticket exists', async (t) => {
  const h = setup();
  t.after(() => h.cleanup());
  h.ticket(10, { extraYaml: 'depends_on: [99]' });
  h.commit();
  const control = h.control();
  const { run } = await control.prepareStart();

  const first = await h.run(run.id);
  assertOutcome(h, run.id, first, 'paused', 'dependencies_blocked');
  assert.match(first.reason, /^No ticket is ready: TICKET-010 waits for 99 \(no such ticket\)\./);
  assert.deepEqual(h.store.getRun(run.id)!.reasonDetails?.issues, [
    `${h.ticketPath(10)}:6: depends_on: unknown ticket 99: no ticket has that number, file name or ticket_id`,
  ]);
  assert.equal(h.agent.prompts.length, 0);

  h.ticket(99);
  h.commit('add the missing ticket');
  await control.resume(run.id);
  h.agent.script(finishTicket(), finishTicket());
  assertOutcome(h, run.id, await h.run(run.id), 'completed', 'all_done');
  assert.deepEqual(
    h.agent.prompts.map((p) => p.ticketPath),
    [h.ticketPath(99), h.ticketPath(10)],
  );
});

test('a dependency that is invalid pauses as ticket_invalid with its lint error, skipping nothing', async (t) => {
  const h = setup();
  t.after(() => h.cleanup());
  h.ticket(10, { agent: 'nobody' });
  h.ticket(20, { extraYaml: 'depends_on: [10]' });
  h.ticket(30);
  h.commit();
  h.agent.script(finishTicket());
  const run = h.newRun();
  const outcome = await h.run(run.id);
  assertOutcome(h, run.id, outcome, 'paused', 'ticket_invalid');
  assert.equal(h.store.getRun(run.id)!.reasonDetails?.ticket, h.ticketPath(10));
  assert.match(String(h.store.getRun(run.id)!.reasonDetails?.issues), /agent: frontmatter\.agent is invalid/);
  assert.equal(h.agent.prompts.length, 0, 'neither 20 (waits for 10) nor 30 ran past it');
});
