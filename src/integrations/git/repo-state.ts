// The engine's RepoState port on top of the git CLI.

import { createHash } from 'node:crypto';
import { lstat, open, unlink } from 'node:fs/promises';
import { join, relative, sep } from 'node:path';
import type {
  DiffStat,
  FileChange,
  FileChangeStatus,
  RepoSnapshot,
  RepoState,
} from '../../core/flow/ports.ts';
import { countFileLines, fileDigest, mapConcurrent } from './files.ts';
import { identityOverrides } from './identity.ts';
import { parseNumstat } from './numstat.ts';
import { formatStatusLine, parsePorcelainV2, type StatusEntry } from './porcelain.ts';
import { readCommit } from './refs-fs.ts';
import { isGitExit, type RunGitOptions, runGit, runGitText, streamGit } from './run-git.ts';

export interface RepoStateOptions {
  /** Per git call (default 60 s). */
  timeoutMs?: number;
  /** Kept from git's environment: car's secrets (a commit runs the repo's hooks). */
  unsetEnv?: readonly string[];
}

const FILE_CONCURRENCY = 8;
/** sha256 of no bytes: what an empty diff hashes to. */
const EMPTY_DIGEST = createHash('sha256').digest('hex');
/** Per-file patch text kept by diffFiles; tamper checks only need the lines, not a huge blob. */
const MAX_PATCH_BYTES = 1024 * 1024;
const BINARY_SNIFF_BYTES = 8000;
// Keep diffs byte-for-byte git's own, whatever diff drivers or colours the user configured.
const PLAIN_DIFF = ['--no-ext-diff', '--no-textconv', '--no-color'];

/**
 * `-- . :(exclude,literal)<p>...`: everything under the cwd except the excluded paths. Pathspecs are
 * relative to the cwd, which is `repoRoot`, so excludes are too.
 */
export function pathspecExcluding(excludePaths: readonly string[] = []): string[] {
  return ['--', '.', ...excludePaths.filter((p) => p !== '').map((p) => `:(exclude,literal)${p}`)];
}

/**
 * RepoState for the work tree at `repoRoot`. Exclude paths are relative to `repoRoot`; status lines
 * show paths relative to the git top level (they are the same when repoRoot is the top level).
 */
export function createRepoState(repoRoot: string, opts: RepoStateOptions = {}): RepoState {
  const read: RunGitOptions = { cwd: repoRoot, readOnly: true };
  const write: RunGitOptions = { cwd: repoRoot };
  if (opts.timeoutMs !== undefined) {
    read.timeoutMs = opts.timeoutMs;
    write.timeoutMs = opts.timeoutMs;
  }
  if (opts.unsetEnv !== undefined) {
    read.unsetEnv = opts.unsetEnv;
    write.unsetEnv = opts.unsetEnv;
  }

  // Status paths are relative to the top level, which is where untracked files are read from.
  let topLevel: Promise<string> | undefined;
  const top = (): Promise<string> => {
    topLevel ??= runGitText(['rev-parse', '--show-toplevel'], read);
    return topLevel;
  };

  const statusArgs = (excludePaths?: readonly string[]): string[] => [
    'status',
    '--porcelain=v2',
    '-z',
    '--untracked-files=all',
    ...pathspecExcluding(excludePaths),
  ];
  const status = async (excludePaths?: readonly string[]): Promise<StatusEntry[]> =>
    parsePorcelainV2(await runGit(statusArgs(excludePaths), read));

  const head = async (): Promise<string | null> => {
    const fromFiles = readCommit(repoRoot, 'HEAD');
    if (fromFiles) return fromFiles;
    try {
      return await runGitText(['rev-parse', '-q', '--verify', 'HEAD^{commit}'], read);
    } catch (err) {
      if (isGitExit(err, 1)) return null; // unborn branch
      throw err;
    }
  };

  const gitDigest = async (args: string[]): Promise<string> => {
    const hash = createHash('sha256');
    await streamGit(args, read, (chunk) => hash.update(chunk));
    return hash.digest('hex');
  };

  // An unborn start diffs against the empty tree; hashing it works for sha1 and sha256 repos.
  const emptyTree = (): Promise<string> =>
    runGitText(['hash-object', '-t', 'tree', '--stdin'], { ...read, input: '' });

  const untrackedPaths = (entries: StatusEntry[]): string[] =>
    entries.filter((e) => e.kind === 'untracked').map((e) => e.path);
  // The untracked files a snapshot of the tree saw (one being taken is waited for), else git's status.
  const untrackedOf = async (
    excludePaths: readonly string[] | undefined,
    known: RepoSnapshot | Promise<RepoSnapshot> | undefined,
  ): Promise<readonly string[]> => (await known)?.untracked ?? untrackedPaths(await status(excludePaths));

  /**
   * The tracked files that differ between `range[0]` and the working tree (or, given a second commit,
   * between the two commits), each with git's unified diff, renames detected.
   */
  const trackedChanges = async (
    range: [string] | [string, string],
    excludePaths?: readonly string[],
  ): Promise<FileChange[]> => {
    const spec = pathspecExcluding(excludePaths);
    // --relative: paths relative to repoRoot, like the exclude paths and the engine's ticket paths;
    // one git process gives the file list (--raw -z) and the patch (-p) after it
    const diffOut = await runGit(
      ['diff', '--relative', '--raw', '-z', '-p', '-M', ...PLAIN_DIFF, ...range, ...spec],
      read,
    );
    const { names: namesOut, patch: patchOut } = splitRawPatch(diffOut);
    const listed = parseNameStatus(namesOut);
    let patches = splitPatch(patchOut);
    if (patches.length !== listed.length) {
      // Should not happen (one diff queue, one order); fall back to one call per file.
      patches = await mapConcurrent(listed, FILE_CONCURRENCY, async (f) =>
        runGit(
          [
            'diff',
            '--relative',
            '-M',
            ...PLAIN_DIFF,
            ...range,
            '--',
            ...(f.oldPath ? [`:(literal)${f.oldPath}`] : []),
            `:(literal)${f.path}`,
          ],
          read,
        ),
      );
    }
    return listed.map((f, i): FileChange => {
      const patch = patches[i] ?? Buffer.alloc(0);
      const binary = /^Binary files .* differ$/m.test(patch.toString('latin1'));
      return {
        ...f,
        untracked: false,
        binary,
        patch: binary ? '' : patch.subarray(0, MAX_PATCH_BYTES).toString('utf8'),
        patchTruncated: !binary && patch.length > MAX_PATCH_BYTES,
      };
    });
  };

  return {
    head,

    async snapshot(excludePaths) {
      const spec = pathspecExcluding(excludePaths);
      // `--branch` puts HEAD in the status header, saving a rev-parse per snapshot
      const [statusOut, root] = await Promise.all([
        runGit(
          [...statusArgs(excludePaths).slice(0, 2), '--branch', ...statusArgs(excludePaths).slice(2)],
          read,
        ),
        top(),
      ]);
      const oid = /# branch\.oid ([0-9a-f]+)\0/.exec(statusOut.toString('latin1'))?.[1] ?? null;
      const entries = parsePorcelainV2(statusOut);
      // No tracked change in the status means both diffs are empty: skip the two git calls (the common
      // case between turns of a clean, committed tree).
      const tracked = entries.some((e) => e.kind !== 'untracked' && e.kind !== 'ignored');
      const [staged, worktree] = tracked
        ? await Promise.all([
            gitDigest(['diff', '--cached', '--binary', ...PLAIN_DIFF, ...spec]),
            gitDigest(['diff', '--binary', ...PLAIN_DIFF, ...spec]),
          ])
        : [EMPTY_DIGEST, EMPTY_DIGEST];
      const untracked = untrackedPaths(entries);
      const digests = await mapConcurrent(untracked, FILE_CONCURRENCY, (p) => fileDigest(join(root, p)));

      const hash = createHash('sha256');
      hash.update(`head\0${oid ?? ''}\0status\0`);
      hash.update(statusOut);
      hash.update(`\0staged\0${staged}\0worktree\0${worktree}\0`);
      untracked.forEach((p, i) => {
        hash.update(`untracked\0${p}\0${digests[i]}\0`);
      });
      return { head: oid, fingerprint: hash.digest('hex'), dirty: entries.length > 0, untracked };
    },

    async fingerprint(excludePaths) {
      return (await this.snapshot(excludePaths)).fingerprint;
    },

    async isDirty(excludePaths) {
      return (await status(excludePaths)).length > 0;
    },

    async statusLines(excludePaths) {
      return (await status(excludePaths)).map(formatStatusLine);
    },

    async diffStat(fromSha, excludePaths, known): Promise<DiffStat> {
      const base = fromSha ?? (await emptyTree());
      const [numstatOut, untracked, root] = await Promise.all([
        runGit(
          ['diff', '--numstat', '-z', '-M', ...PLAIN_DIFF, base, ...pathspecExcluding(excludePaths)],
          read,
        ),
        untrackedOf(excludePaths, known),
        top(),
      ]);
      const stat: DiffStat = { filesChanged: 0, insertions: 0, deletions: 0 };
      for (const entry of parseNumstat(numstatOut)) {
        stat.filesChanged++;
        stat.insertions += entry.insertions ?? 0;
        stat.deletions += entry.deletions ?? 0;
      }
      const lines = await mapConcurrent(untracked, FILE_CONCURRENCY, (p) => countFileLines(join(root, p)));
      stat.filesChanged += untracked.length;
      for (const n of lines) stat.insertions += n;
      return stat;
    },

    async diffFiles(fromSha, excludePaths, known) {
      const base = fromSha ?? (await emptyTree());
      const [tracked, untracked, root] = await Promise.all([
        trackedChanges([base], excludePaths),
        untrackedOf(excludePaths, known),
        top(),
      ]);
      const added = await mapConcurrent(untracked, FILE_CONCURRENCY, (p) =>
        untrackedChange(join(root, p), relative(repoRoot, join(root, p)).split(sep).join('/')),
      );
      return [...tracked, ...added];
    },

    async diffCommits(fromSha, toSha, excludePaths) {
      return trackedChanges([fromSha ?? (await emptyTree()), toSha], excludePaths);
    },

    async fileAt(sha, path) {
      try {
        // `<sha>:./<path>` is relative to the cwd, which is repoRoot
        return (await runGit(['cat-file', 'blob', `${sha}:./${path}`], read)).toString('utf8');
      } catch (err) {
        if (isGitExit(err, 128)) return null; // no such path at that commit
        throw err;
      }
    },

    async commitAll(message, excludePaths) {
      // `git add` with exclude pathspecs fails when an excluded path is also gitignored, so stage all
      // (which honours .gitignore) and then unstage whatever of the excluded paths got in.
      await runGit(['add', '-A', '--', '.'], write);
      const literal = (excludePaths ?? []).filter((p) => p !== '').map((p) => `:(literal)${p}`);
      if (literal.length > 0) {
        const unwanted = (await runGit(['diff', '--cached', '--name-only', '-z', '--', ...literal], read))
          .toString('utf8')
          .split('\0')
          .filter((p) => p !== '');
        if (unwanted.length > 0) {
          const unstage = (await head()) ? ['reset', '-q', 'HEAD'] : ['rm', '--cached', '-q', '-r'];
          await runGit([...unstage, '--', ...unwanted.map((p) => `:(top,literal)${p}`)], write);
        }
      }
      try {
        await runGit(['diff', '--cached', '--quiet'], read);
        return null; // nothing staged
      } catch (err) {
        if (!isGitExit(err, 1)) throw err;
      }
      await runGit([...(await identityOverrides(read)), 'commit', '-q', '-m', message], write);
      return head();
    },

    async removeStaleIndexLock() {
      // --git-path resolves to the right place for linked worktrees too
      const lock = await runGitText(
        ['rev-parse', '--path-format=absolute', '--git-path', 'index.lock'],
        read,
      );
      try {
        await unlink(lock);
        return true;
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === 'ENOENT') return false;
        throw err;
      }
    },
  };
}

const STATUS_LETTERS: Record<string, FileChangeStatus> = {
  A: 'added',
  M: 'modified',
  D: 'deleted',
  R: 'renamed',
  T: 'type_changed',
};

/** `git diff --name-status -z -M`: `<status>\0<path>\0`, renames `R<score>\0<old>\0<new>\0`. */
export function parseNameStatus(
  out: Buffer,
): { path: string; oldPath: string | null; status: FileChangeStatus }[] {
  const parts = out.toString('utf8').split('\0');
  const files: { path: string; oldPath: string | null; status: FileChangeStatus }[] = [];
  for (let i = 0; i + 1 < parts.length; ) {
    const code = parts[i] ?? '';
    const status = STATUS_LETTERS[code[0] ?? ''] ?? 'modified';
    if (code.startsWith('R') || code.startsWith('C')) {
      files.push({ oldPath: parts[i + 1] ?? '', path: parts[i + 2] ?? '', status });
      i += 3;
    } else {
      files.push({ path: parts[i + 1] ?? '', oldPath: null, status });
      i += 2;
    }
  }
  return files;
}

/**
 * `git diff --raw -z -p` output split into its file list, in `--name-status -z` form (for
 * `parseNameStatus`), and the patch that follows it (the same bytes `git diff -p` alone writes). A raw
 * entry is `:<modes> <shas> <status>\0<path>\0`, with a second path for a rename or copy; a NUL
 * separates the entries from the patch.
 */
export function splitRawPatch(out: Buffer): { names: Buffer; patch: Buffer } {
  const names: Buffer[] = [];
  let at = 0;
  while (at < out.length && out[at] === 0x3a) {
    const headEnd = out.indexOf(0, at);
    if (headEnd < 0) break;
    const head = out.subarray(at, headEnd).toString('latin1');
    const status = head.slice(head.lastIndexOf(' ') + 1);
    let end = headEnd + 1;
    for (let k = /^[RC]/.test(status) ? 2 : 1; k > 0; k--) {
      const nul = out.indexOf(0, end);
      end = nul < 0 ? out.length : nul + 1;
    }
    names.push(Buffer.from(`${status}\0`, 'latin1'), out.subarray(headEnd + 1, end));
    at = end;
  }
  if (out[at] === 0) at++;
  return { names: Buffer.concat(names), patch: out.subarray(at) };
}

/** Splits `git diff` output into one chunk per file (each starting at its `diff --git` line). */
export function splitPatch(out: Buffer): Buffer[] {
  const chunks: Buffer[] = [];
  const marker = Buffer.from('diff --git ');
  let start = out.indexOf(marker);
  while (start !== -1) {
    let next = out.indexOf(Buffer.from('\ndiff --git '), start);
    if (next !== -1) next += 1;
    chunks.push(out.subarray(start, next === -1 ? out.length : next));
    start = next;
  }
  return chunks;
}

/** An untracked file as an all-added change. */
async function untrackedChange(absPath: string, path: string): Promise<FileChange> {
  const change: FileChange = {
    path,
    oldPath: null,
    status: 'added',
    untracked: true,
    binary: false,
    patch: '',
    patchTruncated: false,
  };
  let st: Awaited<ReturnType<typeof lstat>>;
  try {
    st = await lstat(absPath);
  } catch {
    return change; // gone since git status listed it
  }
  if (!st.isFile()) return change;
  const handle = await open(absPath, 'r');
  let bytes: Buffer;
  try {
    const want = Math.min(st.size, MAX_PATCH_BYTES);
    bytes = Buffer.alloc(want);
    const { bytesRead } = await handle.read(bytes, 0, want, 0);
    bytes = bytes.subarray(0, bytesRead);
  } finally {
    await handle.close();
  }
  if (bytes.subarray(0, BINARY_SNIFF_BYTES).includes(0)) return { ...change, binary: true };
  const text = bytes.toString('utf8');
  const lines = text.split('\n');
  if (lines.at(-1) === '') lines.pop();
  change.patch = `@@ -0,0 +1,${lines.length} @@\n${lines.map((l) => `+${l}`).join('\n')}\n`;
  change.patchTruncated = st.size > MAX_PATCH_BYTES;
  return change;
}

/** True when `dir` is inside a git work tree. */
export async function isGitRepo(dir: string): Promise<boolean> {
  try {
    return (
      (await runGitText(['rev-parse', '--is-inside-work-tree'], { cwd: dir, readOnly: true })) === 'true'
    );
  } catch {
    return false;
  }
}

/** Absolute path of the work tree's top level containing `dir`, or null when `dir` is not in one. */
export async function gitTopLevel(dir: string): Promise<string | null> {
  try {
    return await runGitText(['rev-parse', '--show-toplevel'], { cwd: dir, readOnly: true });
  } catch {
    return null;
  }
}
