// The runner that slices long work: lanes do not starve each other, a job waits on what it returns,
// and a failing step fails only its own job.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { StepRunner } from '../../src/surfaces/http/step-runner.ts';

test('request work finishes while endless bulk work runs, and bulk work still moves meanwhile', async () => {
  const runner = new StepRunner(1);
  let bulkSteps = 0;
  let stop = false;
  const bulk = runner.run(() => {
    bulkSteps++;
    return stop;
  }, 'bulk');
  let requestSteps = 0;
  let bulkAtFirst = 0;
  let bulkAtLast = 0;
  await runner.run(() => {
    requestSteps++;
    if (requestSteps === 1) bulkAtFirst = bulkSteps;
    if (requestSteps === 50) bulkAtLast = bulkSteps;
    // each step long enough that the request lane alone would fill every turn's budget
    const until = performance.now() + 0.3;
    while (performance.now() < until);
    return requestSteps === 50;
  });
  assert.equal(requestSteps, 50);
  assert.ok(bulkAtLast > bulkAtFirst, 'bulk work got its quantum in the turns the request work took');
  stop = true;
  await bulk;
});

test('a step that returns a promise is called again once it settles; a throwing step fails its job', async () => {
  const runner = new StepRunner();
  let release!: () => void;
  const gate = new Promise<void>((r) => {
    release = r;
  });
  const calls: string[] = [];
  const waiting = runner.run(() => {
    calls.push('step');
    if (calls.length === 1) return gate;
    return true;
  });
  const failing = runner.run(() => {
    throw new Error('broken step');
  });
  await assert.rejects(failing, /broken step/);
  assert.deepEqual(calls, ['step']);
  release();
  await waiting;
  assert.deepEqual(calls, ['step', 'step']);
  const result = await runner.drive(
    (function* () {
      yield;
      yield;
      return 'done';
    })(),
  );
  assert.equal(result, 'done');
});
