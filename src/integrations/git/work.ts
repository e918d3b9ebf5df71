// What the web UI shows of git: the diff of a ticket's work (the commits between two revisions, or a
// lane's branch against where it left the integration branch) and a checkout's state (branch, upstream,
// ahead/behind, uncommitted files). Read-only calls, bounded output.
import { formatStatusLine, parsePorcelainV2 } from './porcelain.ts';
import { GitError, runGit, runGitText, streamGit } from './run-git.ts';

/** A patch is cut at this many bytes (the file list still names every file). */
export const MAX_PATCH_BYTES = 2 * 1024 * 1024;
/** Uncommitted files listed per checkout (the count is exact). */
const MAX_DIRTY_LISTED = 50;
const TIMEOUT_MS = 30_000;

export interface DiffFile {
  path: string;
  /** null for a binary file. */
  insertions: number | null;
  deletions: number | null;
}

export interface WorkDiff {
  base: string;
  head: string;
  /** Commits from base to head, newest first. */
  commits: { sha: string; subject: string }[];
  files: DiffFile[];
  /** Unified diff text (git diff -p), cut at MAX_PATCH_BYTES. */
  patch: string;
  truncated: boolean;
}

const SHA_RE = /^[0-9a-f]{7,64}$/;

/** The diff from `base` to `head` (both commits of the repo at `cwd`). */
export async function diffBetween(cwd: string, base: string, head: string): Promise<WorkDiff> {
  // ids from car's own records; anything else (a name git could read as an option) is refused
  for (const rev of [base, head]) if (!SHA_RE.test(rev)) throw new RangeError(`not a commit id: ${rev}`);
  const range = `${base}..${head}`;
  const opts = { cwd, readOnly: true, timeoutMs: TIMEOUT_MS };
  const [log, numstat, patch] = await Promise.all([
    runGitText(['log', '--format=%H%x09%s', '-n', '200', range, '--'], opts),
    runGitText(['diff', '--numstat', '-z', '--no-renames', base, head, '--'], opts),
    boundedPatch(cwd, ['diff', '-p', '--no-color', '--no-ext-diff', '--no-renames', base, head, '--']),
  ]);
  const commits = log
    .split('\n')
    .filter((l) => l !== '')
    .map((l) => {
      const tab = l.indexOf('\t');
      return { sha: l.slice(0, tab), subject: l.slice(tab + 1) };
    });
  return { base, head, commits, files: parseNumstat(numstat), ...patch };
}

/** `git diff --numstat -z` without renames: `ins\tdel\tpath\0` per file (`-` for binary). */
function parseNumstat(out: string): DiffFile[] {
  return out
    .split('\0')
    .filter((r) => r !== '')
    .map((r) => {
      const [ins, del, ...path] = r.split('\t');
      return {
        path: path.join('\t'),
        insertions: ins === '-' ? null : Number(ins),
        deletions: del === '-' ? null : Number(del),
      };
    });
}

async function boundedPatch(cwd: string, args: string[]): Promise<{ patch: string; truncated: boolean }> {
  const chunks: Buffer[] = [];
  let size = 0;
  let truncated = false;
  await streamGit(args, { cwd, readOnly: true, timeoutMs: TIMEOUT_MS }, (chunk) => {
    if (size >= MAX_PATCH_BYTES) {
      truncated = true;
      return;
    }
    const room = MAX_PATCH_BYTES - size;
    if (chunk.length > room) truncated = true;
    const kept = chunk.length > room ? chunk.subarray(0, room) : chunk;
    chunks.push(kept);
    size += kept.length;
  });
  let patch = Buffer.concat(chunks).toString('utf8');
  // a cut patch ends at the last whole file, so the viewer never shows half a hunk
  if (truncated) {
    const last = patch.lastIndexOf('\ndiff --git ');
    patch = last > 0 ? patch.slice(0, last + 1) : '';
  }
  return { patch, truncated };
}

/** The commit `rev` names, or null when there is none (a deleted branch). */
export async function resolveCommit(cwd: string, rev: string): Promise<string | null> {
  try {
    return await runGitText(['rev-parse', '--verify', '--quiet', `${rev}^{commit}`], {
      cwd,
      readOnly: true,
      timeoutMs: TIMEOUT_MS,
    });
  } catch (err) {
    if (err instanceof GitError && err.exitCode === 1) return null;
    throw err;
  }
}

/** Where `branch` left `onto`: their merge base. */
export async function mergeBase(cwd: string, onto: string, branch: string): Promise<string | null> {
  try {
    return await runGitText(['merge-base', onto, branch], { cwd, readOnly: true, timeoutMs: TIMEOUT_MS });
  } catch (err) {
    if (err instanceof GitError && err.exitCode === 1) return null;
    throw err;
  }
}

export interface GitState {
  /** null when HEAD is detached. */
  branch: string | null;
  head: string | null;
  upstream: string | null;
  /** Against the upstream; null without one. */
  ahead: number | null;
  behind: number | null;
  /** Uncommitted files (untracked included), and the first of them as `git status --short` lines. */
  dirty: number;
  dirty_files: string[];
}

/** One `git status --porcelain=v2 --branch -z`: the checkout's branch, upstream distance and changes. */
export async function gitState(cwd: string): Promise<GitState> {
  const out = (
    await runGit(['status', '--porcelain=v2', '--branch', '-z', '--untracked-files=normal'], {
      cwd,
      readOnly: true,
      timeoutMs: TIMEOUT_MS,
    })
  ).toString('utf8');
  const state: GitState = {
    branch: null,
    head: null,
    upstream: null,
    ahead: null,
    behind: null,
    dirty: 0,
    dirty_files: [],
  };
  for (const rec of out.split('\0')) {
    if (!rec.startsWith('# ')) continue;
    const [, key, ...rest] = rec.split(' ');
    const value = rest.join(' ');
    if (key === 'branch.oid') state.head = value === '(initial)' ? null : value;
    else if (key === 'branch.head') state.branch = value === '(detached)' ? null : value;
    else if (key === 'branch.upstream') state.upstream = value;
    else if (key === 'branch.ab') {
      const m = /^\+(\d+) -(\d+)$/.exec(value);
      if (m) {
        state.ahead = Number(m[1]);
        state.behind = Number(m[2]);
      }
    }
  }
  const entries = parsePorcelainV2(out).filter((e) => e.kind !== 'ignored');
  state.dirty = entries.length;
  state.dirty_files = entries.slice(0, MAX_DIRTY_LISTED).map(formatStatusLine);
  return state;
}
