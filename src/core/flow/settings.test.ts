import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { DEFAULT_CONFIG, loadConfig } from '../config/index.ts';
import { flowSettings } from './settings.ts';

const root = mkdtempSync(join(tmpdir(), 'car-settings-'));
after(() => rmSync(root, { recursive: true, force: true }));

test('storage.durable_writes (CAR key) decides whether run records are fsynced', () => {
  assert.equal(flowSettings(DEFAULT_CONFIG).durableWrites, false);
  mkdirSync(join(root, '.codex-autorunner'), { recursive: true });
  writeFileSync(join(root, '.codex-autorunner', 'config.yml'), 'storage:\n  durable_writes: true\n');
  assert.equal(flowSettings(loadConfig(root, {}).config).durableWrites, true);
  writeFileSync(join(root, '.codex-autorunner', 'config.yml'), 'storage:\n  durable_writes: sometimes\n');
  assert.throws(() => loadConfig(root, {}), /config\.yml: storage\.durable_writes must be boolean/);
});

test('agents.<id>.quota_fallback becomes the quota fallback map', () => {
  writeFileSync(
    join(root, '.codex-autorunner', 'config.yml'),
    'agents:\n  codex:\n    quota_fallback: opencode\n',
  );
  assert.deepEqual(flowSettings(loadConfig(root, {}).config).quotaFallback, { codex: 'opencode' });
  assert.deepEqual(flowSettings(DEFAULT_CONFIG).quotaFallback, {});
});

test("runner.stop_after_runs (CAR's key): any integer loads, as in CAR; below 1 still allows one turn", () => {
  assert.equal(flowSettings(DEFAULT_CONFIG).stopAfterRuns, null);
  const file = join(root, '.codex-autorunner', 'config.yml');
  for (const [value, expected] of [
    ['3', 3],
    ['0', 1],
    ['-2', 1],
    ['null', null],
  ] as const) {
    writeFileSync(file, `runner:\n  stop_after_runs: ${value}\n`);
    assert.equal(flowSettings(loadConfig(root, {}).config).stopAfterRuns, expected, value);
  }
  writeFileSync(file, 'runner:\n  stop_after_runs: many\n');
  assert.throws(
    () => loadConfig(root, {}),
    /config\.yml: runner\.stop_after_runs must be an integer or null \(got "many"\)/,
  );
});
