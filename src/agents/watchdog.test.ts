import assert from 'node:assert/strict';
import { type TestContext, test } from 'node:test';
import { startWatchdog, type WatchdogReason } from './watchdog.ts';

// Mocked timers: the clock moves only when the test ticks it, so a busy machine cannot reorder a touch
// and the timer it was meant to reset.
const clock = (t: TestContext) => {
  t.mock.timers.enable({ apis: ['setTimeout'] });
  return (ms: number) => t.mock.timers.tick(ms);
};

test('fires stalled after silence; touch() resets the idle timer', (t) => {
  const tick = clock(t);
  const fired: WatchdogReason[] = [];
  const dog = startWatchdog({ stallTimeoutMs: 80, onFire: (reason) => fired.push(reason) });
  for (let i = 0; i < 4; i++) {
    tick(40);
    dog.touch();
  }
  assert.deepEqual(fired, [], 'activity keeps it quiet');
  tick(130);
  assert.deepEqual(fired, ['stalled']);
  assert.equal(dog.fired, 'stalled');
  dog.stop();
});

test('the wall-clock cap fires despite activity, once', (t) => {
  const tick = clock(t);
  const fired: string[] = [];
  const dog = startWatchdog({
    stallTimeoutMs: 60,
    turnTimeoutMs: 120,
    onFire: (reason, message) => fired.push(`${reason}: ${message}`),
  });
  for (let i = 0; i < 8; i++) {
    tick(25);
    dog.touch();
  }
  assert.equal(fired.length, 1);
  assert.match(fired[0] ?? '', /^timeout: turn timed out after 120 ms/);
  dog.stop();
});

test('stop() disarms both timers', (t) => {
  const tick = clock(t);
  const fired: string[] = [];
  const dog = startWatchdog({ stallTimeoutMs: 30, turnTimeoutMs: 40, onFire: (r) => fired.push(r) });
  dog.stop();
  tick(80);
  assert.deepEqual(fired, []);
  assert.equal(dog.fired, null);
});
