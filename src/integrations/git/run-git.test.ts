import assert from 'node:assert/strict';
import { test } from 'node:test';
import { makeGitRepo } from '../../../test/helpers/git-repo.ts';
import { GitError, isGitExit, runGit, runGitText } from './run-git.ts';

test('returns stdout and feeds input on stdin', async (t) => {
  const repo = makeGitRepo();
  t.after(() => repo.cleanup());
  const sha = await runGitText(['hash-object', '--stdin'], { cwd: repo.dir, input: 'hello\n' });
  assert.equal(sha, 'ce013625030ba8dba906f756967f9e9ca394464a');
  const buf = await runGit(['cat-file', 'blob', 'HEAD:README.md'], { cwd: repo.dir });
  assert.ok(Buffer.isBuffer(buf));
  assert.equal(buf.toString(), '# test repo\n');
});

test('a failing git rejects with GitError carrying args, exit code and stderr', async (t) => {
  const repo = makeGitRepo();
  t.after(() => repo.cleanup());
  const err = await runGit(['rev-parse', '--verify', 'no-such-ref'], { cwd: repo.dir }).catch(
    (e: unknown) => e,
  );
  assert.ok(err instanceof GitError);
  assert.deepEqual(err.args, ['rev-parse', '--verify', 'no-such-ref']);
  assert.equal(err.exitCode, 128);
  assert.equal(err.timedOut, false);
  assert.match(err.stderr, /Needed a single revision/);
  assert.match(err.message, /git rev-parse --verify no-such-ref exited with code 128: fatal/);
  assert.ok(isGitExit(err, 128));
  assert.ok(!isGitExit(err, 1));
});

test('a timeout kills git and whatever it started', async (t) => {
  const repo = makeGitRepo();
  t.after(() => repo.cleanup());
  const started = Date.now();
  const err = await runGit(['-c', 'alias.nap=!sleep 10', 'nap'], { cwd: repo.dir, timeoutMs: 200 }).catch(
    (e: unknown) => e,
  );
  assert.ok(err instanceof GitError);
  assert.equal(err.timedOut, true);
  assert.equal(err.exitCode, null);
  assert.match(err.message, /timed out/);
  assert.ok(Date.now() - started < 5000, 'the sleeping grandchild must not hold the pipes open');
});

test('ignores GIT_DIR and GIT_INDEX_FILE inherited from a hook and never prompts', async (t) => {
  const repo = makeGitRepo();
  const saved = { GIT_DIR: process.env.GIT_DIR, GIT_INDEX_FILE: process.env.GIT_INDEX_FILE };
  t.after(() => {
    for (const [k, v] of Object.entries(saved)) {
      if (v === undefined) delete process.env[k];
      else process.env[k] = v;
    }
    repo.cleanup();
  });
  process.env.GIT_DIR = '/nonexistent/.git';
  process.env.GIT_INDEX_FILE = '/nonexistent/index';
  const top = await runGitText(['rev-parse', '--show-toplevel'], { cwd: repo.dir });
  assert.ok(top.endsWith(repo.dir.split('/').at(-1)!));
  const env = await runGitText(['var', 'GIT_PAGER'], { cwd: repo.dir });
  assert.equal(env, 'cat');
});
