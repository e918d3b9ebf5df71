import assert from 'node:assert/strict';
import { test } from 'node:test';
import { readersWriterLock } from './rw-lock.ts';

/** Work that records when it runs and ends when `release` is called. */
function gate(log: string[], name: string) {
  let release!: () => void;
  const done = new Promise<void>((r) => {
    release = r;
  });
  return {
    release: () => release(),
    work: async () => {
      log.push(`${name} in`);
      await done;
      log.push(`${name} out`);
    },
  };
}

const tick = () => new Promise((r) => setImmediate(r));

test('readers run side by side, a writer alone, and a waiting writer holds back later readers', async () => {
  const lock = readersWriterLock();
  const log: string[] = [];
  const r1 = gate(log, 'r1');
  const r2 = gate(log, 'r2');
  const w = gate(log, 'w');
  const r3 = gate(log, 'r3');
  const all = [lock.reading(r1.work), lock.reading(r2.work), lock.writing(w.work), lock.reading(r3.work)];
  await tick();
  assert.deepEqual(log, ['r1 in', 'r2 in'], 'both readers at once; the writer waits, and r3 behind it');
  r1.release();
  await tick();
  assert.deepEqual(log.slice(2), ['r1 out'], 'the writer waits for every reader');
  r2.release();
  await tick();
  assert.deepEqual(log.slice(3), ['r2 out', 'w in']);
  w.release();
  await tick();
  assert.deepEqual(log.slice(5), ['w out', 'r3 in']);
  r3.release();
  await Promise.all(all);
});

test('work that fails releases the lock and its error reaches the caller', async () => {
  const lock = readersWriterLock();
  await assert.rejects(
    lock.writing(async () => {
      throw new Error('git failed');
    }),
    /git failed/,
  );
  assert.equal(await lock.writing(async () => 'next'), 'next');
  assert.equal(await lock.reading(async () => 'after'), 'after');
});
