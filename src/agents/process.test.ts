import assert from 'node:assert/strict';
import { tmpdir } from 'node:os';
import { describe, test } from 'node:test';
import { assertGroupsGone, groupExists } from '../../test/helpers/processes.ts';
import { processGroupAlive } from '../core/proc/group.ts';
import { AgentError, spawnAgentProcess } from './process.ts';

function readLine(stream: NodeJS.ReadableStream): Promise<string> {
  return new Promise((resolve) => {
    let buf = '';
    const onData = (chunk: Buffer) => {
      buf += chunk.toString();
      const nl = buf.indexOf('\n');
      if (nl >= 0) {
        stream.off('data', onData);
        resolve(buf.slice(0, nl));
      }
    };
    stream.on('data', onData);
  });
}

describe('spawnAgentProcess', () => {
  test('a missing binary is a spawn error naming it', async () => {
    await assert.rejects(
      spawnAgentProcess({ command: ['car-no-such-agent-binary', 'acp'], cwd: tmpdir() }),
      (err: unknown) =>
        err instanceof AgentError && err.kind === 'spawn' && err.message.includes('car-no-such-agent-binary'),
    );
  });

  test('runs in its own process group; kill() ends the child and its grandchild', async () => {
    const proc = await spawnAgentProcess({
      command: ['sh', '-c', 'sleep 60 & echo $!; wait'],
      cwd: tmpdir(),
    });
    const grandchild = Number(await readLine(proc.stdout));
    assert.ok(grandchild > 0);
    // the grandchild is in the child's group, not ours
    assert.notEqual(proc.pid, process.pid);
    assert.ok(groupExists(proc.pid));
    process.kill(grandchild, 0); // alive
    const exit = await proc.kill(1000);
    assert.equal(exit.signal, 'SIGTERM');
    assert.equal(processGroupAlive(proc.pid), false);
    await assertGroupsGone([proc.pid]);
    assert.throws(() => process.kill(grandchild, 0), { code: 'ESRCH' });
  });

  test('SIGKILL after the grace period when SIGTERM is ignored', async () => {
    const proc = await spawnAgentProcess({
      command: [
        process.execPath,
        '-e',
        "process.on('SIGTERM', () => {}); console.log('ready'); setInterval(() => {}, 1000)",
      ],
      cwd: tmpdir(),
    });
    await readLine(proc.stdout);
    const t0 = Date.now();
    const exit = await proc.kill(300);
    assert.equal(exit.signal, 'SIGKILL');
    assert.ok(Date.now() - t0 >= 280, 'waited for the grace period first');
    await assertGroupsGone([proc.pid]);
  });

  test('keeps a bounded stderr tail', async () => {
    const proc = await spawnAgentProcess({
      command: [
        process.execPath,
        '-e',
        "process.stderr.write('x'.repeat(20000) + 'THE END\\n'); process.exit(2)",
      ],
      cwd: tmpdir(),
      stderrTailBytes: 1024,
    });
    const exit = await proc.exited;
    assert.equal(exit.code, 2);
    const tail = proc.stderrTail();
    assert.ok(tail.endsWith('THE END'));
    assert.ok(tail.length <= 1024);
    await proc.kill();
    await assertGroupsGone([proc.pid]);
  });

  test('aborting the signal kills the group', async () => {
    const ac = new AbortController();
    const proc = await spawnAgentProcess({
      command: ['sh', '-c', 'sleep 60 & wait'],
      cwd: tmpdir(),
      signal: ac.signal,
    });
    ac.abort();
    const exit = await proc.exited;
    assert.equal(exit.signal, 'SIGTERM');
    await assertGroupsGone([proc.pid]);
  });
});
