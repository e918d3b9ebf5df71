// One run as the engine's steps see it: its state, its folders, its agent sessions and the tree as last
// seen. It is the only writer of the run row: every decision goes through persist (state + events in one
// transaction), pause or finish, so a killed process resumes exactly where the record says.
import { RUNTIME_PATHS } from '../paths.ts';
import { abortableSleep } from '../sleep.ts';
import type { RunStore } from '../store/run-store.ts';
import type { JsonObject, RunPatch } from '../store/types.ts';
import type { TicketCache } from '../tickets/index.ts';
import { endedEventType, type FlowEvent } from './events.ts';
import {
  type AbortReason,
  type ControlRequest,
  type FlowDeps,
  type FlowOutcome,
  type FlowProgress,
  stopped,
} from './flow-types.ts';
import type { FileChange, RepoSnapshot, RepoState } from './ports.ts';
import type { ReasonCode } from './reasons.ts';
import type { RunPaths } from './run-paths.ts';
import { AgentSessions } from './sessions.ts';
import type { FlowSettings } from './settings.ts';
import { type EngineState, type RunUsage, runUsage } from './state.ts';

export class RunContext {
  readonly runId: string;
  readonly state: EngineState;
  readonly paths: RunPaths;
  readonly deps: FlowDeps;
  readonly now: () => number;
  readonly sleep: (ms: number, signal?: AbortSignal) => Promise<void>;
  /** Parsed tickets by file, reused while the file's stat stamp is unchanged. */
  readonly ticketCache: TicketCache;
  readonly sessions: AgentSessions;
  /** The run's turn count when this engine started working it: `stop_after_runs` counts from here. */
  readonly turnsAtStart: number;
  /** Time the current step spent waiting for a quota reset, which is not working time. */
  idleMs = 0;
  /** The store id of the agent turn under way (approvals the agent asks are recorded against it). */
  activeTurnId: number | null = null;
  /** The tree as the last look left it; reused until a turn or a commit may have changed it. */
  #known: RepoSnapshot | null = null;
  /** A diff asked for ahead (after a turn that marked its ticket done), with the tree it was taken of. */
  #diff: { base: string | null; fingerprint: Promise<string>; files: Promise<FileChange[]> } | null = null;

  constructor(
    deps: FlowDeps,
    run: { runId: string; state: EngineState; paths: RunPaths; cache: TicketCache; turnsAtStart?: number },
  ) {
    this.deps = deps;
    this.runId = run.runId;
    this.state = run.state;
    this.turnsAtStart = run.turnsAtStart ?? run.state.totalTurns;
    this.paths = run.paths;
    this.ticketCache = run.cache;
    this.now = deps.now ?? Date.now;
    this.sleep = deps.sleep ?? abortableSleep;
    this.sessions = new AgentSessions(this);
  }

  get store(): RunStore {
    return this.deps.store;
  }
  get repo(): RepoState {
    return this.deps.repo;
  }
  get settings(): FlowSettings {
    return this.deps.settings;
  }
  get root(): string {
    return this.deps.root;
  }

  /** Writes the state (and optional run fields and events) in one transaction. */
  persist(patch: RunPatch = {}, events: FlowEvent[] = []): void {
    const { store } = this.deps;
    store.transaction(() => {
      store.updateRun(this.runId, { ...patch, state: this.state as unknown as JsonObject });
      if (events.length > 0) store.appendEvents(this.runId, events);
    });
  }

  /** Records an event without touching the state. */
  event(event: FlowEvent): void {
    this.deps.store.appendEvent(this.runId, event);
  }

  /** Records events without touching the state, in one transaction. */
  events(events: FlowEvent[]): void {
    this.deps.store.appendEvents(this.runId, events);
  }

  progress(progress: FlowProgress): void {
    this.deps.onProgress?.(progress);
  }

  /** Awaits `work`, named in `deps.awaiting` while it lasts (what a drained event loop left waiting). */
  wait<T>(label: string, work: Promise<T>): Promise<T> {
    return this.deps.awaiting ? this.deps.awaiting.on(label, work) : work;
  }

  /** The tree now: what the end of the previous turn saw (nothing has run since), or a fresh look. */
  async snapshot(): Promise<RepoSnapshot> {
    this.#known ??= await this.deps.repo.snapshot(RUNTIME_PATHS);
    return this.#known;
  }

  /**
   * Asks git for the tree's changes since `base` now (`look`: the snapshot of the tree just taken, or
   * being taken), for the verify gate that follows: it takes them if the tree it verifies is that one.
   */
  prefetchDiff(base: string | null, look: RepoSnapshot | Promise<RepoSnapshot>): void {
    const files = this.deps.repo.diffFiles(base, RUNTIME_PATHS, look);
    files.catch(() => {}); // a failure is the gate's to report, if it uses this diff
    const fingerprint = Promise.resolve(look).then(
      (s) => s.fingerprint,
      () => '',
    );
    this.#diff = { base, fingerprint, files };
  }

  /** The diff `prefetchDiff` asked for of `base`, if any (still there for the gate). */
  prefetched(base: string | null): Promise<FileChange[]> | null {
    return this.#diff && this.#diff.base === base ? this.#diff.files : null;
  }

  /** The tree's changes since `base`: the diff prefetched of the tree as now known, or a fresh one. */
  async diffFiles(base: string | null): Promise<FileChange[]> {
    const now = await this.snapshot();
    const ahead = this.#diff;
    this.#diff = null;
    if (ahead && ahead.base === base && (await ahead.fingerprint) === now.fingerprint) return ahead.files;
    return this.deps.repo.diffFiles(base, RUNTIME_PATHS, now);
  }

  /** Something (a turn, a commit, an edit) may change the tree: the next snapshot looks again. */
  forgetTree(): void {
    this.#known = null;
  }

  /** The tree as a look just taken saw it; the next step starts from it. */
  knowTree(snapshot: RepoSnapshot): void {
    this.#known = snapshot;
  }

  /** What the run's budgets are checked against: this run's, or for a lane run the whole lanes run's. */
  runUsage(): RunUsage {
    return this.deps.lane?.budget?.() ?? runUsage(this.state, this.settings);
  }

  /** A pause or stop another process asked for (`car flow pause|stop`). */
  requested(): ControlRequest | undefined {
    const id = this.deps.lane?.controlRunId ?? this.runId;
    return this.deps.store.getRun(id)?.metadata.requested as ControlRequest | undefined;
  }

  /** The outcome the caller's abort asks for, or null while the signal is not aborted. */
  abortOutcome(): FlowOutcome | null {
    const signal = this.deps.signal;
    if (!signal?.aborted) return null;
    const reason = signal.reason as AbortReason;
    if (reason === 'pause') {
      return {
        status: 'paused',
        reasonCode: 'interrupted',
        reason: `Interrupted during ${this.state.ticket?.path ?? 'the run'}; resume to continue.`,
      };
    }
    return stopped();
  }

  /** A pause outcome; remembers the tree and replies it paused on, so resume can tell what changed. */
  async pause(reasonCode: ReasonCode, reason: string, details?: JsonObject): Promise<FlowOutcome> {
    this.state.pauseContext = {
      fingerprint: (await this.snapshot()).fingerprint,
      replySeq: this.state.replySeq,
    };
    return { status: 'paused', reasonCode, reason, ...(details ? { details } : {}) };
  }

  /** Records how the run left the loop: status, reason and a `flow_<status>` event. */
  finish(outcome: FlowOutcome): FlowOutcome {
    const terminal = outcome.status !== 'paused';
    const run = this.deps.store.getRun(this.runId);
    const metadata = { ...(run?.metadata ?? {}) };
    delete metadata.requested;
    this.persist(
      {
        status: outcome.status,
        reasonCode: outcome.reasonCode,
        reason: outcome.reason,
        reasonDetails: outcome.details ?? null,
        metadata,
        ...(terminal ? { finishedAt: new Date(this.now()).toISOString() } : {}),
      },
      [
        {
          type: endedEventType(outcome.status),
          data: { reason_code: outcome.reasonCode, reason: outcome.reason, ...(outcome.details ?? {}) },
        },
      ],
    );
    return outcome;
  }

  /**
   * The ticket is finished or gone: forget it and its agent thread. A lane run keeps the thread: the
   * merge queue may send its ticket back, and the agent then goes on in the conversation it had.
   */
  clearTicket(): void {
    const id = this.state.ticket?.id;
    if (id && !this.deps.lane) delete this.state.threads[id];
    this.state.ticket = null;
  }
}
