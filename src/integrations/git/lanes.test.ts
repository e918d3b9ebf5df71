// The `LaneGit` adapter against real git repos in temp dirs: what lanes and the merge queue ask of git
// (worktrees and branches per lane, merging or rebasing a lane onto the integration tip in a scratch
// worktree, the compare-and-swap move of the integration branch, bringing the tip into a lane).
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync, realpathSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { type GitRepo, makeGitRepo } from '../../../test/helpers/git-repo.ts';
import { createLaneGit } from './lanes.ts';
import { gitEnv } from './run-git.ts';

/** Where the tests put worktrees: inside the repo, ignored through `info/exclude` as car's lanes are. */
const TREES = '.lanes';

interface Setup {
  repo: GitRepo;
  /** The repo's real path (git reports worktree paths resolved). */
  root: string;
  lg: ReturnType<typeof createLaneGit>;
  /** The commit of the repo's initial commit (README.md). */
  base: string;
  /** git in `dir`, stdout trimmed. */
  gitIn(dir: string, args: readonly string[]): string;
  /** A commit on `parent` with `files` written (null: deleted), made without touching any checkout. */
  commitOn(parent: string, files: Record<string, string | null>, message: string): string;
  /** A path for a worktree. */
  tree(name: string): string;
}

async function setup(t: { after(fn: () => void): void }): Promise<Setup> {
  const repo = makeGitRepo();
  t.after(() => repo.cleanup());
  const root = realpathSync(repo.dir);
  const lg = createLaneGit();
  await lg.ignoreLocally(root, [`/${TREES}/`]);
  const gitIn = (dir: string, args: readonly string[], env: NodeJS.ProcessEnv = gitEnv()) =>
    execFileSync('git', args, { cwd: dir, env, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] }).trim();
  let indexes = 0;
  const commitOn = (parent: string, files: Record<string, string | null>, message: string): string => {
    const env = { ...gitEnv(), GIT_INDEX_FILE: join(root, '.git', `test-index-${++indexes}`) };
    try {
      gitIn(root, ['read-tree', parent], env);
      for (const [path, content] of Object.entries(files)) {
        if (content === null) {
          gitIn(root, ['update-index', '--force-remove', path], env);
          continue;
        }
        const blob = execFileSync('git', ['hash-object', '-w', '--stdin'], {
          cwd: root,
          env,
          input: content,
          encoding: 'utf8',
        }).trim();
        gitIn(root, ['update-index', '--add', '--cacheinfo', `100644,${blob},${path}`], env);
      }
      const tree = gitIn(root, ['write-tree'], env);
      return gitIn(root, ['commit-tree', tree, '-p', parent, '-m', message], env);
    } finally {
      rmSync(env.GIT_INDEX_FILE, { force: true });
    }
  };
  return {
    repo,
    root,
    lg,
    base: gitIn(root, ['rev-parse', 'HEAD']),
    gitIn,
    commitOn,
    tree: (name) => join(root, TREES, name),
  };
}

/** True when git has a merge or a rebase in progress in the worktree `dir`. */
function inProgress(s: Setup, dir: string): string[] {
  const paths = s
    .gitIn(dir, [
      'rev-parse',
      '--path-format=absolute',
      ...['MERGE_HEAD', 'rebase-merge', 'rebase-apply', 'SQUASH_MSG'].flatMap((p) => ['--git-path', p]),
    ])
    .split('\n');
  return paths.filter((p) => existsSync(p));
}

const parents = (s: Setup, sha: string) =>
  s.gitIn(s.root, ['rev-list', '--parents', '-n', '1', sha]).split(' ').slice(1);
const subject = (s: Setup, sha: string) => s.gitIn(s.root, ['log', '-1', '--format=%s', sha]);
const show = (s: Setup, sha: string, path: string) => s.gitIn(s.root, ['show', `${sha}:${path}`]);

// ---------------------------------------------------------------------------------------------------
// currentBranch, resolve, isAncestor

test('currentBranch: the checked-out branch, null when detached, per worktree, and an unborn branch', async (t) => {
  const s = await setup(t);
  assert.equal(await s.lg.currentBranch(s.root), 'main');
  s.gitIn(s.root, ['checkout', '-q', '-b', 'feat/x']);
  assert.equal(await s.lg.currentBranch(s.root), 'feat/x', 'a branch name with a slash');
  s.gitIn(s.root, ['checkout', '-q', '--detach']);
  assert.equal(await s.lg.currentBranch(s.root), null, 'detached HEAD');
  s.gitIn(s.root, ['checkout', '-q', 'main']);

  // linked worktrees: each has its own HEAD (the `.git` file names its folder)
  await s.lg.addWorktree(s.root, s.tree('a'), 'lane/a', s.base);
  await s.lg.addDetachedWorktree(s.root, s.tree('b'), s.base);
  assert.equal(await s.lg.currentBranch(s.tree('a')), 'lane/a');
  assert.equal(await s.lg.currentBranch(s.tree('b')), null);
  assert.equal(await s.lg.currentBranch(s.root), 'main', 'the main checkout is unaffected');
  // a relative gitdir in the `.git` file (git worktree repair / older git) is read the same
  const dotGit = join(s.tree('a'), '.git');
  const gitdir = readFileSync(dotGit, 'utf8').trim().slice('gitdir: '.length);
  writeFileSync(dotGit, `gitdir: ../../.git/worktrees/${gitdir.split('/').pop()}\n`);
  assert.equal(await s.lg.currentBranch(s.tree('a')), 'lane/a');

  // an unborn branch: HEAD names it though it has no commit (the scheduler then says "commit first")
  const fresh = makeGitRepo({ initialCommit: false });
  t.after(() => fresh.cleanup());
  assert.equal(await s.lg.currentBranch(fresh.dir), 'main');
  assert.equal(await s.lg.resolve(fresh.dir, 'main'), null);
  assert.equal(await s.lg.resolve(fresh.dir, 'HEAD'), null);
});

test('resolve names commits only; isAncestor answers both ways and fails on an unknown commit', async (t) => {
  const s = await setup(t);
  const a = s.commitOn(s.base, { 'a.txt': 'a\n' }, 'a');
  s.gitIn(s.root, ['branch', 'side', a]);
  s.gitIn(s.root, ['tag', '-a', '-m', 'annotated', 'v1', a]);
  assert.equal(await s.lg.resolve(s.root, 'main'), s.base);
  assert.equal(await s.lg.resolve(s.root, 'side'), a);
  assert.equal(await s.lg.resolve(s.root, 'refs/heads/side'), a);
  assert.equal(await s.lg.resolve(s.root, 'v1'), a, 'an annotated tag is peeled to its commit');
  assert.equal(await s.lg.resolve(s.root, 'side~1'), s.base);
  assert.equal(await s.lg.resolve(s.root, a.slice(0, 10)), a);
  assert.equal(await s.lg.resolve(s.root, 'nope'), null);
  assert.equal(await s.lg.resolve(s.root, 'side~5'), null);
  assert.equal(await s.lg.resolve(s.root, `${a}^{tree}`), null, 'a tree is not a commit');

  assert.equal(await s.lg.isAncestor(s.root, s.base, a), true);
  assert.equal(await s.lg.isAncestor(s.root, a, a), true, 'a commit is its own ancestor');
  assert.equal(await s.lg.isAncestor(s.root, a, s.base), false);
  const other = s.commitOn(s.base, { 'b.txt': 'b\n' }, 'b');
  assert.equal(await s.lg.isAncestor(s.root, a, other), false, 'siblings');
  await assert.rejects(s.lg.isAncestor(s.root, 'f'.repeat(40), a), /merge-base/);
});

// ---------------------------------------------------------------------------------------------------
// worktrees

test('addWorktree makes (or resets) the branch at base; removeWorktree removes both, and is fine when gone', async (t) => {
  const s = await setup(t);
  const a = s.commitOn(s.base, { 'a.txt': 'a\n' }, 'a');
  await s.lg.addWorktree(s.root, s.tree('one'), 'car/lane/r/one', a);
  assert.equal(s.gitIn(s.tree('one'), ['rev-parse', 'HEAD']), a);
  assert.equal(readFileSync(join(s.tree('one'), 'a.txt'), 'utf8'), 'a\n');
  const listed = await s.lg.worktrees(s.root);
  assert.deepEqual(listed, [
    { path: s.root, branch: 'main' },
    { path: s.tree('one'), branch: 'car/lane/r/one' },
  ]);

  // the branch existed already (a lane made again): -B resets it to the base given
  await s.lg.removeWorktree(s.root, s.tree('one'), null);
  assert.equal(existsSync(s.tree('one')), false);
  assert.equal(await s.lg.resolve(s.root, 'car/lane/r/one'), a, 'the branch is kept when not named');
  await s.lg.addWorktree(s.root, s.tree('one'), 'car/lane/r/one', s.base);
  assert.equal(await s.lg.resolve(s.root, 'car/lane/r/one'), s.base);

  // a worktree whose folder a crash (or a person) deleted is still registered: pruned, then made again
  rmSync(s.tree('one'), { recursive: true, force: true });
  await s.lg.addWorktree(s.root, s.tree('one'), 'car/lane/r/one', a);
  assert.equal(s.gitIn(s.tree('one'), ['rev-parse', 'HEAD']), a);

  // removed with uncommitted and untracked files in it (forced), and its branch deleted
  writeFileSync(join(s.tree('one'), 'a.txt'), 'changed\n');
  writeFileSync(join(s.tree('one'), 'new.txt'), 'untracked\n');
  await s.lg.removeWorktree(s.root, s.tree('one'), 'car/lane/r/one');
  assert.equal(existsSync(s.tree('one')), false);
  assert.equal(await s.lg.resolve(s.root, 'car/lane/r/one'), null);
  assert.deepEqual(await s.lg.worktrees(s.root), [{ path: s.root, branch: 'main' }]);

  // already gone: worktree and branch
  await s.lg.removeWorktree(s.root, s.tree('one'), 'car/lane/r/one');
  // its folder deleted behind git's back: the registration is pruned and the branch still deleted
  await s.lg.addWorktree(s.root, s.tree('two'), 'car/lane/r/two', a);
  rmSync(s.tree('two'), { recursive: true, force: true });
  await s.lg.removeWorktree(s.root, s.tree('two'), 'car/lane/r/two');
  assert.equal(await s.lg.resolve(s.root, 'car/lane/r/two'), null);
  assert.deepEqual(await s.lg.worktrees(s.root), [{ path: s.root, branch: 'main' }]);
  assert.equal(s.gitIn(s.root, ['status', '--porcelain']), '', 'the main checkout never changed');
});

test('worktrees made, taken over and removed, branches deleted, all at once: none fails on another', async (t) => {
  // git fails a worktree add, list, or branch change that meets another add under way ("failed to
  // read .../commondir"): the lanes start side by side, so the adapter must not let them meet. Three
  // rounds: without the adapter's turn-taking, at least one of them fails almost always.
  const s = await setup(t);
  const n = 6;
  const names = (prefix: string, count = n) => Array.from({ length: count }, (_, i) => `${prefix}${i}`);
  for (const round of ['x', 'y', 'z']) {
    const [a, b, c, d] = ['a', 'b', 'c', 'd'].map((p) => `${round}${p}`) as [string, string, string, string];
    await Promise.all(names(a).map((x) => s.lg.addWorktree(s.root, s.tree(x), x, s.base)));
    await Promise.all([
      ...names(b).map((x) => s.lg.addWorktree(s.root, s.tree(x), x, s.base)),
      ...names(c).map((x) => s.lg.addDetachedWorktree(s.root, s.tree(x), s.base)),
      s.lg.deleteBranches(s.root, names(a, n / 2)),
      ...names(a)
        .slice(n / 2)
        .map((x) => s.lg.removeWorktree(s.root, s.tree(x), x)),
      s.lg.worktrees(s.root),
    ]);
    await Promise.all(names(a, n / 2).map((x, i) => s.lg.reuseWorktree(s.tree(x), `${d}${i}`, s.base)));
  }
  const trees = await s.lg.worktrees(s.root);
  assert.equal(trees.length, 1 + 3 * (n / 2 + n + n)); // the repo; per round the taken-over ones, b*, c*
  const branches = s.gitIn(s.root, ['branch', '--format=%(refname:short)']).split('\n');
  const expected = ['x', 'y', 'z'].flatMap((r) => [...names(`${r}b`), ...names(`${r}d`, n / 2)]);
  assert.deepEqual(branches.filter((b) => /^[xyz][abd]\d$/.test(b)).sort(), expected.sort());
});

test('checkoutDetached puts a commit in place over anything left in the worktree', async (t) => {
  const s = await setup(t);
  const a = s.commitOn(s.base, { 'a.txt': 'a\n' }, 'a');
  await s.lg.addDetachedWorktree(s.root, s.tree('scratch'), s.base);
  writeFileSync(join(s.tree('scratch'), 'README.md'), 'edited\n');
  writeFileSync(join(s.tree('scratch'), 'a.txt'), 'untracked, in the way of the checkout\n');
  s.gitIn(s.tree('scratch'), ['add', 'README.md']);
  await s.lg.checkoutDetached(s.tree('scratch'), a);
  assert.equal(s.gitIn(s.tree('scratch'), ['rev-parse', 'HEAD']), a);
  assert.equal(s.gitIn(s.tree('scratch'), ['status', '--porcelain']), '');
  assert.equal(readFileSync(join(s.tree('scratch'), 'a.txt'), 'utf8'), 'a\n');
  assert.equal(await s.lg.currentBranch(s.tree('scratch')), null);
});

// ---------------------------------------------------------------------------------------------------
// integrate

/** The integration tip moved on (`main`) while a lane worked (`lane`), both from `base`. */
function diverged(s: Setup, laneFiles: Record<string, string>, tipFiles: Record<string, string>) {
  const tip = s.commitOn(s.base, tipFiles, 'another ticket');
  s.gitIn(s.root, ['update-ref', 'refs/heads/main', tip]);
  s.gitIn(s.root, ['reset', '-q', '--hard']);
  const work1 = s.commitOn(s.base, laneFiles, 'lane work 1');
  const work2 = s.commitOn(work1, { 'lane-notes.txt': 'notes\n' }, 'lane work 2');
  s.gitIn(s.root, ['branch', 'lane', work2]);
  return { tip, work1, work2 };
}

test("integrate 'merge': a merge commit of the lane onto the tip, the worktree untouched; a conflict returns its files", async (t) => {
  const s = await setup(t);
  const { tip, work2 } = diverged(s, { 'lane.txt': 'lane\n' }, { 'tip.txt': 'tip\n' });
  const scratch = s.tree('.merge');
  await s.lg.addDetachedWorktree(s.root, scratch, s.base);
  const ok = await s.lg.integrate(scratch, tip, 'lane', 'merge', 'car: merge TICKET-001 (lane 1)');
  assert.ok(ok.ok, JSON.stringify(ok));
  assert.deepEqual(parents(s, ok.sha), [tip, work2]);
  assert.equal(subject(s, ok.sha), 'car: merge TICKET-001 (lane 1)');
  assert.equal(s.gitIn(scratch, ['rev-parse', 'HEAD']), s.base, 'made without a checkout');
  assert.equal(show(s, ok.sha, 'lane.txt'), 'lane');
  assert.equal(show(s, ok.sha, 'tip.txt'), 'tip');
  assert.equal(await s.lg.resolve(s.root, 'main'), tip, 'integrate never moves the integration branch');

  // both sides changed README.md
  const clash = s.commitOn(tip, { 'README.md': 'from the tip\n' }, 'tip edits README');
  const laneClash = s.commitOn(work2, { 'README.md': 'from the lane\n' }, 'lane edits README');
  s.gitIn(s.root, ['branch', '-f', 'lane', laneClash]);
  const bad = await s.lg.integrate(scratch, clash, 'lane', 'merge', 'car: merge TICKET-001 (lane 1)');
  assert.equal(bad.ok, false);
  assert.ok(!bad.ok);
  assert.deepEqual(bad.conflicts, ['README.md']);
  assert.match(bad.output, /CONFLICT \(content\): Merge conflict in README.md/);
  assert.deepEqual(inProgress(s, scratch), [], 'no merge left in progress');
  assert.equal(s.gitIn(scratch, ['status', '--porcelain']), '');
  assert.equal(s.gitIn(scratch, ['rev-parse', 'HEAD']), s.base);
});

test("integrate 'rebase': the lane's commits replayed linearly onto the tip; a conflict leaves no rebase", async (t) => {
  const s = await setup(t);
  const { tip } = diverged(s, { 'lane.txt': 'lane\n' }, { 'tip.txt': 'tip\n' });
  const scratch = s.tree('.merge');
  await s.lg.addDetachedWorktree(s.root, scratch, s.base);
  const ok = await s.lg.integrate(scratch, tip, 'lane', 'rebase', 'car: merge TICKET-001 (lane 1)');
  assert.ok(ok.ok, JSON.stringify(ok));
  assert.deepEqual(
    s.gitIn(s.root, ['log', '--format=%s', `${tip}..${ok.sha}`]).split('\n'),
    ['lane work 2', 'lane work 1'],
    'each lane commit replayed, in order',
  );
  assert.equal(s.gitIn(s.root, ['rev-list', '--merges', ok.sha]), '', 'linear');
  assert.deepEqual(parents(s, parents(s, ok.sha)[0]!), [tip]);
  assert.equal(await s.lg.currentBranch(scratch), null, 'the scratch tree stays detached');
  assert.equal(await s.lg.resolve(s.root, 'lane'), s.gitIn(s.root, ['rev-parse', 'lane']), 'lane kept');

  const clash = s.commitOn(tip, { 'lane.txt': 'the tip wrote it too\n' }, 'tip writes lane.txt');
  const bad = await s.lg.integrate(scratch, clash, 'lane', 'rebase', 'car: merge TICKET-001 (lane 1)');
  assert.ok(!bad.ok);
  assert.deepEqual(bad.conflicts, ['lane.txt']);
  assert.deepEqual(inProgress(s, scratch), [], 'no rebase left in progress');
  assert.equal(s.gitIn(scratch, ['status', '--porcelain']), '');
});

test("integrate 'rebase' of a lane that resolved a conflict by merging the tip in: linear, once, no conflict again", async (t) => {
  // what the merge queue does on a conflict: the tip is merged into the lane's branch (mergeInto), the
  // agent resolves and commits the merge. Replaying the lane's commits would hit the same conflict again.
  const s = await setup(t);
  const { tip } = diverged(s, { 'shared.txt': 'lane line\n' }, { 'shared.txt': 'tip line\n' });
  const scratch = s.tree('.merge');
  await s.lg.addDetachedWorktree(s.root, scratch, s.base);
  const first = await s.lg.integrate(scratch, tip, 'lane', 'rebase', 'car: merge TICKET-002 (lane 2)');
  assert.ok(!first.ok);
  assert.deepEqual(first.conflicts, ['shared.txt']);

  await s.lg.addWorktree(s.root, s.tree('lane'), 'lane', s.gitIn(s.root, ['rev-parse', 'lane']));
  const brought = await s.lg.mergeInto(s.tree('lane'), tip, 'car: bring main into lane');
  assert.ok(!brought.ok);
  writeFileSync(join(s.tree('lane'), 'shared.txt'), 'tip line\nlane line\n');
  s.gitIn(s.tree('lane'), ['commit', '-qam', 'resolve']);
  const resolved = s.gitIn(s.tree('lane'), ['rev-parse', 'HEAD']);

  const again = await s.lg.integrate(scratch, tip, 'lane', 'rebase', 'car: merge TICKET-002 (lane 2)');
  assert.ok(again.ok, JSON.stringify(again));
  assert.deepEqual(parents(s, again.sha), [tip], 'one linear commit on the tip');
  assert.equal(subject(s, again.sha), 'car: merge TICKET-002 (lane 2)');
  assert.equal(s.gitIn(s.root, ['rev-list', '--merges', again.sha]), '');
  assert.equal(show(s, again.sha, 'shared.txt'), 'tip line\nlane line');
  assert.equal(
    s.gitIn(s.root, ['rev-parse', `${again.sha}^{tree}`]),
    s.gitIn(s.root, ['rev-parse', `${resolved}^{tree}`]),
    "the lane's resolved tree",
  );
  assert.deepEqual(inProgress(s, scratch), []);

  // the tip moved on again meanwhile (another lane merged): still no conflict, the other work kept
  const later = s.commitOn(tip, { 'other.txt': 'other\n' }, 'a third ticket');
  const third = await s.lg.integrate(scratch, later, 'lane', 'rebase', 'car: merge TICKET-002 (lane 2)');
  assert.ok(third.ok, JSON.stringify(third));
  assert.deepEqual(parents(s, third.sha), [later]);
  assert.equal(show(s, third.sha, 'shared.txt'), 'tip line\nlane line');
  assert.equal(show(s, third.sha, 'other.txt'), 'other');

  // a new conflict with the tip: its files, and no squash left half done in the scratch tree
  const clash = s.commitOn(later, { 'shared.txt': 'rewritten by a fourth ticket\n' }, 'a fourth ticket');
  const bad = await s.lg.integrate(scratch, clash, 'lane', 'rebase', 'car: merge TICKET-002 (lane 2)');
  assert.ok(!bad.ok);
  assert.deepEqual(bad.conflicts, ['shared.txt']);
  assert.deepEqual(inProgress(s, scratch), []);
  assert.equal(s.gitIn(scratch, ['status', '--porcelain']), '');

  // nothing of the lane is new to the tip any more (its work was merged, car was killed before it
  // noted so): the tip itself, no empty commit
  const none = await s.lg.integrate(scratch, third.sha, 'lane', 'rebase', 'car: merge TICKET-002 (lane 2)');
  assert.ok(none.ok, JSON.stringify(none));
  assert.equal(none.sha, third.sha);
});

test('integrate recovers a scratch worktree a killed merge or rebase left mid-way', async (t) => {
  const s = await setup(t);
  const { tip } = diverged(s, { 'shared.txt': 'lane\n' }, { 'shared.txt': 'tip\n' });
  const scratch = s.tree('.merge');
  await s.lg.addDetachedWorktree(s.root, scratch, tip);
  const ok = s.commitOn(tip, { 'fine.txt': 'fine\n' }, 'a lane that merges cleanly');
  s.gitIn(s.root, ['branch', 'fine', ok]);

  // a merge stopped on its conflict (as a kill after git wrote MERGE_HEAD leaves it), plus a stray file
  assert.throws(() => s.gitIn(scratch, ['merge', '-q', '--no-edit', 'lane']));
  writeFileSync(join(scratch, 'stray.txt'), 'left by a killed check\n');
  assert.equal(inProgress(s, scratch).length, 1);
  // a merge does not use the worktree at all; a rebase does, over what was left there
  const merged = await s.lg.integrate(scratch, tip, 'fine', 'merge', 'car: merge fine');
  assert.ok(merged.ok, JSON.stringify(merged));
  assert.deepEqual(parents(s, merged.sha), [tip, ok]);
  const rebased = await s.lg.integrate(scratch, tip, 'fine', 'rebase', 'car: merge fine');
  assert.ok(rebased.ok, JSON.stringify(rebased));
  assert.deepEqual(inProgress(s, scratch), []);
  assert.equal(existsSync(join(scratch, 'stray.txt')), false);

  // a rebase stopped on its conflict
  s.gitIn(scratch, ['checkout', '-q', '--detach', 'lane']);
  assert.throws(() => s.gitIn(scratch, ['rebase', '-q', tip]));
  assert.ok(inProgress(s, scratch).some((p) => p.endsWith('rebase-merge')));
  const res = await s.lg.integrate(scratch, tip, 'fine', 'rebase', 'car: merge fine');
  assert.ok(res.ok, JSON.stringify(res));
  assert.deepEqual(inProgress(s, scratch), []);
  // the tree checked out for the re-verify, over a merge left mid-way
  assert.throws(() => s.gitIn(scratch, ['merge', '-q', '--no-edit', 'lane']));
  await s.lg.checkoutDetached(scratch, merged.sha);
  assert.deepEqual(inProgress(s, scratch), []);
  assert.equal(s.gitIn(scratch, ['rev-parse', 'HEAD']), merged.sha);
});

// ---------------------------------------------------------------------------------------------------
// advance

test('advance a branch nobody has checked out: compare-and-swap of the ref', async (t) => {
  const s = await setup(t);
  const a = s.commitOn(s.base, { 'a.txt': 'a\n' }, 'a');
  const b = s.commitOn(a, { 'b.txt': 'b\n' }, 'b');
  const other = s.commitOn(s.base, { 'o.txt': 'o\n' }, 'other');
  s.gitIn(s.root, ['branch', 'integration', a]);
  assert.deepEqual(await s.lg.advance(s.root, 'integration', a, b), { ok: true });
  assert.equal(await s.lg.resolve(s.root, 'integration'), b);
  assert.match(s.gitIn(s.root, ['reflog', '-1', '--format=%gs', 'integration']), /car: merge queue/);

  // it is at b now, not at a: nothing moves
  const moved = await s.lg.advance(s.root, 'integration', a, other);
  assert.equal(moved.ok, false);
  assert.ok(!moved.ok && moved.reason === 'moved', JSON.stringify(moved));
  assert.equal(await s.lg.resolve(s.root, 'integration'), b);
  assert.equal(s.gitIn(s.root, ['rev-parse', 'HEAD']), s.base, "the person's checkout is untouched");
  assert.equal(await s.lg.currentBranch(s.root), 'main');
  assert.equal(s.gitIn(s.root, ['status', '--porcelain']), '');
});

test("advance the checked-out branch: git's fast-forward, the working tree follows, the person's changes kept", async (t) => {
  const s = await setup(t);
  const a = s.commitOn(s.base, { 'a.txt': 'a\n' }, 'a');
  const b = s.commitOn(a, { 'b.txt': 'b\n' }, 'b');
  // the person's own uncommitted change to a file the new commits do not touch
  s.repo.write('README.md', '# mine\n');
  assert.deepEqual(await s.lg.advance(s.root, 'main', s.base, a), { ok: true });
  assert.equal(s.gitIn(s.root, ['rev-parse', 'HEAD']), a);
  assert.equal(await s.lg.currentBranch(s.root), 'main', 'still on the branch');
  assert.equal(readFileSync(join(s.root, 'a.txt'), 'utf8'), 'a\n', 'the working tree followed');
  assert.equal(readFileSync(join(s.root, 'README.md'), 'utf8'), '# mine\n', 'their change is kept');
  assert.equal(s.gitIn(s.root, ['status', '--porcelain']), 'M README.md');

  // a stale `from` (the branch is at a): moved, nothing touched
  const stale = await s.lg.advance(s.root, 'main', s.base, b);
  assert.ok(!stale.ok && stale.reason === 'moved', JSON.stringify(stale));
  assert.equal(s.gitIn(s.root, ['rev-parse', 'HEAD']), a);
  assert.equal(existsSync(join(s.root, 'b.txt')), false);
});

test('advance the checked-out branch refuses when the new commits touch a change of the person, touching nothing', async (t) => {
  const s = await setup(t);
  const a = s.commitOn(s.base, { 'README.md': '# from a lane\n', 'a.txt': 'a\n' }, 'a');
  const newFile = s.commitOn(s.base, { 'work/new.txt': 'from a lane\n' }, 'adds a file');
  s.repo.write('README.md', '# mine, not committed\n');
  const res = await s.lg.advance(s.root, 'main', s.base, a);
  assert.ok(!res.ok && res.reason === 'local_changes', JSON.stringify(res));
  assert.match(res.detail, /README\.md/);
  assert.equal(s.gitIn(s.root, ['rev-parse', 'HEAD']), s.base);
  assert.equal(readFileSync(join(s.root, 'README.md'), 'utf8'), '# mine, not committed\n');
  assert.equal(existsSync(join(s.root, 'a.txt')), false);

  // the same when the change is staged
  s.gitIn(s.root, ['add', 'README.md']);
  const staged = await s.lg.advance(s.root, 'main', s.base, a);
  assert.ok(!staged.ok && staged.reason === 'local_changes', JSON.stringify(staged));
  assert.equal(s.gitIn(s.root, ['status', '--porcelain']), 'M  README.md');

  // an untracked file of theirs where the new commits add one
  s.repo.write('work/new.txt', 'mine\n');
  const untracked = await s.lg.advance(s.root, 'main', s.base, newFile);
  assert.ok(!untracked.ok && untracked.reason === 'local_changes', JSON.stringify(untracked));
  assert.equal(readFileSync(join(s.root, 'work/new.txt'), 'utf8'), 'mine\n');
  assert.equal(s.gitIn(s.root, ['rev-parse', 'HEAD']), s.base);
});

test("advance never stashes the person's change, even with merge.autoStash set", async (t) => {
  // `git merge` honours merge.autoStash: it would stash the change, fast-forward, and pop it back
  // with conflict markers written into the person's file
  const s = await setup(t);
  s.gitIn(s.root, ['config', 'merge.autoStash', 'true']);
  const a = s.commitOn(s.base, { 'README.md': '# from a lane\n' }, 'a');
  s.repo.write('README.md', '# mine, not committed\n');
  const res = await s.lg.advance(s.root, 'main', s.base, a);
  assert.ok(!res.ok && res.reason === 'local_changes', JSON.stringify(res));
  assert.equal(readFileSync(join(s.root, 'README.md'), 'utf8'), '# mine, not committed\n');
  assert.equal(s.gitIn(s.root, ['stash', 'list']), '');
  assert.equal(s.gitIn(s.root, ['rev-parse', 'HEAD']), s.base);
});

test('advance the checked-out branch after the person committed on it: moved', async (t) => {
  const s = await setup(t);
  const a = s.commitOn(s.base, { 'a.txt': 'a\n' }, 'a');
  s.repo.write('mine.txt', 'mine\n');
  const theirs = s.repo.commitAll('the person commits');
  const res = await s.lg.advance(s.root, 'main', s.base, a);
  assert.ok(!res.ok && res.reason === 'moved', JSON.stringify(res));
  assert.equal(s.gitIn(s.root, ['rev-parse', 'HEAD']), theirs);
  assert.equal(existsSync(join(s.root, 'a.txt')), false);
});

test('advance a branch checked out in another worktree: fast-forwarded there, never moved under it', async (t) => {
  // update-ref would move the branch under that checkout: its files would then look like the person
  // had undone the merged work
  const s = await setup(t);
  const a = s.commitOn(s.base, { 'a.txt': 'a\n' }, 'a');
  const b = s.commitOn(a, { 'README.md': '# from a lane\n' }, 'b');
  s.gitIn(s.root, ['worktree', 'add', '-q', '-b', 'integration', s.tree('person'), s.base]);
  const person = s.tree('person');
  assert.deepEqual(await s.lg.advance(s.root, 'integration', s.base, a), { ok: true });
  assert.equal(s.gitIn(person, ['rev-parse', 'HEAD']), a);
  assert.equal(readFileSync(join(person, 'a.txt'), 'utf8'), 'a\n');
  assert.equal(s.gitIn(person, ['status', '--porcelain']), '');
  assert.equal(s.gitIn(s.root, ['rev-parse', 'HEAD']), s.base, 'the checkout car runs in is not that one');

  writeFileSync(join(person, 'README.md'), '# theirs\n');
  const res = await s.lg.advance(s.root, 'integration', a, b);
  assert.ok(!res.ok && res.reason === 'local_changes', JSON.stringify(res));
  assert.equal(await s.lg.resolve(s.root, 'integration'), a);
  assert.equal(readFileSync(join(person, 'README.md'), 'utf8'), '# theirs\n');
});

// ---------------------------------------------------------------------------------------------------
// mergeInto, ignoreLocally

test('mergeInto brings a commit into the lane: a merge commit, or the conflict left in place for the agent', async (t) => {
  const s = await setup(t);
  const tip = s.commitOn(s.base, { 'tip.txt': 'tip\n', 'shared.txt': 'tip\n' }, 'tip');
  const laneWork = s.commitOn(s.base, { 'lane.txt': 'lane\n' }, 'lane');
  await s.lg.addWorktree(s.root, s.tree('lane'), 'car/lane/r/T1', laneWork);
  const lane = s.tree('lane');
  const ok = await s.lg.mergeInto(lane, tip, 'car: bring main into car/lane/r/T1');
  assert.deepEqual(ok, { ok: true });
  const head = s.gitIn(lane, ['rev-parse', 'HEAD']);
  assert.deepEqual(parents(s, head), [laneWork, tip]);
  assert.equal(subject(s, head), 'car: bring main into car/lane/r/T1');
  assert.equal(await s.lg.currentBranch(lane), 'car/lane/r/T1', 'the lane stays on its branch');
  assert.deepEqual(await s.lg.mergeInto(lane, tip, 'again'), { ok: true }, 'already up to date');
  assert.equal(s.gitIn(lane, ['rev-parse', 'HEAD']), head);

  const clash = s.commitOn(tip, { 'shared.txt': 'tip, later\n' }, 'tip again');
  writeFileSync(join(lane, 'shared.txt'), 'lane\n');
  s.gitIn(lane, ['commit', '-qam', 'lane edits shared.txt']);
  const bad = await s.lg.mergeInto(lane, clash, 'car: bring main into car/lane/r/T1');
  assert.deepEqual(bad, { ok: false, conflicts: ['shared.txt'] });
  assert.equal(s.gitIn(lane, ['rev-parse', 'MERGE_HEAD']), clash, 'the merge is in progress');
  assert.match(readFileSync(join(lane, 'shared.txt'), 'utf8'), /^<<<<<<< [\s\S]*^=======$[\s\S]*^>>>>>>> /m);
  assert.equal(s.gitIn(lane, ['diff', '--name-only', '--diff-filter=U']), 'shared.txt');
});

test('ignoreLocally adds patterns once, to the exclude file every worktree of the repo reads', async (t) => {
  const s = await setup(t);
  const exclude = join(s.root, '.git/info/exclude');
  writeFileSync(exclude, '# a person wrote this, no newline at the end\n/.lanes/\n*.log');
  await s.lg.ignoreLocally(s.root, ['/.codex-autorunner/lanes/', '/.codex-autorunner/runs']);
  await s.lg.ignoreLocally(s.root, ['/.codex-autorunner/lanes/', '/.codex-autorunner/runs']);
  const text = readFileSync(exclude, 'utf8');
  assert.equal(text.match(/^\/\.codex-autorunner\/lanes\/$/gm)?.length, 1);
  assert.equal(text.match(/^\/\.codex-autorunner\/runs$/gm)?.length, 1);
  assert.match(text, /^\*\.log$/m, 'what was there is kept, on its own line');

  // asked from a lane's worktree: the same file (info/ is shared), no second copy
  await s.lg.addWorktree(s.root, s.tree('lane'), 'lane', s.base);
  await s.lg.ignoreLocally(s.tree('lane'), ['/.codex-autorunner/runs', '/extra/']);
  const after = readFileSync(exclude, 'utf8');
  assert.equal(after.match(/^\/\.codex-autorunner\/runs$/gm)?.length, 1);
  assert.match(after, /^\/extra\/$/m);
  assert.equal(existsSync(join(s.root, '.git/worktrees/lane/info/exclude')), false);
  for (const dir of [s.root, s.tree('lane')]) {
    writeFileSync(join(dir, 'x.log'), '');
    assert.equal(s.gitIn(dir, ['status', '--porcelain', '--untracked-files=all']), '', dir);
    assert.equal(s.gitIn(dir, ['check-ignore', '.codex-autorunner/runs/r/x']), '.codex-autorunner/runs/r/x');
  }
});

test('ignoreLocally makes the info folder when the repo has none', async (t) => {
  const s = await setup(t);
  rmSync(join(s.root, '.git/info'), { recursive: true, force: true });
  await s.lg.ignoreLocally(s.root, ['/x/']);
  assert.equal(readFileSync(join(s.root, '.git/info/exclude'), 'utf8'), '# car lanes\n/x/\n');
});
