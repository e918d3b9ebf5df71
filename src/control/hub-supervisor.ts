// `car hub run`: one process supervising ticket flows across the hub's repos and worktrees. It starts a
// detached worker (the same `car flow worker` that `car flow start` uses) for every enabled repo with
// open tickets, within a global cap and a per-repo cap (a base repo and its worktrees share the base's
// cap), re-checks every few seconds, and stops when nothing is running or runnable. Workers are separate
// processes that own their repo through its lock: a worker that dies takes nothing else down; the
// supervisor sees the lock go stale with the run still active, reports the repo as crashed and does not
// restart it unless asked to (`recoverCrashed`), so a crash loop cannot eat the hub.

import { existsSync } from 'node:fs';
import { cpus, freemem, loadavg } from 'node:os';
import { join } from 'node:path';
import { writeFileAtomic } from '../core/fs/atomic.ts';
import { baseIdOf, type ManifestRepo, repoDir } from '../core/hub/manifest.ts';
import { acquireLock, type LockHandle, LockHeldError } from '../core/lock.ts';
import { repoPaths, STATE_DIR } from '../core/paths.ts';
import { abortableSleep } from '../core/sleep.ts';
import type { Run } from '../core/store/types.ts';
import { loadTicketQueue } from '../core/tickets/index.ts';
import { type FlowControl, FlowControlError, liveLock } from './flow-control.ts';

export interface SupervisorDeps {
  hubRoot: string;
  /** The manifest's entries, re-read every check so adds and removes are picked up. */
  readRepos(): ManifestRepo[];
  /**
   * The control plane of one checkout: the surface plugs in its config, git adapter and the launcher
   * of detached workers (`launchStart` resolves once the worker owns the repo lock).
   */
  openControl(dir: string): FlowControl;
  /** Held while the supervisor runs: one supervisor per hub. */
  lockFile: string;
  /** Where the supervisor writes what it is doing (read by `car hub status`). */
  stateFile: string;
  /** The host's load and memory now (default: the OS's figures); tests pass their own. */
  sampleHost?: () => HostSample;
}

/** What admission control looks at before starting another worker. */
export interface HostSample {
  /** 1-minute load average divided by the number of cores. */
  loadPerCore: number;
  /** Memory available to new processes, MiB. */
  availableMemoryMib: number;
}

/** Hold new workers while the host is this busy (null: no limit). Running workers are never touched. */
export interface AdmissionLimits {
  maxLoadPerCore: number | null;
  minAvailableMemoryMib: number | null;
}

export function sampleHost(): HostSample {
  return { loadPerCore: loadavg()[0]! / Math.max(1, cpus().length), availableMemoryMib: freemem() / 1048576 };
}

/** Why no worker may start now, or null. */
export function admissionHold(limits: AdmissionLimits, host: HostSample): string | null {
  if (limits.maxLoadPerCore !== null && host.loadPerCore > limits.maxLoadPerCore)
    return `load ${host.loadPerCore.toFixed(2)} per core is over hub.admission.max_load_per_core ${limits.maxLoadPerCore}`;
  if (limits.minAvailableMemoryMib !== null && host.availableMemoryMib < limits.minAvailableMemoryMib)
    return `${Math.round(host.availableMemoryMib)} MiB of memory available, under hub.admission.min_available_memory_mb ${limits.minAvailableMemoryMib}`;
  return null;
}

export interface SupervisorOptions {
  maxParallel: number;
  perRepo: number;
  pollMs: number;
  /** Keep checking for new work instead of stopping when nothing is runnable. */
  watch?: boolean;
  /** Restart runs whose worker died (once per repo per session); default: report them and leave them. */
  recoverCrashed?: boolean;
  /** Hold new starts while the host is overloaded (CAR's peers died of 25 agents on 2 cores). */
  admission?: AdmissionLimits;
  signal?: AbortSignal;
  onEvent?: (event: SupervisorEvent) => void;
}

export type SupervisorEvent =
  | { type: 'started'; repo: string; runId: string; pid: number; action: string; live: number }
  | { type: 'finished'; repo: string; runId: string; status: string; reasonCode: string | null }
  | { type: 'crashed'; repo: string; runId: string; pid: number | null }
  | { type: 'start_failed'; repo: string; message: string }
  | { type: 'skipped'; repo: string; reason: string }
  | { type: 'held'; reason: string; waiting: number }
  | { type: 'idle'; live: number };

export interface RepoOutcome {
  state: 'running' | 'finished' | 'crashed' | 'start_failed';
  run_id: string | null;
  pid: number | null;
  status: string | null;
  reason_code: string | null;
  message: string | null;
  starts: number;
  crashes: number;
}

export interface SupervisorResult {
  repos: Record<string, RepoOutcome>;
  /** Most workers seen live at once (any holder, sampled at each check). */
  maxLive: number;
  /** Why it stopped: nothing left to run, or the signal. */
  stoppedBy: 'idle' | 'signal';
}

export class SupervisorBusyError extends Error {
  override name = 'SupervisorBusyError';
}

const ACTIVE: ReadonlySet<Run['status']> = new Set(['pending', 'running', 'stopping']);
/** Runs one repo may get per session; new tickets after a completed run start another. */
const MAX_STARTS_PER_REPO = 10;

interface Tracked {
  id: string;
  dir: string;
  runId: string;
  pid: number;
}

/**
 * Writes what a supervisor is doing to `file` (read by `car hub status`): its pid, times and `fields()`.
 * Status reporting only: a write that fails never stops supervision.
 */
export function stateWriter(
  file: string,
  fields: () => Record<string, unknown>,
): (finished: boolean) => void {
  const startedAt = new Date().toISOString();
  return (finished) => {
    const now = new Date().toISOString();
    const state = {
      pid: process.pid,
      started_at: startedAt,
      updated_at: now,
      finished_at: finished ? now : null,
      ...fields(),
    };
    try {
      writeFileAtomic(file, `${JSON.stringify(state, null, 2)}\n`, { createDirs: true });
    } catch {
      // status reporting only
    }
  };
}

export async function superviseHub(deps: SupervisorDeps, opts: SupervisorOptions): Promise<SupervisorResult> {
  if (opts.maxParallel < 1 || opts.perRepo < 1) throw new RangeError('caps must be at least 1');
  let lock: LockHandle;
  try {
    lock = acquireLock(deps.lockFile, { purpose: 'car hub run' });
  } catch (err) {
    if (err instanceof LockHeldError) {
      throw new SupervisorBusyError(`another car hub run supervises this hub: ${err.message}`);
    }
    throw err;
  }
  const emit = opts.onEvent ?? (() => {});
  const outcomes: Record<string, RepoOutcome> = {};
  const tracked = new Map<string, Tracked>();
  const controls = new Map<string, FlowControl>();
  /** Repos not to start again this session, with why. */
  const parked = new Map<string, string>();
  let maxLive = 0;
  let lastHold: string | null = null;

  const control = (dir: string): FlowControl => {
    let c = controls.get(dir);
    if (!c) {
      c = deps.openControl(dir);
      controls.set(dir, c);
    }
    return c;
  };
  const outcome = (id: string): RepoOutcome => {
    outcomes[id] ??= {
      state: 'finished',
      run_id: null,
      pid: null,
      status: null,
      reason_code: null,
      message: null,
      starts: 0,
      crashes: 0,
    };
    return outcomes[id];
  };
  const writeState = stateWriter(deps.stateFile, () => ({
    max_parallel: opts.maxParallel,
    per_repo: opts.perRepo,
    max_live: maxLive,
    repos: outcomes,
  }));

  let stoppedBy: SupervisorResult['stoppedBy'] = 'idle';
  try {
    for (;;) {
      if (opts.signal?.aborted) {
        stoppedBy = 'signal';
        break;
      }
      const repos = deps
        .readRepos()
        .filter((r) => r.enabled && !r.archived)
        .map((r) => ({ entry: r, dir: repoDir(deps.hubRoot, r), group: baseIdOf(r) }))
        .filter((r) => existsSync(join(r.dir, STATE_DIR)));
      const alive = new Map<string, number | null>();
      for (const r of repos) {
        const held = liveLock(repoPaths(r.dir));
        if (held) alive.set(r.entry.id, held.holder?.pid ?? null);
      }

      // workers we started that are gone: finished, or died with their run still active
      for (const t of [...tracked.values()]) {
        if (alive.get(t.id) === t.pid) continue;
        tracked.delete(t.id);
        const run = control(t.dir).store.getRun(t.runId);
        const o = outcome(t.id);
        if (run && ACTIVE.has(run.status)) {
          Object.assign(o, { state: 'crashed', status: run.status, message: 'the worker died mid-run' });
          o.crashes++;
          if (!opts.recoverCrashed || o.crashes > 1) parked.set(t.id, 'crashed');
          emit({ type: 'crashed', repo: t.id, runId: t.runId, pid: t.pid });
        } else {
          Object.assign(o, {
            state: 'finished',
            status: run?.status ?? null,
            reason_code: run?.reasonCode ?? null,
            message: run?.reason ?? null,
          });
          if (run && run.status !== 'completed') parked.set(t.id, run.status);
          emit({
            type: 'finished',
            repo: t.id,
            runId: t.runId,
            status: run?.status ?? 'unknown',
            reasonCode: run?.reasonCode ?? null,
          });
        }
      }

      const live = alive.size;
      maxLive = Math.max(maxLive, live);
      const perGroup = new Map<string, number>();
      for (const r of repos)
        if (alive.has(r.entry.id)) perGroup.set(r.group, (perGroup.get(r.group) ?? 0) + 1);

      const runnable: typeof repos = [];
      for (const r of repos) {
        const id = r.entry.id;
        if (alive.has(id) || parked.has(id)) continue;
        if ((outcomes[id]?.starts ?? 0) >= MAX_STARTS_PER_REPO) continue;
        let why: string | null;
        try {
          why = notRunnable(control(r.dir), r.dir, opts.recoverCrashed === true, outcomes[id]);
        } catch (err) {
          why = `cannot read: ${(err as Error).message}`;
        }
        if (why === null) runnable.push(r);
        else if (why !== 'no open tickets' && why !== 'completed') {
          parked.set(id, why);
          if (why === 'crashed') {
            Object.assign(outcome(id), { state: 'crashed', message: 'found with its worker dead' });
          }
          emit({ type: 'skipped', repo: id, reason: why });
        }
      }
      // fairness: groups with fewer live workers go first, then manifest order
      runnable.sort((a, b) => (perGroup.get(a.group) ?? 0) - (perGroup.get(b.group) ?? 0));
      const chosen: typeof repos = [];
      let budget = opts.maxParallel - live;
      const hold =
        opts.admission && runnable.length > 0 && budget > 0
          ? admissionHold(opts.admission, (deps.sampleHost ?? sampleHost)())
          : null;
      if (hold !== null) {
        // said when the hold begins, not at every poll while it lasts
        if (lastHold === null) emit({ type: 'held', reason: hold, waiting: runnable.length });
        budget = 0;
      }
      lastHold = hold;
      for (const r of runnable) {
        if (budget <= 0) break;
        if ((perGroup.get(r.group) ?? 0) >= opts.perRepo) continue;
        perGroup.set(r.group, (perGroup.get(r.group) ?? 0) + 1);
        budget--;
        chosen.push(r);
      }

      await Promise.all(
        chosen.map(async (r) => {
          const id = r.entry.id;
          const o = outcome(id);
          o.starts++;
          try {
            const { run, action, workerPid: pid } = await control(r.dir).launchStart({});
            tracked.set(id, { id, dir: r.dir, runId: run.id, pid });
            Object.assign(o, {
              state: 'running',
              run_id: run.id,
              pid,
              status: 'running',
              reason_code: null,
              message: null,
            });
            emit({
              type: 'started',
              repo: id,
              runId: run.id,
              pid,
              action,
              live: live + chosen.length,
            });
          } catch (err) {
            if (err instanceof FlowControlError && err.code === 'busy') return; // someone else started it
            Object.assign(o, { state: 'start_failed', message: (err as Error).message });
            parked.set(id, 'start_failed');
            emit({ type: 'start_failed', repo: id, message: (err as Error).message });
          }
        }),
      );
      writeState(false);

      if (tracked.size === 0 && chosen.length === 0 && runnable.length === 0 && !opts.watch) break;
      if (chosen.length === 0) emit({ type: 'idle', live });
      await abortableSleep(opts.pollMs, opts.signal);
    }
  } finally {
    for (const c of controls.values()) c.close();
    writeState(true);
    lock.release();
  }
  return { repos: outcomes, maxLive, stoppedBy };
}

/** Null when the repo should get a worker now; otherwise why not. */
function notRunnable(
  control: FlowControl,
  dir: string,
  recoverCrashed: boolean,
  previous: RepoOutcome | undefined,
): string | null {
  const latest = control.store.latestRun();
  if (latest && ACTIVE.has(latest.status) && latest.status !== 'pending') {
    // active with no live worker (the caller checked): its worker died
    return recoverCrashed && (previous?.crashes ?? 0) <= 1 ? null : 'crashed';
  }
  if (latest?.status === 'paused') return `paused (${latest.reasonCode ?? 'no reason'}): needs a person`;
  const queue = loadTicketQueue(repoPaths(dir).ticketsDir, { repoRoot: dir });
  if (!queue.tickets.some((t) => !t.isDone))
    return latest?.status === 'completed' ? 'completed' : 'no open tickets';
  return null;
}
