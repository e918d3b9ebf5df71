// The git side of lanes (the `LaneGit` port): a worktree and a branch per lane, the merge queue's
// scratch worktree where a lane is merged and re-verified, and the compare-and-swap move of the
// integration branch. Nothing here touches the person's checkout except `advance`, through git's own
// fast-forward, which refuses rather than overwrite a change of theirs.
import { appendFileSync, existsSync, mkdirSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import type {
  AdvanceResult,
  IntegrateResult,
  LaneGit,
  LanePorts,
  MergeMode,
  RepoState,
} from '../../core/flow/ports.ts';
import { identityOverrides } from './identity.ts';
import { gitDirs, readCommit } from './refs-fs.ts';
import { createRepoState } from './repo-state.ts';
import { GitError, isGitExit, type RunGitOptions, runGitText, streamGit } from './run-git.ts';
import { readersWriterLock } from './rw-lock.ts';
import { parseWorktreeList } from './worktree.ts';

const LANE_GIT_TIMEOUT_MS = 120_000;
const NO_AUTO_GC = ['-c', 'gc.auto=0', '-c', 'maintenance.auto=false'];

/** `unsetEnv`: car's secrets, kept from git and the hooks it runs (a merge commit runs the repo's hooks). */
export function createLaneGit(unsetEnv: readonly string[] = []): LaneGit {
  const opts = (cwd: string, readOnly = false): RunGitOptions => ({
    cwd,
    timeoutMs: LANE_GIT_TIMEOUT_MS,
    readOnly,
    unsetEnv,
  });
  // no automatic gc/maintenance after each merge or commit of car's (it ran after every one of them,
  // ~10 ms each): `housekeeping` runs it once, when the lanes stop
  const git = (cwd: string, args: string[], readOnly = false) =>
    runGitText([...NO_AUTO_GC, ...args], opts(cwd, readOnly));

  // git's worktree bookkeeping (.git/worktrees) is not safe against itself: a `worktree add` under way
  // leaves a half-made entry that a second add, a `worktree list`, or a branch created, checked out or
  // deleted (git looks for it in every worktree) fails on ("failed to read .../commondir"). A command of
  // car's that makes or removes an entry runs alone; those that only read the entries run side by side
  // (four lanes ending together each check out their next ticket at once), never beside one that writes.
  const admin = readersWriterLock();

  /**
   * `git worktree add`; when git refuses because a worktree a crash left behind is still registered at the
   * path (its folder gone), `worktree prune` and once more. Pruning first every time cost a process a lane.
   */
  const addPruningOnce = async (root: string, args: string[]): Promise<void> => {
    try {
      await git(root, ['worktree', 'add', '-q', ...args]);
    } catch (err) {
      if (
        !(err instanceof GitError) ||
        !/already registered|already exists|already checked out|already used by worktree/.test(err.message)
      )
        throw err;
      await git(root, ['worktree', 'prune']);
      await git(root, ['worktree', 'add', '-q', ...args]);
    }
  };

  /** Paths git lists as unmerged in `dir`. */
  const unmergedPaths = async (dir: string): Promise<string[]> => {
    const out = await git(dir, ['diff', '--name-only', '-z', '--diff-filter=U'], true);
    return out.split('\0').filter((p) => p !== '');
  };

  /** Where git keeps a checkout's rebase and merge state (read from its `.git`, else asked of git). */
  const inProgressPaths = async (dir: string): Promise<string[]> => {
    const names = ['rebase-merge', 'rebase-apply', 'MERGE_HEAD'];
    const dirs = gitDirs(dir);
    if (dirs) return names.map((name) => join(dirs.gitDir, name));
    const out = await git(
      dir,
      ['rev-parse', '--path-format=absolute', ...names.flatMap((p) => ['--git-path', p])],
      true,
    );
    return out.split('\n');
  };

  /** Leaves no merge or rebase in progress in `dir`; there is none to leave most of the time. */
  const abandonInProgress = async (dir: string): Promise<void> => {
    const [rebaseMerge, rebaseApply, mergeHead] = await inProgressPaths(dir);
    if ((rebaseMerge && existsSync(rebaseMerge)) || (rebaseApply && existsSync(rebaseApply))) {
      await git(dir, ['rebase', '--abort']).catch(() => undefined);
    }
    if (mergeHead && existsSync(mergeHead)) await git(dir, ['merge', '--abort']).catch(() => undefined);
  };

  /** `branch`'s changes since its merge base with `onto` as one commit on `onto` (`onto` when none). */
  const squash = async (
    dir: string,
    onto: string,
    branch: string,
    message: string,
    who: string[],
  ): Promise<IntegrateResult> => {
    await checkoutDetached(dir, onto);
    try {
      await git(dir, [...who, 'merge', '-q', '--squash', branch]);
      const staged = await git(dir, ['diff', '--cached', '--quiet'], true).then(
        () => false,
        (err: unknown) => {
          if (isGitExit(err, 1)) return true;
          throw err;
        },
      );
      if (!staged) return { ok: true, sha: onto }; // its work is on the tip already
      await git(dir, [...who, 'commit', '-q', '-m', message]);
    } catch (err) {
      if (!(err instanceof GitError)) throw err;
      const conflicts = await unmergedPaths(dir);
      await git(dir, ['reset', '-q', '--hard']); // a squash has no MERGE_HEAD to abort
      return { ok: false, conflicts, output: err.message };
    }
    return { ok: true, sha: await git(dir, ['rev-parse', 'HEAD'], true) };
  };

  const checkoutDetached = async (dir: string, commit: string): Promise<void> => {
    await abandonInProgress(dir);
    await git(dir, ['checkout', '-q', '--detach', '--force', commit]);
    await git(dir, ['clean', '-fdq']);
  };

  // what git needs to commit here (asked once: the repo's identity does not change during a run)
  let identity: Promise<string[]> | null = null;
  const ident = (dir: string) => {
    identity ??= identityOverrides(opts(dir, true));
    return identity;
  };

  return {
    async currentBranch(dir) {
      // HEAD is a small file: read it (the loop asks often) and ask git only when it is not plain
      const dirs = gitDirs(dir);
      const head = dirs ? join(dirs.gitDir, 'HEAD') : null;
      if (head) {
        try {
          const text = readFileSync(head, 'utf8').trim();
          // (a reftable repo's HEAD file always says refs/heads/.invalid: git knows the real one)
          if (text.startsWith('ref: refs/heads/') && text !== 'ref: refs/heads/.invalid') {
            return text.slice('ref: refs/heads/'.length);
          }
          if (/^[0-9a-f]{40,64}$/.test(text)) return null; // detached
        } catch {
          // fall through to git
        }
      }
      try {
        return (await git(dir, ['symbolic-ref', '--short', '-q', 'HEAD'], true)) || null;
      } catch (err) {
        if (isGitExit(err, 1)) return null;
        throw err;
      }
    },

    async resolve(dir, ref) {
      const read = readCommit(dir, ref);
      if (read) return read;
      try {
        return await git(dir, ['rev-parse', '--verify', '-q', `${ref}^{commit}`], true);
      } catch (err) {
        if (isGitExit(err, 1) || isGitExit(err, 128)) return null;
        throw err;
      }
    },

    async isAncestor(dir, ancestor, descendant) {
      try {
        await git(dir, ['merge-base', '--is-ancestor', ancestor, descendant], true);
        return true;
      } catch (err) {
        if (isGitExit(err, 1)) return false;
        throw err;
      }
    },

    async worktrees(root) {
      const out = await admin.reading(() => git(root, ['worktree', 'list', '--porcelain', '-z'], true));
      const list = parseWorktreeList(`${out}\0`);
      return list.map((w) => ({ path: resolve(w.path), branch: w.branch }));
    },

    async addWorktree(root, path, branch, base) {
      // a worktree folder a crash left half made is not a worktree git knows: prune it first
      await admin.writing(() => addPruningOnce(root, ['-B', branch, path, base]));
    },

    async addDetachedWorktree(root, path, commit) {
      await admin.writing(() => addPruningOnce(root, ['--detach', path, commit]));
    },

    async deleteBranches(root, branches) {
      // update-ref, not `branch -D`: that refuses a branch checked out in a worktree
      const input = branches.map((b) => `delete refs/heads/${b}\n`).join('');
      await admin.reading(() =>
        runGitText([...NO_AUTO_GC, 'update-ref', '--stdin'], { ...opts(root), input }),
      );
    },

    async reuseWorktree(path, branch, base) {
      await abandonInProgress(path);
      // a lane sent back may find its branch still checked out in the worktree it left, which another
      // lane is taking over at that moment
      await admin.reading(() =>
        git(path, ['checkout', '-q', '--force', '--ignore-other-worktrees', '-B', branch, base]),
      );
      await git(path, ['clean', '-fdq']);
    },

    async removeWorktree(root, path, branch) {
      await admin.writing(async () => {
        try {
          await git(root, ['worktree', 'remove', '--force', '--force', path]);
        } catch (err) {
          if (!(err instanceof GitError)) throw err;
          // not a worktree (any more): what is left is a plain folder, if anything
          await git(root, ['worktree', 'prune']);
        }
        if (branch) {
          await git(root, ['branch', '-D', branch]).catch((err: unknown) => {
            if (!isGitExit(err, 1)) throw err; // no such branch
          });
        }
      });
    },

    checkoutDetached,

    async housekeeping(root) {
      await runGitText(['maintenance', 'run', '--auto', '--quiet'], opts(root)).catch(() => undefined);
    },

    async integrate(dir, onto, branch, mode: MergeMode, message): Promise<IntegrateResult> {
      const who = await ident(dir);
      if (mode === 'merge') {
        // the merged tree in memory, then the commit: two processes, no checkout, no index (as a forge's
        // merge button does; the repo's commit hooks ran on the lane's own commits)
        const out: Buffer[] = [];
        const args = [...NO_AUTO_GC, 'merge-tree', '--write-tree', '--name-only', onto, branch];
        try {
          await streamGit(args, opts(dir, true), (chunk) => out.push(chunk));
        } catch (err) {
          if (!isGitExit(err, 1)) throw err;
          // exit 1: a conflict; stdout is the tree, the conflicted paths, a blank line, git's messages
          const [head = '', messages = ''] = Buffer.concat(out).toString('utf8').split('\n\n');
          const conflicts = [
            ...new Set(
              head
                .split('\n')
                .slice(1)
                .filter((p) => p !== ''),
            ),
          ];
          const output = `merging ${branch} onto ${onto.slice(0, 12)}:\n${messages.trim()}`;
          return { ok: false, conflicts, output };
        }
        const tree = Buffer.concat(out).toString('utf8').split('\n')[0]!;
        const sha = await git(dir, [...who, 'commit-tree', tree, '-p', onto, '-p', branch, '-m', message]);
        return { ok: true, sha };
      } else {
        // a lane the merge queue sent back has the tip merged into its branch, its conflict resolved in
        // that merge commit; replaying its commits one by one would meet the same conflict again. Its
        // work is then one commit on `onto`: the merge's result, still linear.
        const merges = await git(dir, ['rev-list', '--merges', '-n', '1', `${onto}..${branch}`], true);
        if (merges !== '') return squash(dir, onto, branch, message, who);
        await checkoutDetached(dir, branch);
        try {
          await git(dir, [...who, 'rebase', '-q', onto]);
        } catch (err) {
          if (!(err instanceof GitError)) throw err;
          const conflicts = await unmergedPaths(dir);
          await git(dir, ['rebase', '--abort']).catch(() => undefined);
          return { ok: false, conflicts, output: err.message };
        }
      }
      return { ok: true, sha: await git(dir, ['rev-parse', 'HEAD'], true) };
    },

    async mergeInto(dir, commit, message) {
      const who = await ident(dir);
      try {
        await git(dir, [...who, 'merge', '-q', '--no-ff', '--no-edit', '-m', message, commit]);
        return { ok: true };
      } catch (err) {
        if (!(err instanceof GitError)) throw err;
        const conflicts = await unmergedPaths(dir);
        if (conflicts.length === 0) throw err; // not a conflict: something else is wrong
        return { ok: false, conflicts };
      }
    },

    async ignoreLocally(root, patterns) {
      const file = await git(
        root,
        ['rev-parse', '--path-format=absolute', '--git-path', 'info/exclude'],
        true,
      );
      const text = existsSync(file) ? readFileSync(file, 'utf8') : '';
      const lines = new Set(text.split(/\r?\n/));
      const missing = patterns.filter((p) => !lines.has(p));
      if (missing.length === 0) return;
      mkdirSync(dirname(file), { recursive: true });
      const sep = text === '' || text.endsWith('\n') ? '' : '\n';
      appendFileSync(file, `${sep}# car lanes\n${missing.join('\n')}\n`);
    },

    async advance(root, branch, from, to): Promise<AdvanceResult> {
      // where the branch is checked out (here, or in another worktree of the repo) its checkout has to
      // follow: moving the ref alone would make that checkout look as if the person undid the merge
      let checkout: string | null = (await this.currentBranch(root)) === branch ? root : null;
      if (checkout === null) {
        const out = await admin.reading(() => git(root, ['worktree', 'list', '--porcelain', '-z'], true));
        const list = parseWorktreeList(`${out}\0`);
        const at = list.find((w) => w.branch === branch && !w.prunable);
        checkout = at ? resolve(at.path) : null;
      }
      if (checkout === null) {
        try {
          await git(root, ['update-ref', '-m', 'car: merge queue', `refs/heads/${branch}`, to, from]);
          return { ok: true };
        } catch (err) {
          if (!(err instanceof GitError)) throw err;
          return { ok: false, reason: 'moved', detail: err.message };
        }
      }
      const head = await this.resolve(checkout, 'HEAD');
      if (head !== from) {
        return { ok: false, reason: 'moved', detail: `${branch} is at ${head ?? 'nothing'}, not ${from}` };
      }
      try {
        // never --autostash (merge.autoStash): it would pop the person's change back with conflict markers
        await git(checkout, ['merge', '-q', '--ff-only', '--no-autostash', to]);
        return { ok: true };
      } catch (err) {
        if (!(err instanceof GitError)) throw err;
        return { ok: false, reason: 'local_changes', detail: err.message };
      }
    },
  };
}

/** The ports a run with lanes needs, for a repo whose git must not see `unsetEnv`. */
export function createLanePorts(unsetEnv: readonly string[] = []): LanePorts {
  // one per folder: a worktree taken over by the next lane, and the scratch tree of every merge pass,
  // keep what their RepoState learned (the top level) instead of asking git again
  const repos = new Map<string, RepoState>();
  const repoAt = (dir: string): RepoState => {
    let repo = repos.get(dir);
    if (!repo) {
      repo = createRepoState(dir, { unsetEnv });
      repos.set(dir, repo);
    }
    return repo;
  };
  return { git: createLaneGit(unsetEnv), repoAt };
}
