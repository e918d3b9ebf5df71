// A run with lanes (`ticket_flow.lanes` > 1): up to N ready tickets worked at once, each by a lane run
// of the ordinary engine in a git worktree of its own, all in this one process; a lane whose ticket is
// done joins the merge queue (merge.ts), which merges the lanes queued at the time in one pass.
// The queue is read from the integration tip (the scratch worktree), so a ticket counts as done once its
// work is merged, and a lane's dependencies are always on the branch it starts from.
import { existsSync, mkdirSync, rmSync, symlinkSync } from 'node:fs';
import { join } from 'node:path';
import { STATE_DIR } from '../../paths.ts';
import type { JsonObject } from '../../store/types.ts';
import {
  loadTicketQueue,
  readiness,
  type Ticket,
  type TicketCache,
  type TicketQueue,
  ticketLabel,
} from '../../tickets/index.ts';
import { FlowEngine } from '../engine.ts';
import type { FlowEvent } from '../events.ts';
import { type FlowDeps, type FlowOutcome, stopped } from '../flow-types.ts';
import type { LanePorts } from '../ports.ts';
import { recoverLanes } from './lane-recover.ts';
import {
  branchRef,
  LANES_DIR,
  type LaneRecord,
  type LanesState,
  laneBranch,
  laneWorktree,
  MERGE_TREE,
  readLanesState,
} from './lane-state.ts';
import { MergeAborted, mergeQueued } from './merge.ts';
import { LaneSetupError, setupWorktree } from './setup.ts';
import { LanesBudget } from './shared-budget.ts';

export type LaneDeps = FlowDeps & { lanePorts: LanePorts };

/** How often the driving run looks at pause and stop requests while every lane is busy. */
const REQUEST_POLL_MS = 500;
/** A merge the person's own changes are in the way of is tried again this often while lanes work. */
const BLOCKED_MERGE_RETRY_MS = 5000;

type LaneEnd = { lane: LaneRecord; outcome: FlowOutcome };

export async function runLanes(deps: LaneDeps, runId: string): Promise<FlowOutcome> {
  return new LaneScheduler(deps, runId).run();
}

class LaneScheduler {
  readonly deps: LaneDeps;
  readonly runId: string;
  lanes!: LanesState;
  readonly #running = new Map<number, Promise<LaneEnd | null>>();
  readonly #cache: TicketCache = new Map();
  #queueOrder = 0;
  /**
   * Worktrees of lanes whose tickets were queued, kept for the next lanes (a checkout of only what
   * changed instead of a whole new tree). Known only to this process: after a crash the next start
   * sweeps them (lane-recover.ts).
   */
  #spare: { worktree: string; branch: string }[] = [];
  scratchSetUp = false;
  /** The run's turn and token budgets, shared by its lanes. */
  budget!: LanesBudget;
  /** What the blocked merge waits for: the person's changes, or a failing lane_setup in the scratch tree. */
  #blockedKind: 'local_changes' | 'setup_failed' = 'local_changes';
  /** Branches of lanes merged and closed, deleted together after the pass (`dropMergedBranches`). */
  readonly #mergedBranches: string[] = [];
  /** The merge pass in flight (one at a time). */
  #merging: Promise<null> | null = null;
  /** Lanes still to merge one at a time (a pass of several failed its re-verify). */
  #singly = 0;
  /** Why the last merge could not move the integration branch (the person's changes), until one can. */
  #blocked: string | null = null;
  #retryMergeAt = 0;
  scratchKnown = false;
  #lastQueue: TicketQueue | null = null;
  /**
   * Tickets merged since the queue was last read: a reading kept during a merge still says they are not
   * done, and their lanes are closed, so without this they would be started again.
   */
  readonly #mergedSinceRead = new Set<string>();
  /** merge_blocked told for this detail already (told once, not every loop). */
  #toldBlocked = new Set<string>();

  constructor(deps: LaneDeps, runId: string) {
    this.deps = deps;
    this.runId = runId;
  }

  /** Writes the lanes into the run's state, with optional events, in one transaction. */
  persist(events: FlowEvent[] = [], patch: Parameters<LaneDeps['store']['updateRun']>[1] = {}): void {
    const { store } = this.deps;
    const run = store.getRun(this.runId);
    store.transaction(() => {
      store.updateRun(this.runId, {
        ...patch,
        state: { ...(run?.state ?? {}), lanes: this.lanes as unknown as JsonObject },
      });
      if (events.length > 0) store.appendEvents(this.runId, events);
    });
  }

  async run(): Promise<FlowOutcome> {
    const { deps } = this;
    const { git } = deps.lanePorts;
    const run = deps.store.getRun(this.runId);
    if (!run) throw new Error(`no such run: ${this.runId}`);
    const known = readLanesState(run.state);
    const integration =
      known?.integration ?? deps.settings.integrationBranch ?? (await git.currentBranch(deps.root));
    if (!integration || !(await git.resolve(deps.root, branchRef(integration)))) {
      return this.finish({
        status: 'paused',
        reasonCode: 'lanes_waiting',
        reason: integration
          ? `The integration branch ${integration} has no commit yet; commit something first, then resume.`
          : 'Lanes merge into a branch: check out a branch (or set ticket_flow.integration_branch), then resume.',
      });
    }
    this.lanes = known ?? { integration, lanes: [], merged: [] };
    this.budget = new LanesBudget(deps.store, this.runId, deps.settings, () =>
      this.lanes.lanes.map((l) => l.runId),
    );
    for (const lane of this.lanes.lanes) this.#queueOrder = Math.max(this.#queueOrder, lane.queuedAt ?? 0);
    if (!known && (await this.ticketsUncommitted())) {
      return this.finish({
        status: 'paused',
        reasonCode: 'tickets_uncommitted',
        reason: `Lanes work from commits: commit the changes under ${STATE_DIR}/tickets/ (on ${integration}), then resume.`,
      });
    }
    await git.ignoreLocally(deps.root, [`/${LANES_DIR}/`, `/${STATE_DIR}/runs`]);
    this.persist(
      [
        { type: run.startedAt ? 'flow_resumed' : 'flow_started', data: { total_turns: 0 } },
        {
          type: 'lanes_started',
          data: { lanes: deps.settings.lanes, integration, mode: deps.settings.mergeMode },
        },
      ],
      { status: 'running', ...(run.startedAt ? {} : { startedAt: new Date().toISOString() }) },
    );
    await recoverLanes(this);
    await this.dropMergedBranches();
    // read once before any merge pass can start, so that a reading is always there to stand during one
    await this.#integrationQueue();
    for (const lane of this.lanes.lanes) if (lane.phase === 'working') this.launch(lane);
    return this.#loop();
  }

  async #loop(): Promise<FlowOutcome> {
    for (;;) {
      const asked = this.#asked();
      if (asked) return this.#drain(asked);
      // the merge queue works beside the lanes: one merge at a time, while the lanes go on
      if (!this.#merging) {
        const next = this.#toMerge();
        if (next.length > 0) this.#merging = this.#merge(next);
      }
      const queue = await this.#integrationQueue();
      const inLane = new Set(this.lanes.lanes.map((l) => l.ticket));
      const { ready, blocked: waiting } = readiness(queue.tickets, queue.dependencies);
      // lanes count while they work: one that waits for a person or for the merge queue holds no slot
      const free = this.deps.settings.lanes - this.lanes.lanes.filter((l) => l.phase === 'working').length;
      const startable = ready.filter((t) => !inLane.has(t.relPath) && !this.#mergedSinceRead.has(t.relPath));
      if (free > 0 && startable.length > 0) {
        const base = await this.deps.lanePorts.git.resolve(this.deps.root, branchRef(this.lanes.integration));
        if (!base) throw new Error(`the integration branch ${this.lanes.integration} does not exist`);
        this.#startLanes(startable.slice(0, free), base);
      }
      if (this.#running.size === 0 && !this.#merging) {
        const end = this.#idleOutcome(queue.tickets, waiting.length, this.#blocked);
        if (end) return this.finish(end);
        if (this.#toMerge().length === 0) continue;
      }
      const ended = await this.#nextEnd();
      if (ended) this.#laneEnded(ended);
    }
  }

  /**
   * The queued lanes, oldest first (only the oldest while a failed pass is being split), unless a
   * blocked merge waits for the person (retried every few seconds).
   */
  #toMerge(): LaneRecord[] {
    const queued = this.lanes.lanes
      .filter((l) => l.phase === 'queued')
      .sort((a, b) => (a.queuedAt ?? 0) - (b.queuedAt ?? 0));
    if (queued.length > 0 && this.#blocked !== null && Date.now() < this.#retryMergeAt) return [];
    return this.#singly > 0 ? queued.slice(0, 1) : queued;
  }

  /** One merge pass, in the background of the loop; the loop hears of its end as of a lane's. */
  async #merge(batch: LaneRecord[]): Promise<null> {
    try {
      if (this.#singly > 0) this.#singly--;
      const result = await mergeQueued(this, batch);
      this.#blocked = null;
      for (const lane of result.merged) await this.closeLane(lane);
      await this.dropMergedBranches();
      for (const { lane, toPerson } of result.sentBack) if (!toPerson) this.launch(lane);
      if (result.split) this.#singly = batch.length;
      const blocked = result.blocked;
      if (blocked && blocked.reason !== 'moved') {
        // the person's own changes are in the way: told once, retried now and then, paused when idle
        const lane = batch[0]!;
        lane.blocked = blocked.detail;
        this.#blocked = blocked.detail;
        this.#blockedKind = blocked.reason;
        this.#retryMergeAt = Date.now() + BLOCKED_MERGE_RETRY_MS;
        const told = `${blocked.reason}:${blocked.detail}`;
        this.persist(
          this.#toldBlocked.has(told)
            ? []
            : [
                {
                  type: 'merge_blocked',
                  data: {
                    lane: lane.slot,
                    ticket: lane.ticket,
                    reason: blocked.reason,
                    detail: blocked.detail,
                  },
                },
              ],
        );
        this.#toldBlocked.add(told);
      } else if (result.split || blocked) {
        this.persist(); // back in the queue: merged again (onto the new tip) next time round
      }
    } catch (err) {
      if (!(err instanceof MergeAborted)) throw err;
      for (const lane of batch) if (lane.phase === 'merging') lane.phase = 'queued';
      this.persist();
    } finally {
      this.#merging = null;
    }
    return null;
  }

  /** Nothing runs: every ticket is merged, or what is left waits for a person (or a dependency). */
  #idleOutcome(tickets: readonly Ticket[], waiting: number, blocked: string | null): FlowOutcome | null {
    const open = this.lanes.lanes;
    if (open.some((l) => l.phase === 'queued' || l.phase === 'merging' || l.phase === 'advancing')) {
      if (this.#blockedKind === 'setup_failed') {
        return {
          status: 'paused',
          reasonCode: 'lane_setup_failed',
          reason: `The merge queue's worktree could not be set up: ${blocked ?? ''}`,
          details: { lanes: this.#lanesDetail() },
        };
      }
      return {
        status: 'paused',
        reasonCode: 'merge_blocked',
        reason: `Merging into ${this.lanes.integration} waits: ${blocked ?? 'the branch moved'}. Commit or stash your own changes there, then resume.`,
        details: { lanes: this.#lanesDetail() },
      };
    }
    if (open.length > 0) {
      const lines = open.map((l) => {
        const run = this.deps.store.getRun(l.runId);
        return `lane ${l.slot} (${l.ticket}, run ${l.runId}): ${run?.reason ?? run?.status ?? 'waiting'}`;
      });
      return {
        status: 'paused',
        reasonCode: 'lanes_waiting',
        reason: `Every lane waits for a person: ${lines.join('; ')}`,
        details: { lanes: this.#lanesDetail() },
      };
    }
    if (tickets.every((t) => t.isDone)) {
      return { status: 'completed', reasonCode: 'all_done', reason: 'All tickets done and merged.' };
    }
    if (waiting > 0) {
      const notDone = tickets.filter((t) => !t.isDone).map(ticketLabel);
      return {
        status: 'paused',
        reasonCode: 'dependencies_blocked',
        reason: `No ticket is ready: ${notDone.join(', ')} wait for tickets that are not done. Fix depends_on, then resume.`,
      };
    }
    return null;
  }

  #lanesDetail(): JsonObject[] {
    return this.lanes.lanes.map((l) => ({
      lane: l.slot,
      ticket: l.ticket,
      run_id: l.runId,
      phase: l.phase,
      worktree: l.worktree,
      branch: l.branch,
    }));
  }

  /** Merged: the record goes first (a crash then leaves only a worktree the next start sweeps). */
  async closeLane(lane: LaneRecord): Promise<void> {
    const { store } = this.deps;
    this.lanes.lanes = this.lanes.lanes.filter((l) => l !== lane);
    this.budget.closed(lane.runId);
    this.lanes.merged.push(lane.ticket);
    this.#mergedSinceRead.add(lane.ticket);
    store.transaction(() => {
      store.updateRun(lane.runId, {
        status: 'completed',
        reasonCode: 'lane_merged',
        reason: `${lane.ticket} merged into ${this.lanes.integration}.`,
        finishedAt: new Date().toISOString(),
      });
      this.persist();
    });
    // its worktree went on at queue time; the branch goes with the others merged (one git process)
    this.#mergedBranches.push(lane.branch);
  }

  /** Deletes the branches of the lanes merged since the last time (all merged: nothing is lost). */
  async dropMergedBranches(): Promise<void> {
    const branches = this.#mergedBranches.splice(0);
    if (branches.length === 0) return;
    await this.deps.lanePorts.git.deleteBranches(this.deps.root, branches).catch(() => {
      // a branch left behind is only clutter: the next start's sweep or a person removes it
    });
  }

  /**
   * Lanes for `tickets`, each started as soon as its worktree is made. The loop does not wait for that
   * (git makes worktrees one at a time): it goes on hearing of the other lanes' ends meanwhile. A lane
   * being made counts as running; one whose setup failed ends as nothing (it waits, saying why).
   */
  #startLanes(tickets: readonly Ticket[], base: string): void {
    const opened = tickets.map((ticket) => this.#openLane(ticket, base));
    this.persist();
    for (const { lane, reuse } of opened) {
      const started = this.#prepareLane(lane, reuse).then((ready) => {
        if (!ready) {
          this.#running.delete(lane.slot);
          return null;
        }
        this.#startLane(ready);
        return this.#running.get(lane.slot) ?? null;
      });
      this.#running.set(lane.slot, started);
    }
  }

  /** A lane's record (and its run), written before its worktree is made. */
  #openLane(ticket: Ticket, base: string): { lane: LaneRecord; reuse: boolean } {
    const { deps } = this;
    const used = new Set(this.lanes.lanes.map((l) => l.slot));
    let slot = 1;
    while (used.has(slot)) slot++;
    const { worktree, reuse } = this.#takeWorktree();
    const child = deps.store.createRun({
      input: { lanes: 1 },
      metadata: { parent_run_id: this.runId, lane: slot, ticket: ticket.relPath },
    });
    const lane: LaneRecord = {
      slot,
      ticket: ticket.relPath,
      ticketId: ticket.ticketId,
      runId: child.id,
      branch: laneBranch(this.runId, ticket.name),
      worktree,
      base,
      phase: 'working',
      mergeAttempts: 0,
      queuedAt: null,
      blocked: null,
    };
    this.lanes.lanes.push(lane);
    return { lane, reuse };
  }

  /**
   * A worktree for a lane: a spare one (`reuse`), else a new folder no lane or spare has. A lane's own
   * branch may still be checked out in the spare it left (git lets a branch be checked out in one
   * worktree only): that one is the lane's.
   */
  #takeWorktree(branch?: string): { worktree: string; reuse: boolean } {
    const own = this.#spare.findIndex((w) => w.branch === branch);
    const [spare] = this.#spare.splice(own >= 0 ? own : 0, 1);
    if (spare !== undefined) return { worktree: spare.worktree, reuse: true };
    const trees = new Set([
      ...this.lanes.lanes.flatMap((l) => (l.worktree ? [l.worktree] : [])),
      ...this.#spare.map((w) => w.worktree),
    ]);
    return { worktree: laneWorktree(trees), reuse: false };
  }

  /** The lane's worktree made; the lane, or null when its setup failed (it then waits, saying why). */
  async #prepareLane(lane: LaneRecord, reuse: boolean): Promise<LaneRecord | null> {
    try {
      await this.makeWorktree(lane, undefined, reuse);
    } catch (err) {
      if (!(err instanceof LaneSetupError)) throw err;
      this.setupFailed(lane, err);
      return null;
    }
    return lane;
  }

  #startLane(lane: LaneRecord): void {
    this.persist([
      {
        type: 'lane_started',
        data: {
          lane: lane.slot,
          ticket: lane.ticket,
          run_id: lane.runId,
          branch: lane.branch,
          worktree: worktreeOf(lane),
          base: lane.base,
        },
      },
    ]);
    this.launch(lane);
  }

  /**
   * The lane's worktree on its branch, with the repo's run folders shared into it: a merged lane's
   * worktree taken over (`reuse`), else a new one.
   */
  async makeWorktree(lane: LaneRecord, from?: string, reuse = false): Promise<void> {
    const { root } = this.deps;
    const { git } = this.deps.lanePorts;
    const dir = laneDir(root, lane);
    const reused =
      reuse &&
      (await git.reuseWorktree(dir, lane.branch, from ?? lane.base).then(
        () => true,
        () => false,
      ));
    if (!reused) {
      if (reuse) await git.removeWorktree(root, dir, null).catch(() => undefined);
      rmSync(dir, { recursive: true, force: true });
      mkdirSync(join(root, LANES_DIR), { recursive: true });
      await git.addWorktree(root, dir, lane.branch, from ?? lane.base);
    }
    // run folders (dispatches, replies) stay where car and people look for them: the repo's own
    const runs = join(root, STATE_DIR, 'runs');
    mkdirSync(runs, { recursive: true });
    const link = join(dir, STATE_DIR, 'runs');
    if (!existsSync(link)) {
      mkdirSync(join(dir, STATE_DIR), { recursive: true });
      symlinkSync(runs, link, 'dir');
    }
    await setupWorktree(this.deps, dir);
  }

  /** A lane whose worktree could not be set up waits, its run paused saying which command failed. */
  setupFailed(lane: LaneRecord, err: LaneSetupError): void {
    lane.phase = 'waiting';
    this.deps.store.updateRun(lane.runId, {
      status: 'paused',
      reasonCode: 'lane_setup_failed',
      reason: `${err.message}. Fix it, then car flow resume.`,
      reasonDetails: { output: err.output.slice(-2000) },
    });
    this.persist();
  }

  /**
   * A worktree again for a queued lane the merge queue sends back (its own went on to the next lane):
   * a spare one or a new one, on the lane's branch as it is; null when its setup failed (the lane then
   * waits for a person, saying so).
   */
  async worktreeFor(lane: LaneRecord): Promise<string | null> {
    if (!lane.worktree) {
      const { worktree, reuse } = this.#takeWorktree(lane.branch);
      lane.worktree = worktree;
      this.persist();
      const tip = await this.deps.lanePorts.git.resolve(this.deps.root, branchRef(lane.branch));
      try {
        await this.makeWorktree(lane, tip ?? lane.base, reuse);
      } catch (err) {
        if (!(err instanceof LaneSetupError)) throw err;
        this.setupFailed(lane, err);
        return null;
      }
    }
    return laneDir(this.deps.root, lane);
  }

  launch(lane: LaneRecord): void {
    const { deps } = this;
    const dir = laneDir(deps.root, lane);
    const engine = new FlowEngine({
      ...deps,
      root: dir,
      repo: deps.lanePorts.repoAt(dir),
      settings: { ...deps.settings, lanes: 1, requireCommit: true },
      lane: { ticket: lane.ticket, controlRunId: this.runId, budget: () => this.budget.read() },
    });
    lane.phase = 'working';
    const ended = engine.run(lane.runId).then(
      (outcome) => ({ lane, outcome }),
      (err: unknown): LaneEnd => {
        // one lane's crash is that lane's failure, recorded on its run; the others go on
        const reason = `internal error: ${err instanceof Error ? err.message : String(err)}`.slice(0, 2000);
        this.deps.store.updateRun(lane.runId, {
          status: 'failed',
          reasonCode: 'internal_error',
          reason,
          finishedAt: new Date().toISOString(),
        });
        return { lane, outcome: { status: 'failed', reasonCode: 'internal_error', reason } };
      },
    );
    this.#running.set(lane.slot, ended);
  }

  #laneEnded({ lane, outcome }: LaneEnd): void {
    this.#running.delete(lane.slot);
    const done = outcome.status === 'completed';
    lane.phase = done ? 'queued' : 'waiting';
    lane.queuedAt = done ? ++this.#queueOrder : null;
    if (done && lane.worktree) {
      // the merge works on the branch's commits: the worktree goes on to the next lane now
      this.#spare.push({ worktree: lane.worktree, branch: lane.branch });
      lane.worktree = null;
    }
    this.persist([
      {
        type: 'lane_ended',
        data: {
          lane: lane.slot,
          ticket: lane.ticket,
          run_id: lane.runId,
          status: outcome.status,
          reason_code: outcome.reasonCode,
          reason: outcome.reason,
        },
      },
    ]);
  }

  /** The first lane to end, or null after a short wait (to look at requests again). */
  async #nextEnd(): Promise<LaneEnd | null> {
    let timer: NodeJS.Timeout | undefined;
    const tick = new Promise<null>((resolve) => {
      timer = setTimeout(() => resolve(null), REQUEST_POLL_MS);
    });
    try {
      const merging = this.#merging ? [this.#merging] : [];
      return await this.#await('lanes working', Promise.race([...this.#running.values(), ...merging, tick]));
    } finally {
      clearTimeout(timer);
    }
  }

  /** A pause or stop asked for: every lane run sees it at its next step; wait for all of them. */
  async #drain(outcome: FlowOutcome): Promise<FlowOutcome> {
    const ends = await this.#await('lanes stopping', Promise.all(this.#running.values()));
    if (this.#merging) await this.#await('merge stopping', this.#merging);
    for (const end of ends) if (end) this.#laneEnded(end);
    if (outcome.status === 'stopped') {
      for (const lane of this.lanes.lanes) {
        const run = this.deps.store.getRun(lane.runId);
        if (run && (run.status === 'paused' || run.status === 'pending')) {
          this.deps.store.updateRun(lane.runId, {
            status: 'stopped',
            reasonCode: 'stop_requested',
            reason: 'Stopped with the run that drives the lanes.',
            finishedAt: new Date().toISOString(),
          });
        }
      }
    }
    return this.finish(outcome);
  }

  #asked(): FlowOutcome | null {
    const requested = this.deps.store.getRun(this.runId)?.metadata.requested;
    if (requested === 'stop') return stopped();
    if (requested === 'pause') {
      return {
        status: 'paused',
        reasonCode: 'pause_requested',
        reason: 'Paused on request; resume to continue.',
      };
    }
    const signal = this.deps.signal;
    if (!signal?.aborted) return null;
    return signal.reason === 'pause'
      ? { status: 'paused', reasonCode: 'interrupted', reason: 'Interrupted; resume to continue.' }
      : stopped();
  }

  /**
   * The tickets at the integration tip. Where the integration branch is checked out (the usual case) its
   * checkout follows every merge, so that is read; else the scratch worktree, moved to the tip. Either is
   * read between merges only: during one, git may be rewriting the very files (a ticket listed, then gone
   * for a moment), so the last reading stands.
   */
  async #integrationQueue(): Promise<TicketQueue> {
    const { root } = this.deps;
    const { git } = this.deps.lanePorts;
    if (this.#merging) {
      if (this.#lastQueue) return this.#lastQueue;
      await this.#merging;
    }
    let dir = root;
    if ((await git.currentBranch(root)) !== this.lanes.integration) {
      dir = join(root, MERGE_TREE);
      await this.#scratchAtTip();
    }
    this.#lastQueue = loadTicketQueue(join(dir, STATE_DIR, 'tickets'), {
      cache: this.#cache,
      repoRoot: dir,
      agents: this.deps.knownAgents,
    });
    this.#mergedSinceRead.clear();
    return this.#lastQueue;
  }

  async #scratchAtTip(): Promise<void> {
    const { root } = this.deps;
    const { git } = this.deps.lanePorts;
    const scratch = join(root, MERGE_TREE);
    const tip = await git.resolve(root, branchRef(this.lanes.integration));
    if (!tip) throw new Error(`the integration branch ${this.lanes.integration} does not exist`);
    // a scratch worktree made earlier in this process is known; otherwise ask git
    const present =
      existsSync(join(scratch, '.git')) &&
      (this.scratchKnown || (await git.worktrees(root)).some((w) => w.path === scratch));
    if (!present) {
      rmSync(scratch, { recursive: true, force: true });
      await git.addDetachedWorktree(root, scratch, tip);
    } else if ((await git.resolve(scratch, 'HEAD')) !== tip) {
      await git.checkoutDetached(scratch, tip);
    }
    this.scratchKnown = true;
  }

  async #removeSpare({ worktree }: { worktree: string }): Promise<void> {
    const dir = join(this.deps.root, worktree);
    // a worktree left behind is swept at the next start (lane-recover.ts); never the run's failure
    await this.deps.lanePorts.git.removeWorktree(this.deps.root, dir, null).catch(() => undefined);
    rmSync(dir, { recursive: true, force: true });
  }

  /** Only where the tickets are read from the checkout (the integration branch is checked out there). */
  async ticketsUncommitted(): Promise<boolean> {
    if ((await this.deps.lanePorts.git.currentBranch(this.deps.root)) !== this.lanes.integration)
      return false;
    const lines = await this.deps.repo.statusLines([]);
    return lines.some((l) => l.includes(`${STATE_DIR}/tickets/`));
  }

  #await<T>(label: string, work: Promise<T>): Promise<T> {
    return this.deps.awaiting ? this.deps.awaiting.on(label, work) : work;
  }

  /** Records how the run left the loop; the scratch worktree goes (it is made again when needed). */
  async finish(outcome: FlowOutcome): Promise<FlowOutcome> {
    const terminal = outcome.status !== 'paused';
    const run = this.deps.store.getRun(this.runId);
    const metadata = { ...(run?.metadata ?? {}) };
    delete metadata.requested;
    const patch = {
      status: outcome.status,
      reasonCode: outcome.reasonCode,
      reason: outcome.reason,
      reasonDetails: outcome.details ?? null,
      metadata,
      ...(terminal ? { finishedAt: new Date().toISOString() } : {}),
    };
    const event: FlowEvent = {
      type: `flow_${outcome.status}`,
      data: { reason_code: outcome.reasonCode, reason: outcome.reason, ...(outcome.details ?? {}) },
    } as FlowEvent;
    if (this.lanes) {
      await this.#await('removing merged lanes', Promise.all(this.#spare.map((w) => this.#removeSpare(w))));
      this.persist([event], patch);
      const scratch = join(this.deps.root, MERGE_TREE);
      await this.deps.lanePorts.git.removeWorktree(this.deps.root, scratch, null);
      rmSync(scratch, { recursive: true, force: true });
      await this.#await('git housekeeping', this.deps.lanePorts.git.housekeeping(this.deps.root));
    } else {
      this.deps.store.transaction(() => {
        this.deps.store.updateRun(this.runId, patch);
        this.deps.store.appendEvents(this.runId, [event]);
      });
    }
    return outcome;
  }
}

/** The lane's worktree (repo-relative); a lane that works, or is made ready to, has one. */
function worktreeOf(lane: LaneRecord): string {
  if (!lane.worktree) throw new Error(`lane ${lane.slot} (${lane.ticket}) has no worktree`);
  return lane.worktree;
}

function laneDir(root: string, lane: LaneRecord): string {
  return join(root, worktreeOf(lane));
}

export type { LaneScheduler };
