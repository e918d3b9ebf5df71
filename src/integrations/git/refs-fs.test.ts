// HEAD and branches read from git's files agree with `git rev-parse` where they answer, and leave to git
// what they cannot read plainly (packed refs, an unborn branch, anything but HEAD and refs/heads/…).
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { test } from 'node:test';
import { makeGitRepo } from '../../../test/helpers/git-repo.ts';
import { gitDirs, readCommit } from './refs-fs.ts';

const revParse = (git: (args: readonly string[]) => string, ref: string) => git(['rev-parse', ref]).trim();

test('HEAD on a branch, the branch by its full name, and a detached HEAD read as git reads them', (t) => {
  const repo = makeGitRepo();
  t.after(() => repo.cleanup());
  repo.write('a.txt', 'a\n');
  const first = repo.commitAll('first');
  assert.equal(readCommit(repo.dir, 'HEAD'), first);
  assert.equal(readCommit(repo.dir, 'refs/heads/main'), revParse(repo.git, 'main'));
  repo.write('a.txt', 'b\n');
  const second = repo.commitAll('second');
  assert.equal(readCommit(repo.dir, 'HEAD'), second);
  repo.git(['checkout', '-q', '--detach', first]);
  assert.equal(readCommit(repo.dir, 'HEAD'), first);
  assert.equal(readCommit(repo.dir, 'refs/heads/main'), second);
});

test("a linked worktree's HEAD is its own, its branches the repo's", (t) => {
  const repo = makeGitRepo();
  t.after(() => repo.cleanup());
  repo.write('a.txt', 'a\n');
  const first = repo.commitAll('first');
  repo.write('a.txt', 'b\n');
  const second = repo.commitAll('second');
  const tree = join(repo.dir, 'wt');
  repo.git(['worktree', 'add', '-q', '-b', 'side', tree, first]);
  const dirs = gitDirs(tree);
  assert.ok(dirs && dirs.gitDir !== dirs.commonDir, 'a worktree has a git dir of its own');
  assert.equal(readCommit(tree, 'HEAD'), first);
  assert.equal(readCommit(tree, 'refs/heads/main'), second);
  assert.equal(readCommit(repo.dir, 'refs/heads/side'), first);
});

test('what cannot be read plainly is left to git', (t) => {
  const repo = makeGitRepo();
  t.after(() => repo.cleanup());
  repo.write('a.txt', 'a\n');
  repo.commitAll('first');
  repo.git(['checkout', '-q', '--orphan', 'fresh']);
  assert.equal(readCommit(repo.dir, 'HEAD'), undefined, 'an unborn branch');
  repo.git(['checkout', '-q', '-f', 'main']);
  repo.git(['tag', 'v1']);
  assert.equal(readCommit(repo.dir, 'v1'), undefined, 'not a full branch name');
  assert.equal(readCommit(repo.dir, 'refs/tags/v1'), undefined, 'not a branch');
  assert.equal(readCommit(repo.dir, 'HEAD~1'), undefined);
  assert.equal(readCommit(repo.dir, 'refs/heads/../../config'), undefined, 'no path out of refs/');
  repo.git(['pack-refs', '--all']);
  assert.equal(readCommit(repo.dir, 'HEAD'), undefined, 'a packed branch');
  assert.equal(readCommit(join(repo.dir, 'missing'), 'HEAD'), undefined, 'not a checkout');
});
