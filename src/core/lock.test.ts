import assert from 'node:assert/strict';
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { createInterface } from 'node:readline';
import { after, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { waitFor } from '../../test/helpers/wait.ts';
import { acquireLock, LockHeldError, readLock } from './lock.ts';

const here = dirname(fileURLToPath(import.meta.url));
const repoRoot = join(here, '..', '..');
const lockModule = join(here, 'lock.ts');
const dir = mkdtempSync(join(tmpdir(), 'car-lock-'));
after(() => rmSync(dir, { recursive: true, force: true }));
let n = 0;
const freshPath = () => join(dir, `flow-${++n}.lock`);

/** A pid that certainly belonged to a process that has exited. */
const deadPid = () => spawnSync('true').pid!;

const writeLockFile = (path: string, holder: object) => writeFileSync(path, JSON.stringify(holder));

interface Child {
  proc: ChildProcess;
  /** Resolves with the first stdout line. */
  firstLine: Promise<string>;
  exited: Promise<number | null>;
}

/** A node process (with tsx) running `code`; it stays alive until its stdin is closed. */
function spawnChild(code: string, env: Record<string, string>): Child {
  const proc = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', code], {
    cwd: repoRoot,
    env: { ...process.env, LOCK_MODULE: lockModule, ...env },
    stdio: ['pipe', 'pipe', 'inherit'],
  });
  const firstLine = new Promise<string>((resolve, reject) => {
    createInterface({ input: proc.stdout! }).once('line', resolve);
    proc.once('exit', (code) => reject(new Error(`child exited ${code} before printing`)));
  });
  const exited = new Promise<number | null>((resolve) => proc.once('exit', (code) => resolve(code)));
  return { proc, firstLine, exited };
}

const HOLD_UNTIL_STDIN_ENDS = `process.stdin.on('end', () => process.exit(0)); process.stdin.resume();`;

test('acquire, release, and a second acquire in the same process fails with holder info', () => {
  const path = freshPath();
  const handle = acquireLock(path, { purpose: 'run' });
  const onDisk = JSON.parse(readFileSync(path, 'utf8'));
  assert.equal(onDisk.pid, process.pid);
  assert.equal(onDisk.host, hostname());
  assert.equal(onDisk.purpose, 'run');
  assert.ok(!Number.isNaN(Date.parse(onDisk.started_at)));
  assert.deepEqual(readLock(path), {
    path,
    holder: handle.holder,
    stale: false,
    reason: 'held by a live process',
  });

  assert.throws(
    () => acquireLock(path),
    (err: unknown) =>
      err instanceof LockHeldError &&
      err.holder?.pid === process.pid &&
      err.message ===
        `repo is locked by pid ${process.pid} on host ${hostname()} since ${handle.holder.started_at} (${path})`,
  );
  assert.equal(handle.release(), true);
  assert.equal(existsSync(path), false);
  assert.equal(handle.release(), false, 'release is idempotent');
  assert.equal(readLock(path), null);
  acquireLock(path).release();
});

test('release leaves a lock that is no longer ours alone', () => {
  const path = freshPath();
  const handle = acquireLock(path);
  writeLockFile(path, { pid: 1, host: 'elsewhere', started_at: '2025-01-01T00:00:00Z' });
  assert.equal(handle.release(), false);
  assert.equal(JSON.parse(readFileSync(path, 'utf8')).host, 'elsewhere');
});

test('a lock whose holder was kill -9ed is stale and can be taken', async () => {
  const path = freshPath();
  const child = spawnChild(
    `const { acquireLock } = await import(process.env.LOCK_MODULE);
     acquireLock(process.env.LOCK_PATH, { purpose: 'child' });
     console.log('locked');
     ${HOLD_UNTIL_STDIN_ENDS}`,
    { LOCK_PATH: path },
  );
  assert.equal(await child.firstLine, 'locked');
  const live = readLock(path);
  assert.equal(live?.holder?.pid, child.proc.pid);
  assert.equal(live?.stale, false);
  assert.throws(
    () => acquireLock(path),
    (err: unknown) => err instanceof LockHeldError && err.holder?.pid === child.proc.pid,
  );

  child.proc.kill('SIGKILL');
  await child.exited;
  const dead = readLock(path);
  assert.equal(dead?.stale, true);
  assert.equal(dead?.reason, 'the holder process is gone');
  const handle = acquireLock(path);
  assert.equal(JSON.parse(readFileSync(path, 'utf8')).pid, process.pid);
  handle.release();
});

test('pid reuse: a live pid running another program does not hold our lock', async (t) => {
  const sleeper = spawn('sleep', ['30']);
  t.after(() => sleeper.kill());
  const path = freshPath();
  const base = { pid: sleeper.pid!, host: hostname(), started_at: '2025-01-01T00:00:00Z' };
  writeLockFile(path, { ...base, argv: ['node', 'car', 'run'] });
  assert.match(readLock(path)?.reason ?? '', /pid reused/);
  acquireLock(path).release();

  // CAR's own format has no argv: a live pid is trusted.
  writeLockFile(path, base);
  assert.equal(readLock(path)?.stale, false);
  assert.throws(() => acquireLock(path), LockHeldError);
});

test('a lock from another host is never taken without force', () => {
  const path = freshPath();
  writeLockFile(path, { pid: deadPid(), host: 'other-host', started_at: '2025-01-01T00:00:00Z' });
  assert.equal(readLock(path)?.stale, false);
  assert.throws(
    () => acquireLock(path),
    (err: unknown) =>
      err instanceof LockHeldError && /on host other-host since 2025-01-01T00:00:00Z/.test(err.message),
  );
  const handle = acquireLock(path, { force: true });
  assert.equal(JSON.parse(readFileSync(path, 'utf8')).pid, process.pid);
  handle.release();
});

test('an unreadable lock file is left alone while young, taken when old', () => {
  const path = freshPath();
  writeFileSync(path, '{"pid": ');
  assert.equal(readLock(path)?.stale, false);
  assert.throws(
    () => acquireLock(path),
    (err: unknown) => err instanceof LockHeldError && err.holder === null && /unreadable/.test(err.message),
  );
  const old = new Date(Date.now() - 60_000);
  utimesSync(path, old, old);
  assert.equal(readLock(path)?.stale, true);
  acquireLock(path).release();
});

test('several processes racing for one stale lock: exactly one wins', async () => {
  for (let round = 0; round < 2; round++) {
    const path = freshPath();
    const goFile = `${path}.go`;
    writeLockFile(path, { pid: deadPid(), host: hostname(), started_at: '2025-01-01T00:00:00Z' });
    const readyFile = (i: number) => `${path}.ready-${i}`;
    const racers = Array.from({ length: 6 }, (_, i) =>
      spawnChild(
        `const { existsSync, writeFileSync } = await import('node:fs');
         const { acquireLock, LockHeldError } = await import(process.env.LOCK_MODULE);
         writeFileSync(process.env.READY_FILE, '');
         while (!existsSync(process.env.GO_FILE)) {}
         try {
           acquireLock(process.env.LOCK_PATH);
           console.log('won');
         } catch (err) {
           if (!(err instanceof LockHeldError)) throw err;
           console.log('lost ' + err.holder.pid);
         }
         ${HOLD_UNTIL_STDIN_ENDS}`,
        { LOCK_PATH: path, GO_FILE: goFile, READY_FILE: readyFile(i) },
      ),
    );
    // Wait until every racer has loaded and is spinning, then release them at once.
    await waitFor('every racer to be ready', () => racers.every((_, i) => existsSync(readyFile(i))), 60_000);
    writeFileSync(goFile, '');
    const lines = await Promise.all(racers.map((r) => r.firstLine));
    for (const r of racers) r.proc.stdin!.end();
    await Promise.all(racers.map((r) => r.exited));

    const winners = racers.filter((_, i) => lines[i] === 'won');
    assert.equal(winners.length, 1, `round ${round}: ${lines.join(', ')}`);
    const winnerPid = winners[0]!.proc.pid;
    for (const line of lines) if (line !== 'won') assert.equal(line, `lost ${winnerPid}`);
    assert.equal(JSON.parse(readFileSync(path, 'utf8')).pid, winnerPid);
    assert.equal(existsSync(`${path}.takeover`), false);
  }
});
