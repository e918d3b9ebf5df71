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
