// What the pull-request lifecycle needs from the outside world: a code host (GitHub's REST API, in
// integrations/github) and git (push, the commits on a branch). The surface plugs the adapters in.

export interface PullRequestInfo {
  number: number;
  url: string;
  state: 'open' | 'closed';
  merged: boolean;
  draft: boolean;
  title: string;
  headRef: string;
  headSha: string;
  baseRef: string;
}

export type CheckConclusion =
  | 'success'
  | 'failure'
  | 'neutral'
  | 'cancelled'
  | 'skipped'
  | 'timed_out'
  | 'action_required'
  | 'stale'
  | null;

export interface CheckRunInfo {
  id: number;
  name: string;
  status: 'queued' | 'in_progress' | 'completed' | string;
  conclusion: CheckConclusion | string;
  detailsUrl: string | null;
  /** The check's own report: title, summary and text (GitHub Actions puts the failing step there). */
  output: { title: string | null; summary: string | null; text: string | null };
}

export interface ReviewInfo {
  id: number;
  state: 'APPROVED' | 'CHANGES_REQUESTED' | 'COMMENTED' | 'DISMISSED' | 'PENDING' | string;
  user: string | null;
  body: string;
}

export interface ReviewCommentInfo {
  id: number;
  reviewId: number | null;
  path: string;
  line: number | null;
  body: string;
  user: string | null;
}

/** One look at a PR: the PR, its head's check runs, its reviews and review comments. */
export interface PrObservation {
  pr: PullRequestInfo;
  checks: CheckRunInfo[];
  reviews: ReviewInfo[];
  comments: ReviewCommentInfo[];
}

export interface NewPr {
  title: string;
  body: string;
  head: string;
  base: string;
  draft: boolean;
}

/** A code host's pull requests. Errors are `ScmError`s saying what failed and what to do. */
export interface ScmHost {
  /** `owner/name`. */
  readonly slug: string;
  defaultBranch(): Promise<string>;
  /** The open PR from `head` (a branch of this repo), if any. */
  findOpenPr(head: string): Promise<PullRequestInfo | null>;
  createPr(pr: NewPr): Promise<PullRequestInfo>;
  updatePr(number: number, patch: { title: string; body: string }): Promise<PullRequestInfo>;
  addLabels(number: number, labels: readonly string[]): Promise<void>;
  /** The PR, its checks, reviews and comments (unchanged answers come from the host's ETag cache). */
  observe(number: number): Promise<PrObservation>;
  merge(number: number, opts: { method: 'merge' | 'squash' | 'rebase'; sha: string }): Promise<void>;
}

/** git, for pushing a branch and telling which commits it adds. */
export interface ScmGit {
  /** The branch checked out at `cwd`, or null when HEAD is detached. */
  currentBranch(cwd: string): Promise<string | null>;
  /** The commit `ref` names, or null. */
  resolve(cwd: string, ref: string): Promise<string | null>;
  /** The remote's URL, or null when there is no such remote. */
  remoteUrl(cwd: string, remote: string): Promise<string | null>;
  /** Pushes `branch` to `remote` (same name there), setting upstream. */
  push(cwd: string, remote: string, branch: string): Promise<void>;
  /** Commits reachable from `head` and not from `base` (base may be a remote-tracking ref). */
  commitsBetween(cwd: string, base: string, head: string): Promise<string[]>;
  /** Fetches `branch` from `remote` (so `remote/branch` is current); false when the remote has none. */
  fetch(cwd: string, remote: string, branch: string): Promise<boolean>;
}

/** Why a code host or git call failed, phrased for the person: what happened and what to do. */
export class ScmError extends Error {
  /** `auth` (bad token), `rate_limit`, `not_found`, `protected` (the base refuses), `push`, `usage`, `other`. */
  readonly kind: 'auth' | 'rate_limit' | 'not_found' | 'protected' | 'push' | 'usage' | 'other';
  /** For a rate limit: when the host takes requests again (epoch ms). */
  readonly retryAt: number | null;

  constructor(kind: ScmError['kind'], message: string, retryAt: number | null = null) {
    super(message);
    this.name = 'ScmError';
    this.kind = kind;
    this.retryAt = retryAt;
  }
}
