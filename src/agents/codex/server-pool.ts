// The `codex app-server` process of one codex agent, shared by every thread the agent opens for the run's
// lifetime (one process per agent, a thread per ticket, as CAR does). thread/start takes a cwd, so one
// process can carry threads of different worktrees, and several of them may run turns at once:
// notifications and server requests carry their thread id and are routed to that thread's session;
// those without one go to every session with a turn running. A process that died is replaced by the
// next `acquire`; the sessions of the dead one see it through `alive` (or `onExit`, during a turn) and
// resume their threads on the new one.
import { waitForGroupGone } from '../../core/proc/group.ts';
import {
  type AppServer,
  type AppServerOptions,
  CodexSessionError,
  startAppServer,
  stopAppServer,
} from './app-server.ts';
import { mergeRateLimits, type RateLimits } from './events.ts';
import type { ExitInfo, ProtocolProblem, ServerRequest } from './jsonrpc.ts';
import { describeExit } from './turn.ts';

/** What a thread's session hears from the shared process. */
export interface ThreadListener {
  /** A turn is running: it also gets what carries no thread id (protocol problems, stray notifications). */
  readonly busy: boolean;
  onNotification(method: string, params: Record<string, unknown>): void;
  onRequest(request: ServerRequest): Promise<unknown>;
  onProtocolProblem(problem: ProtocolProblem): void;
  onExit(exit: ExitInfo): void;
}

/** How the pool starts a process: everything but the cwd and the callbacks, which the pool supplies. */
export type ServerSpec = Omit<
  AppServerOptions,
  'cwd' | 'onNotification' | 'onRequest' | 'onProtocolProblem' | 'onExit'
>;

/** One app-server process and the threads open on it. */
export class SharedAppServer {
  readonly #threads = new Map<string, ThreadListener>();
  readonly #pool: AppServerPool;
  #server: AppServer | null = null;
  #retired = false;
  #spare: { key: string; id: Promise<string | null> } | null = null;
  #askWaiters: (() => void)[] = [];
  #warmTold = false;

  constructor(pool: AppServerPool) {
    this.#pool = pool;
  }

  /** Set once started (the pool hands out only started servers). */
  get server(): AppServer {
    return this.#server!;
  }

  /** The process (group) id. */
  get pid(): number {
    return this.#server!.proc.pid;
  }

  /** False once the process exited (or is being stopped): the next `acquire` starts another. */
  get alive(): boolean {
    const s = this.#server;
    if (!s || this.#retired || s.client.exitInfo) return false;
    const child = s.proc.child;
    return child.exitCode === null && child.signalCode === null;
  }

  /** Starts the process in `cwd`; with `thread`, its first thread too, as the spare one. */
  async start(spec: ServerSpec, cwd: string, thread?: Record<string, unknown>): Promise<void> {
    const started = await startAppServer({
      ...spec,
      cwd,
      ...(thread ? { thread } : {}),
      onNotification: (method, params) => this.#notify(method, params),
      onRequest: (request) => this.#request(request),
      onProtocolProblem: (problem) => {
        for (const l of this.#busy()) l.onProtocolProblem(problem);
      },
      onExit: (exit) => {
        for (const l of [...this.#threads.values()]) l.onExit(exit);
      },
    });
    this.#server = started;
    if (thread && started.thread) this.#spare = { key: JSON.stringify(thread), id: started.thread };
  }

  /** True once, for a process a warm start began: the first turn on it says so. */
  takeWarmNotice(): boolean {
    if (this.#warmTold || !this.#server?.proc.warm) return false;
    this.#warmTold = true;
    return true;
  }

  /**
   * Starts a thread with `params` now, for the next session that would start one with the same params
   * (`takeSpareThread`): the first ticket's thread is then ready when its prompt is.
   */
  openSpareThread(params: Record<string, unknown>): void {
    if (this.#spare) return;
    const id = this.server.client
      .request<{ thread?: { id?: string } }>('thread/start', params)
      .then((res) => res.thread?.id ?? null)
      .catch(() => null);
    this.#spare = { key: JSON.stringify(params), id };
  }

  /**
   * Resolves when a turn on this process (one running, or the next to start) has asked the model: its
   * first item, the user's message, is complete. A thread opened ahead waits for it (see `openAfter`).
   */
  nextTurnAsked(): Promise<void> {
    return new Promise((resolve) => this.#askWaiters.push(resolve));
  }

  /** Called by a session when its turn's first item is complete. */
  turnAsked(): void {
    for (const resolve of this.#askWaiters.splice(0)) resolve();
  }

  /** The spare thread's id if it was started with exactly `params` (taken once), else null. */
  async takeSpareThread(params: Record<string, unknown>): Promise<string | null> {
    const spare = this.#spare;
    if (!spare || spare.key !== JSON.stringify(params)) return null;
    this.#spare = null;
    return spare.id;
  }

  attach(threadId: string, listener: ThreadListener): void {
    this.#threads.set(threadId, listener);
  }

  detach(threadId: string, listener: ThreadListener): void {
    if (this.#threads.get(threadId) === listener) this.#threads.delete(threadId);
  }

  /** Threads open on this process. */
  get threads(): number {
    return this.#threads.size;
  }

  /** Marks it dead for `alive` and kills its group (SIGTERM, then SIGKILL). */
  async kill(): Promise<void> {
    this.#retired = true;
    if (this.#server) await stopAppServer(this.#server);
  }

  /** Ends stdin so codex exits on its own (flushing its threads' rollouts); the group is killed after. */
  async shutdown(graceMs: number): Promise<void> {
    this.#retired = true;
    const s = this.#server;
    if (!s) return;
    s.client.close();
    await waitForGroupGone(s.proc.pid, graceMs);
    await s.proc.kill();
  }

  #busy(): ThreadListener[] {
    return [...this.#threads.values()].filter((l) => l.busy);
  }

  #notify(method: string, raw: unknown): void {
    if (method === 'account/rateLimits/updated') {
      this.#pool.rateLimits = mergeRateLimits(this.#pool.rateLimits, raw);
      return;
    }
    const params = (raw !== null && typeof raw === 'object' ? raw : {}) as Record<string, unknown>;
    const threadId = typeof params.threadId === 'string' ? params.threadId : null;
    if (threadId !== null) {
      this.#threads.get(threadId)?.onNotification(method, params);
      return;
    }
    for (const l of this.#busy()) l.onNotification(method, params);
  }

  #request(request: ServerRequest): Promise<unknown> {
    const p = (request.params !== null && typeof request.params === 'object' ? request.params : {}) as Record<
      string,
      unknown
    >;
    const id =
      typeof p.threadId === 'string'
        ? p.threadId
        : typeof p.conversationId === 'string'
          ? p.conversationId
          : null;
    const busy = this.#busy();
    const listener = id !== null ? this.#threads.get(id) : busy.length === 1 ? busy[0] : undefined;
    if (!listener) return Promise.reject(new Error(`car has no open thread for ${request.method}`));
    return listener.onRequest(request);
  }
}

/**
 * The agent's app-server: started on first use (or by `prewarm`, ahead of it), shared by its sessions,
 * replaced when it died, stopped by `close` at the end of the run. At most one start is under way.
 */
export class AppServerPool {
  readonly #spec: ServerSpec;
  #current: Promise<SharedAppServer> | null = null;
  /** The account's rate-limit windows as codex last reported them (they outlive a process). */
  rateLimits: RateLimits = {};

  constructor(spec: ServerSpec) {
    this.#spec = spec;
  }

  /**
   * A live process: the current one, or a new one (started in `cwd`, with a spare thread when
   * `thread` params are given) when there is none or it died.
   */
  async acquire(cwd: string, thread?: Record<string, unknown>): Promise<SharedAppServer> {
    // a dead one is replaced; a process that keeps dying as soon as it started is an error, not a loop
    let dead: SharedAppServer | null = null;
    for (let attempt = 1; attempt <= 3; attempt++) {
      this.#current ??= this.#start(cwd, thread);
      const pending = this.#current;
      let server: SharedAppServer;
      try {
        server = await pending;
      } catch (err) {
        if (this.#current === pending) this.#current = null;
        throw err;
      }
      if (server.alive) return server;
      if (this.#current === pending) this.#current = null;
      await server.kill(); // what the dead leader left in its group
      dead = server;
    }
    const exit = dead?.server.client.exitInfo;
    throw new CodexSessionError(
      'spawn',
      `codex app-server exited as soon as it started${exit ? ` (${describeExit(exit)})` : ''}`,
    );
  }

  /**
   * Starts the process now, so a later `acquire` does not wait for it, and with `threadParams` a thread
   * too (see `openSpareThread`). A failure shows at that `acquire`.
   */
  prewarm(cwd: string, threadParams?: Record<string, unknown>): void {
    this.acquire(cwd, threadParams).then(
      (server) => {
        if (threadParams) server.openSpareThread(threadParams);
      },
      () => {},
    );
  }

  /** Kills `server` (a turn it would not end); the next `acquire` starts a new one. */
  async discard(server: SharedAppServer): Promise<void> {
    if (this.#current && (await this.#current.catch(() => null)) === server) this.#current = null;
    await server.kill();
  }

  /** Stops the process (the run is over). The pool stays usable: a later `acquire` starts a new one. */
  async close(): Promise<void> {
    const pending = this.#current;
    this.#current = null;
    const server = await pending?.catch(() => null);
    await server?.shutdown(this.#spec.killGraceMs);
  }

  async #start(cwd: string, thread?: Record<string, unknown>): Promise<SharedAppServer> {
    const server = new SharedAppServer(this);
    await server.start(this.#spec, cwd, thread);
    return server;
  }
}
