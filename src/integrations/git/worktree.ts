// The hub's git operations (the `HubGit` port): inspecting checkouts, listing, adding and removing
// worktrees. Worktrees share the base repo's object store; that is what `git worktree` is.
import { dirname } from 'node:path';
import type { AddWorktree, CheckoutInfo, HubGit, WorktreeEntry } from '../../core/hub/ports.ts';
import { GitError, isGitExit, runGitText } from './run-git.ts';

/** Git calls on behalf of the hub get CAR's 120 s budget. */
const HUB_GIT_TIMEOUT_MS = 120_000;
const CLONE_TIMEOUT_MS = 30 * 60_000;

const git = (cwd: string, args: string[], readOnly = false) =>
  runGitText(args, { cwd, timeoutMs: HUB_GIT_TIMEOUT_MS, readOnly });

/** Parses `git worktree list --porcelain -z` output. */
export function parseWorktreeList(text: string): WorktreeEntry[] {
  const out: WorktreeEntry[] = [];
  let cur: WorktreeEntry | null = null;
  for (const field of text.split('\0')) {
    if (field === '') {
      if (cur) out.push(cur);
      cur = null;
      continue;
    }
    const space = field.indexOf(' ');
    const key = space < 0 ? field : field.slice(0, space);
    const value = space < 0 ? '' : field.slice(space + 1);
    if (key === 'worktree') {
      if (cur) out.push(cur);
      cur = {
        path: value,
        head: null,
        branch: null,
        bare: false,
        detached: false,
        locked: false,
        prunable: false,
      };
      continue;
    }
    if (!cur) continue;
    if (key === 'HEAD') cur.head = value;
    else if (key === 'branch') cur.branch = value.replace(/^refs\/heads\//, '');
    else if (key === 'bare') cur.bare = true;
    else if (key === 'detached') cur.detached = true;
    else if (key === 'locked') cur.locked = true;
    else if (key === 'prunable') cur.prunable = true;
  }
  if (cur) out.push(cur);
  return out;
}

export function createHubGit(): HubGit {
  return {
    async inspect(dir: string): Promise<CheckoutInfo | null> {
      let lines: string[];
      try {
        lines = (
          await git(
            dir,
            ['rev-parse', '--path-format=absolute', '--show-toplevel', '--git-common-dir', '--git-dir'],
            true,
          )
        ).split('\n');
      } catch (err) {
        if (err instanceof GitError) return null;
        throw err;
      }
      const [topLevel, commonDir, gitDir] = lines;
      if (!topLevel || !commonDir || !gitDir) return null;
      let branch: string | null = null;
      try {
        branch = (await git(dir, ['symbolic-ref', '--short', '-q', 'HEAD'], true)) || null;
      } catch (err) {
        if (!isGitExit(err, 1)) throw err; // detached HEAD
      }
      return { topLevel, commonDir, linked: commonDir !== gitDir, branch };
    },

    async listWorktrees(repoDir: string): Promise<WorktreeEntry[]> {
      return parseWorktreeList(`${await git(repoDir, ['worktree', 'list', '--porcelain', '-z'], true)}\0`);
    },

    async resolveCommit(repoDir: string, ref: string): Promise<string | null> {
      try {
        return await git(repoDir, ['rev-parse', '--verify', '-q', `${ref}^{commit}`], true);
      } catch (err) {
        if (isGitExit(err, 1) || isGitExit(err, 128)) return null;
        throw err;
      }
    },

    async addWorktree(repoDir: string, opts: AddWorktree): Promise<void> {
      const args = opts.create
        ? ['worktree', 'add', '-b', opts.branch, opts.path, ...(opts.startPoint ? [opts.startPoint] : [])]
        : ['worktree', 'add', opts.path, opts.branch];
      await git(repoDir, args);
    },

    async removeWorktree(repoDir: string, path: string, opts: { force: boolean }): Promise<void> {
      await git(repoDir, ['worktree', 'remove', ...(opts.force ? ['--force'] : []), path]);
    },

    async deleteBranch(repoDir: string, branch: string, opts: { force: boolean }): Promise<void> {
      await git(repoDir, ['branch', opts.force ? '-D' : '-d', branch]);
    },

    async disableAutoGc(worktreeDir: string): Promise<void> {
      // per-worktree config needs the extension; it is read by git >= 2.20 and leaves other config alone
      await git(worktreeDir, ['config', 'extensions.worktreeConfig', 'true']);
      await git(worktreeDir, ['config', '--worktree', 'gc.auto', '0']);
    },

    async dirtyPaths(dir: string): Promise<string[]> {
      const out = await git(dir, ['status', '--porcelain=v1', '-z', '--untracked-files=all'], true);
      const paths: string[] = [];
      const fields = out.split('\0');
      for (let i = 0; i < fields.length; i++) {
        const f = fields[i]!;
        if (f.length < 4) continue;
        paths.push(f.slice(3));
        if (f[0] === 'R' || f[0] === 'C') i++; // the rename source follows
      }
      return paths;
    },

    async init(dir: string): Promise<void> {
      await git(dir, ['init', '-q']);
    },

    async clone(url: string, dir: string): Promise<void> {
      // `--` so a URL can never be read as an option; a big repo may take a while
      await runGitText(['clone', '-q', '--', url, dir], { cwd: dirname(dir), timeoutMs: CLONE_TIMEOUT_MS });
    },
  };
}
