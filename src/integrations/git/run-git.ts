// One way to run git: a fixed environment, a timeout, and errors that say what failed.
import { runShortInGroup } from '../../core/proc/shell-spawner.ts';

export interface RunGitOptions {
  cwd: string;
  /** Kill git after this long (default 60 s). */
  timeoutMs?: number;
  /** Bytes written to git's stdin. */
  input?: string | Buffer;
  /** Read-only call: sets GIT_OPTIONAL_LOCKS=0 so status does not take the index lock to refresh it. */
  readOnly?: boolean;
  /** Kept from git's environment (car's secrets: hooks and filters run the repo's code). */
  unsetEnv?: readonly string[];
}

const DEFAULT_TIMEOUT_MS = 60_000;
const STDERR_TAIL_BYTES = 4096;
/** After git exits, how long a hook or helper it started may hold our pipes before they are closed. */
const PIPE_GRACE_MS = 2000;

// Set by git hooks or a parent git; they would point our calls at some other repository or index.
const INHERITED_REPO_VARS = [
  'GIT_DIR',
  'GIT_WORK_TREE',
  'GIT_INDEX_FILE',
  'GIT_OBJECT_DIRECTORY',
  'GIT_ALTERNATE_OBJECT_DIRECTORIES',
  'GIT_COMMON_DIR',
  'GIT_PREFIX',
  'GIT_NAMESPACE',
];

export class GitError extends Error {
  readonly args: readonly string[];
  /** Exit code, or null when git was killed by a signal (including our timeout). */
  readonly exitCode: number | null;
  readonly signal: NodeJS.Signals | null;
  readonly timedOut: boolean;
  /** Last few KiB of stderr. */
  readonly stderr: string;

  constructor(
    args: readonly string[],
    result: { exitCode: number | null; signal: NodeJS.Signals | null; timedOut: boolean; stderr: string },
  ) {
    const how = result.timedOut
      ? 'timed out'
      : result.exitCode !== null
        ? `exited with code ${result.exitCode}`
        : `was killed by ${result.signal ?? 'a signal'}`;
    const tail = result.stderr.trim();
    super(`git ${args.join(' ')} ${how}${tail ? `: ${tail}` : ''}`);
    this.name = 'GitError';
    this.args = args;
    this.exitCode = result.exitCode;
    this.signal = result.signal;
    this.timedOut = result.timedOut;
    this.stderr = result.stderr;
  }
}

export function gitEnv(readOnly = false, unsetEnv: readonly string[] = []): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env };
  for (const name of [...INHERITED_REPO_VARS, ...unsetEnv]) delete env[name];
  env.GIT_TERMINAL_PROMPT = '0';
  env.LC_ALL = 'C';
  env.GIT_PAGER = 'cat';
  env.PAGER = 'cat';
  if (readOnly) env.GIT_OPTIONAL_LOCKS = '0';
  else delete env.GIT_OPTIONAL_LOCKS;
  return env;
}

/**
 * Runs git and hands each stdout chunk to `onStdout` as it arrives, so large output (binary diffs)
 * can be hashed without being held in memory. Rejects with GitError on a non-zero exit or timeout.
 */
export async function streamGit(
  args: readonly string[],
  opts: RunGitOptions,
  onStdout: (chunk: Buffer) => void,
): Promise<void> {
  let stderr = Buffer.alloc(0);
  // Its own process group, so a timeout also kills hooks or helpers git started; they would otherwise
  // keep our pipes open after git itself is gone.
  const exit = await runShortInGroup('git', args, {
    cwd: opts.cwd,
    env: gitEnv(opts.readOnly, opts.unsetEnv),
    input: opts.input ?? '',
    timeoutMs: opts.timeoutMs ?? DEFAULT_TIMEOUT_MS,
    killGraceMs: 0,
    pipeGraceMs: PIPE_GRACE_MS,
    onStdout,
    onStderr: (chunk) => {
      stderr = Buffer.concat([stderr, chunk]);
      if (stderr.length > STDERR_TAIL_BYTES) stderr = stderr.subarray(stderr.length - STDERR_TAIL_BYTES);
    },
  });
  if (exit.spawnError) throw exit.spawnError;
  if (exit.exitCode !== 0 || exit.timedOut) {
    const { exitCode, signal, timedOut } = exit;
    throw new GitError(args, { exitCode, signal, timedOut, stderr: stderr.toString('utf8') });
  }
}

/** Runs git and returns its stdout bytes. */
export async function runGit(args: readonly string[], opts: RunGitOptions): Promise<Buffer> {
  const chunks: Buffer[] = [];
  await streamGit(args, opts, (chunk) => chunks.push(chunk));
  return Buffer.concat(chunks);
}

/** Runs git and returns its stdout as UTF-8 text with the trailing newline removed. */
export async function runGitText(args: readonly string[], opts: RunGitOptions): Promise<string> {
  return (await runGit(args, opts)).toString('utf8').replace(/\n$/, '');
}

/** True when `err` is a GitError for a git that ran and exited with `code`. */
export function isGitExit(err: unknown, code: number): err is GitError {
  return err instanceof GitError && err.exitCode === code;
}
