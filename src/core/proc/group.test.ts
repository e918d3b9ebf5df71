import assert from 'node:assert/strict';
import type { ChildProcess } from 'node:child_process';
import { tmpdir } from 'node:os';
import { test } from 'node:test';
import { killProcessGroup, liveGroupMembers, processGroupAlive, spawnInGroup } from './group.ts';

/** The first line `child` prints. */
function firstLine(child: ChildProcess): Promise<string> {
  return new Promise((resolve) => {
    let buf = '';
    child.stdout!.on('data', (chunk: Buffer) => {
      buf += chunk.toString();
      if (buf.includes('\n')) resolve(buf.slice(0, buf.indexOf('\n')));
    });
  });
}

/** Whether the child's exit was seen, and a promise of it. */
function exitOf(child: ChildProcess): { seen: () => boolean; exited: Promise<unknown> } {
  let seen = false;
  const exited = new Promise((resolve) =>
    child.once('exit', () => {
      seen = true;
      resolve(undefined);
    }),
  );
  return { seen: () => seen, exited };
}

test('a child leads a group of its own; killing the group kills its grandchild too', async () => {
  const child = spawnInGroup('sh', ['-c', 'sleep 60 & echo $!; wait'], {
    cwd: tmpdir(),
    stdio: ['ignore', 'pipe', 'ignore'],
  });
  const exit = exitOf(child);
  const grandchild = Number(await firstLine(child));
  const pgid = child.pid!;
  assert.notEqual(pgid, process.pid);
  assert.deepEqual(liveGroupMembers(pgid).sort(), [pgid, grandchild].sort());

  assert.equal(await killProcessGroup(pgid, 5000, exit.seen), 'SIGTERM');
  assert.ok(exit.seen(), 'returns only once the leader exit was seen');
  assert.deepEqual(liveGroupMembers(pgid), [], 'the grandchild is gone with its parent');
  assert.equal(processGroupAlive(pgid), false);
});

test('a group that ignores SIGTERM gets SIGKILL after the grace period', async () => {
  const child = spawnInGroup(
    'sh',
    ['-c', `trap '' TERM; sh -c 'sleep 60 # ignores TERM too' & echo ready; wait`],
    { cwd: tmpdir(), stdio: ['ignore', 'pipe', 'ignore'] },
  );
  const exit = exitOf(child);
  await firstLine(child);
  const t0 = Date.now();
  assert.equal(await killProcessGroup(child.pid!, 300, exit.seen), 'SIGKILL');
  assert.ok(Date.now() - t0 >= 290, 'waited for the grace period first');
  assert.deepEqual(liveGroupMembers(child.pid!), []);
});

test('a group that is gone already is not signalled', async () => {
  const child = spawnInGroup('true', [], { cwd: tmpdir(), stdio: 'ignore' });
  const exit = exitOf(child);
  await exit.exited;
  assert.equal(await killProcessGroup(child.pid!, 1000, exit.seen), null);
});
