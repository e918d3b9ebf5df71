import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type TestContext, test } from 'node:test';
import { liveGroupMembers } from './group.ts';
import { type RunInGroupOptions, runInGroup } from './run.ts';

function tempDir(t: TestContext): string {
  const dir = mkdtempSync(join(tmpdir(), 'car-proc-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

function options(cwd: string, extra: Partial<RunInGroupOptions> = {}) {
  const out: Buffer[] = [];
  const opts: RunInGroupOptions = {
    cwd,
    env: process.env,
    timeoutMs: 60_000,
    killGraceMs: 1000,
    pipeGraceMs: 200,
    onStdout: (chunk) => out.push(chunk),
    onStderr: (chunk) => out.push(chunk),
    ...extra,
  };
  return { opts, output: () => Buffer.concat(out).toString() };
}

test('settles when the command closes its pipes before it exits', async (t) => {
  const dir = tempDir(t);
  const { opts, output } = options(dir);
  const exit = await runInGroup('sh', ['-c', 'echo bye; exec >&- 2>&-; sleep 0.2; exit 3'], opts);
  assert.deepEqual(exit, { exitCode: 3, signal: null, timedOut: false });
  assert.equal(output(), 'bye\n');
});

test('settles when the command exits while a grandchild still holds its pipes', async (t) => {
  const dir = tempDir(t);
  const { opts, output } = options(dir);
  const exit = await runInGroup('sh', ['-c', 'sleep 60 & echo $$ $! > pids; echo done'], opts);
  assert.equal(exit.exitCode, 0);
  assert.equal(output(), 'done\n');
  const [pgid, grandchild] = readFileSync(join(dir, 'pids'), 'utf8').trim().split(' ').map(Number);
  assert.deepEqual(liveGroupMembers(pgid!), [grandchild], 'left running: not asked to kill leftovers');
  process.kill(-pgid!, 'SIGKILL');
});

test('with killLeftovers, what the command left running is killed when it exits', async (t) => {
  const dir = tempDir(t);
  const { opts } = options(dir, { killLeftovers: true, pipeGraceMs: 30_000 });
  const t0 = Date.now();
  const exit = await runInGroup('sh', ['-c', 'sleep 60 & echo $$ > pid; echo done'], opts);
  assert.equal(exit.exitCode, 0);
  assert.ok(Date.now() - t0 < 15_000, 'settled without waiting out the pipe grace');
  const pgid = Number(readFileSync(join(dir, 'pid'), 'utf8'));
  for (const deadline = Date.now() + 10_000; liveGroupMembers(pgid).length > 0 && Date.now() < deadline; )
    await new Promise((r) => setTimeout(r, 20));
  assert.deepEqual(liveGroupMembers(pgid), []);
});

test('a timeout kills the whole group, SIGKILL for what ignores SIGTERM', async (t) => {
  const dir = tempDir(t);
  // time enough for the shell to write its pid on a loaded machine
  const { opts } = options(dir, { timeoutMs: 1500, killGraceMs: 200 });
  const exit = await runInGroup('sh', ['-c', `trap '' TERM; echo $$ > pid; sleep 60 & wait`], opts);
  const pgid = Number(readFileSync(join(dir, 'pid'), 'utf8'));
  assert.equal(exit.timedOut, true);
  assert.equal(exit.exitCode, null);
  assert.equal(exit.signal, 'SIGKILL');
  for (const deadline = Date.now() + 10_000; liveGroupMembers(pgid).length > 0 && Date.now() < deadline; )
    await new Promise((r) => setTimeout(r, 20));
  assert.deepEqual(liveGroupMembers(pgid), []);
});

test('input goes to stdin; a command that cannot start settles with the error', async (t) => {
  const dir = tempDir(t);
  const { opts, output } = options(dir, { input: 'fed\n' });
  assert.equal((await runInGroup('cat', [], opts)).exitCode, 0);
  assert.equal(output(), 'fed\n');

  const missing = await runInGroup('sh', ['-c', 'true'], options(join(dir, 'no-such-dir')).opts);
  assert.equal(missing.exitCode, null);
  assert.match(missing.spawnError?.message ?? '', /ENOENT/);
});
