import assert from 'node:assert/strict';
import { test } from 'node:test';
import { startWatchdog, type WatchdogReason } from './watchdog.ts';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

test('fires stalled after silence; touch() resets the idle timer', async () => {
  const fired: WatchdogReason[] = [];
  const dog = startWatchdog({ stallTimeoutMs: 80, onFire: (reason) => fired.push(reason) });
  for (let i = 0; i < 4; i++) {
    await sleep(40);
    dog.touch();
  }
  assert.deepEqual(fired, [], 'activity keeps it quiet');
  await sleep(130);
  assert.deepEqual(fired, ['stalled']);
  assert.equal(dog.fired, 'stalled');
  dog.stop();
});

test('the wall-clock cap fires despite activity, once', async () => {
  const fired: string[] = [];
  const dog = startWatchdog({
    stallTimeoutMs: 60,
    turnTimeoutMs: 120,
    onFire: (reason, message) => fired.push(`${reason}: ${message}`),
  });
  for (let i = 0; i < 8; i++) {
    await sleep(25);
    dog.touch();
  }
  assert.equal(fired.length, 1);
  assert.match(fired[0] ?? '', /^timeout: turn timed out after 120 ms/);
  dog.stop();
});

test('stop() disarms both timers', async () => {
  const fired: string[] = [];
  const dog = startWatchdog({ stallTimeoutMs: 30, turnTimeoutMs: 40, onFire: (r) => fired.push(r) });
  dog.stop();
  await sleep(80);
  assert.deepEqual(fired, []);
  assert.equal(dog.fired, null);
});
