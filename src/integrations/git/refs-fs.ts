// HEAD and branches read from git's own files instead of by starting git: the flow, the lanes and the
// merge queue ask for them several times a ticket, and a git process costs 5–15 ms on a busy machine.
// Only the plain cases are read: a detached HEAD, or a loose ref file holding a commit id. Anything else
// (packed refs, reftable, a chain of symbolic refs, a worktree whose `.git` cannot be read) gives
// `undefined`, and the caller asks git.
import { readFileSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';

const COMMIT_ID = /^[0-9a-f]{40}(?:[0-9a-f]{24})?$/;
const SYMREF = 'ref: ';

export interface GitDirs {
  /** The checkout's own git dir (HEAD, MERGE_HEAD, rebase state). */
  gitDir: string;
  /** Where refs live: the repo's git dir, shared by all its worktrees. */
  commonDir: string;
}

/** The git dirs of the checkout at `dir`: its `.git` folder, or the folder a worktree's `.git` file names. */
export function gitDirs(dir: string): GitDirs | null {
  const dotGit = join(dir, '.git');
  try {
    if (statSync(dotGit).isDirectory()) return { gitDir: dotGit, commonDir: dotGit };
    const line = readFileSync(dotGit, 'utf8').trim();
    if (!line.startsWith('gitdir: ')) return null;
    const gitDir = resolve(dir, line.slice('gitdir: '.length));
    let commonDir = gitDir;
    try {
      commonDir = resolve(gitDir, readFileSync(join(gitDir, 'commondir'), 'utf8').trim());
    } catch {
      // no commondir file: a git dir of its own
    }
    return { gitDir, commonDir };
  } catch {
    return null;
  }
}

/**
 * The commit `ref` names in the checkout at `dir`, for `HEAD` or a full `refs/heads/…` name, when git's
 * files say it plainly; `undefined` when git must be asked (including when the ref does not exist: a
 * packed ref looks the same as no ref from here).
 */
export function readCommit(dir: string, ref: string): string | undefined {
  if (ref !== 'HEAD' && !ref.startsWith('refs/heads/')) return undefined;
  const dirs = gitDirs(dir);
  if (!dirs) return undefined;
  let text = ref === 'HEAD' ? readText(join(dirs.gitDir, 'HEAD')) : `${SYMREF}${ref}`;
  if (text?.startsWith(SYMREF)) {
    const target = text.slice(SYMREF.length);
    // a reftable repo's HEAD names refs/heads/.invalid; only branches are read here
    if (!target.startsWith('refs/heads/') || target === 'refs/heads/.invalid' || target.includes('..')) {
      return undefined;
    }
    text = readText(join(dirs.commonDir, target));
  }
  return text !== undefined && COMMIT_ID.test(text) ? text : undefined;
}

function readText(file: string): string | undefined {
  try {
    return readFileSync(file, 'utf8').trim();
  } catch {
    return undefined;
  }
}
