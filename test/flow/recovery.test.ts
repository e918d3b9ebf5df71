// Crash recovery at the engine level: a run left `running` by a process that died (an engine abandoned
// mid-turn, or DB state built by hand as a killed worker leaves it) is picked up by the next run().
import assert from 'node:assert/strict';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { runWorker } from '../../src/control/flow-control.ts';
import { type EngineState, initialState, newTicketProgress } from '../../src/core/flow/state.ts';
import { openRunStore } from '../../src/core/store/run-store.ts';
import type { JsonObject } from '../../src/core/store/types.ts';
import { parseTicket } from '../../src/core/tickets/index.ts';
import {
  deferred,
  finishTicket,
  gitCommit,
  markDone,
  resolverFor,
  writeDispatchFile,
  writeRepoFile,
} from '../fakes/scripted-agent.ts';
import { assertOutcome, countEvents, type Harness, setup } from './harness.ts';

function ticketIdOf(h: Harness, n: number): string {
  return parseTicket(h.readTicket(n), { path: join(h.root, h.ticketPath(n)), relPath: h.ticketPath(n) })
    .ticketId;
}

/** The DB as a worker killed during turn 1 on ticket 1 leaves it. */
function crashedMidTurn(h: Harness, phase: EngineState['phase'] = 'turn'): string {
  const ticket = newTicketProgress(h.ticketPath(1), ticketIdOf(h, 1), 'codex', null);
  ticket.turns = 1;
  const state: EngineState = { ...initialState(50), totalTurns: 1, ticket, phase };
  const run = h.store.createRun({ input: { workspace_root: h.root }, state: state as unknown as JsonObject });
  h.store.updateRun(run.id, { status: 'running', startedAt: new Date().toISOString() });
  h.store.appendEvent(run.id, { type: 'flow_started', data: {} });
  const turn = h.store.beginTurn({
    runId: run.id,
    agent: 'codex',
    ticketPath: h.ticketPath(1),
    kind: 'agent',
  });
  h.store.appendEvent(run.id, { type: 'turn_started', turnId: turn.id, data: { turn: 1 } });
  return run.id;
}

test('an engine abandoned mid-turn: the next run() interrupts the turn, recovers and completes', async (t) => {
  const h = setup({ tickets: 2 });
  t.after(() => h.cleanup());
  const entered = deferred();
  // the agent finishes ticket 1 (done + commit), then the process "dies" before the turn returns
  h.agent.script(async (ctx) => {
    finishTicket()(ctx);
    entered.resolve();
    return new Promise(() => {});
  }, finishTicket());
  const run = h.newRun();
  void h.engine().run(run.id);
  await entered.promise;
  assert.equal(h.store.getRun(run.id)!.status, 'running');
  assert.equal(h.state(run.id).phase, 'turn');

  // a new process: its own connection to the same database
  const store = openRunStore(h.paths.dbFile);
  t.after(() => store.close());
  const outcome = await h.engine({ store }).run(run.id);
  assertOutcome(h, run.id, outcome, 'completed', 'all_done');
  const recovered = h.events(run.id, ['recovered']);
  assert.equal(recovered.length, 1);
  assert.deepEqual(recovered[0]!.data, { interrupted_turns: 1, phase: 'turn' });
  assert.deepEqual(
    h.store.listTurns(run.id).map((t) => [t.seq, t.status, t.ticketPath]),
    [
      [1, 'interrupted', h.ticketPath(1)],
      [2, 'completed', h.ticketPath(2)],
    ],
  );
  assert.equal(countEvents(h, run.id, 'ticket_done', h.ticketPath(1)), 1);
  assert.equal(countEvents(h, run.id, 'ticket_done', h.ticketPath(2)), 1);
  assert.equal(h.agent.turnsRun, 2, 'ticket 1 was not worked again');
});

test('recovery from hand-built state: running run, running turn, phase turn, ticket already done', async (t) => {
  const h = setup({ tickets: 2 });
  t.after(() => h.cleanup());
  const runId = crashedMidTurn(h);
  // what the agent did before the crash: ticket 1 done and committed
  markDone({ cwd: h.root, ticketPath: h.ticketPath(1) });
  gitCommit({ cwd: h.root }, 'agent finished ticket 1');

  const control = h.control();
  const prepared = await control.prepareStart();
  assert.equal(prepared.action, 'recovering');
  assert.equal(prepared.run.id, runId);
  h.agent.script(finishTicket());
  const outcome = await runWorker({ control, runId, repo: h.repo, resolveAgent: resolverFor(h.agent) });
  assertOutcome(h, runId, outcome, 'completed', 'all_done');
  assert.equal(countEvents(h, runId, 'recovered'), 1);
  assert.equal(countEvents(h, runId, 'ticket_done', h.ticketPath(1)), 1);
  assert.equal(countEvents(h, runId, 'ticket_done', h.ticketPath(2)), 1);
  assert.deepEqual(
    h.store.listTurns(runId).map((t) => t.status),
    ['interrupted', 'completed'],
  );
  assert.match(h.store.listTurns(runId)[0]!.error ?? '', /stopped while this turn was running/);
  assert.deepEqual(
    h.agent.prompts.map((p) => p.ticketPath),
    [h.ticketPath(2)],
  );
});

test('recovery: a crash after ticket_done was recorded does not record it again', async (t) => {
  const h = setup({ tickets: 2 });
  t.after(() => h.cleanup());
  markDone({ cwd: h.root, ticketPath: h.ticketPath(1) });
  gitCommit({ cwd: h.root }, 'ticket 1 done');
  // ticket_done and clearing the ticket are one transaction; a crash right after it leaves this
  const run = h.store.createRun({
    input: { workspace_root: h.root },
    state: { ...initialState(50), totalTurns: 1 } as unknown as JsonObject,
  });
  h.store.updateRun(run.id, { status: 'running', startedAt: new Date().toISOString() });
  h.store.appendEvent(run.id, { type: 'ticket_done', data: { ticket: h.ticketPath(1) } });
  h.agent.script(finishTicket());
  const outcome = await h.run(run.id);
  assertOutcome(h, run.id, outcome, 'completed', 'all_done');
  assert.equal(countEvents(h, run.id, 'ticket_done', h.ticketPath(1)), 1);
  assert.equal(countEvents(h, run.id, 'recovered'), 0, 'nothing was in flight');
});

test('recovery archives a pause dispatch the agent wrote before the crash and pauses on it', async (t) => {
  const h = setup({ tickets: 1 });
  t.after(() => h.cleanup());
  const runId = crashedMidTurn(h);
  writeDispatchFile(
    { cwd: h.root, runId },
    { mode: 'pause', title: 'Need the API key', body: 'Where is it?' },
  );
  const outcome = await h.run(runId);
  assertOutcome(h, runId, outcome, 'paused', 'dispatch');
  assert.equal(outcome.reason, 'Need the API key');
  const dispatch = h.events(runId, ['dispatch'])[0]!;
  assert.equal(dispatch.data.recovered, true);
  assert.ok(existsSync(join(h.runPaths(runId).dispatchHistoryDir, '0001', 'DISPATCH.md')));
  assert.equal(h.agent.turnsRun, 0);
  assert.equal(h.store.listTurns(runId)[0]!.status, 'interrupted');
});

test('recovery from a crash while committing removes the stale index.lock and commits', async (t) => {
  const h = setup({ tickets: 1, settings: { autoCommit: true } });
  t.after(() => h.cleanup());
  const runId = crashedMidTurn(h, 'committing');
  h.store.interruptRunningTurns(runId); // the turn itself had finished
  writeRepoFile({ cwd: h.root }, 'work/result.txt', 'result\n');
  markDone({ cwd: h.root, ticketPath: h.ticketPath(1) });
  writeFileSync(join(h.root, '.git', 'index.lock'), '');

  const outcome = await h.run(runId);
  assertOutcome(h, runId, outcome, 'completed', 'all_done');
  assert.equal(countEvents(h, runId, 'git_index_lock_removed'), 1);
  assert.equal(existsSync(join(h.root, '.git', 'index.lock')), false);
  assert.equal(await h.repo.isDirty(), false);
  assert.match(readFileSync(join(h.root, 'work/result.txt'), 'utf8'), /result/);
  assert.equal(h.git.git(['show', 'HEAD:work/result.txt']), 'result\n');
  assert.equal(countEvents(h, runId, 'ticket_done'), 1);
});
