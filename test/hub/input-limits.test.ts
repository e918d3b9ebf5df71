// The hub manifest over the input limits (core/input-limits.ts): refused with the file named, by the
// hub commands (exit 3) and by the config loader of every repo in the hub (which reads the manifest to
// know whether the repo inherits the hub's settings), never a stack trace or a silent fallback.
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { ConfigError, loadConfig } from '../../src/core/config/index.ts';
import {
  emptyManifest,
  ManifestError,
  parseManifest,
  readManifest,
  writeManifest,
} from '../../src/core/hub/manifest.ts';
import { manifestText } from '../helpers/block-yaml-gen.ts';
import { car } from '../helpers/cli.ts';
import { makeHub } from './helpers.ts';

const cleanups: (() => void)[] = [];
after(() => {
  for (const c of cleanups) c();
});

const MANIFEST = '.codex-autorunner/manifest.yml';

function laughs(): string {
  const lines = ['a0: &a0 [lol, lol, lol, lol, lol, lol, lol, lol, lol]'];
  for (let i = 1; i < 9; i++)
    lines.push(
      `a${i}: &a${i} [${Array(9)
        .fill(`*a${i - 1}`)
        .join(', ')}]`,
    );
  return `${lines.join('\n')}\n`;
}

function manifestError(fn: () => unknown): ManifestError {
  try {
    fn();
  } catch (err) {
    assert.ok(err instanceof ManifestError, String(err));
    return err;
  }
  assert.fail('expected a ManifestError');
}

test('parseManifest refuses an alias bomb or deep nesting, with the line and the limit', () => {
  const bomb = manifestError(() => parseManifest(`version: 3\nrepos: []\n${laughs()}`, 'm.yml'));
  assert.match(bomb.message, /^m\.yml:7: YAML aliases expand to more than 10000 nodes/);
  assert.deepEqual(bomb.limit?.line, 7);
  const deep = manifestError(() => parseManifest(`version: 3\nrepos: ${'['.repeat(10_000)}\n`, 'm.yml'));
  assert.match(deep.message, /^m\.yml:2: YAML nests deeper than 64 levels/);
  // an ordinary invalid manifest is not a limit
  assert.equal(manifestError(() => parseManifest('version: [3\n', 'm.yml')).limit, null);
});

test('a hand-edited manifest the yaml parser would take more than 2000 tokens for is refused; 500 repos as CAR writes them are read', () => {
  const flow = Array.from(
    { length: 300 },
    (_, i) => `- {id: repo-${i}, path: repos/repo-${i}, enabled: true}`,
  );
  const text = `version: 3\nx_note: &note hand-edited\nrepos:\n${flow.join('\n')}\n`;
  const err = manifestError(() => parseManifest(text, 'm.yml'));
  assert.equal(
    err.message,
    'm.yml:2: YAML has more than 2000 tokens (the limit for the hub manifest unless it is plain block YAML, and this line is not: an anchor); it was not parsed',
  );
  assert.equal(err.limit?.message.startsWith('YAML has more than 2000 tokens'), true);
  // what CAR's PyYAML writes for 500 repos (~85 KB, ~26,000 tokens) is plain block YAML
  assert.equal(parseManifest(manifestText(500), 'm.yml').repos.length, 500);
});

test('a manifest over 128 KiB is refused unread', async () => {
  const h = await makeHub();
  cleanups.push(h.cleanup);
  const file = join(h.root, MANIFEST);
  const entry = (i: number) => `- id: repo-${i}\n  path: repos/repo-${i}\n  enabled: true\n  kind: base\n`;
  writeFileSync(file, `version: 3\nrepos:\n${Array.from({ length: 5000 }, (_, i) => entry(i)).join('')}`);
  const err = manifestError(() => readManifest(file));
  assert.match(
    err.message,
    /manifest\.yml: file is \d+\.\d KiB, over the 128 KiB limit for the hub manifest/,
  );
});

test('car does not write a manifest it could not read back', async () => {
  const h = await makeHub();
  cleanups.push(h.cleanup);
  const file = join(h.root, MANIFEST);
  const before = readFileSync(file, 'utf8');
  const manifest = emptyManifest();
  for (let i = 0; i < 5000; i++) {
    manifest.repos.push({
      id: `repo-${i}`,
      path: `repos/repo-${i}`,
      enabled: true,
      auto_run: false,
      kind: 'base',
      extra: {},
    });
  }
  const err = manifestError(() => writeManifest(file, manifest));
  assert.match(
    err.message,
    /not written: it would be \d+\.\d KiB, over the 128 KiB limit for the hub manifest/,
  );
  assert.equal(readFileSync(file, 'utf8'), before);
});

test('with a bomb manifest, hub commands exit 3 and a repo of the hub cannot load its config, both naming the manifest', async () => {
  const h = await makeHub();
  cleanups.push(h.cleanup);
  const app = h.gitRepo('app');
  assert.equal((await h.run(['hub', 'add', app])).code, 0);
  const file = join(h.root, MANIFEST);
  const good = readFileSync(file, 'utf8');
  writeFileSync(file, `${good}${laughs()}`);

  const list = await h.run(['hub', 'list']);
  assert.equal(list.code, 3, list.stderr);
  assert.match(list.stderr, /manifest\.yml:\d+: YAML aliases expand to more than 10000 nodes/);
  assert.doesNotMatch(list.stderr, /internal error|at \w+ \(/);

  assert.throws(
    () => loadConfig(app, {}),
    (err: unknown) =>
      err instanceof ConfigError &&
      err.file === '../../.codex-autorunner/manifest.yml' &&
      /^\.\.\/\.\.\/\.codex-autorunner\/manifest\.yml:\d+:\d+: YAML aliases expand/.test(err.message),
  );
  const inRepo = await car(['ticket', 'list'], { cwd: app });
  assert.equal(inRepo.code, 3, inRepo.stderr);
  assert.match(inRepo.stderr, /manifest\.yml:\d+:\d+: YAML aliases expand/);
  assert.equal(readFileSync(file, 'utf8'), `${good}${laughs()}`, 'nothing rewrote the manifest');
});
