// Runs one acceptance command the way car's verify gate does: `sh -c <command>` in the repo root, in its
// own process group (so a timeout, or the shell exiting while a background child still runs, takes the
// whole group down), stdin closed, stdout and stderr interleaved into one bounded tail, and the sha256
// of everything it printed.
import { createHash } from 'node:crypto';
import { runInGroup } from '../proc/run.ts';

export interface VerifyCommandOptions {
  cwd: string;
  timeoutMs: number;
  /** Bytes of output kept (the end, where test runners put their summary). */
  maxOutputBytes: number;
  /** Added to the inherited environment. */
  env?: Record<string, string>;
  /** Removed from the inherited environment (car's secrets); `env` is added after. */
  unsetEnv?: readonly string[];
  /** Grace between SIGTERM and SIGKILL when the timeout fires (default 2 s). */
  killGraceMs?: number;
  /** Aborting kills the process group at once (a pause or stop of the run). */
  signal?: AbortSignal;
}

export interface VerifyCommandResult {
  command: string;
  /** Exit code, or null when the shell was killed by a signal. */
  exitCode: number | null;
  signal: string | null;
  timedOut: boolean;
  durationMs: number;
  /** Bytes the command printed in total (stdout + stderr). */
  outputBytes: number;
  /** sha256 (hex) of the full output. */
  outputSha256: string;
  /** The last `maxOutputBytes` of the output, as UTF-8 (a cut character at the start is dropped). */
  output: string;
  outputTruncated: boolean;
  /** Set when the command could not be started at all. */
  spawnError?: string;
}

export function commandPassed(result: VerifyCommandResult): boolean {
  return result.exitCode === 0 && !result.timedOut && result.spawnError === undefined;
}

/** One line saying how a command ended, for prompts and the CLI. */
export function describeExit(result: VerifyCommandResult): string {
  const secs = `${(result.durationMs / 1000).toFixed(1)} s`;
  if (result.spawnError) return `could not start: ${result.spawnError}`;
  if (result.timedOut) return `timed out after ${secs} (process group killed)`;
  if (result.exitCode === null) return `killed by ${result.signal ?? 'a signal'} after ${secs}`;
  return `exit code ${result.exitCode} after ${secs}`;
}

// Set by node:test in a parent process; a nested `node --test` would report to it instead of printing.
const STRIPPED_ENV = ['NODE_TEST_CONTEXT'];
/** After the shell exits (and its group is killed), how long its pipes may take to close. */
const PIPE_GRACE_MS = 2000;

export async function runVerifyCommand(
  command: string,
  opts: VerifyCommandOptions,
): Promise<VerifyCommandResult> {
  const started = performance.now();
  const env: NodeJS.ProcessEnv = { ...process.env };
  for (const name of [...STRIPPED_ENV, ...(opts.unsetEnv ?? [])]) delete env[name];
  Object.assign(env, opts.env);
  const hash = createHash('sha256');
  let total = 0;
  let tail: Buffer[] = [];
  let tailBytes = 0;
  const keep = (chunk: Buffer): void => {
    hash.update(chunk);
    total += chunk.length;
    tail.push(chunk);
    tailBytes += chunk.length;
    // compact now and then; the final cut happens at the end
    if (tailBytes > opts.maxOutputBytes * 2 + 65536) {
      const joined = Buffer.concat(tail);
      tail = [joined.subarray(joined.length - opts.maxOutputBytes)];
      tailBytes = opts.maxOutputBytes;
    }
  };
  // The shell's group is killed when it exits: anything it left running (a backgrounded server, a stuck
  // child holding our pipes) goes too, so verification never leaks processes.
  const exit = await runInGroup('sh', ['-c', command], {
    cwd: opts.cwd,
    env,
    timeoutMs: opts.timeoutMs,
    killGraceMs: opts.killGraceMs ?? 2000,
    ...(opts.signal ? { signal: opts.signal } : {}),
    killLeftovers: true,
    pipeGraceMs: PIPE_GRACE_MS,
    onStdout: keep,
    onStderr: keep,
  });
  const all = Buffer.concat(tail);
  let cut = all.length > opts.maxOutputBytes ? all.subarray(all.length - opts.maxOutputBytes) : all;
  let start = 0;
  while (start < cut.length && ((cut[start] ?? 0) & 0xc0) === 0x80) start++;
  cut = cut.subarray(start);
  return {
    command,
    exitCode: exit.exitCode,
    signal: exit.signal,
    timedOut: exit.timedOut,
    durationMs: Math.round(performance.now() - started),
    outputBytes: total,
    outputSha256: hash.digest('hex'),
    output: cut.toString('utf8'),
    outputTruncated: total > cut.length,
    ...(exit.spawnError ? { spawnError: exit.spawnError.message } : {}),
  };
}
