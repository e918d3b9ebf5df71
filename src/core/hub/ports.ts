// What hub code needs from git, as a port (the engine never runs git itself; the git adapter in
// `integrations/git/worktree.ts` implements it).

/** One line group of `git worktree list --porcelain`. */
export interface WorktreeEntry {
  /** Absolute path as git reports it. */
  path: string;
  head: string | null;
  /** Short branch name (`feat/x`), null when detached or bare. */
  branch: string | null;
  bare: boolean;
  detached: boolean;
  locked: boolean;
  /** Its folder is gone; `git worktree prune` would drop it. */
  prunable: boolean;
}

/** A checkout as git sees it. */
export interface CheckoutInfo {
  topLevel: string;
  /** The shared `.git` folder (absolute): equal across a repo and all its worktrees. */
  commonDir: string;
  /** True for a linked worktree (its git dir differs from the common dir). */
  linked: boolean;
  branch: string | null;
}

export interface AddWorktree {
  path: string;
  branch: string;
  /** Create `branch` at `startPoint`; otherwise check out the existing branch. */
  create: boolean;
  startPoint?: string;
}

export interface HubGit {
  /** Null when `dir` is not inside a git checkout. */
  inspect(dir: string): Promise<CheckoutInfo | null>;
  listWorktrees(repoDir: string): Promise<WorktreeEntry[]>;
  /** The commit `ref` names, or null. */
  resolveCommit(repoDir: string, ref: string): Promise<string | null>;
  addWorktree(repoDir: string, opts: AddWorktree): Promise<void>;
  removeWorktree(repoDir: string, path: string, opts: { force: boolean }): Promise<void>;
  deleteBranch(repoDir: string, branch: string, opts: { force: boolean }): Promise<void>;
  /** `gc.auto 0` for this worktree only (`extensions.worktreeConfig` + `git config --worktree`). */
  disableAutoGc(worktreeDir: string): Promise<void>;
  /** Changed or untracked paths (repo-relative, posix), ignored files excluded. */
  dirtyPaths(dir: string): Promise<string[]>;
  /** `git init` in an existing folder. */
  init(dir: string): Promise<void>;
  /** `git clone <url> <dir>` (a URL or a local path). */
  clone(url: string, dir: string): Promise<void>;
}
