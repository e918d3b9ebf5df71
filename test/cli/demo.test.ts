import assert from 'node:assert/strict';
import { existsSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { test } from 'node:test';
import { car } from '../helpers/cli.ts';

test('car demo works three tickets with the offline demo agent and reports what it did', async () => {
  const r = await car(['demo', '--fast', '--keep'], { cwd: tmpdir() });
  assert.equal(r.code, 0, r.stderr);
  const repo = /^repo: (.+)$/m.exec(r.stdout)?.[1];
  assert.ok(repo && existsSync(repo), 'the kept demo repo exists');
  try {
    assert.equal((r.stdout.match(/✔ TICKET-\d+-[a-z]+\.md done/g) ?? []).length, 3);
    assert.match(r.stdout, /run completed \(all_done\)/);
    assert.match(r.stdout, /3 agent turns/);
    assert.match(r.stdout, /feat: greet\(name\)/);
    const list = await car(['ticket', 'list', '--json'], { cwd: repo });
    const summary = (JSON.parse(list.stdout) as { summary: { done: number; total: number } }).summary;
    assert.deepEqual(summary, { ...summary, done: 3, total: 3 });
  } finally {
    rmSync(repo, { recursive: true, force: true });
  }
});
