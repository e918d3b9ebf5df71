// The verify gate on a commit (the merge queue's merged tree when no command needs a checkout): the
// tamper checks see the commit's changes, not whatever the folder on disk holds.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { newTicketProgress, newVerifyProgress } from '../../src/core/flow/state.ts';
import { commitTree, runVerifyGate } from '../../src/core/flow/verify-gate.ts';
import { createRepoState } from '../../src/integrations/git/index.ts';
import { policyContext } from './policy-context.ts';

const TESTS = "test('one', () => {});\ntest('two', () => {});\n";

test('a commit that deletes a test file fails the gate on that commit, though the file is still on disk', async (t) => {
  const p = policyContext();
  t.after(() => p.cleanup());
  const git = (...args: string[]) =>
    execFileSync('git', args, {
      cwd: p.root,
      encoding: 'utf8',
      env: { ...process.env, GIT_CONFIG_NOSYSTEM: '1', HOME: p.root },
    }).trim();
  git('init', '-q', '-b', 'main');
  git('config', 'user.name', 't');
  git('config', 'user.email', 't@example.com');
  writeFileSync(join(p.root, '.gitignore'), '.codex-autorunner/car.db*\n.codex-autorunner/runs/\n');
  const ticket = p.ticket(1);
  mkdirSync(join(p.root, 'test'));
  writeFileSync(join(p.root, 'test/a.test.js'), TESTS);
  git('add', '-A');
  git('commit', '-qm', 'base');
  const base = git('rev-parse', 'HEAD');
  git('rm', '-q', 'test/a.test.js');
  git('commit', '-qm', 'the tests go');
  const merged = git('rev-parse', 'HEAD');
  mkdirSync(join(p.root, 'test'), { recursive: true });
  writeFileSync(join(p.root, 'test/a.test.js'), TESTS); // back on disk, untracked

  const repo = createRepoState(p.root);
  const progress = () =>
    newTicketProgress(ticket.relPath, ticket.ticketId, 'codex', null, newVerifyProgress(base, null, []));
  const onCommit = await runVerifyGate(p.ctx, ticket, progress(), commitTree(repo, merged));
  assert.equal(onCommit.kind, 'failed');
  assert.deepEqual(onCommit.kind === 'failed' ? onCommit.blocking.map((f) => [f.kind, f.file]) : [], [
    ['test_deleted', 'test/a.test.js'],
  ]);
  assert.deepEqual(
    p.events(['tamper_finding']).map((e) => e.data.kind),
    ['test_deleted'],
  );
  assert.deepEqual(
    (await repo.diffCommits(base, merged)).map((f) => [f.path, f.status]),
    [['test/a.test.js', 'deleted']],
  );
});
