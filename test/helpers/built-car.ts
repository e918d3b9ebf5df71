// The built CLI, `node dist/car.js`, run as a child process: what users run. scripts/test.mjs builds
// dist/ once before the suite; a test started some other way fails with a message saying so.
import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { type GitRepo, makeGitRepo } from './git-repo.ts';

export const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
export const CAR_JS = join(ROOT, 'dist/car.js');
/** node_modules/.bin: the pinned agent binaries (codex, claude-agent-acp) as a user's PATH has them. */
export const NODE_BIN = join(ROOT, 'node_modules/.bin');

/** A temp HOME for the child, so no login profile or global git config of this machine applies. */
export function tempHome(): { home: string; cleanup: () => void } {
  const home = mkdtempSync(join(tmpdir(), 'car-home-'));
  return { home, cleanup: () => rmSync(home, { recursive: true, force: true }) };
}

/** The child's whole environment: PATH, the temp HOME, NO_COLOR and what the test adds (tokens, CAR__ overrides). */
export function carEnv(home: string, extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  return { PATH: process.env.PATH, HOME: home, NO_COLOR: '1', ...extra };
}

type Exit = { code: number | null; signal: NodeJS.Signals | null };

export interface CarChild {
  child: ChildProcess;
  /** Everything written so far. */
  readonly stdout: string;
  readonly stderr: string;
  /** Resolves when the process has exited and its output is drained. */
  exited: Promise<Exit>;
  /** Resolves once stdout contains `text` (rejects if the process exits first, or after `timeoutMs` if given). */
  waitForOutput(text: string | RegExp, timeoutMs?: number): Promise<void>;
}

function ensureBuilt(): void {
  if (!existsSync(CAR_JS)) {
    throw new Error(`${CAR_JS} is missing: run the tests with \`node scripts/test.mjs\` (it builds dist/)`);
  }
}

/**
 * Starts `node dist/car.js <args>` in `cwd` with exactly `env` (callers pass HOME, PATH and the rest).
 * `wrap`: a command that execs node in its place (`unshare --net`: the same pid, in a namespace of its own).
 */
export function startCar(
  args: readonly string[],
  opts: { cwd: string; env: NodeJS.ProcessEnv; wrap?: readonly string[] },
): CarChild {
  ensureBuilt();
  const [command, ...pre] = [...(opts.wrap ?? []), process.execPath];
  const child = spawn(command!, [...pre, CAR_JS, ...args], {
    cwd: opts.cwd,
    env: opts.env,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  const watchers = new Set<() => void>();
  child.stdout?.on('data', (chunk: Buffer) => {
    stdout += chunk.toString('utf8');
    for (const w of [...watchers]) w();
  });
  child.stderr?.on('data', (chunk: Buffer) => {
    stderr += chunk.toString('utf8');
  });
  let closed = false;
  const exited = new Promise<Exit>((resolve) => {
    child.once('close', (code, signal) => {
      closed = true;
      resolve({ code, signal });
      for (const w of [...watchers]) w();
    });
  });
  return {
    child,
    get stdout() {
      return stdout;
    },
    get stderr() {
      return stderr;
    },
    exited,
    waitForOutput(text, timeoutMs) {
      const seen = () => (typeof text === 'string' ? stdout.includes(text) : text.test(stdout));
      return new Promise((resolve, reject) => {
        let timer: NodeJS.Timeout | undefined;
        const settle = (err?: Error) => {
          watchers.delete(check);
          clearTimeout(timer);
          if (err) reject(err);
          else resolve();
        };
        const check = () => {
          if (seen()) settle();
          else if (closed)
            settle(new Error(`car exited before printing ${String(text)}:\n${stdout}\n${stderr}`));
        };
        if (timeoutMs !== undefined) {
          timer = setTimeout(
            () =>
              settle(new Error(`timed out waiting for car to print ${String(text)}:\n${stdout}\n${stderr}`)),
            timeoutMs,
          );
        }
        watchers.add(check);
        check();
      });
    },
  };
}

/** True until the child has exited. */
export function running(car: CarChild): boolean {
  return car.child.exitCode === null && car.child.signalCode === null;
}

/** Both streams, for failure messages. */
export function output(car: CarChild): string {
  return `--- stdout:\n${car.stdout}--- stderr:\n${car.stderr}`;
}

/** Awaits the child's exit; if it is still running `ms` from now, SIGKILLs it and throws `late()`. */
async function exitOrKill(car: CarChild, ms: number | undefined, late: () => Error): Promise<Exit> {
  if (ms === undefined) return car.exited;
  let timer: NodeJS.Timeout | undefined;
  const expired = new Promise<'late'>((r) => {
    timer = setTimeout(() => r('late'), ms);
  });
  const result = await Promise.race([car.exited, expired]);
  clearTimeout(timer);
  if (result !== 'late') return result;
  car.child.kill('SIGKILL');
  await car.exited;
  throw late();
}

/**
 * Awaits the child's exit, failing (and SIGKILLing it) when it takes longer than `boundMs`. Resolves to
 * the exit and how long the wait took.
 */
export async function exitWithin(
  car: CarChild,
  boundMs: number,
  what: string,
): Promise<Exit & { ms: number }> {
  const t0 = Date.now();
  const exit = await exitOrKill(
    car,
    boundMs,
    () =>
      new assert.AssertionError({
        message: `${what}: car was still running ${boundMs / 1000} s later\n${output(car)}`,
      }),
  );
  return { ...exit, ms: Date.now() - t0 };
}

export interface CarResult extends Exit {
  stdout: string;
  stderr: string;
}

/**
 * Runs `node dist/car.js <args>` to its end. With `timeoutMs`, a car still running then is SIGKILLed and
 * the call fails with its output.
 */
export async function runCar(
  args: readonly string[],
  opts: { cwd: string; env: NodeJS.ProcessEnv; timeoutMs?: number },
): Promise<CarResult> {
  const car = startCar(args, opts);
  const exit = await exitOrKill(
    car,
    opts.timeoutMs,
    () => new Error(`car ${args.join(' ')} was still running after ${opts.timeoutMs} ms\n${output(car)}`),
  );
  return { ...exit, stdout: car.stdout, stderr: car.stderr };
}

/** Parses a run's stdout as JSON, failing with both streams in the message when it is not. */
export function json<T = Record<string, unknown>>(result: {
  code: number | null;
  stdout: string;
  stderr: string;
}): T {
  try {
    return JSON.parse(result.stdout) as T;
  } catch {
    throw new Error(`stdout is not JSON (exit ${result.code}):\n${result.stdout}\nstderr:\n${result.stderr}`);
  }
}

export interface BuiltCarRepo extends GitRepo {
  /** The environment every command here runs with (its own temp HOME). */
  env: NodeJS.ProcessEnv;
  /** `node dist/car.js <args>` in the repo, to its end (SIGKILLed and failing after `timeoutMs`). */
  run(args: readonly string[], timeoutMs?: number): Promise<CarResult>;
}

/** A real git repo with `car init` run in it by the built CLI; `cleanup` removes it and its HOME. */
export async function makeBuiltCarRepo(extraEnv: Record<string, string> = {}): Promise<BuiltCarRepo> {
  const repo = makeGitRepo();
  const home = tempHome();
  const env = carEnv(home.home, extraEnv);
  const run = (args: readonly string[], timeoutMs = 120_000) =>
    runCar(args, { cwd: repo.dir, env, timeoutMs });
  const cleanup = () => {
    repo.cleanup();
    home.cleanup();
  };
  const init = await run(['init']);
  if (init.code !== 0) {
    cleanup();
    throw new Error(`car init failed (exit ${init.code}): ${init.stderr}`);
  }
  return { ...repo, env, run, cleanup };
}
