// `car hub run` with `hub.queue.kind: postgres`: instead of starting local workers, the supervisor puts
// one job per runnable repo (enabled, car-initialized, open tickets, a git remote) on the hub queue, at
// most one queued or running job per repo, and follows the jobs until every one it enqueued has ended
// (or, with --watch, until stopped). Workers on any machine (`car worker --hub-queue`) take them; the
// supervisor reports which worker on which host took each, takeovers after a lost lease, and each run's end.

import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { type ManifestRepo, repoDir } from '../core/hub/manifest.ts';
import { acquireLock, type LockHandle, LockHeldError } from '../core/lock.ts';
import { repoPaths, STATE_DIR } from '../core/paths.ts';
import { abortableSleep } from '../core/sleep.ts';
import { loadTicketQueue } from '../core/tickets/index.ts';
import type { HubJobView, HubQueue } from './hub-queue.ts';
import { SupervisorBusyError, stateWriter } from './hub-supervisor.ts';

export interface QueueSupervisorDeps {
  hubRoot: string;
  readRepos(): ManifestRepo[];
  queue: HubQueue;
  /** The repo's git remote and checked-out branch, or why it has none a worker could clone. */
  gitOrigin(dir: string): Promise<{ remoteUrl: string; branch: string } | { error: string }>;
  lockFile: string;
  stateFile: string;
}

export interface QueueSupervisorOptions {
  leaseSeconds: number;
  heartbeatSeconds: number;
  pollMs: number;
  watch?: boolean;
  signal?: AbortSignal;
  onEvent?: (event: QueueSupervisorEvent) => void;
}

export type QueueSupervisorEvent =
  | { type: 'enqueued'; repo: string; jobId: string }
  | { type: 'following'; repo: string; jobId: string }
  | { type: 'taken'; repo: string; jobId: string; worker: string; host: string; attempt: number }
  | {
      type: 'finished';
      repo: string;
      jobId: string;
      state: string;
      status: string | null;
      reasonCode: string | null;
      worker: string | null;
    }
  | { type: 'skipped'; repo: string; reason: string }
  | { type: 'queue_unreachable'; message: string }
  | { type: 'queue_reachable' };

export interface QueueRepoOutcome {
  job_id: string;
  state: HubJobView['state'];
  status: string | null;
  reason_code: string | null;
  worker: string | null;
  host: string | null;
  /** Every worker that held the job, in order (more than one: a takeover). */
  workers: string[];
}

export interface QueueSupervisorResult {
  repos: Record<string, QueueRepoOutcome>;
  stoppedBy: 'idle' | 'signal';
}

const ENDED: ReadonlySet<HubJobView['state']> = new Set(['completed', 'failed', 'cancelled']);

export const RESULT_BRANCH_PREFIX = 'car/hub/';

export async function superviseHubQueue(
  deps: QueueSupervisorDeps,
  opts: QueueSupervisorOptions,
): Promise<QueueSupervisorResult> {
  let lock: LockHandle;
  try {
    lock = acquireLock(deps.lockFile, { purpose: 'car hub run' });
  } catch (err) {
    if (err instanceof LockHeldError)
      throw new SupervisorBusyError(`another car hub run supervises this hub: ${err.message}`);
    throw err;
  }
  const emit = opts.onEvent ?? (() => {});
  const outcomes: Record<string, QueueRepoOutcome> = {};
  /** Repos looked at this session (enqueued, followed or skipped): not enqueued again. */
  const seen = new Set<string>();
  const writeState = stateWriter(deps.stateFile, () => ({ queue: 'postgres', repos: outcomes }));
  let stoppedBy: QueueSupervisorResult['stoppedBy'] = 'idle';
  let unreachable = false;
  try {
    for (;;) {
      if (opts.signal?.aborted) {
        stoppedBy = 'signal';
        break;
      }
      let views: HubJobView[];
      try {
        for (const entry of deps.readRepos()) {
          const id = entry.id;
          if (seen.has(id) || !entry.enabled || entry.archived) continue;
          const dir = repoDir(deps.hubRoot, entry);
          if (!existsSync(join(dir, STATE_DIR))) continue;
          if (!hasOpenTickets(dir)) continue;
          const origin = await deps.gitOrigin(dir);
          if ('error' in origin) {
            seen.add(id);
            emit({ type: 'skipped', repo: id, reason: origin.error });
            continue;
          }
          let jobId = await deps.queue.enqueue({
            repo_id: id,
            remote_url: origin.remoteUrl,
            base_branch: origin.branch,
            result_branch: `${RESULT_BRANCH_PREFIX}${id}`,
            lease_seconds: opts.leaseSeconds,
            heartbeat_seconds: opts.heartbeatSeconds,
          });
          if (jobId) emit({ type: 'enqueued', repo: id, jobId });
          else {
            // already queued or running (an earlier hub run's job): follow that one
            const open = (await deps.queue.jobs()).find((j) => j.repo_id === id && !ENDED.has(j.state));
            if (!open) continue; // it ended in between: looked at again next time
            jobId = open.job_id;
            emit({ type: 'following', repo: id, jobId });
          }
          seen.add(id);
          outcomes[id] = {
            job_id: jobId,
            state: 'queued',
            status: null,
            reason_code: null,
            worker: null,
            host: null,
            workers: [],
          };
        }

        const ids = Object.values(outcomes).map((o) => o.job_id);
        views = ids.length > 0 ? await deps.queue.jobs(ids) : [];
        if (unreachable) emit({ type: 'queue_reachable' });
        unreachable = false;
      } catch (err) {
        // the database restarting or out of reach: the jobs go on without us; look again next time
        if (!unreachable) emit({ type: 'queue_unreachable', message: (err as Error).message });
        unreachable = true;
        await abortableSleep(opts.pollMs, opts.signal);
        continue;
      }
      for (const v of views) {
        const o = outcomes[v.repo_id];
        if (!o || o.job_id !== v.job_id) continue;
        const holder = v.worker ? `${v.worker}@${v.host ?? '?'}#${v.attempt}` : null;
        if (holder && o.workers[o.workers.length - 1] !== holder) {
          o.workers.push(holder);
          emit({
            type: 'taken',
            repo: v.repo_id,
            jobId: v.job_id,
            worker: v.worker!,
            host: v.host ?? '?',
            attempt: v.attempt,
          });
        }
        const wasEnded = ENDED.has(o.state);
        Object.assign(o, {
          state: v.state,
          status: v.run_status,
          reason_code: v.reason_code,
          worker: v.worker,
          host: v.host,
        });
        if (!wasEnded && ENDED.has(v.state)) {
          emit({
            type: 'finished',
            repo: v.repo_id,
            jobId: v.job_id,
            state: v.state,
            status: v.run_status,
            reasonCode: v.reason_code,
            worker: v.worker,
          });
        }
      }
      writeState(false);
      const open = Object.values(outcomes).some((o) => !ENDED.has(o.state));
      if (!open && !opts.watch) break;
      await abortableSleep(opts.pollMs, opts.signal);
    }
  } finally {
    writeState(true);
    lock.release();
  }
  return { repos: outcomes, stoppedBy };
}

/** Whether the hub's checkout of the repo has a ticket not done (unreadable tickets: no). */
function hasOpenTickets(dir: string): boolean {
  try {
    return loadTicketQueue(repoPaths(dir).ticketsDir, { repoRoot: dir }).tickets.some((t) => !t.isDone);
  } catch {
    return false;
  }
}
