// car starts codex's native binary, not the npm package's node wrapper (issue 27: the wrapper costs a
// node start per app-server and an idle node process beside it for the whole run). Unit cases on package
// layouts in temp dirs, and one run of the built `car` with the REAL pinned codex whose model records the
// process ancestry of the shell codex runs its command in.
import assert from 'node:assert/strict';
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, test } from 'node:test';
import { nativeCodexLaunch } from '../../src/agents/codex/native.ts';
import { execCommandReply, messageReply, type RecordedRequest } from '../fakes/responses-api.ts';
import { runCar } from '../helpers/built-car.ts';
import { assertAllDone, type CodexQueue, codexQueue, WORK_COMMAND } from '../helpers/codex-queue.ts';

const dirs: string[] = [];
const queues: CodexQueue[] = [];
afterEach(async () => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
  for (const q of queues.splice(0)) await q.cleanup();
});

function tempDir(): string {
  const d = mkdtempSync(join(tmpdir(), 'car-codex-native-'));
  dirs.push(d);
  return d;
}

function executable(path: string, text: string): void {
  mkdirSync(join(path, '..'), { recursive: true });
  writeFileSync(path, text);
  chmodSync(path, 0o755);
}

/** An npm-style install: node_modules/@openai/codex with its bin script linked from node_modules/.bin. */
function npmLayout(opts: { name?: string; platformPackage: boolean; vendored: boolean }): {
  bin: string;
  root: string;
  native: string;
} {
  const top = tempDir();
  const root = join(top, 'node_modules/@openai/codex');
  executable(join(root, 'bin/codex.js'), '#!/usr/bin/env node\n');
  writeFileSync(join(root, 'package.json'), JSON.stringify({ name: opts.name ?? '@openai/codex' }));
  let native = '';
  if (opts.platformPackage) {
    const platform = join(top, 'node_modules/@openai/codex-linux-x64');
    writeFileSync(join(mkdirP(platform), 'package.json'), JSON.stringify({ name: '@openai/codex' }));
    native = join(platform, 'vendor/x86_64-unknown-linux-musl/bin/codex');
    executable(native, '#!/bin/sh\n');
  }
  if (opts.vendored) {
    native = join(root, 'vendor/x86_64-unknown-linux-musl/bin/codex');
    if (!opts.platformPackage) executable(native, '#!/bin/sh\n');
  }
  const bin = mkdirP(join(top, 'node_modules/.bin'));
  symlinkSync('../@openai/codex/bin/codex.js', join(bin, 'codex'));
  return { bin, root, native };
}

function mkdirP(dir: string): string {
  mkdirSync(dir, { recursive: true });
  return dir;
}

test('the npm wrapper found on PATH is replaced by its platform package binary, with its environment', () => {
  const { bin, root, native } = npmLayout({ platformPackage: true, vendored: false });
  const env = { PATH: `${bin}:/usr/bin:/bin`, CODEX_MANAGED_BY_BUN: '1', KEEP: 'x' };
  const launch = nativeCodexLaunch(['codex', 'app-server', '-c', 'a=b'], env, 'linux-x64');
  assert.deepEqual(launch.command, [native, 'app-server', '-c', 'a=b']);
  assert.equal(launch.env.CODEX_MANAGED_PACKAGE_ROOT, root);
  assert.equal(launch.env.CODEX_MANAGED_BY_NPM, '1');
  assert.equal(launch.env.CODEX_MANAGED_BY_BUN, undefined);
  assert.equal(launch.env.KEEP, 'x');
  assert.equal(env.CODEX_MANAGED_BY_BUN, '1', 'the caller’s environment is not changed');
});

test("a wrapper without a platform package uses the binary in the package's own vendor folder", () => {
  const { bin, native } = npmLayout({ platformPackage: false, vendored: true });
  const launch = nativeCodexLaunch([join(bin, 'codex'), 'app-server'], { PATH: '/usr/bin' }, 'linux-x64');
  assert.deepEqual(launch.command, [native, 'app-server']);
});

test('anything else is started as configured', () => {
  const missing = npmLayout({ platformPackage: false, vendored: false });
  const other = npmLayout({ name: 'not-codex', platformPackage: true, vendored: false });
  const script = join(tempDir(), 'codex');
  executable(script, '#!/bin/sh\n');
  const cases: [string[], NodeJS.ProcessEnv, string][] = [
    [['codex', 'app-server'], { PATH: missing.bin }, 'linux-x64'], // no native binary installed
    [['codex', 'app-server'], { PATH: other.bin }, 'linux-x64'], // a codex.js of another package
    [[script, 'app-server'], {}, 'linux-x64'], // a plain script
    [['codex', 'app-server'], { PATH: '/nonexistent' }, 'linux-x64'], // not found: spawn reports it
    [['codex', 'app-server'], { PATH: other.bin }, 'sunos-sparc'], // no binary for this platform
  ];
  for (const [command, env, platform] of cases) {
    const launch = nativeCodexLaunch(command, env, platform);
    assert.deepEqual(launch.command, command);
    assert.equal(launch.env, env);
  }
});

test('car run starts the pinned codex as its native binary: no node wrapper between car and codex', async () => {
  const q = await codexQueue(1);
  queues.push(q);
  // the model's command first writes the shell's ancestors (pid, then argv), up to car's own process
  const ancestry = [
    'p=$PPID',
    'while [ "$p" -gt 1 ]; do echo "$p $(tr "\\0" " " < /proc/$p/cmdline)"; p=$(sed "s/.*) //" /proc/$p/stat | cut -d" " -f2); done > ancestry.txt',
  ].join('; ');
  q.fake.setFallback((req: RecordedRequest) =>
    req.body?.input?.at(-1)?.type === 'function_call_output'
      ? messageReply('Ticket done.', `msg_${req.n}`)
      : execCommandReply(`${ancestry}; ${WORK_COMMAND}`, `call_${req.n}`),
  );
  const r = await runCar(['run'], { cwd: q.repo.dir, env: q.env });
  const output = `exit ${r.code}\n${r.stdout}\n${r.stderr}`;
  assert.equal(r.code, 0, output);
  assertAllDone(q, output);
  const chain = readFileSync(join(q.repo.dir, 'ancestry.txt'), 'utf8').trim().split('\n');
  const carAt = chain.findIndex((line) => /car\.js run/.test(line));
  assert.ok(carAt > 0, `car is an ancestor of codex's shell:\n${chain.join('\n')}`);
  const between = chain.slice(0, carAt);
  assert.ok(
    between.some((line) => /\/vendor\/[^/ ]+\/bin\/codex app-server/.test(line)),
    `the native codex runs the shell:\n${chain.join('\n')}`,
  );
  assert.ok(
    !between.some((line) => /^\d+ \S*node\S* \S*codex/.test(line)),
    `no node wrapper between car and codex:\n${chain.join('\n')}`,
  );
});
