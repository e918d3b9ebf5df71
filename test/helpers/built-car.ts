// The built CLI, `node dist/car.js`, run as a child process: what users run. scripts/test.mjs builds
// dist/ once before the suite; a test started some other way fails with a message saying so.
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

export const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
export const CAR_JS = join(ROOT, 'dist/car.js');
/** node_modules/.bin: the pinned agent binaries (codex, claude-agent-acp) as a user's PATH has them. */
export const NODE_BIN = join(ROOT, 'node_modules/.bin');

export interface CarChild {
  child: ChildProcess;
  /** Everything written so far. */
  readonly stdout: string;
  readonly stderr: string;
  /** Resolves when the process has exited and its output is drained. */
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** Resolves once stdout contains `text` (rejects if the process exits first). */
  waitForOutput(text: string | RegExp): Promise<void>;
}

function ensureBuilt(): void {
  if (!existsSync(CAR_JS)) {
    throw new Error(`${CAR_JS} is missing: run the tests with \`node scripts/test.mjs\` (it builds dist/)`);
  }
}

/** Starts `node dist/car.js <args>` in `cwd` with exactly `env` (callers pass HOME, PATH and the rest). */
export function startCar(args: readonly string[], opts: { cwd: string; env: NodeJS.ProcessEnv }): CarChild {
  ensureBuilt();
  const child = spawn(process.execPath, [CAR_JS, ...args], {
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
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => {
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
    waitForOutput(text) {
      const seen = () => (typeof text === 'string' ? stdout.includes(text) : text.test(stdout));
      return new Promise((resolve, reject) => {
        const check = () => {
          if (seen()) {
            watchers.delete(check);
            resolve();
          } else if (closed) {
            watchers.delete(check);
            reject(new Error(`car exited before printing ${String(text)}:\n${stdout}\n${stderr}`));
          }
        };
        watchers.add(check);
        check();
      });
    },
  };
}

/** Runs `node dist/car.js <args>` to its end. */
export async function runCar(
  args: readonly string[],
  opts: { cwd: string; env: NodeJS.ProcessEnv },
): Promise<{ code: number | null; signal: NodeJS.Signals | null; stdout: string; stderr: string }> {
  const car = startCar(args, opts);
  const exit = await car.exited;
  return { ...exit, stdout: car.stdout, stderr: car.stderr };
}
