import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { planCommands, ticketVerifyCommands } from './commands.ts';
import { commandPassed, describeExit, runVerifyCommand } from './run-command.ts';

function tempDir(t: { after(fn: () => void): void }): string {
  const dir = mkdtempSync(join(tmpdir(), 'car-verify-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

/** Running, not a zombie (a container's PID 1 may never reap the orphans we killed). */
function alive(pid: number): boolean {
  try {
    const stat = execFileSync('ps', ['-o', 'stat=', '-p', String(pid)], { encoding: 'utf8' }).trim();
    return stat !== '' && !stat.startsWith('Z');
  } catch {
    return false; // ps exits 1 when there is no such process
  }
}

/** Processes whose command line contains `marker` (ps is in every POSIX system). */
function processesWith(marker: string): string[] {
  const out = execFileSync('ps', ['-eo', 'pid=,args='], { encoding: 'utf8' });
  return out.split('\n').filter((l) => l.includes(marker) && !l.includes('ps -eo'));
}

test('runs sh -c in the given folder; exit code, duration, output digest', async (t) => {
  const dir = tempDir(t);
  const ok = await runVerifyCommand('pwd; echo out; echo err >&2', {
    cwd: dir,
    timeoutMs: 10_000,
    maxOutputBytes: 1000,
  });
  assert.equal(ok.exitCode, 0);
  assert.ok(commandPassed(ok));
  assert.match(ok.output, /out/);
  assert.match(ok.output, /err/);
  assert.ok(ok.output.startsWith(dir) || ok.output.includes(dir));
  assert.equal(ok.outputBytes, Buffer.byteLength(ok.output));
  assert.match(ok.outputSha256, /^[0-9a-f]{64}$/);

  const bad = await runVerifyCommand('echo failing; exit 3', {
    cwd: dir,
    timeoutMs: 10_000,
    maxOutputBytes: 1000,
  });
  assert.equal(bad.exitCode, 3);
  assert.ok(!commandPassed(bad));
  assert.match(describeExit(bad), /^exit code 3 after \d+\.\d s$/);

  const env = await runVerifyCommand(
    'if [ -z "$NODE_TEST_CONTEXT" ]; then echo "$CAR_VERIFY-unset"; else echo "$CAR_VERIFY-set"; fi',
    {
      cwd: dir,
      timeoutMs: 10_000,
      maxOutputBytes: 100,
      env: { CAR_VERIFY: '1' },
    },
  );
  assert.equal(env.output, '1-unset\n', 'a nested node --test must not report to this test runner');
});

test('output is bounded to its tail; the digest covers all of it', async (t) => {
  const dir = tempDir(t);
  const r = await runVerifyCommand('i=0; while [ $i -lt 2000 ]; do echo "line $i"; i=$((i+1)); done', {
    cwd: dir,
    timeoutMs: 10_000,
    maxOutputBytes: 100,
  });
  assert.ok(Buffer.byteLength(r.output) <= 100);
  assert.ok(r.output.endsWith('line 1999\n'));
  assert.ok(r.outputTruncated);
  const full = Array.from({ length: 2000 }, (_, i) => `line ${i}\n`).join('');
  assert.equal(r.outputBytes, Buffer.byteLength(full));
  const { createHash } = await import('node:crypto');
  assert.equal(r.outputSha256, createHash('sha256').update(full).digest('hex'));
});

test('a hung command is killed by its timeout with its whole process group; nothing is left', async (t) => {
  const dir = tempDir(t);
  const marker = `car-hung-${process.pid}-${Date.now()}`;
  // a child in the background, a grandchild, and a shell that ignores SIGTERM: all must go
  const script = `trap '' TERM; (sleep 300; echo ${marker}) & sh -c 'sleep 301 # ${marker}' & echo $! > pids; echo started; wait`;
  const started = Date.now();
  const r = await runVerifyCommand(script, {
    cwd: dir,
    timeoutMs: 1500, // time enough for the shell to say "started" on a loaded machine
    maxOutputBytes: 1000,
    killGraceMs: 300,
  });
  const took = Date.now() - started;
  assert.equal(r.timedOut, true);
  assert.ok(!commandPassed(r));
  assert.match(describeExit(r), /^timed out after/);
  assert.match(r.output, /started/);
  assert.ok(took < 5000, `returned promptly (${took} ms)`);
  const pid = Number(readFileSync(join(dir, 'pids'), 'utf8').trim());
  // killed processes may take a moment to be reaped: poll, with a deadline generous for a loaded machine
  for (const deadline = Date.now() + 10_000; Date.now() < deadline; ) {
    if (!alive(pid) && processesWith(marker).length === 0) break;
    await new Promise((res) => setTimeout(res, 20));
  }
  assert.equal(alive(pid), false, 'background child killed');
  assert.deepEqual(processesWith(marker), [], 'no process of the group left');
});

test('a command that exits but leaves a background process behind: the leftover is killed', async (t) => {
  const dir = tempDir(t);
  const marker = `car-leftover-${process.pid}-${Date.now()}`;
  const r = await runVerifyCommand(`sh -c 'sleep 302 # ${marker}' > /dev/null 2>&1 & echo $! > pid; exit 0`, {
    cwd: dir,
    timeoutMs: 10_000,
    maxOutputBytes: 1000,
  });
  assert.equal(r.exitCode, 0);
  const pid = Number(readFileSync(join(dir, 'pid'), 'utf8').trim());
  for (const deadline = Date.now() + 10_000; Date.now() < deadline && alive(pid); )
    await new Promise((res) => setTimeout(res, 20));
  assert.equal(alive(pid), false);
  assert.deepEqual(processesWith(marker), []);
});

test('an abort signal kills the command at once', async (t) => {
  const dir = tempDir(t);
  const controller = new AbortController();
  setTimeout(() => controller.abort('pause'), 100);
  const r = await runVerifyCommand('sleep 30', {
    cwd: dir,
    timeoutMs: 60_000,
    maxOutputBytes: 100,
    signal: controller.signal,
  });
  assert.equal(r.exitCode, null);
  assert.equal(r.signal, 'SIGKILL');
  assert.ok(r.durationMs < 5000);
});

test('ticket verify values: a string or a list of strings; config commands first, no repeats', () => {
  assert.deepEqual(ticketVerifyCommands('npm test'), { commands: ['npm test'], error: null });
  assert.deepEqual(ticketVerifyCommands(['a', ' b ', '']), { commands: ['a', 'b'], error: null });
  assert.deepEqual(ticketVerifyCommands(undefined), { commands: [], error: null });
  assert.match(ticketVerifyCommands(3).error ?? '', /string or a list of strings/);
  assert.match(ticketVerifyCommands(['a', 1]).error ?? '', /string or a list of strings/);
  assert.deepEqual(planCommands(['npm test', 'lint'], ['npm test', 'node check.js']), [
    { command: 'npm test', source: 'config' },
    { command: 'lint', source: 'config' },
    { command: 'node check.js', source: 'ticket' },
  ]);
});
