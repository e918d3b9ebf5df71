// Starting a run's worker as a detached `car flow worker` process: the `WorkerLauncher` every surface
// (CLI, HTTP server, chat service, hub supervisor) gives FlowControl. The caller stays light, and a
// restart of the caller does not kill the run.
import { spawn } from 'node:child_process';
import { closeSync, mkdirSync, openSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { WorkerLauncher } from '../control/flow-control.ts';
import { runPaths } from '../core/flow/run-paths.ts';
import { readLock } from '../core/lock.ts';
import { repoPaths } from '../core/paths.ts';
import { EXIT } from './cli/errors.ts';
import { bundledCli } from './dist-paths.ts';

/** The worker could not be started or died before taking the repo lock; the message says why. */
export class WorkerSpawnError extends Error {
  override name = 'WorkerSpawnError';
}

/** The CLI entry to re-invoke for a background worker: the bundle, or main.ts under tsx. */
export function cliEntry(): string[] {
  const bundled = bundledCli();
  if (bundled) return [bundled];
  // an absolute loader URL: the worker runs in the target repo, where `tsx` does not resolve
  return [
    '--import',
    import.meta.resolve('tsx'),
    resolve(dirname(fileURLToPath(import.meta.url)), 'cli', 'main.ts'),
  ];
}

export const WORKER_START_TIMEOUT_MS = 15_000;

/** Worker exit codes that mean the run ended normally (completed; paused or stopped). */
const FINE_EXITS: ReadonlySet<number> = new Set([EXIT.ok, EXIT.notFinished]);

export interface SpawnWorkerOptions {
  root: string;
  runId: string;
  env: NodeJS.ProcessEnv;
  timeoutMs?: number;
}

/**
 * Starts a detached worker for the run (logging to `runs/<id>/worker.log`) and waits until it owns the
 * repo lock, or finished within the wait, or died trying. Resolves to the worker's pid.
 */
export async function spawnWorker(opts: SpawnWorkerOptions): Promise<number> {
  const paths = runPaths(opts.root, opts.runId);
  mkdirSync(paths.runDir, { recursive: true });
  const logFile = join(paths.runDir, 'worker.log');
  const { lockFile } = repoPaths(opts.root);
  const fd = openSync(logFile, 'a');
  let exited: number | null = null;
  let spawnError: Error | null = null;
  const child = spawn(
    process.execPath,
    [...cliEntry(), '--repo', opts.root, 'flow', 'worker', '--run', opts.runId],
    { cwd: opts.root, env: opts.env, detached: true, stdio: ['ignore', fd, fd] },
  );
  closeSync(fd);
  child.on('error', (err) => {
    spawnError = err;
  });
  child.on('exit', (code) => {
    exited = code ?? 1;
  });
  child.unref();
  const timeoutMs = opts.timeoutMs ?? WORKER_START_TIMEOUT_MS;
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (spawnError) throw new WorkerSpawnError(`cannot start the worker: ${(spawnError as Error).message}`);
    const lock = readLock(lockFile);
    if (child.pid !== undefined && lock?.holder?.pid === child.pid) return child.pid;
    // a worker that finishes within the wait (tiny queues) is fine; one that failed says why in its log
    if (exited !== null) {
      if (FINE_EXITS.has(exited) && child.pid !== undefined) return child.pid;
      const tail = readFileSync(logFile, 'utf8').split('\n').slice(-15).join('\n');
      throw new WorkerSpawnError(
        `the worker exited with code ${exited} before taking the repo lock:\n${tail}`,
      );
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new WorkerSpawnError(
    `the worker did not take the repo lock within ${timeoutMs / 1000}s; see ${logFile}`,
  );
}

/** The launcher for FlowControl: detached workers with `env` (the caller's secrets already taken out). */
export function workerLauncher(env: NodeJS.ProcessEnv): WorkerLauncher {
  return { launch: (root, runId) => spawnWorker({ root, runId, env }) };
}
