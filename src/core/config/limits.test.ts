// Config files and CAR__ values over the input limits (core/input-limits.ts): a ConfigError naming the
// file (or variable), the line and the limit, never a stack trace, and before the expensive step.
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { after, test } from 'node:test';
import { carDefaultConfig } from '../../../test/helpers/realistic.ts';
import { ConfigError } from './errors.ts';
import { loadConfig } from './load.ts';

const base = mkdtempSync(join(tmpdir(), 'car-config-limits-'));
after(() => rmSync(base, { recursive: true, force: true }));
let n = 0;

const REPO_CONFIG = '.codex-autorunner/config.yml';

function repo(files: Record<string, string> = {}): string {
  const root = join(base, `repo-${++n}`);
  mkdirSync(join(root, '.codex-autorunner'), { recursive: true });
  for (const [rel, content] of Object.entries(files)) {
    mkdirSync(dirname(join(root, rel)), { recursive: true });
    writeFileSync(join(root, rel), content);
  }
  return root;
}

function loadError(root: string, env: NodeJS.ProcessEnv = {}): ConfigError {
  try {
    loadConfig(root, env);
  } catch (err) {
    assert.ok(err instanceof ConfigError, `expected ConfigError, got ${(err as Error).stack}`);
    return err;
  }
  assert.fail('expected loadConfig to throw');
}

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

test('billion laughs in a config file: ConfigError naming the file, line and limit', () => {
  const err = loadError(repo({ [REPO_CONFIG]: `version: 2\n${laughs()}` }));
  assert.equal(err.file, REPO_CONFIG);
  assert.equal(err.problems.length, 1);
  assert.equal(err.problems[0]?.line, 6);
  assert.match(
    err.message,
    /^\.codex-autorunner\/config\.yml:6:\d+: YAML aliases expand to more than 10000 nodes \(the limit/,
  );
});

test('an alias bomb that yaml itself lets through (99 uses of one 150-key mapping) is refused', () => {
  const big = Array.from({ length: 150 }, (_, i) => `k${i}: ${i}`).join(', ');
  const copies = Array.from({ length: 99 }, (_, i) => `c${i}: *big`).join(', ');
  const err = loadError(repo({ 'codex-autorunner.yml': `x_big: &big {${big}}\nx_copies: {${copies}}\n` }));
  assert.equal(err.file, 'codex-autorunner.yml');
  assert.match(err.message, /expand to more than 10000 nodes/);
});

test('nesting, alias count and an alias inside its own anchor', () => {
  const deep = loadError(
    repo({ [REPO_CONFIG]: `version: 2\nx: ${'['.repeat(10_000)}${']'.repeat(10_000)}\n` }),
  );
  assert.match(deep.message, /^\.codex-autorunner\/config\.yml:2:\d+: YAML nests deeper than 64 levels/);
  const many = loadError(repo({ [REPO_CONFIG]: `s: &s x\nl: [${Array(101).fill('*s').join(', ')}]\n` }));
  assert.match(many.message, /more than 100 aliases/);
  const loop = loadError(repo({ [REPO_CONFIG]: 'agents: &a {x: *a}\n' }));
  assert.match(loop.message, /\*a is inside the node it names/);
  // and a modest use of anchors, as people write them, loads
  const ok = 'agents:\n  a: &agent {backend: demo}\n  b: *agent\n  c: {<<: *agent}\n';
  const { config } = loadConfig(repo({ [REPO_CONFIG]: ok }), {});
  assert.equal(config.agents.c?.backend, 'demo');
});

test('a config file over 40 KiB is refused unread; a device or folder is refused, not read forever', () => {
  const big = `version: 2\nx_keys:\n${Array.from({ length: 100_000 }, (_, i) => `  key_${i}: v\n`).join('')}`;
  const err = loadError(repo({ 'codex-autorunner.override.yml': big }));
  assert.equal(err.file, 'codex-autorunner.override.yml');
  assert.match(
    err.message,
    /^codex-autorunner\.override\.yml: file is \d+\.\d MiB, over the 40 KiB limit for a config file; it was not read$/,
  );
  const root = repo();
  symlinkSync('/dev/zero', join(root, REPO_CONFIG));
  assert.match(loadError(root).message, /^\.codex-autorunner\/config\.yml: is not a regular file/);
});

test('a config with 2500 keys under the limit loads (no quadratic merge or duplicate-key check)', () => {
  const keys = Array.from({ length: 2500 }, (_, i) => `  k${i}: ${i}\n`).join('');
  const { config } = loadConfig(repo({ [REPO_CONFIG]: `version: 2\nx_many:\n${keys}` }), {});
  assert.equal(Object.keys((config as unknown as { x_many: object }).x_many).length, 2500);
  // a duplicate key in a small file is the parser's error; in this one it is over the token budget
  // the `yaml` parser gets, which names the line (plain block YAML of any size is read without it)
  const dup = loadError(repo({ [REPO_CONFIG]: `version: 2\nx_many:\n${keys}  k5: again\n` }));
  assert.equal(
    dup.message,
    '.codex-autorunner/config.yml:2503:1: YAML has more than 2000 tokens (the limit for a config file unless it is plain block YAML, and this line is not: a duplicate key); it was not parsed',
  );
  const small = loadError(repo({ [REPO_CONFIG]: 'version: 2\nx: 1\nx: 2\n' }));
  assert.match(small.message, /^\.codex-autorunner\/config\.yml:3:1: invalid YAML: Map keys must be unique$/);
});

test("a config file the yaml parser would take more than 2000 tokens for is refused, naming the line; CAR's whole default config loads", () => {
  // dense flow collections are read by the `yaml` package's parser, which costs ~25 µs a token cold
  const dense = Array.from({ length: 400 }, (_, i) => `x_k${i}: {a: [1, 2], b: {c: d}}`).join('\n');
  const err = loadError(repo({ 'codex-autorunner.yml': `version: 2\nx_anchor: &a 1\n${dense}\n` }));
  assert.equal(err.file, 'codex-autorunner.yml');
  assert.equal(
    err.message,
    'codex-autorunner.yml:2:1: YAML has more than 2000 tokens (the limit for a config file unless it is plain block YAML, and this line is not: an anchor); it was not parsed',
  );
  // without the anchor it is plain block YAML (one-line flow collections included): read whatever its size
  const { config } = loadConfig(repo({ 'codex-autorunner.yml': `version: 2\n${dense}\n` }), {});
  assert.deepEqual((config as unknown as Record<string, unknown>).x_k399, { a: [1, 2], b: { c: 'd' } });
  // CAR 2.2.3's root config, every documented key with its comments (539 lines)
  const car = carDefaultConfig();
  const loaded = loadConfig(repo({ 'codex-autorunner.yml': car }), {});
  assert.equal(loaded.sources.find((s) => s.layer === 'codex-autorunner.yml')?.present, true);
  // the trade-off, named in the error: with an anchor added the whole of it (3,130 tokens) goes to the
  // `yaml` parser, and is over its budget; the anchor's line is the one to change
  const anchored = car.replace('\nversion: 2\n', '\nversion: &v 2\n');
  const line = anchored.split('\n').indexOf('version: &v 2') + 1;
  assert.match(
    loadError(repo({ 'codex-autorunner.yml': anchored })).message,
    new RegExp(
      `^codex-autorunner\\.yml:${line}:1: YAML has more than 2000 tokens .*this line is not: an anchor\\)`,
    ),
  );
  // its first 348 lines, up to `hub:` (1,939 tokens), with the anchor, are read by the parser
  const half = anchored.split('\n').slice(0, 348).join('\n');
  loadConfig(repo({ 'codex-autorunner.yml': `${half}\n` }), {});
});

test('a CAR__ value over a limit names the variable', () => {
  const deep = loadError(repo(), { CAR__TICKET_FLOW__X: '['.repeat(1000) + ']'.repeat(1000) });
  assert.equal(deep.file, 'CAR__TICKET_FLOW__X');
  assert.match(deep.message, /^CAR__TICKET_FLOW__X: ticket_flow\.x YAML nests deeper than 64 levels/);
  const big = loadError(repo(), { CAR__TICKET_FLOW__X: 'x'.repeat(200 * 1024) });
  assert.match(big.message, /value is 200 KiB, over the 40 KiB limit/);
});
