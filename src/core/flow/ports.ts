// Ports the flow engine needs from the outside world. Adapters implement them; the surface that starts
// a run plugs them in. The engine itself never imports an adapter.

/** What the engine needs to know about the git working tree it runs in. */
export interface RepoState {
  /** Current HEAD commit sha, or null on an unborn branch. */
  head(): Promise<string | null>;
  /**
   * Content-sensitive fingerprint of the working tree: changes whenever HEAD, the index, a tracked
   * file's content or an untracked (not ignored) file's content changes. Paths under `excludePaths`
   * (repo-relative, posix) are left out, so car's own control files never count as a change.
   */
  fingerprint(excludePaths?: readonly string[]): Promise<string>;
  /** HEAD, fingerprint and dirtiness from one look at the tree (cheaper than asking three times). */
  snapshot(excludePaths?: readonly string[]): Promise<RepoSnapshot>;
  /** True when `git status` shows anything outside `excludePaths` (untracked files included). */
  isDirty(excludePaths?: readonly string[]): Promise<boolean>;
  /** Porcelain status lines (`XY path`) outside `excludePaths`, for pause messages. */
  statusLines(excludePaths?: readonly string[]): Promise<string[]>;
  /**
   * Line/file counts of the working tree (untracked files included) against `fromSha`. `known`: a
   * snapshot of the tree as it is (same `excludePaths`; or one being taken), whose untracked files are
   * used instead of asking git for its status again.
   */
  diffStat(
    fromSha: string | null,
    excludePaths?: readonly string[],
    known?: RepoSnapshot | Promise<RepoSnapshot>,
  ): Promise<DiffStat>;
  /**
   * Every file that differs between `fromSha` (null: the empty tree) and the working tree, untracked
   * files included, each with git's unified diff (untracked files as all-added), renames detected.
   * `known` as for `diffStat`.
   */
  diffFiles(
    fromSha: string | null,
    excludePaths?: readonly string[],
    known?: RepoSnapshot | Promise<RepoSnapshot>,
  ): Promise<FileChange[]>;
  /** As `diffFiles`, between two commits (`fromSha` null: the empty tree); no working tree involved. */
  diffCommits(fromSha: string | null, toSha: string, excludePaths?: readonly string[]): Promise<FileChange[]>;
  /** A file's text at commit `sha` (repo-relative posix path), or null when it does not exist there. */
  fileAt(sha: string, path: string): Promise<string | null>;
  /** `git add -A` (minus excludePaths) and commit; returns the new HEAD sha, or null when nothing to commit. */
  commitAll(message: string, excludePaths?: readonly string[]): Promise<string | null>;
  /**
   * Removes git's `index.lock` left by a commit that was killed mid-way. Only safe while the caller owns
   * the repo (holds car's flow lock) and knows its own commit died; returns true when a lock was removed.
   */
  removeStaleIndexLock(): Promise<boolean>;
}

export interface RepoSnapshot {
  head: string | null;
  fingerprint: string;
  dirty: boolean;
  /** The untracked (not ignored) files the look saw, as git's status names them; absent: not kept. */
  untracked?: readonly string[];
}

export interface DiffStat {
  filesChanged: number;
  insertions: number;
  deletions: number;
}

export type FileChangeStatus = 'added' | 'modified' | 'deleted' | 'renamed' | 'type_changed';

/** One file of a working-tree diff. */
export interface FileChange {
  /** Repo-relative posix path now (for a deletion: the path that was deleted). */
  path: string;
  /** For a rename: the path before. */
  oldPath: string | null;
  status: FileChangeStatus;
  /** Not in git yet (status `added`). */
  untracked: boolean;
  binary: boolean;
  /** Unified diff text (`@@` hunks; header lines included for tracked files); '' for binary files. */
  patch: string;
  /** The patch was longer than the adapter keeps and was cut. */
  patchTruncated: boolean;
}

/** What lanes (parallel tickets, each in a git worktree of its own) need from git. */
export interface LaneGit {
  /**
   * The branch checked out at `dir`, or null when HEAD is detached. An unborn branch (no commit yet) is
   * named too: `resolve` then finds no commit for it.
   */
  currentBranch(dir: string): Promise<string | null>;
  /** The commit `ref` names, or null when it names none. */
  resolve(dir: string, ref: string): Promise<string | null>;
  isAncestor(dir: string, ancestor: string, descendant: string): Promise<boolean>;
  /** The worktrees git knows for the repo at `root` (absolute paths), the main one included. */
  worktrees(root: string): Promise<{ path: string; branch: string | null }[]>;
  /** `branch` created (or reset) at `base` and checked out in a new worktree at `path`. */
  addWorktree(root: string, path: string, branch: string, base: string): Promise<void>;
  /** A new worktree at `path` with `commit` checked out detached (the merge queue's scratch tree). */
  addDetachedWorktree(root: string, path: string, commit: string): Promise<void>;
  /** `commit` checked out detached in the worktree `dir`, over anything left there. */
  checkoutDetached(dir: string, commit: string): Promise<void>;
  /**
   * `branches` deleted, in one transaction; any may be gone already. One still checked out in a
   * worktree (a merged lane's, handed on to the next lane) leaves that worktree on an unborn branch,
   * which taking it over or removing it does not mind.
   */
  deleteBranches(root: string, branches: readonly string[]): Promise<void>;
  /**
   * A worktree at `path` taken by a new lane: `branch` created (or reset) at `base` and checked
   * out over anything left there, untracked files removed (ignored ones, such as installed
   * dependencies, are kept: only the files that changed are written, not the whole tree).
   */
  reuseWorktree(path: string, branch: string, base: string): Promise<void>;
  /** The worktree at `path` (forced) and `branch` removed; either may already be gone. */
  removeWorktree(root: string, path: string, branch: string | null): Promise<void>;
  /**
   * git's automatic housekeeping (gc, maintenance), which the lane operations above skip so that it does
   * not run after every merge and commit: run once, when the lanes stop.
   */
  housekeeping(root: string): Promise<void>;
  /**
   * `branch` integrated onto `onto`: a merge commit with `message` (made by git's plumbing, the worktree
   * `dir` untouched), or its commits replayed onto `onto` in `dir` (rebase: `dir` is left at the result,
   * over anything that was left there). A branch that has merges of its own since `onto` (the tip
   * brought in to resolve a conflict) is rebased as one commit with `message`, the merged result. A
   * conflict leaves no merge or rebase in progress.
   */
  integrate(
    dir: string,
    onto: string,
    branch: string,
    mode: MergeMode,
    message: string,
  ): Promise<IntegrateResult>;
  /**
   * Moves `branch` from `from` to `to`, only if it is still at `from`. When `branch` is checked out at
   * `root` or in another worktree of the repo, git's own fast-forward there: the working tree follows,
   * and a change of the person's own that the new commits would overwrite makes it refuse, touching
   * nothing.
   */
  advance(root: string, branch: string, from: string, to: string): Promise<AdvanceResult>;
  /**
   * Merges `commit` into the branch checked out at `dir`. A conflict is left in place (markers in the
   * files, the merge in progress) for the lane's agent to resolve and commit.
   */
  mergeInto(
    dir: string,
    commit: string,
    message: string,
  ): Promise<{ ok: true } | { ok: false; conflicts: string[] }>;
  /** Adds `patterns` to the repo's own exclude file (`info/exclude`, shared by its worktrees) if missing. */
  ignoreLocally(root: string, patterns: readonly string[]): Promise<void>;
}

/** What a run with lanes needs besides the engine's ports: git for lanes, and a RepoState per worktree. */
export interface LanePorts {
  git: LaneGit;
  repoAt(dir: string): RepoState;
}

export type MergeMode = 'merge' | 'rebase';

export type IntegrateResult = { ok: true; sha: string } | { ok: false; conflicts: string[]; output: string };

export type AdvanceResult =
  | { ok: true }
  /** Someone else moved the branch meanwhile, or the checkout's own changes are in the way. */
  | { ok: false; reason: 'moved' | 'local_changes'; detail: string };

/**
 * Opens (or updates) the pull request of the branch checked out at `cwd` for an `open_pr` ticket,
 * writing `pr_url` into the ticket (core/scm behind it, with the GitHub adapter). Throws with a message
 * for the person when it cannot.
 */
export interface PullRequestPort {
  open(input: {
    cwd: string;
    ticketPath: string;
  }): Promise<{ number: number; url: string; created: boolean }>;
}
