// A repo with lanes on the hub queue: the worker holding the repo's job is its coordinator (its merger).
// It never works a ticket itself. In passes, from its checkout of `car/hub/<repo>` (the integration
// branch) and the ticket jobs' rows: every ticket whose job ended done is merged from the branch its
// worker pushed, through the merge queue lanes use on one machine (lanes/merge.ts: merged in memory,
// the verify gate run again on the merged tree, the branch moved only if it passes), and
// `car/hub/<repo>` is pushed (a plain push: the remote refuses one that is not a fast-forward); a ticket
// that conflicts or fails the re-verify goes back as a new ticket job carrying why, for its next prompt;
// then each ready ticket (not done, its dependencies done at the tip) without a job gets one, up to
// `lanes` open at once. Everything it decides on is on the remote or in the queue, so a coordinator
// taken over after a kill resumes where the last one was: a ticket merged is done at the tip, a ticket
// job queued is open (and only the lease holder may queue one).
import { basename, join } from 'node:path';
import type { FlowControl, FlowOutcome } from '../control/flow-control.ts';
import type { HubQueueWorker, HubTicketPayload, TakenJob, TicketJobView } from '../control/hub-queue.ts';
import type { AgentResolver } from '../core/agent.ts';
import { knownAgentIds } from '../core/config/agents.ts';
import type { FlowEvent } from '../core/flow/events.ts';
import { branchRef, LANES_DIR, type LaneRecord, type LanesState } from '../core/flow/lanes/lane-state.ts';
import { MergeAborted, type MergeHost, mergeQueued } from '../core/flow/lanes/merge.ts';
import type { LanePorts } from '../core/flow/ports.ts';
import type { MergeFeedback } from '../core/flow/state.ts';
import { STATE_DIR } from '../core/paths.ts';
import { abortableSleep } from '../core/sleep.ts';
import { loadTicketQueue, readiness, type Ticket, ticketLabel } from '../core/tickets/index.ts';
import { runGitText } from '../integrations/git/index.ts';

/** Ticket branches: one per coordinator job and ticket, so a later hub run never resumes a stale one. */
export const TICKET_BRANCH_PREFIX = 'car/hub-tickets/';

/** Where the coordinator's checkout has the remote's branches after a fetch. */
const REMOTE_PREFIX = 'refs/remotes/origin/';

export function ticketBranch(repoId: string, coordinatorJob: string, ticket: string): string {
  return `${TICKET_BRANCH_PREFIX}${repoId}/${coordinatorJob.slice(0, 8)}/${basename(ticket).replace(/\.md$/i, '')}`;
}

export interface CoordinatorOptions {
  job: TakenJob;
  queue: HubQueueWorker;
  control: FlowControl;
  /** The coordinator's own run in the checkout (mirrored to the hub by the heartbeat). */
  runId: string;
  dir: string;
  unsetEnv: readonly string[];
  lanePorts: LanePorts;
  resolveAgent: AgentResolver;
  /** Aborted with 'pause' (SIGTERM) or 'stop' (the lease was lost). */
  signal: AbortSignal;
  /** Pushes the checkout's HEAD (the integration branch) to the remote; resolves once done. */
  push(why: string): Promise<unknown>;
  /** Whether the lease was lost (a push refused, a heartbeat or a queueing turned down). */
  lost(): boolean;
  loseLease(why: string): void;
  pollMs: number;
  log(line: string): void;
}

export async function coordinateRepo(o: CoordinatorOptions): Promise<FlowOutcome> {
  const { control, runId, dir, job } = o;
  const p = job.payload;
  const { git } = o.lanePorts;
  const run = control.store.getRun(runId);
  if (!run) throw new Error(`no such run: ${runId}`);
  const settings = control.settings(run);
  const knownAgents = knownAgentIds(control.config);
  const events = (list: FlowEvent[]) => {
    if (list.length > 0) control.store.appendEvents(runId, list);
  };
  const finish = (outcome: FlowOutcome): FlowOutcome => {
    control.store.transaction(() => {
      control.store.updateRun(runId, {
        status: outcome.status,
        reasonCode: outcome.reasonCode,
        reason: outcome.reason,
        ...(outcome.status !== 'paused' ? { finishedAt: new Date().toISOString() } : {}),
      });
      events([
        {
          type: `flow_${outcome.status}`,
          data: { reason_code: outcome.reasonCode, reason: outcome.reason },
        } as FlowEvent,
      ]);
    });
    return outcome;
  };
  const interrupted = (): FlowOutcome =>
    o.signal.reason === 'pause'
      ? {
          status: 'paused',
          reasonCode: 'interrupted',
          reason: 'Interrupted; the job goes back to the queue.',
        }
      : { status: 'stopped', reasonCode: 'stop_requested', reason: 'The lease was lost.' };

  const integration = p.result_branch;
  await git.ignoreLocally(dir, [`/${LANES_DIR}/`, `/${STATE_DIR}/runs`]);
  control.store.updateRun(runId, { status: 'running', startedAt: new Date().toISOString() });
  events([
    { type: 'flow_started', data: { total_turns: 0 } },
    { type: 'lanes_started', data: { lanes: settings.lanes, integration, mode: settings.mergeMode } },
  ]);

  const lanes: LanesState = { integration, lanes: [], merged: [] };
  /** A local run per ticket merged, where the merge queue's re-verify records its events. */
  const laneRuns = new Map<string, string>();
  /** Tickets the merge queue sent back too often this session: they wait for a person. */
  const toPerson = new Map<string, string>();
  const told = new Set<string>();

  const enqueue = async (
    ticket: { relPath: string; ticketId: string },
    base: string,
    attempt: number,
    feedback: MergeFeedback | null,
    branch = ticketBranch(p.repo_id, job.id, ticket.relPath),
  ): Promise<void> => {
    const payload: HubTicketPayload = {
      repo_id: p.repo_id,
      remote_url: p.remote_url,
      ticket: ticket.relPath,
      ticket_id: ticket.ticketId,
      coordinator_job: job.id,
      ticket_branch: branch,
      base_sha: base,
      merge_attempt: attempt,
      feedback,
      lease_seconds: p.lease_seconds,
      heartbeat_seconds: p.heartbeat_seconds,
    };
    const id = await o.queue.enqueueTicket(job, payload);
    if (id === false) return o.loseLease('the coordinator job is held by another worker now');
    if (id === null) return; // one is open already (queued by this job's earlier holder)
    o.log(
      `queued ${label(ticket.relPath)} as ticket job ${id}${attempt > 0 ? ` (merge attempt ${attempt})` : ''}`,
    );
    events([
      {
        type: 'ticket_job_queued',
        data: { ticket: ticket.relPath, job_id: id, merge_attempt: attempt, base },
      },
    ]);
  };

  let current: Map<string, TicketJobView> = new Map();
  const host: MergeHost = {
    deps: {
      root: dir,
      store: control.store,
      repo: o.lanePorts.repoAt(dir),
      resolveAgent: o.resolveAgent,
      settings,
      knownAgents,
      signal: o.signal,
      lanePorts: o.lanePorts,
    },
    runId,
    lanes,
    persist: (list = []) => events(list as FlowEvent[]),
    scratchSetUp: false,
    scratchKnown: false,
    async sendBack(lane: LaneRecord, feedback: MergeFeedback): Promise<boolean> {
      if (feedback.attempt > settings.verify.maxFailures) {
        toPerson.set(lane.ticket, `could not be merged after ${feedback.attempt - 1} attempt(s)`);
        return true;
      }
      o.log(`${label(lane.ticket)} did not merge (${feedback.kind}): sent back`);
      await enqueue(
        { relPath: lane.ticket, ticketId: lane.ticketId },
        feedback.onto,
        feedback.attempt,
        feedback,
        lane.branch.replace(REMOTE_PREFIX, ''),
      );
      return false;
    },
  };

  /** The lane record the merge queue takes for a ticket whose job ended done. */
  const laneFor = (ticket: Ticket, view: TicketJobView, slot: number): LaneRecord => {
    let laneRun = laneRuns.get(ticket.relPath);
    if (!laneRun) {
      laneRun = control.store.createRun({
        input: { lanes: 1 },
        metadata: { parent_run_id: runId, lane: slot, ticket: ticket.relPath, hub_ticket_job: view.job_id },
      }).id;
      laneRuns.set(ticket.relPath, laneRun);
    }
    return {
      slot,
      ticket: ticket.relPath,
      ticketId: ticket.ticketId,
      runId: laneRun,
      branch: `${REMOTE_PREFIX}${view.ticket_branch}`,
      worktree: null,
      base: view.base_sha,
      phase: 'queued',
      mergeAttempts: view.merge_attempt,
      queuedAt: slot,
      blocked: null,
    };
  };

  let singly = 0;
  for (;;) {
    if (o.signal.aborted || o.lost()) return finish(interrupted());
    await runGitText(['fetch', '-q', '--prune', 'origin'], {
      cwd: dir,
      unsetEnv: o.unsetEnv,
      timeoutMs: 300_000,
    });
    const tip = await git.resolve(dir, branchRef(integration));
    if (!tip) throw new Error(`the integration branch ${integration} does not exist`);
    const queue = loadTicketQueue(join(dir, STATE_DIR, 'tickets'), { repoRoot: dir, agents: knownAgents });
    if (queue.tickets.every((t) => t.isDone))
      return finish({ status: 'completed', reasonCode: 'all_done', reason: 'All tickets done and merged.' });
    current = new Map((await o.queue.ticketJobs(job)).map((j) => [j.ticket, j]));

    let open = 0;
    const toMerge: LaneRecord[] = [];
    const waiting: string[] = [];
    queue.tickets.forEach((t, i) => {
      const view = current.get(t.relPath);
      if (t.isDone || !view) return;
      if (view.state === 'queued' || view.state === 'running') open++;
      else if (toPerson.has(t.relPath)) waiting.push(`${ticketLabel(t)}: ${toPerson.get(t.relPath)}`);
      else if (view.state === 'completed' && view.status === 'completed')
        toMerge.push(laneFor(t, view, i + 1));
      else {
        const why = view.message ?? view.reason_code ?? view.status ?? view.state;
        waiting.push(`${ticketLabel(t)}: ${why}`);
        if (!told.has(view.job_id)) {
          told.add(view.job_id);
          events([
            {
              type: 'ticket_job_waiting',
              data: { ticket: t.relPath, job_id: view.job_id, status: view.status, reason: why },
            },
          ]);
        }
      }
    });

    // a job that ended done pushed its branch; one missing (deleted by hand) leaves its ticket to a person
    for (const lane of [...toMerge]) {
      if (await git.resolve(dir, lane.branch)) continue;
      toMerge.splice(toMerge.indexOf(lane), 1);
      waiting.push(`${label(lane.ticket)}: its branch ${lane.branch.replace(REMOTE_PREFIX, '')} is gone`);
    }
    if (toMerge.length > 0) {
      const batch = singly > 0 ? toMerge.slice(0, 1) : toMerge;
      if (singly > 0) singly--;
      lanes.lanes = batch;
      let result: Awaited<ReturnType<typeof mergeQueued>>;
      try {
        result = await mergeQueued(host, batch);
      } catch (err) {
        if (err instanceof MergeAborted) return finish(interrupted());
        throw err;
      }
      if (result.merged.length > 0) {
        lanes.merged.push(...result.merged.map((l) => l.ticket));
        const names = result.merged.map((l) => label(l.ticket)).join(', ');
        o.log(`merged ${names} into ${integration}`);
        await o.push(`merged ${names}`);
        // on the remote now, in the merge commits: the tickets' own branches are done with
        if (!o.lost()) await dropTicketBranches(o, result.merged);
      }
      if (result.split) singly = batch.length;
      if (result.blocked) o.log(`merging waits: ${result.blocked.detail}`);
      if (result.merged.length === 0 && result.sentBack.length === 0 && !result.split)
        await abortableSleep(o.pollMs, o.signal);
      continue; // the tip moved (or a ticket went back): read again before queueing more
    }

    const { ready, blocked } = readiness(queue.tickets, queue.dependencies);
    const earlier = ready.some((t) => !current.has(t.relPath))
      ? await earlierBranches(o, p.repo_id, job.id)
      : null;
    for (const t of ready) {
      if (open >= settings.lanes) break;
      if (current.has(t.relPath)) continue; // it has a job: open, waiting for a person, or merged
      // work an earlier hub run left unmerged (a ticket that paused, failed, or was stopped) goes on there
      await enqueue(t, tip, 0, null, earlier?.get(label(t.relPath)));
      if (o.lost()) return finish(interrupted());
      open++;
    }
    if (open === 0) {
      if (waiting.length > 0) {
        return finish({
          status: 'paused',
          reasonCode: 'lanes_waiting',
          reason: `Every ticket left waits for a person: ${waiting.join('; ')}`,
        });
      }
      if (blocked.length > 0) {
        return finish({
          status: 'paused',
          reasonCode: 'dependencies_blocked',
          reason: `No ticket is ready: ${blocked.map((b) => ticketLabel(b.ticket)).join(', ')} wait for tickets that are not done.`,
        });
      }
    }
    await abortableSleep(o.pollMs, o.signal);
  }
}

/**
 * Ticket branches earlier coordinator jobs of the repo left on the remote (their tickets not merged:
 * merged ones are deleted), by ticket name, the most recently committed first.
 */
async function earlierBranches(
  o: CoordinatorOptions,
  repoId: string,
  jobId: string,
): Promise<Map<string, string>> {
  const out = await runGitText(
    [
      'for-each-ref',
      '--sort=-committerdate',
      '--format=%(refname)',
      `${REMOTE_PREFIX}${TICKET_BRANCH_PREFIX}${repoId}/`,
    ],
    { cwd: o.dir, unsetEnv: o.unsetEnv, readOnly: true },
  );
  const found = new Map<string, string>();
  const ours = ticketBranch(repoId, jobId, '');
  for (const ref of out.split('\n').filter(Boolean)) {
    const branch = ref.slice(REMOTE_PREFIX.length);
    const name = branch.split('/').pop() ?? '';
    if (!branch.startsWith(ours) && !found.has(name)) found.set(name, branch);
  }
  return found;
}

/** The merged tickets' branches deleted on the remote (one push); a failure is only logged. */
async function dropTicketBranches(o: CoordinatorOptions, merged: readonly LaneRecord[]): Promise<void> {
  const branches = merged.map((l) => l.branch.replace(REMOTE_PREFIX, ''));
  await runGitText(['push', '-q', 'origin', '--delete', ...branches], {
    cwd: o.dir,
    unsetEnv: o.unsetEnv,
    timeoutMs: 300_000,
  }).catch((err: unknown) => {
    o.log(`the merged tickets' branches stay on the remote: ${(err as Error).message}`);
  });
}

/** A ticket by its file name, as the worker's log names it. */
function label(relPath: string): string {
  return basename(relPath).replace(/\.md$/i, '');
}
