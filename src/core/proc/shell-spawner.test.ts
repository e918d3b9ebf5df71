import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type TestContext, test } from 'node:test';
import { processGroupAlive, waitForGroupGone } from './group.ts';
import type { RunInGroupOptions } from './run.ts';
import { runShortInGroup } from './shell-spawner.ts';

function tempDir(t: TestContext): string {
  const dir = mkdtempSync(join(tmpdir(), 'car-spawner-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

function options(cwd: string, extra: Partial<RunInGroupOptions> = {}) {
  const out: Buffer[] = [];
  const err: Buffer[] = [];
  const opts: RunInGroupOptions = {
    cwd,
    env: process.env,
    timeoutMs: 60_000,
    killGraceMs: 0,
    pipeGraceMs: 0,
    onStdout: (chunk) => out.push(chunk),
    onStderr: (chunk) => err.push(chunk),
    ...extra,
  };
  return {
    opts,
    stdout: () => Buffer.concat(out).toString(),
    stderr: () => Buffer.concat(err).toString(),
    chunks: () => out.length,
  };
}

/** `env -0` output as a map (values may hold newlines). */
function envOf(text: string): Record<string, string> {
  const env: Record<string, string> = {};
  for (const entry of text.split('\0').filter(Boolean)) {
    const eq = entry.indexOf('=');
    env[entry.slice(0, eq)] = entry.slice(eq + 1);
  }
  return env;
}

test('the command gets exactly the environment asked for: set, changed, removed, quoted values', async (t) => {
  const dir = tempDir(t);
  const { HOME: _home, ...withoutHome } = process.env;
  const env: NodeJS.ProcessEnv = {
    ...withoutHome,
    CAR_SPAWNER_QUOTED: `it's "quoted"\nover $two lines; \`not run\``,
    PATH: process.env.PATH,
  };
  const run = options(dir, { env });
  const exit = await runShortInGroup('env', ['-0'], run.opts);
  assert.equal(exit.exitCode, 0, run.stderr());
  const got = envOf(run.stdout());
  const want = Object.fromEntries(Object.entries(env).filter(([, v]) => v !== undefined));
  assert.deepEqual(got, want);
  assert.equal(got.HOME, undefined);
});

test('a name the shell cannot say still reaches the command (env -i)', async (t) => {
  const dir = tempDir(t);
  const env: NodeJS.ProcessEnv = { PATH: process.env.PATH, 'odd.name': 'x y', PLAIN: 'p' };
  const run = options(dir, { env });
  const exit = await runShortInGroup('env', ['-0'], run.opts);
  assert.equal(exit.exitCode, 0, run.stderr());
  assert.deepEqual(envOf(run.stdout()), { PATH: process.env.PATH, 'odd.name': 'x y', PLAIN: 'p' });
});

test('input on stdin, large output in several chunks, exit code and stderr', async (t) => {
  const dir = tempDir(t);
  const cat = options(dir, { input: 'hello\nworld\n' });
  assert.equal((await runShortInGroup('cat', [], cat.opts)).exitCode, 0);
  assert.equal(cat.stdout(), 'hello\nworld\n');

  const big = options(dir);
  const bytes = 3 * 1024 * 1024 + 17;
  assert.equal((await runShortInGroup('head', ['-c', String(bytes), '/dev/zero'], big.opts)).exitCode, 0);
  assert.equal(big.stdout().length, bytes);
  assert.ok(big.chunks() > 1, 'output past 1 MiB is handed over in chunks');

  const failing = options(dir);
  const exit = await runShortInGroup('sh', ['-c', 'echo to-out; echo oops >&2; exit 3'], failing.opts);
  assert.deepEqual(exit, { exitCode: 3, signal: null, timedOut: false });
  assert.equal(failing.stdout(), 'to-out\n');
  assert.equal(failing.stderr(), 'oops\n');
  // git's own usage error is an exit code, not a signal
  const usage = await runShortInGroup('sh', ['-c', 'exit 129'], options(dir).opts);
  assert.deepEqual(usage, { exitCode: 129, signal: null, timedOut: false });
});

test('a folder that does not exist is a spawn error, as Node reports it', async (t) => {
  const dir = tempDir(t);
  const exit = await runShortInGroup('true', [], options(join(dir, 'missing')).opts);
  assert.equal(exit.exitCode, null);
  assert.equal((exit.spawnError as NodeJS.ErrnoException | undefined)?.code, 'ENOENT');
});

test('each command leads a session and process group of its own; a timeout kills all of it', async (t) => {
  const dir = tempDir(t);
  const ids = options(dir);
  await runShortInGroup('sh', ['-c', 'echo $$ $(ps -o pgid= -p $$) $(ps -o sid= -p $$)'], ids.opts);
  const [pid, pgid, sid] = ids.stdout().trim().split(/\s+/);
  assert.equal(pgid, pid);
  assert.equal(sid, pid);

  const pidFile = join(dir, 'pid');
  // long enough for the shell to have written its pid even with both cores busy
  const slow = options(dir, { timeoutMs: 2000 });
  const exit = await runShortInGroup('sh', ['-c', `echo $$ > '${pidFile}'; sleep 30 & sleep 30`], slow.opts);
  assert.equal(exit.timedOut, true);
  assert.equal(exit.exitCode, null);
  assert.equal(exit.signal, 'SIGKILL');
  const leader = Number(readFileSync(pidFile, 'utf8'));
  assert.ok(await waitForGroupGone(leader, 5000), 'the backgrounded sleep went with its group');
  assert.equal(processGroupAlive(leader), false);
});

test('an abort kills the command', async (t) => {
  const dir = tempDir(t);
  const abort = new AbortController();
  const marker = join(dir, 'started');
  const running = runShortInGroup(
    'sh',
    ['-c', `touch '${marker}'; sleep 30`],
    options(dir, { signal: abort.signal }).opts,
  );
  while (!existsSync(marker)) await new Promise((r) => setImmediate(r));
  abort.abort();
  const exit = await running;
  assert.equal(exit.signal, 'SIGKILL');
  assert.equal(exit.timedOut, false);
});

test('commands run side by side, each with its own output', async (t) => {
  const dir = tempDir(t);
  const runs = Array.from({ length: 20 }, (_, i) => {
    const run = options(dir);
    return runShortInGroup('sh', ['-c', `echo ${i}`], run.opts).then((exit) => ({ exit, out: run.stdout() }));
  });
  const results = await Promise.all(runs);
  results.forEach(({ exit, out }, i) => {
    assert.equal(exit.exitCode, 0);
    assert.equal(out, `${i}\n`);
  });
});

test('a process waits for its command to end, and does not wait for the idle shell', async (t) => {
  const dir = tempDir(t);
  const script = join(dir, 'script.mts');
  const spawner = join(import.meta.dirname, 'shell-spawner.ts');
  // nothing but the command is pending: the shell's pipe must keep the process alive until it answers
  // (an empty event loop would end it with status 13), then let it exit although the shell still runs
  writeFileSync(
    script,
    [
      `import { runShortInGroup } from ${JSON.stringify(spawner)};`,
      'const out = [];',
      "const exit = await runShortInGroup('sh', ['-c', 'sleep 0.3; echo done'], {",
      "  cwd: '/', env: process.env, timeoutMs: 60000, killGraceMs: 0, pipeGraceMs: 0,",
      '  onStdout: (c) => out.push(c), onStderr: () => {},',
      '});',
      "process.stdout.write(String(exit.exitCode) + ' ' + Buffer.concat(out).toString());",
      '',
    ].join('\n'),
  );
  // a folder left by a car killed before it could remove its own (its pid is gone)
  const gone = spawn('true');
  await new Promise((resolve) => gone.on('exit', resolve));
  const stale = join(tmpdir(), `car-spawn-${gone.pid}-left`);
  mkdirSync(stale);
  writeFileSync(join(stale, '3.out'), 'old output');
  t.after(() => rmSync(stale, { recursive: true, force: true }));

  const child = spawn(process.execPath, ['--import', 'tsx', script], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  let out = '';
  child.stdout.on('data', (c: Buffer) => {
    out += c.toString();
  });
  const code = await new Promise<number | null>((resolve) => child.on('exit', resolve));
  assert.equal(code, 0);
  assert.equal(out, '0 done\n');
  assert.equal(existsSync(stale), false, "a dead process's folder is removed");
  const own = readdirSync(tmpdir()).filter((n) => n.startsWith(`car-spawn-${child.pid}-`));
  assert.deepEqual(own, [], 'the process removes its own folder as it exits');
});
