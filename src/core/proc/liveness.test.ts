import assert from 'node:assert/strict';
import { tmpdir } from 'node:os';
import { test } from 'node:test';
import { spawnInGroup } from './group.ts';
import { bootId, processStartTicks, survivingMembers } from './liveness.ts';

test('a recorded group survives only while its leader is the process recorded, in the same boot', async (t) => {
  if (process.platform !== 'linux') return t.skip('start times and boot ids come from /proc');
  const child = spawnInGroup('sleep', ['60'], { cwd: tmpdir(), stdio: 'ignore' });
  const exited = new Promise((resolve) => child.once('exit', resolve));
  t.after(async () => {
    child.kill('SIGKILL');
    await exited;
  });
  const pgid = child.pid!;
  const start = processStartTicks(pgid);
  assert.ok(start, 'a start time');
  assert.notEqual(start, processStartTicks(process.pid));

  assert.deepEqual(survivingMembers({ pgid, start, bootId: bootId() }), [pgid]);
  assert.deepEqual(survivingMembers({ pgid, start: null, bootId: null }), [pgid], 'unknown: trust the pid');
  assert.deepEqual(
    survivingMembers({ pgid, start: String(Number(start) - 1), bootId: bootId() }),
    [],
    'another process that got the same pid',
  );
  assert.deepEqual(survivingMembers({ pgid, start, bootId: 'another-boot' }), [], 'recorded before a reboot');
});
