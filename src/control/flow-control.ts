// Run management around the engine: which run a start continues, resume gating, pause/stop requests,
// replies, and the worker that owns the repo while a run executes. Adapters (agent backends, git) and
// how a background worker is started (`WorkerLauncher`) are passed in by the surface; this layer only
// knows the ports. Every surface steers through here: start, resume and reply-and-resume prepare the
// run and launch its worker in one place.
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import type { AgentResolver } from '../core/agent.ts';
import type { CarConfig } from '../core/config/index.ts';
import { defaultAgentId, knownAgentIds } from '../core/config/index.ts';
import { wakeApprovalWaiter } from '../core/flow/approvals.ts';
import { Awaiting } from '../core/flow/awaiting.ts';
import { type AbortReason, FlowEngine, type FlowOutcome, type FlowProgress } from '../core/flow/engine.ts';
import type { FlowEvent } from '../core/flow/events.ts';
import { runLanes } from '../core/flow/lanes/scheduler.ts';
import type { LanePorts, PullRequestPort, RepoState } from '../core/flow/ports.ts';
import { reasonInfo } from '../core/flow/reasons.ts';
import { writeReply } from '../core/flow/replies.ts';
import { grantAgain } from '../core/flow/resume-grant.ts';
import { runPaths } from '../core/flow/run-paths.ts';
import { type FlowSettings, flowSettings, runSettings } from '../core/flow/settings.ts';
import { initialState, loadState } from '../core/flow/state.ts';
import { writeFileAtomic } from '../core/fs/atomic.ts';
import { removeStaleTempFiles } from '../core/fs/stale-temp.ts';
import { acquireLock, type LockStatus, readLock } from '../core/lock.ts';
import { type RepoPaths, RUNTIME_PATHS } from '../core/paths.ts';
import { abortableSleep } from '../core/sleep.ts';
import type { Approval, StoredApprovalDecision } from '../core/store/approvals.ts';
import { openRunStore, type RunStore } from '../core/store/run-store.ts';
import type { JsonObject, Run } from '../core/store/types.ts';
import {
  editTicketField,
  type InvalidTicketFile,
  invalidTicketFiles,
  loadTicketQueue,
  readiness,
  type TicketQueue,
} from '../core/tickets/index.ts';
import { type GuardIo, guardRun } from './run-guard.ts';

/**
 * A refusal the user can act on; `code` is stable for scripts (`busy`, `wrong_state`, `blocked`, `no_run`,
 * `not_found`: an unknown approval id).
 */
export class FlowControlError extends Error {
  readonly code: 'busy' | 'wrong_state' | 'blocked' | 'no_run' | 'not_found';
  constructor(code: FlowControlError['code'], message: string) {
    super(message);
    this.name = 'FlowControlError';
    this.code = code;
  }
}

/** How much of a reply its `reply_written` event keeps. */
const REPLY_TEXT_CHARS = 4000;

const ACTIVE: ReadonlySet<Run['status']> = new Set(['pending', 'running', 'stopping']);

export interface StartOptions {
  /** Always create a new run; a paused one is superseded. */
  newRun?: boolean;
  maxTotalTurns?: number;
  /** Tickets worked at once (`--lanes`), over `ticket_flow.lanes`; fixed for the run's life. */
  lanes?: number;
  /** Resume a blocking pause without a reply or repo change. */
  force?: boolean;
}

export interface ResumeOptions {
  force?: boolean;
  maxTotalTurns?: number;
}

export interface Prepared {
  run: Run;
  action: 'created' | 'resumed' | 'recovering' | 'reusing';
}

/** A run whose worker was launched: the run as read after the launch, and the worker's pid. */
export interface Launched extends Prepared {
  workerPid: number;
}

/**
 * Starts a run's worker outside this process. The surface supplies it (`surfaces/worker-spawn.ts`: a
 * detached `car flow worker`); it resolves to the worker's pid once the worker owns the repo lock, or
 * finished within the wait.
 */
export interface WorkerLauncher {
  launch(root: string, runId: string): Promise<number>;
}

/** What `status` reports: the run, who holds the repo lock, and the ticket queue. */
export interface FlowStatus {
  /** The run asked for, else the latest (null: no runs yet). */
  run: Run | null;
  /** The repo lock as read now (`stale`: its holder died); null when nobody holds it. */
  lock: LockStatus | null;
  /** A live process owns the repo (a worker, or a command briefly holding the lock). */
  workerAlive: boolean;
  /**
   * `next`: the ticket a run takes next (the first ready one: not done, its `depends_on` all done);
   * `blocked`: tickets not done that wait for a dependency; `invalid`: files meant as tickets that car
   * cannot work as they are, each with its fix.
   */
  tickets: {
    total: number;
    done: number;
    next: string | null;
    blocked: number;
    invalid: InvalidTicketFile[];
  };
}

/**
 * How long a resume waits for the run's own worker to let go of the repo lock: a worker that has just
 * paused the run holds it for a moment more (closing agents, writing the run manifest), and a person
 * answering the pause notice at once should not be told the repo is busy.
 */
const PAUSED_WORKER_WAIT_MS = 10_000;

export function openStore(paths: RepoPaths, config: CarConfig): RunStore {
  return openRunStore(paths.dbFile, {
    maxEventBytes: config.store.max_event_bytes,
    maxEventsPerType: config.store.max_events_per_type,
    durable: config.storage.durable_writes,
  });
}

/** The lock holder if it is alive (a dead holder's lock is stale and will be taken over). */
export function liveLock(paths: RepoPaths): LockStatus | null {
  const status = readLock(paths.lockFile);
  return status && !status.stale ? status : null;
}

function busyError(lock: LockStatus): FlowControlError {
  const h = lock.holder;
  const who = h
    ? `pid ${h.pid} on host ${h.host} since ${h.started_at}${h.purpose ? ` (${h.purpose})` : ''}`
    : 'an unknown process';
  return new FlowControlError('busy', `repo is locked by ${who}; lock file ${lock.path}`);
}

/** An agent process group found running after the worker that started it was killed. */
export interface OrphanedAgent {
  pgid: number;
  command: string;
  started_at: string;
  /** Live processes in the group when found. */
  processes: number;
  /** The signal that ended it; null when it could not be stopped. */
  signal: string | null;
}

/**
 * The agent adapters' process bookkeeping (agents/process.ts), as the control plane uses it: a worker
 * keeps a ledger of its agent process groups so that, after a SIGKILL, the next owner of the repo can
 * stop the agents that are still editing it.
 */
export interface AgentProcessPort {
  /** Stops the still-running groups listed in `ledgerFile`; only while holding the repo lock. */
  stopOrphans(ledgerFile: string): Promise<OrphanedAgent[]>;
  /** Records this process's agent groups in `ledgerFile` from now on (null: stop recording). */
  keepLedger(ledgerFile: string | null): void;
}

export interface FlowControlPorts {
  agentProcesses?: AgentProcessPort;
  /** Needed by `launchStart`, `launchResume` and `replyAndResume`; foreground callers use `runWorker`. */
  launcher?: WorkerLauncher;
}

export class FlowControl {
  readonly paths: RepoPaths;
  readonly config: CarConfig;
  readonly store: RunStore;
  readonly agentProcesses: AgentProcessPort | null;
  readonly #repo: RepoState;
  readonly #launcher: WorkerLauncher | null;

  constructor(paths: RepoPaths, config: CarConfig, repo: RepoState, ports: FlowControlPorts = {}) {
    this.paths = paths;
    this.config = config;
    this.#repo = repo;
    this.agentProcesses = ports.agentProcesses ?? null;
    this.#launcher = ports.launcher ?? null;
    this.store = openStore(paths, config);
  }

  /**
   * Stops agents a killed worker left running and records them on the run. The caller holds the repo
   * lock, so the ledger's owner is known to be gone.
   */
  async stopOrphans(runId: string): Promise<OrphanedAgent[]> {
    const found = (await this.agentProcesses?.stopOrphans(this.paths.agentGroupsFile)) ?? [];
    if (found.length > 0) {
      this.store.appendEvent(runId, {
        type: 'orphan_agents_stopped',
        data: { groups: found.map((o) => ({ ...o })) },
      } satisfies FlowEvent);
    }
    return found;
  }

  close(): void {
    this.store.close();
  }

  settings(run: Run): FlowSettings {
    return runSettings(this.config, run);
  }

  runOrLatest(runId?: string): Run {
    const run = runId ? this.store.getRun(runId) : this.store.latestRun();
    if (!run)
      throw new FlowControlError('no_run', runId ? `no run ${runId}` : 'no runs yet (car flow start)');
    return run;
  }

  /** The run people steer: a lane's run is steered through the run that drives the lanes. */
  steerable(runId?: string): Run {
    const run = this.runOrLatest(runId);
    const parent = run.metadata.parent_run_id;
    return typeof parent === 'string' ? this.runOrLatest(parent) : run;
  }

  #replyTarget(run: Run): Run {
    return replyTargetOf(this.store, run);
  }

  /**
   * Picks the run a start works on: a crashed or paused run continues (CAR's start silently did nothing
   * for a paused run), otherwise a new run. Refuses while another live process owns the repo.
   */
  async prepareStart(opts: StartOptions = {}): Promise<Prepared> {
    const lock = liveLock(this.paths);
    if (lock) throw busyError(lock);
    const latest = this.store.latestRun();
    if (latest && !opts.newRun) {
      if (ACTIVE.has(latest.status)) {
        // No live owner but an active status: the process that ran it died. The engine recovers it.
        return { run: latest, action: latest.status === 'pending' ? 'reusing' : 'recovering' };
      }
      if (latest.status === 'paused') return { run: await this.resume(latest.id, opts), action: 'resumed' };
    }
    if (latest?.status === 'paused') {
      this.store.updateRun(latest.id, { status: 'superseded', finishedAt: new Date().toISOString() });
    }
    const input: JsonObject = { workspace_root: this.paths.root };
    if (opts.maxTotalTurns !== undefined) input.max_total_turns = opts.maxTotalTurns;
    if (opts.lanes !== undefined) input.lanes = opts.lanes;
    const settings = flowSettings(
      this.config,
      opts.maxTotalTurns ? { maxTotalTurns: opts.maxTotalTurns } : {},
    );
    const run = this.store.createRun({
      input,
      state: initialState(settings.maxTotalTurns) as unknown as JsonObject,
    });
    this.store.appendEvent(run.id, {
      type: 'run_created',
      data: { superseded: latest?.status === 'paused' ? latest.id : null },
    } satisfies FlowEvent);
    return { run, action: 'created' };
  }

  /** Starts or continues the queue (see `prepareStart`) in a worker from the launcher. */
  async launchStart(opts: StartOptions = {}): Promise<Launched> {
    const prepared = await this.prepareStart(opts);
    return this.#launch(prepared.run.id, prepared.action);
  }

  /**
   * Resumes a paused run (see `resume`) in a worker from the launcher. The run's own worker, still
   * letting go of the repo lock after pausing, is waited for; any other holder is refused as busy.
   */
  async launchResume(runId: string | undefined, opts: ResumeOptions = {}): Promise<Launched> {
    const run = this.steerable(runId);
    // no await unless there is a worker to wait for: another holder is refused at once, by `resume`
    if (this.#pausedWorkerHolds(run)) await this.#pausedWorkerGone(run);
    const resumed = await this.resume(run.id, opts);
    return this.#launch(resumed.id, 'resumed');
  }

  /** The paused run's own worker still holds the repo lock (it lets go a moment after pausing). */
  #pausedWorkerHolds(run: Run): boolean {
    return run.status === 'paused' && liveLock(this.paths)?.holder?.purpose === workerPurpose(run.id);
  }

  /** Waits (a bounded time) for a paused run's own worker to let go of the repo lock. */
  async #pausedWorkerGone(run: Run): Promise<void> {
    const deadline = Date.now() + PAUSED_WORKER_WAIT_MS;
    while (this.#pausedWorkerHolds(run) && Date.now() < deadline) await abortableSleep(100);
  }

  /**
   * A person did the user ticket (`agent: user`) the run paused on (`user_ticket`, or `commit_barrier`
   * after it was marked done): marks it done as `car ticket done` does (`editTicketField`) and resumes
   * the run in a worker from the launcher. When the run needs its work committed and the ticket file is
   * the tree's only change, that change is committed first: it is the commit a person would make by hand
   * for the edit car just made, and without it the run would pause again on `commit_barrier`. Any other
   * uncommitted change is the person's to commit: it is left alone (the resumed run pauses on it, naming
   * the files). Throws TicketEditError when the ticket cannot be edited.
   */
  async finishUserTicket(
    runId: string | undefined,
  ): Promise<Launched & { ticket: string; commit: string | null }> {
    const run = this.runOrLatest(runId);
    const settings = this.settings(run);
    const progress = loadState(run.state, settings.maxTotalTurns).ticket;
    if (
      run.status !== 'paused' ||
      (run.reasonCode !== 'user_ticket' && run.reasonCode !== 'commit_barrier') ||
      progress?.agent !== 'user'
    ) {
      const why = run.status === 'paused' ? `paused on ${run.reasonCode}` : run.status;
      throw new FlowControlError('wrong_state', `run ${run.id} does not wait for a user ticket (${why})`);
    }
    const path = progress.path;
    if (this.#pausedWorkerHolds(run)) await this.#pausedWorkerGone(run);
    let lock: ReturnType<typeof acquireLock>;
    try {
      lock = acquireLock(this.paths.lockFile, { purpose: 'car flow: user ticket done' });
    } catch (err) {
      const held = liveLock(this.paths);
      if (held) throw busyError(held);
      throw err;
    }
    let commit: string | null = null;
    try {
      const agents = knownAgentIds(this.config);
      const queue = loadTicketQueue(this.paths.ticketsDir, { repoRoot: this.paths.root, agents });
      const ticket = queue.tickets.find((t) => t.relPath === path);
      if (!ticket) {
        throw new FlowControlError('wrong_state', `the user ticket ${path} is gone; resume the run to go on`);
      }
      if (!ticket.isDone) editTicketField(ticket, agents, 'done', true);
      if (settings.requireCommit) {
        const changed = await this.#repo.statusLines(RUNTIME_PATHS);
        if (changed.length === 1 && changed[0]!.slice(3) === path) {
          commit = await this.#repo.commitAll(`${ticket.name}: done (a user ticket)`, RUNTIME_PATHS);
        }
      }
      this.store.appendEvent(run.id, {
        type: 'user_ticket_done',
        data: { ticket: path, commit },
      } satisfies FlowEvent);
    } finally {
      lock.release();
    }
    const launched = await this.launchResume(run.id);
    return { ...launched, ticket: path, commit };
  }

  /**
   * Writes the reply (see `reply`); a paused run is then resumed in a worker from the launcher. A run
   * that is not paused reads the reply on its next turn (`workerPid` null).
   */
  async replyAndResume(
    runId: string | undefined,
    body: string,
    title?: string,
  ): Promise<{ run: Run; file: string; workerPid: number | null }> {
    const { run: target, file } = await this.reply(runId, body, title);
    // a lane's reply resumes the run that drives the lanes
    const run = this.steerable(target.id);
    if (run.status !== 'paused') return { run, file, workerPid: null };
    const launched = await this.launchResume(run.id);
    return { run: launched.run, file, workerPid: launched.workerPid };
  }

  async #launch(runId: string, action: Prepared['action']): Promise<Launched> {
    if (!this.#launcher) throw new Error('FlowControl was given no WorkerLauncher');
    const workerPid = await this.#launcher.launch(this.paths.root, runId);
    // the worker has moved the run on meanwhile (running, or even finished)
    const run = this.store.getRun(runId);
    if (!run) throw new FlowControlError('no_run', `no run ${runId}`);
    return { run, action, workerPid };
  }

  /** The run (or the latest), whether a worker owns the repo, and how far the ticket queue is. */
  /** `queue`: the ticket queue when the caller keeps one up to date (the server), else it is read here. */
  status(runId?: string, queue?: TicketQueue): FlowStatus {
    const run = runId ? this.runOrLatest(runId) : this.store.latestRun();
    const lock = readLock(this.paths.lockFile);
    queue ??= loadTicketQueue(this.paths.ticketsDir, {
      repoRoot: this.paths.root,
      agents: knownAgentIds(this.config),
    });
    const { ready, blocked } = readiness(queue.tickets, queue.dependencies);
    return {
      run,
      lock,
      workerAlive: lock !== null && !lock.stale,
      tickets: {
        total: queue.tickets.length,
        done: queue.tickets.filter((t) => t.isDone).length,
        next: ready[0]?.relPath ?? null,
        blocked: blocked.length,
        invalid: invalidTicketFiles(queue, this.paths.ticketsDir, defaultAgentId(this.config)),
      },
    };
  }

  /** Makes a paused run runnable again (the caller then runs a worker). */
  async resume(runId: string | undefined, opts: ResumeOptions = {}): Promise<Run> {
    const run = this.steerable(runId);
    if (run.status !== 'paused') {
      throw new FlowControlError('wrong_state', `run ${run.id} is ${run.status}, not paused`);
    }
    const lock = liveLock(this.paths);
    if (lock) throw busyError(lock);
    const settings = this.settings(run);
    const state = loadState(run.state, settings.maxTotalTurns);
    const reason = reasonInfo(run.reasonCode);
    // pauses only a change (a reply, a repo change) can clear; resuming them unchanged just loops
    if (reason?.blocking && !opts.force) {
      const replied = existsSync(runPaths(this.paths.root, run.id).replyFile);
      const changed = state.pauseContext
        ? (await this.#repo.fingerprint(RUNTIME_PATHS)) !== state.pauseContext.fingerprint
        : true;
      if (!replied && !changed) {
        throw new FlowControlError(
          'blocked',
          `run ${run.id} paused on ${run.reasonCode} (${run.reason}); reply (car flow reply), change the repo, or resume with --force`,
        );
      }
    }
    // What paused the run is granted again; otherwise the next step would pause again at once.
    grantAgain(state, run, settings, opts.maxTotalTurns);
    return this.store.transaction(() => {
      const resumed = this.store.updateRun(run.id, {
        status: 'pending',
        reasonCode: null,
        reason: null,
        reasonDetails: null,
        state: state as unknown as JsonObject,
      });
      this.store.appendEvent(run.id, {
        type: 'resume_requested',
        data: { previous_reason: run.reasonCode, force: opts.force ?? false },
      } satisfies FlowEvent);
      return resumed;
    });
  }

  /**
   * Asks the run to pause after the turn in flight (`stop`: to end now). With no live worker the
   * request takes effect at once.
   */
  async request(
    runId: string | undefined,
    what: 'pause' | 'stop',
  ): Promise<{ run: Run; immediate: boolean; workerPid: number | null; orphans: OrphanedAgent[] }> {
    const run = this.steerable(runId);
    if (what === 'pause' && !ACTIVE.has(run.status)) {
      throw new FlowControlError(
        'wrong_state',
        `run ${run.id} is ${run.status}; only an active run can pause`,
      );
    }
    if (what === 'stop' && !ACTIVE.has(run.status) && run.status !== 'paused') {
      throw new FlowControlError('wrong_state', `run ${run.id} is already ${run.status}`);
    }
    const lock = liveLock(this.paths);
    const workerPid = lock?.holder?.purpose === workerPurpose(run.id) ? lock.holder.pid : null;
    if (workerPid === null) {
      const status = what === 'pause' ? 'paused' : 'stopped';
      const updated = this.store.transaction(() => {
        const r = this.store.updateRun(run.id, {
          status,
          reasonCode: what === 'pause' ? 'pause_requested' : 'stop_requested',
          reason: what === 'pause' ? 'Paused on request; resume to continue.' : 'Stopped on request.',
          ...(status === 'stopped' ? { finishedAt: new Date().toISOString() } : {}),
        });
        this.store.appendEvent(run.id, {
          type: `flow_${status}`,
          data: { reason_code: what === 'pause' ? 'pause_requested' : 'stop_requested', worker: null },
        } satisfies FlowEvent);
        return r;
      });
      return { run: updated, immediate: true, workerPid, orphans: await this.#stopLeftoverAgents(run.id) };
    }
    const updated = this.store.updateRun(run.id, {
      ...(what === 'stop' ? { status: 'stopping' as const } : {}),
      metadata: { ...run.metadata, requested: what },
    });
    this.store.appendEvent(run.id, {
      type: `${what}_requested`,
      data: { worker_pid: workerPid },
    } satisfies FlowEvent);
    // never signal ourselves: an in-process worker sees the request between steps
    if (what === 'stop' && workerPid !== process.pid) {
      try {
        process.kill(workerPid, 'SIGTERM');
      } catch {
        // gone already; the engine's next check or a later start settles the state
      }
    }
    return { run: updated, immediate: false, workerPid, orphans: [] };
  }

  /**
   * With no worker alive, agents a killed worker left running would go on editing the repo: stop them,
   * holding the repo lock so that a worker starting meanwhile keeps its own agents.
   */
  async #stopLeftoverAgents(runId: string): Promise<OrphanedAgent[]> {
    if (!this.agentProcesses) return [];
    let lock: ReturnType<typeof acquireLock>;
    try {
      lock = acquireLock(this.paths.lockFile, { purpose: 'car flow stop' });
    } catch {
      return []; // a worker owns the repo now; its agents are not orphans
    }
    try {
      return await this.stopOrphans(runId);
    } finally {
      lock.release();
    }
  }

  /** Approvals, newest first: pending ones (the default), or all of them. */
  approvals(opts: { all?: boolean; runId?: string; limit?: number } = {}): Approval[] {
    return this.store.listApprovals({
      ...(opts.all ? {} : { status: ['pending'] }),
      ...(opts.runId ? { runId: opts.runId } : {}),
      ...(opts.limit ? { limit: opts.limit } : {}),
    });
  }

  approval(id: string): Approval {
    const approval = this.store.getApproval(id);
    if (!approval) throw new FlowControlError('not_found', `no approval ${id} in this repo`);
    return approval;
  }

  /**
   * A person's answer to a pending approval, recorded with who gave it; the waiting worker is woken and
   * hands it to the agent. Refused when it was settled already (answered, expired) or its worker is gone
   * (then it is expired here: the agent that asked is gone with it).
   */
  answerApproval(id: string, decision: StoredApprovalDecision, by: string): Approval {
    const approval = this.approval(id);
    if (approval.status !== 'pending') throw settledError(approval);
    const holder = liveLock(this.paths)?.holder;
    if (!holder || holder.pid !== approval.workerPid) {
      this.store.transaction(() => {
        const row = this.store.settleApproval(id, {
          status: 'expired',
          decision: 'cancel',
          answeredBy: 'car',
          note: 'the worker that asked died',
        });
        if (row) {
          this.store.appendEvent(approval.runId, {
            type: 'approval_expired',
            data: { id, decision: 'cancel', why: 'worker_gone' },
          } satisfies FlowEvent);
        }
      });
      throw new FlowControlError(
        'wrong_state',
        `approval ${id} expired: the worker that asked (pid ${approval.workerPid}) is gone; the next run interrupts its turn`,
      );
    }
    const answered = this.store.transaction(() => {
      const row = this.store.settleApproval(id, {
        status: 'answered',
        decision,
        answeredBy: by,
        onlyBefore: new Date().toISOString(),
      });
      if (row) {
        this.store.appendEvent(approval.runId, {
          type: 'approval_answered',
          data: { id, decision, by },
        } satisfies FlowEvent);
      }
      return row;
    });
    if (!answered) throw settledError(this.approval(id), true);
    wakeApprovalWaiter(this.paths.root, answered);
    return answered;
  }

  /** Writes USER_REPLY.md for the run; the next turn archives it and shows it to the agent. */
  async reply(runId: string | undefined, body: string, title?: string): Promise<{ run: Run; file: string }> {
    const run = this.#replyTarget(this.runOrLatest(runId));
    const paths = runPaths(this.paths.root, run.id);
    await writeReply(paths, title ? { body, title } : { body });
    this.store.appendEvent(run.id, {
      type: 'reply_written',
      data: {
        title: title ?? null,
        bytes: Buffer.byteLength(body),
        // what the run view and notices show; the whole reply is in USER_REPLY.md (then reply_history)
        text: body.length > REPLY_TEXT_CHARS ? `${body.slice(0, REPLY_TEXT_CHARS)}…` : body,
      },
    } satisfies FlowEvent);
    return { run, file: paths.rel.replyFile };
  }
}

function settledError(approval: Approval, late = false): FlowControlError {
  if (approval.status === 'pending') {
    // still pending but past its expiry: the worker's timer settles it in a moment
    return new FlowControlError('wrong_state', `approval ${approval.id} expired at ${approval.expiresAt}`);
  }
  const by = approval.answeredBy && approval.answeredBy !== 'car' ? ` by ${approval.answeredBy}` : '';
  const what =
    approval.status === 'answered'
      ? `was already answered${by} (${approval.decision})`
      : `${approval.status === 'expired' ? 'expired' : 'was cancelled'} (${approval.note ?? approval.decision})`;
  return new FlowControlError(
    'wrong_state',
    `approval ${approval.id} ${what}${late ? '; your answer came late' : ''}`,
  );
}

/**
 * Where a reply to `run` goes: a run with lanes passes it to its one lane that waits on a question; with
 * several, the person names the lane's run (`--run`).
 */
function replyTargetOf(store: RunStore, run: Run): Run {
  if (!isLanesRun(run)) return run;
  const asking = store.laneRuns(run.id).filter((r) => r.status === 'paused' && r.reasonCode === 'dispatch');
  if (asking.length === 1) return asking[0]!;
  if (asking.length === 0) return run;
  throw new FlowControlError(
    'wrong_state',
    `${asking.length} lanes wait for an answer; reply to one with --run: ${asking.map((r) => `${r.id} (${String(r.metadata.ticket)})`).join(', ')}`,
  );
}

function isLanesRun(run: Run): boolean {
  return typeof (run.state as { lanes?: unknown }).lanes === 'object';
}

export function workerPurpose(runId: string): string {
  return `car flow run ${runId}`;
}

export interface WorkerOptions {
  control: FlowControl;
  runId: string;
  repo: RepoState;
  resolveAgent: AgentResolver;
  signal?: AbortSignal;
  onProgress?: (progress: FlowProgress) => void;
  /** Given by a process that runs the flow as its main job: a silent end of the run becomes a recorded failure. */
  guard?: GuardIo;
  /** Agent turns this worker runs before pausing (`car run --stop-after-runs`), over the config's. */
  stopAfterRuns?: number;
  /** Git for lanes and a RepoState per worktree: needed by a run with more than one lane. */
  lanePorts?: LanePorts;
  /** GitHub, when set up: car opens the pull request of an `open_pr` ticket itself. */
  pullRequests?: PullRequestPort | undefined;
  /**
   * Work this one ticket as a lane does (done means verified and committed, then the run ends), in the
   * checkout itself: a hub ticket job (surfaces/queue-worker.ts), whose lanes are other machines.
   */
  lane?: { ticket: string };
}

/**
 * Runs the flow in this process while holding the repo lock, so exactly one process drives a repo.
 * The lock is released however the run ends; a kill -9 leaves it stale for the next start to take over.
 */
export async function runWorker(opts: WorkerOptions): Promise<FlowOutcome> {
  const { control, runId } = opts;
  const run = control.runOrLatest(runId);
  let handle: ReturnType<typeof acquireLock>;
  try {
    handle = acquireLock(control.paths.lockFile, { purpose: workerPurpose(run.id) });
  } catch (err) {
    const lock = readLock(control.paths.lockFile);
    if (lock) throw busyError(lock);
    throw err;
  }
  // A stop (or pause) that came between the launch and the lock found no worker and took effect at once:
  // the run is over or paused as recorded, and stays so (running it now would undo a person's stop).
  const now = control.store.getRun(run.id) ?? run;
  if (!ACTIVE.has(now.status)) {
    handle.release();
    return {
      status: now.status === 'superseded' ? 'stopped' : (now.status as FlowOutcome['status']),
      reasonCode: (now.reasonCode ?? 'stop_requested') as FlowOutcome['reasonCode'],
      reason: now.reason ?? `The run is ${now.status}.`,
    };
  }
  const awaiting = new Awaiting();
  const unguard = opts.guard ? guardRun(control.store, run.id, awaiting, opts.guard) : null;
  try {
    // Temp files of writers killed mid-write: readers skip them, the run start clears them.
    const { stateDir, ticketsDir, contextspaceDir } = control.paths;
    removeStaleTempFiles([
      stateDir,
      ticketsDir,
      contextspaceDir,
      runPaths(control.paths.root, run.id).runDir,
    ]);
    // Before any turn: stop agents a killed predecessor left running, then record our own.
    await awaiting.on('stopping agents a killed worker left running', control.stopOrphans(run.id));
    control.agentProcesses?.keepLedger(control.paths.agentGroupsFile);
    // bounded by policy: old finished runs lose their raw stream events, never their lifecycle
    control.store.pruneEvents({ olderThanDays: EVENT_RETENTION_DAYS });
    const deps = {
      root: control.paths.root,
      store: control.store,
      repo: opts.repo,
      resolveAgent: opts.resolveAgent,
      settings: {
        ...control.settings(run),
        ...(opts.stopAfterRuns !== undefined ? { stopAfterRuns: opts.stopAfterRuns } : {}),
        ...(opts.lane ? { lanes: 1, requireCommit: true } : {}),
      },
      ...(opts.lane ? { lane: { ticket: opts.lane.ticket, controlRunId: run.id } } : {}),
      knownAgents: knownAgentIds(control.config),
      awaiting,
      ...(opts.signal ? { signal: opts.signal } : {}),
      ...(opts.onProgress ? { onProgress: opts.onProgress } : {}),
      ...(opts.pullRequests ? { pullRequests: opts.pullRequests } : {}),
    };
    let outcome: FlowOutcome;
    if (deps.settings.lanes > 1) {
      if (!opts.lanePorts) throw new Error('a run with lanes needs the lane ports');
      outcome = await runLanes({ ...deps, lanePorts: opts.lanePorts }, run.id);
    } else {
      outcome = await new FlowEngine(deps).run(run.id);
    }
    writeRunManifest(control.store, control.paths.root, run.id);
    return outcome;
  } finally {
    // The agents' processes live as long as the run (one per agent, shared by its tickets' sessions).
    if (opts.resolveAgent.close) {
      await awaiting.on(
        'stopping the agents of the run',
        opts.resolveAgent.close().catch(() => {}),
      );
    }
    unguard?.();
    // Agents still running past this point stay in the ledger for the next owner to stop.
    control.agentProcesses?.keepLedger(null);
    handle.release();
  }
}

/** Days to keep the high-volume events (agent deltas, raw output) of finished runs; CAR's default. */
const EVENT_RETENTION_DAYS = 7;

/**
 * `runs/<id>/manifest.json`: a compact, human-readable summary of the run written whenever it stops
 * (the store stays the full record). Enough to explain the run without opening SQLite.
 */
export function writeRunManifest(store: RunStore, root: string, runId: string): void {
  const run = store.getRun(runId);
  if (!run) return;
  const turns = store.listTurns(runId);
  const done = store.listEvents(runId, { types: ['ticket_done'], limit: 10_000 }).map((e) => e.data.ticket);
  const manifest = {
    run_id: run.id,
    status: run.status,
    reason_code: run.reasonCode,
    reason: run.reason,
    created_at: run.createdAt,
    started_at: run.startedAt,
    finished_at: run.finishedAt,
    updated_at: run.updatedAt,
    turns: turns.length,
    turns_by_status: turns.reduce<Record<string, number>>((acc, t) => {
      acc[t.status] = (acc[t.status] ?? 0) + 1;
      return acc;
    }, {}),
    tickets_done: done,
    events: store.eventStats(runId),
    last_event_seq: run.lastEventSeq,
  };
  writeFileAtomic(
    join(runPaths(root, runId).runDir, 'manifest.json'),
    `${JSON.stringify(manifest, null, 2)}\n`,
    {
      createDirs: true,
    },
  );
}

export type { AbortReason, FlowOutcome, FlowProgress };
