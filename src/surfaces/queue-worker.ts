// `car worker --hub-queue`: one process on any machine working repo jobs from the hub's PostgreSQL queue.
// For each job it takes (under a lease): a local checkout set to what was pushed last (the result branch
// `car/hub/<repo>`, else the base branch), a new run of the ordinary engine on it (`runWorker`, as
// `car flow worker` runs it), a heartbeat every `heartbeat_seconds` that extends the lease and mirrors
// the run and its events to the hub, a push of the result branch after every ticket done, and the job
// completed with the run's outcome. Every agent turn waits for that push (`turnsBehindPush`), so no turn
// of the next ticket starts before the finished one is on the remote: a worker killed later loses at
// most the ticket it was working, which the worker taking over starts again from the pushed state. A
// heartbeat or push that finds the job gone (the lease ran out, another worker took it) stops the run
// without pushing again; a push the remote refuses otherwise pauses the run and gives the job back.
//
// A repo with lanes (`ticket_flow.lanes` > 1): its job makes this worker the repo's coordinator
// (hub-coordinator.ts), which queues ticket jobs and merges what they push. A ticket job is worked the
// same way as a repo job, in a checkout of its own on its ticket branch (the pushed branch when it
// exists, else the integration commit it was queued at), one ticket as a lane works it, pushed after
// every turn; one that comes back from the merge queue first brings that commit in (a conflict left for
// the agent) and carries why into the prompt. A worker works one repo job and up to `ticketJobs` ticket
// jobs at once.
import { basename, join } from 'node:path';
import { agentProcessPort } from '../agents/orphans.ts';
import { createAgentResolver } from '../agents/resolver.ts';
import { type AbortReason, FlowControl, type FlowOutcome, runWorker } from '../control/flow-control.ts';
import {
  type AnyTakenJob,
  type HubJobPayload,
  type HubQueueWorker,
  type HubTicketPayload,
  isTicketJob,
  type MirroredEvent,
  type RunMirror,
  type TakenJob,
} from '../control/hub-queue.ts';
import type { Agent, AgentResolver, AgentSession } from '../core/agent.ts';
import { knownAgentIds } from '../core/config/agents.ts';
import { loadConfig } from '../core/config/index.ts';
import { secretEnvToRemove } from '../core/config/secrets.ts';
import { reopenTicket } from '../core/flow/lanes/merge.ts';
import type { LanePorts } from '../core/flow/ports.ts';
import { repoPaths } from '../core/paths.ts';
import { abortableSleep } from '../core/sleep.ts';
import { loadTicketQueue } from '../core/tickets/index.ts';
import { createLanePorts, createRepoState } from '../integrations/git/index.ts';
import {
  PushRejectedError,
  prepareCheckout,
  pushResult,
  type RemoteCheckout,
} from '../integrations/git/remote-checkout.ts';
import { coordinateRepo } from './hub-coordinator.ts';

/** Events mirrored per heartbeat at most; the rest follow at the next one. */
const EVENTS_PER_BEAT = 500;

export interface QueueWorkerOptions {
  queue: HubQueueWorker;
  name: string;
  /** Where this worker keeps its checkouts, one folder per repo id. */
  checkoutsDir: string;
  /** Seconds between looks at the queue when it is empty. */
  pollSeconds: number;
  /** Leave after one job (or when none is waiting). */
  once?: boolean;
  /** Ticket jobs (of repos with lanes) worked at once beside a repo job (default 1). */
  ticketJobs?: number;
  signal: AbortSignal;
  log: (line: string) => void;
  guard?: { stderr: (s: string) => void; exit: (code: number) => void };
}

export type JobEnd = 'completed' | 'lost' | 'released';

/** Takes and works jobs until the signal (SIGTERM: the jobs in hand are paused, pushed and given back). */
export async function runQueueWorker(opts: QueueWorkerOptions): Promise<{ jobs: number }> {
  let jobs = 0;
  let repoJob: Promise<void> | null = null;
  const ticketJobs = new Set<Promise<void>>();
  const ticketSlots = opts.ticketJobs ?? 1;
  let wake: () => void = () => {};
  const work = (job: AnyTakenJob): Promise<void> => {
    jobs++;
    return workJob(job, opts).then(
      () => undefined,
      (err: unknown) => {
        // ending the job failed (the database out of reach): its lease runs out and another worker
        // finds the work pushed
        opts.log(
          `${opts.name}: ${job.payload.repo_id}: could not end job ${job.id}: ${(err as Error).message}`,
        );
      },
    );
  };
  while (!opts.signal.aborted) {
    let took = false;
    try {
      if (!repoJob && !(opts.once && jobs > 0)) {
        const job = await opts.queue.take();
        if (job) {
          took = true;
          repoJob = work(job).finally(() => {
            repoJob = null;
            wake();
          });
        }
      }
      while (ticketJobs.size < ticketSlots && !(opts.once && jobs > 0)) {
        const job = await opts.queue.takeTicket();
        if (!job) break;
        took = true;
        const p: Promise<void> = work(job).finally(() => {
          ticketJobs.delete(p);
          wake();
        });
        ticketJobs.add(p);
      }
    } catch (err) {
      // the database out of reach: say so and look again (a worker outlives a database restart)
      opts.log(`${opts.name}: cannot take a job: ${(err as Error).message}`);
      await abortableSleep(Math.max(opts.pollSeconds, 5) * 1000, opts.signal);
      continue;
    }
    if (opts.once && (jobs > 0 || !took)) break;
    if (!took) {
      // the next look: after the poll interval, or at once when a job in hand ends
      const ended = new Promise<void>((resolve) => {
        wake = resolve;
      });
      await Promise.race([abortableSleep(opts.pollSeconds * 1000, opts.signal), ended]);
    }
  }
  await Promise.all([repoJob, ...ticketJobs]);
  return { jobs };
}

/** A repo id as a folder name under the checkouts folder. */
function folderOf(repoId: string): string {
  return repoId.replace(/[^A-Za-z0-9._-]/g, '_').replace(/^\.+/, '_');
}

/** The agents the engine uses, every turn of theirs starting only once the push in flight has landed. */
function turnsBehindPush(resolve: AgentResolver, pending: () => Promise<unknown>): AgentResolver {
  const session = (s: AgentSession): AgentSession => ({
    get threadId() {
      return s.threadId;
    },
    get alive() {
      return s.alive;
    },
    runTurn: async (request) => {
      await pending();
      return s.runTurn(request);
    },
    close: () => s.close(),
  });
  const agents = new Map<string, Agent>();
  const wrapped: AgentResolver = (id: string) => {
    let agent = agents.get(id);
    if (!agent) {
      const inner = resolve(id);
      agent = {
        id: inner.id,
        startSession: async (options) => session(await inner.startSession(options)),
        ...(inner.prewarm ? { prewarm: (options: { cwd: string }) => inner.prewarm?.(options) } : {}),
        ...(inner.close ? { close: () => inner.close?.() ?? Promise.resolve() } : {}),
      };
      agents.set(id, agent);
    }
    return agent;
  };
  if (resolve.close) wrapped.close = () => resolve.close?.() ?? Promise.resolve();
  return wrapped;
}

/**
 * A ticket job the merge queue sent back: the integration commit it was tried on is merged into the
 * ticket branch (a conflict left in the files for the agent), `done: false`, and the feedback goes into
 * the run's state for the next prompt, as for a lane on one machine. Not again when the branch has that
 * commit already: an earlier holder of this job did this, and pushed what the agent made of it.
 */
async function carryFeedback(
  control: FlowControl,
  runId: string,
  dir: string,
  ticket: HubTicketPayload,
  lanePorts: LanePorts,
): Promise<void> {
  const feedback = ticket.feedback!;
  if (await lanePorts.git.isAncestor(dir, feedback.onto, 'HEAD')) return;
  const run = control.store.getRun(runId)!;
  const state = await reopenTicket(
    {
      store: control.store,
      settings: control.settings(run),
      knownAgents: knownAgentIds(control.config),
      lanePorts,
    },
    dir,
    { ticket: ticket.ticket, ticketId: ticket.ticket_id, runId, branch: ticket.ticket_branch },
    { ...feedback },
  );
  control.store.updateRun(runId, { state: state as unknown as Record<string, unknown> });
}

/**
 * The checkout was just set to what was pushed: a run an earlier attempt left here (paused, or active
 * under a killed worker) describes work that may be gone, so every attempt starts a run of its own.
 */
function supersedeLocalRun(control: FlowControl): void {
  const latest = control.store.latestRun();
  if (!latest || !['pending', 'running', 'stopping', 'paused'].includes(latest.status)) return;
  control.store.interruptRunningTurns(
    latest.id,
    'the worker that ran this turn stopped; the job was worked again',
  );
  control.store.updateRun(latest.id, { status: 'superseded', finishedAt: new Date().toISOString() });
}

export async function workJob(job: AnyTakenJob, opts: QueueWorkerOptions): Promise<JobEnd> {
  const p = job.payload;
  const ticketJob = isTicketJob(job) ? job.payload : null;
  const ticketName = ticketJob ? basename(ticketJob.ticket).replace(/\.md$/i, '') : null;
  const tag = `${opts.name}: ${p.repo_id}${ticketName ? ` ${ticketName}` : ''}`;
  const resultBranch = ticketJob ? ticketJob.ticket_branch : (p as HubJobPayload).result_branch;
  const co: RemoteCheckout = {
    // a ticket job's checkout is its own: a worker may work several tickets of a repo at once
    dir: join(opts.checkoutsDir, `${folderOf(p.repo_id)}${ticketName ? `@${folderOf(ticketName)}` : ''}`),
    remoteUrl: p.remote_url,
    resultBranch,
  };
  let lost = false;
  const stopRun = new AbortController();
  const loseLease = (why: string) => {
    if (lost) return;
    lost = true;
    opts.log(`${tag}: lost the job (${why}); stopping without pushing`);
    stopRun.abort('stop' satisfies AbortReason);
  };
  const onSignal = () => stopRun.abort('pause' satisfies AbortReason);
  opts.signal.addEventListener('abort', onSignal, { once: true });

  let control: FlowControl | null = null;
  let runId: string | null = null;
  let lastSeq = 0;
  let beating: Promise<void> = Promise.resolve();
  const mirror = (): { run: RunMirror | null; events: MirroredEvent[] } => {
    if (!control || !runId) return { run: null, events: [] };
    const run = control.store.getRun(runId);
    const events = control.store.listEvents(runId, { afterSeq: lastSeq, limit: EVENTS_PER_BEAT });
    let done = 0;
    let total = 0;
    try {
      const queue = loadTicketQueue(control.paths.ticketsDir, { repoRoot: control.paths.root });
      // a ticket job counts its one ticket
      const counted = ticketJob ? queue.tickets.filter((t) => t.relPath === ticketJob.ticket) : queue.tickets;
      total = counted.length;
      done = counted.filter((t) => t.isDone).length;
    } catch {
      // counts are for the hub's view only
    }
    return {
      run: run
        ? {
            run_id: run.id,
            status: run.status,
            reason_code: run.reasonCode ?? null,
            tickets_done: done,
            tickets_total: total,
          }
        : null,
      events: events.map((e) => ({ seq: e.seq, type: e.type, at: e.at, data: e.data })),
    };
  };
  const beat = async () => {
    const { run, events } = mirror();
    try {
      const held = await opts.queue.heartbeat(job, run, events);
      if (!held) return loseLease('its lease ran out');
      if (events.length > 0) lastSeq = events[events.length - 1]!.seq;
    } catch (err) {
      // the database out of reach: keep working; the lease runs out if it stays so, and the next
      // heartbeat that gets through finds out
      opts.log(`${tag}: heartbeat failed: ${(err as Error).message}`);
    }
  };
  const timer = setInterval(() => {
    beating = beating.then(beat);
  }, p.heartbeat_seconds * 1000);

  let pushing: Promise<unknown> = Promise.resolve();
  let pushed: string | null = null;
  let pushFailed = false;
  const push = (why: string) => {
    pushing = pushing.then(async () => {
      if (lost) return;
      try {
        const sha = await pushResult(co);
        if (sha !== pushed) opts.log(`${tag}: pushed ${resultBranch} at ${sha.slice(0, 12)} (${why})`);
        pushed = sha;
      } catch (err) {
        if (err instanceof PushRejectedError) loseLease(err.message);
        else {
          // the remote out of reach: pause here and give the job back, to be worked again from what was pushed
          opts.log(`${tag}: push failed: ${(err as Error).message}`);
          pushFailed = true;
          stopRun.abort('pause' satisfies AbortReason);
        }
      }
    });
    return pushing;
  };

  let outcome: FlowOutcome | null = null;
  let failure: string | null = null;
  try {
    const base = ticketJob ? { commit: ticketJob.base_sha } : (p as HubJobPayload).base_branch;
    const { head, resumed } = await prepareCheckout(co, base);
    const from = typeof base === 'string' ? base : base.commit.slice(0, 12);
    opts.log(
      `${tag}: took ${ticketJob ? 'ticket job' : 'job'} ${job.id} (attempt ${job.attempt}), ${resumed ? `resuming ${resultBranch}` : `starting from ${from}`} at ${head.slice(0, 12)}`,
    );
    const { config } = loadConfig(co.dir);
    const unsetEnv = secretEnvToRemove(config);
    co.unsetEnv = unsetEnv;
    control = new FlowControl(repoPaths(co.dir), config, createRepoState(co.dir), {
      agentProcesses: agentProcessPort,
    });
    supersedeLocalRun(control);
    const prepared = await control.prepareStart({ newRun: true });
    runId = prepared.run.id;
    opts.log(`${tag}: ${prepared.action} run ${runId}`);
    const lanePorts = createLanePorts(unsetEnv);
    if (ticketJob?.feedback) await carryFeedback(control, runId, co.dir, ticketJob, lanePorts);
    await beat();
    const resolveAgent = createAgentResolver(control.config, { root: co.dir });
    if (!lost && !ticketJob && control.settings(prepared.run).lanes > 1) {
      opts.log(`${tag}: coordinating ${control.settings(prepared.run).lanes} lanes over the hub queue`);
      outcome = await coordinateRepo({
        job: job as TakenJob,
        queue: opts.queue,
        control,
        runId,
        dir: co.dir,
        unsetEnv,
        lanePorts,
        resolveAgent,
        signal: stopRun.signal,
        push: (why) => push(why),
        lost: () => lost || pushFailed,
        loseLease,
        pollMs: Math.max(opts.pollSeconds, 1) * 1000,
        log: (line) => opts.log(`${tag}: ${line}`),
      });
      opts.log(
        `${tag}: run ${runId} ${outcome.status}${outcome.reasonCode ? ` (${outcome.reasonCode})` : ''}`,
      );
    } else if (!lost) {
      outcome = await runWorker({
        control,
        runId,
        repo: createRepoState(co.dir, { unsetEnv }),
        resolveAgent: turnsBehindPush(resolveAgent, () => pushing),
        lanePorts,
        signal: stopRun.signal,
        onProgress: (e) => {
          if (e.type === 'ticket_done') void push(`${e.ticket} done`);
          // a ticket job's work reaches its branch after every turn: a takeover resumes from there
          else if (ticketJob && e.type === 'turn_end') void push(`turn on ${e.ticket}`);
        },
        ...(ticketJob ? { lane: { ticket: ticketJob.ticket } } : {}),
        ...(opts.guard ? { guard: opts.guard } : {}),
      });
      opts.log(
        `${tag}: run ${runId} ${outcome.status}${outcome.reasonCode ? ` (${outcome.reasonCode})` : ''}`,
      );
      await push(`run ${outcome.status}`);
    }
  } catch (err) {
    failure = (err as Error).message;
    opts.log(`${tag}: ${failure}`);
  } finally {
    clearInterval(timer);
    opts.signal.removeEventListener('abort', onSignal);
  }
  await beating;
  let end: JobEnd;
  try {
    end = await endJob();
  } finally {
    control?.close();
  }
  return end;

  async function endJob(): Promise<JobEnd> {
    if (lost) return 'lost';
    await beat(); // the last events and the final state, while the lease is still ours
    if ((opts.signal.aborted && outcome?.status !== 'completed') || pushFailed) {
      await opts.queue.release(
        job,
        pushFailed ? 'its result could not be pushed' : `worker ${opts.name} stopped`,
      );
      opts.log(`${tag}: gave job ${job.id} back`);
      return 'released';
    }
    const ok = await opts.queue.complete(job, {
      run_id: runId,
      status: outcome?.status ?? 'failed',
      reason_code: outcome?.reasonCode ?? 'worker_error',
      message: outcome?.reason ?? failure,
    });
    opts.log(`${tag}: ${ok ? `completed job ${job.id}` : 'lost the job before completing it'}`);
    return ok ? 'completed' : 'lost';
  }
}
