// Acceptance tests of the control plane around the engine: resume gating, the repo lock while a worker
// runs, pause requests and stopping through the abort signal.
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { hostname } from 'node:os';
import { test } from 'node:test';
import { FlowControl, FlowControlError, runWorker, workerPurpose } from '../../src/control/flow-control.ts';
import type { AbortReason } from '../../src/core/flow/engine.ts';
import { acquireLock } from '../../src/core/lock.ts';
import {
  aborted,
  completed,
  deferred,
  finishTicket,
  idle,
  type TurnScript,
  writeRepoFile,
} from '../fakes/scripted-agent.ts';
import { assertOutcome, countEvents, type Harness, setup } from './harness.ts';

function isControlError(code: FlowControlError['code'], ...mentions: string[]) {
  return (err: unknown): boolean => {
    assert.ok(err instanceof FlowControlError, `expected FlowControlError, got ${String(err)}`);
    assert.equal(err.code, code, err.message);
    for (const m of mentions) assert.ok(err.message.includes(m), `"${err.message}" mentions ${m}`);
    return true;
  };
}

/** A turn that signals it started, then waits for the test before running `then`. */
function gatedTurn(then: TurnScript) {
  const entered = deferred();
  const gate = deferred();
  const turn: TurnScript = async (ctx) => {
    entered.resolve();
    await gate.promise;
    return then(ctx);
  };
  return { turn, entered: entered.promise, release: () => gate.resolve() };
}

function worker(h: Harness, control: ReturnType<Harness['control']>, runId: string, signal?: AbortSignal) {
  return runWorker({
    control,
    runId,
    repo: h.repo,
    resolveAgent: (id) => {
      if (id !== 'codex') throw new Error(`unknown agent ${id}`);
      return h.agent;
    },
    ...(signal ? { signal } : {}),
  });
}

test('resume gating: a loop_no_diff pause needs a reply, a repo change or force', async (t) => {
  const h = setup({ tickets: 1 });
  t.after(() => h.cleanup());
  const control = h.control();
  const { run } = await control.prepareStart();
  h.agent.script(idle(), idle());
  assertOutcome(h, run.id, await worker(h, control, run.id), 'paused', 'loop_no_diff');

  // unchanged: refused, the run stays paused
  await assert.rejects(control.resume(run.id), isControlError('blocked', 'loop_no_diff', '--force'));
  assert.equal(h.store.getRun(run.id)!.status, 'paused');
  // prepareStart resumes a paused run, and is gated the same way
  await assert.rejects(control.prepareStart(), isControlError('blocked'));

  // force
  const forced = await control.resume(run.id, { force: true });
  assert.equal(forced.status, 'pending');
  assert.equal(forced.reasonCode, null);
  assert.equal(h.events(run.id, ['resume_requested']).at(-1)!.data.force, true);
  h.agent.script(idle(), idle());
  assertOutcome(h, run.id, await worker(h, control, run.id), 'paused', 'loop_no_diff');
  assert.equal(h.agent.turnsRun, 4, 'force gives the loop guard a fresh count');

  // a reply
  await assert.rejects(control.resume(run.id), isControlError('blocked'));
  await control.reply(run.id, 'Look at src/index.ts instead.');
  assert.equal((await control.resume(run.id)).status, 'pending');
  h.agent.script(idle(), idle(), idle());
  assertOutcome(h, run.id, await worker(h, control, run.id), 'paused', 'loop_no_diff');
  assert.equal(h.agent.turnsRun, 7, 'the turn reading the reply did not count');

  // a repo change (a person edits a file)
  await assert.rejects(control.resume(run.id), isControlError('blocked'));
  h.git.write('src/hint.txt', 'start here\n');
  const { run: resumed, action } = await control.prepareStart();
  assert.equal(action, 'resumed');
  assert.equal(resumed.id, run.id);
  h.agent.script(finishTicket());
  assertOutcome(h, run.id, await worker(h, control, run.id), 'completed', 'all_done');
});

test('resume refuses a run that is not paused (wrong_state) and unknown runs (no_run)', async (t) => {
  const h = setup({ tickets: 1 });
  t.after(() => h.cleanup());
  const control = h.control();
  const { run } = await control.prepareStart();
  await assert.rejects(control.resume(run.id), isControlError('wrong_state', 'pending'));
  await assert.rejects(control.resume('no-such-run'), isControlError('no_run'));
});

test('lock contention: while a worker runs, prepareStart and a second worker are refused as busy', async (t) => {
  const h = setup({ tickets: 1 });
  t.after(() => h.cleanup());
  const control = h.control();
  const { run } = await control.prepareStart();
  const gated = gatedTurn(finishTicket());
  h.agent.script(gated.turn);
  const running = worker(h, control, run.id);
  await gated.entered;

  assert.ok(existsSync(h.paths.lockFile));
  const other = h.control(); // another process's view: its own SQLite connection
  const busy = isControlError('busy', `pid ${process.pid}`, hostname());
  await assert.rejects(other.prepareStart(), busy);
  await assert.rejects(other.prepareStart({ newRun: true }), busy);
  await assert.rejects(worker(h, other, run.id), busy);
  assert.equal(h.store.listRuns().length, 1, 'no run created while busy');
  assert.equal(h.store.getRun(run.id)!.status, 'running');

  gated.release();
  assertOutcome(h, run.id, await running, 'completed', 'all_done');
  assert.equal(existsSync(h.paths.lockFile), false, 'the lock is released');
  assert.equal(h.agent.turnsRun, 1, 'the refused worker never ran a turn');
  const next = await other.prepareStart();
  assert.equal(next.action, 'created');
});

test('a pause request while a turn runs pauses the run after that turn with pause_requested', async (t) => {
  const h = setup({ tickets: 1 });
  t.after(() => h.cleanup());
  const control = h.control();
  const { run } = await control.prepareStart();
  const gated = gatedTurn((ctx) => {
    writeRepoFile(ctx, 'work/half.txt', 'half\n');
    return completed('half way');
  });
  h.agent.script(gated.turn);
  const running = worker(h, control, run.id);
  await gated.entered;

  const other = h.control();
  const requested = await other.request(run.id, 'pause');
  assert.equal(requested.immediate, false);
  assert.equal(requested.workerPid, process.pid);
  assert.equal(h.store.getRun(run.id)!.metadata.requested, 'pause');
  gated.release();

  const outcome = await running;
  assertOutcome(h, run.id, outcome, 'paused', 'pause_requested');
  assert.equal(h.agent.turnsRun, 1, 'the turn in flight finished, no next turn started');
  assert.deepEqual(
    h.store.listTurns(run.id).map((t) => t.status),
    ['completed'],
  );
  assert.equal(h.store.getRun(run.id)!.metadata.requested, undefined, 'the request is consumed');
  assert.equal(countEvents(h, run.id, 'pause_requested'), 1);

  await control.resume(run.id);
  h.agent.script(finishTicket());
  assertOutcome(h, run.id, await worker(h, control, run.id), 'completed', 'all_done');
  assert.equal(countEvents(h, run.id, 'ticket_done'), 1);
});

test('requests without a live worker take effect at once', async (t) => {
  const h = setup({ tickets: 1 });
  t.after(() => h.cleanup());
  const control = h.control();
  const { run } = await control.prepareStart();
  const paused = await control.request(run.id, 'pause');
  assert.equal(paused.immediate, true);
  assert.equal(paused.run.status, 'paused');
  assert.equal(paused.run.reasonCode, 'pause_requested');
  const stopped = await control.request(run.id, 'stop');
  assert.equal(stopped.run.status, 'stopped');
  assert.equal(stopped.run.reasonCode, 'stop_requested');
  assert.ok(stopped.run.finishedAt);
  assert.deepEqual(
    h.events(run.id, ['flow_paused', 'flow_stopped']).map((e) => [e.type, e.data.reason_code]),
    [
      ['flow_paused', 'pause_requested'],
      ['flow_stopped', 'stop_requested'],
    ],
  );
  await assert.rejects(control.request(run.id, 'stop'), isControlError('wrong_state'));
  await assert.rejects(control.request(run.id, 'pause'), isControlError('wrong_state'));
});

test('a stop that came between the launch and the worker taking the lock is kept: the worker does not run it', async (t) => {
  const h = setup({ tickets: 1 });
  t.after(() => h.cleanup());
  const control = h.control();
  const { run } = await control.prepareStart();
  // the launched worker has not taken the repo lock yet: the stop finds no worker and ends the run at once
  const stopped = await control.request(run.id, 'stop');
  assert.equal(stopped.immediate, true);
  const outcome = await worker(h, control, run.id);
  assert.equal(outcome.status, 'stopped');
  assert.equal(outcome.reasonCode, 'stop_requested');
  assert.equal(h.store.getRun(run.id)?.status, 'stopped');
  assert.equal(h.agent.prompts.length, 0, 'no turn ran');
  assert.equal(countEvents(h, run.id, 'flow_started'), 0);
  // and the lock is free again
  const again = acquireLock(h.paths.lockFile, { purpose: 'test' });
  again.release();
});

test('stop through the abort signal mid-turn: turn cancelled, run stopped, lock released', async (t) => {
  const h = setup({ tickets: 2 });
  t.after(() => h.cleanup());
  const control = h.control();
  const { run } = await control.prepareStart();
  const entered = deferred();
  h.agent.script(async (ctx) => {
    entered.resolve();
    await aborted(ctx.signal);
    return { status: 'cancelled', finalText: 'interrupted' };
  });
  const abort = new AbortController();
  const running = worker(h, control, run.id, abort.signal);
  await entered.promise;
  abort.abort('stop' satisfies AbortReason);

  const outcome = await running;
  assertOutcome(h, run.id, outcome, 'stopped', 'stop_requested');
  assert.deepEqual(
    h.store.listTurns(run.id).map((t) => t.status),
    ['cancelled'],
  );
  assert.equal(h.events(run.id, ['turn_finished'])[0]!.data.status, 'cancelled');
  assert.equal(existsSync(h.paths.lockFile), false);
  assert.equal(h.agent.turnsRun, 1);
  await assert.rejects(control.resume(run.id), isControlError('wrong_state', 'stopped'));
});

test('an abort with reason pause mid-turn leaves a resumable run (interrupted)', async (t) => {
  const h = setup({ tickets: 1 });
  t.after(() => h.cleanup());
  const control = h.control();
  const { run } = await control.prepareStart();
  const entered = deferred();
  h.agent.script(async (ctx) => {
    entered.resolve();
    await aborted(ctx.signal);
    return { status: 'cancelled', finalText: '' };
  });
  const abort = new AbortController();
  const running = worker(h, control, run.id, abort.signal);
  await entered.promise;
  abort.abort('pause' satisfies AbortReason);
  assertOutcome(h, run.id, await running, 'paused', 'interrupted');

  await control.resume(run.id);
  h.agent.script(finishTicket());
  assertOutcome(h, run.id, await worker(h, control, run.id), 'completed', 'all_done');
  assert.deepEqual(
    h.store.listTurns(run.id).map((t) => t.status),
    ['cancelled', 'completed'],
  );
});

/** A control plane whose launcher runs each launched worker in this process, as `car flow worker` would. */
function launching(h: Harness) {
  const launched: string[] = [];
  const workers: Promise<unknown>[] = [];
  const control: FlowControl = new FlowControl(h.paths, h.config, h.repo, {
    launcher: {
      launch: async (root, runId) => {
        assert.equal(root, h.paths.root);
        launched.push(runId);
        workers.push(worker(h, control, runId));
        return 4242;
      },
    },
  });
  return { control, launched, workersDone: () => Promise.all(workers) };
}

test('start, resume and reply-and-resume prepare the run, then launch its worker', async (t) => {
  const h = setup({ tickets: 1 });
  const { control, launched, workersDone } = launching(h);
  t.after(() => {
    control.close();
    h.cleanup();
  });
  h.agent.script(idle(), idle());
  const started = await control.launchStart();
  assert.equal(started.action, 'created');
  assert.equal(started.workerPid, 4242);
  assert.deepEqual(launched, [started.run.id]);
  await workersDone();
  const runId = started.run.id;
  assert.equal(h.store.getRun(runId)!.reasonCode, 'loop_no_diff');

  // refused by the resume gate: nothing is launched
  await assert.rejects(control.launchResume(runId), isControlError('blocked'));
  assert.equal(launched.length, 1);

  h.agent.script(finishTicket());
  const replied = await control.replyAndResume(runId, 'Look at src/index.ts instead.');
  assert.equal(replied.workerPid, 4242);
  assert.equal(replied.file, h.runPaths(runId).rel.replyFile);
  assert.deepEqual(launched, [runId, runId]);
  await workersDone();
  assert.equal(h.store.getRun(runId)!.status, 'completed');
  assert.equal(h.events(runId, ['resume_requested']).length, 1);

  // a run that is not paused reads the reply on its next turn: no worker is launched
  h.ticket(2);
  h.commit('another ticket');
  const { run: pending } = await control.prepareStart();
  const noted = await control.replyAndResume(pending.id, 'Mind the tests.');
  assert.equal(noted.workerPid, null);
  assert.equal(noted.run.status, 'pending');
  assert.equal(launched.length, 2);
  assert.ok(existsSync(h.runPaths(pending.id).replyFile));
});

test("launchResume waits for the run's own worker to let go of the repo lock; another holder is refused", async (t) => {
  const h = setup({ tickets: 1 });
  const { control, launched, workersDone } = launching(h);
  t.after(() => {
    control.close();
    h.cleanup();
  });
  const { run } = await control.prepareStart();
  await control.request(run.id, 'pause');

  // any other process holding the repo is refused at once (were it waited for, the release would let it pass)
  const other = acquireLock(h.paths.lockFile, { purpose: 'car flow stop' });
  const refused = control.launchResume(run.id);
  other.release();
  await assert.rejects(refused, isControlError('busy'));
  assert.equal(h.store.getRun(run.id)!.status, 'paused');

  // the worker that paused the run, still holding the lock: waited for
  const pausedWorker = acquireLock(h.paths.lockFile, { purpose: workerPurpose(run.id) });
  const resuming = control.launchResume(run.id);
  assert.equal(launched.length, 0);
  pausedWorker.release();
  h.agent.script(finishTicket());
  const resumed = await resuming;
  assert.deepEqual(launched, [run.id]);
  assert.equal(resumed.action, 'resumed');
  await workersDone();
  assert.equal(h.store.getRun(run.id)!.status, 'completed');
});
