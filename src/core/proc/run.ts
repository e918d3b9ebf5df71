// Runs a command to its end in a process group of its own, with a timeout: the one way car runs a short
// child (verify commands, git). Settles once the leader has exited and its pipes are closed, whatever
// is left running in the group (see closeAfterExit).
import { killProcessGroup, signalProcessGroup, spawnInGroup } from './group.ts';
import { closeAfterExit } from './wait.ts';

export interface RunInGroupOptions {
  cwd: string;
  /** The child's full environment. */
  env: NodeJS.ProcessEnv;
  /** Written to stdin, which is then closed; absent: stdin is not connected (/dev/null). */
  input?: string | Buffer;
  timeoutMs: number;
  /** When the timeout fires: SIGTERM, then SIGKILL after this grace; 0 kills at once. */
  killGraceMs: number;
  /** Aborting SIGKILLs the group at once. */
  signal?: AbortSignal;
  /** When the leader exits, SIGKILL whatever it left running in its group. */
  killLeftovers?: boolean;
  /** After the leader's exit, how long its pipes may take to close before they are destroyed. */
  pipeGraceMs: number;
  onStdout: (chunk: Buffer) => void;
  onStderr: (chunk: Buffer) => void;
}

export interface GroupRunExit {
  /** Exit code, or null when the leader was killed by a signal (or could not be started). */
  exitCode: number | null;
  signal: NodeJS.Signals | null;
  timedOut: boolean;
  /** Set when the command could not be started at all. */
  spawnError?: Error;
}

export function runInGroup(
  command: string,
  args: readonly string[],
  opts: RunInGroupOptions,
): Promise<GroupRunExit> {
  return new Promise((resolve) => {
    const child = spawnInGroup(command, args, {
      cwd: opts.cwd,
      env: opts.env,
      stdio: [opts.input === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'],
    });
    let timedOut = false;
    let spawnError: Error | undefined;
    const kill = (signal: NodeJS.Signals): void => {
      // the group is gone already (or never was): make sure the leader is too
      if (child.pid === undefined || !signalProcessGroup(child.pid, signal)) child.kill(signal);
    };
    const timer = setTimeout(() => {
      timedOut = true;
      if (opts.killGraceMs <= 0 || child.pid === undefined) kill('SIGKILL');
      else void killProcessGroup(child.pid, opts.killGraceMs);
    }, opts.timeoutMs);
    const onAbort = (): void => kill('SIGKILL');
    opts.signal?.addEventListener('abort', onAbort, { once: true });
    if (opts.signal?.aborted) onAbort();

    let settled = false;
    const settle = (exitCode: number | null, signal: NodeJS.Signals | null): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      opts.signal?.removeEventListener('abort', onAbort);
      if (opts.killLeftovers && child.pid !== undefined) signalProcessGroup(child.pid, 'SIGKILL');
      resolve({
        exitCode: spawnError ? null : exitCode,
        signal,
        timedOut,
        ...(spawnError ? { spawnError } : {}),
      });
    };

    child.stdout?.on('data', opts.onStdout);
    child.stderr?.on('data', opts.onStderr);
    // the child may exit before reading its input (EPIPE); its exit code says what went wrong
    child.stdin?.on('error', () => {});
    child.on('error', (err) => {
      spawnError ??= err;
      // a child that never started has no 'exit' to wait for
      if (child.pid === undefined) settle(null, null);
    });
    // The leader is gone: anything it left running in the group (a backgrounded server, a stuck child
    // holding our pipes) goes too, when asked.
    child.on('exit', () => {
      if (opts.killLeftovers && child.pid !== undefined) signalProcessGroup(child.pid, 'SIGKILL');
    });
    closeAfterExit(child, opts.pipeGraceMs);
    child.on('close', (exitCode, signal) => settle(exitCode, signal));
    if (opts.input !== undefined) child.stdin?.end(opts.input);
  });
}
