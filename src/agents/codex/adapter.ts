// The codex backend: drives `codex app-server` (JSON-RPC over stdio, v2 API, codex 0.169) behind car's
// Agent interface. One app-server process per agent for the run's lifetime (server-pool.ts), in its own
// process group so a stop kills everything it started; one codex thread per session (a ticket), reusable
// across turns and across car restarts (`thread/resume`). A process that died is restarted on the next
// session or turn, which resumes its thread there. Every turn is bounded by an idle watchdog and a
// wall-clock cap, and every server request (approvals) gets an answer, so a misbehaving agent cannot hang
// a run.

import { join } from 'node:path';
import type {
  Agent,
  AgentEvent,
  AgentSession,
  SessionOptions,
  TurnRequest,
  TurnResult,
} from '../../core/agent.ts';
import { failedTurn, safeEmitter, startTurnHarness } from '../turn-harness.ts';
import type { AgentLaunch } from '../warm-start.ts';
import { appServerPrelude, CodexSessionError, errorKind } from './app-server.ts';
import {
  approvalQuestion,
  approvalRequest,
  approvalResponse,
  type CodexApprovalDecision,
  type CodexApprovalRequest,
  codexDecision,
} from './approvals.ts';
import { newItemTracker } from './events.ts';
import { userCodexHome } from './home.ts';
import { type ExitInfo, type ProtocolProblem, RpcError, type ServerRequest } from './jsonrpc.ts';
import { nativeCodexLaunch } from './native.ts';
import { AppServerPool, type SharedAppServer, type ThreadListener } from './server-pool.ts';
import { type ActiveTurn, applyNotification, describeExit, type TurnOutcome, turnResult } from './turn.ts';

export { CodexSessionError } from './app-server.ts';
export type { CodexApprovalDecision, CodexApprovalRequest } from './approvals.ts';

export type CodexApprovalPolicy = 'never' | 'on-request' | 'on-failure' | 'untrusted';
export type CodexSandbox = 'danger-full-access' | 'workspace-write' | 'read-only';

export interface CodexAgentOptions {
  /** Agent id reported by `Agent.id`. Default 'codex'. */
  id?: string;
  /** The app-server command. Default `['codex', 'app-server']`. */
  command?: string[];
  /** Extra environment for the app-server (on top of `baseEnv`). */
  env?: Record<string, string>;
  /** The environment the agent starts from (default process.env); the resolver passes car's without car's secrets. */
  baseEnv?: NodeJS.ProcessEnv;
  /** CODEX_HOME for the app-server (see home.ts for a private, seeded one). */
  codexHome?: string;
  /** Default 'never' (car runs unattended). */
  approvalPolicy?: CodexApprovalPolicy;
  /** Default 'danger-full-access'. */
  sandbox?: CodexSandbox;
  /** How server requests are answered: default 'accept' with approvalPolicy 'never', else 'decline'. */
  approvalDecision?: 'accept' | 'decline' | 'cancel';
  /** Decides each request instead of `approvalDecision` (e.g. asking a human); a throw declines. */
  onApproval?: (request: CodexApprovalRequest) => CodexApprovalDecision | Promise<CodexApprovalDecision>;
  /** Default model for new threads (a ticket's `model` overrides it per turn). */
  model?: string;
  /** Hard wall-clock cap per turn. Default 7 200 000 (2 h); 0 = none. */
  turnTimeoutMs?: number;
  /** A turn with no progress notification for this long is stalled. Default 600 000 (see config's
   * `app_server.turn_stall_timeout_seconds` for why); 0 = none. */
  stallTimeoutMs?: number;
  /** Bound on spawn + initialize + thread/start|resume, and on each other request. Default 30 000. */
  startupTimeoutMs?: number;
  /** How long a stopped turn may take to end after `turn/interrupt` before the process is killed. Default 5 000. */
  interruptGraceMs?: number;
  /** SIGTERM → SIGKILL grace when killing the process group. Default 3 000. */
  killGraceMs?: number;
  /** `clientInfo.name` in `initialize` (what the provider's logs see as originator). Default 'car'. */
  clientName?: string;
  clientVersion?: string;
  /** Largest stdout line accepted from the app-server. Default 50 MiB. */
  maxMessageBytes?: number;
  /**
   * MCP servers (by name, given with `-c mcp_servers.<name>.*`) a thread waits for before its first turn:
   * codex starts them per thread, in the background, and a turn started earlier does not see their tools.
   */
  awaitMcpServers?: readonly string[];
}

const DEFAULTS = {
  command: ['codex', 'app-server'],
  turnTimeoutMs: 7_200_000,
  stallTimeoutMs: 600_000,
  startupTimeoutMs: 30_000,
  interruptGraceMs: 5_000,
  killGraceMs: 3_000,
};

/** Notifications that are not progress (a reconnect loop must not keep a dead turn alive). */
const NOT_PROGRESS = new Set(['error', 'warning', 'configWarning', 'deprecationNotice', 'guardianWarning']);

/** A codex session (one thread); `pid` is the app-server's process group id while it runs. */
export interface CodexAgentSession extends AgentSession {
  readonly pid: number | null;
}

export interface CodexAgent extends Agent {
  startSession(options: SessionOptions): Promise<CodexAgentSession>;
  /** Starts the app-server now (in `cwd`), so the next session does not wait for it. */
  prewarm(options: { cwd: string }): void;
  /** Stops the agent's app-server; a later session starts a new one. */
  close(): Promise<void>;
  warmLaunch(cwd: string): { launch: AgentLaunch; startFiles: string[] };
}

export function createCodexAgent(opts: CodexAgentOptions = {}): CodexAgent {
  const id = opts.id ?? 'codex';
  const env: NodeJS.ProcessEnv = { ...(opts.baseEnv ?? process.env), ...opts.env };
  if (opts.codexHome) env.CODEX_HOME = opts.codexHome;
  const launch = nativeCodexLaunch(opts.command ?? DEFAULTS.command, env);
  const seededFrom = opts.codexHome ? userCodexHome(opts.baseEnv ?? process.env) : null;
  const startFiles = (cwd: string) => codexStartFiles(launch.env, seededFrom, cwd);
  const spec = {
    command: launch.command,
    env: launch.env,
    killGraceMs: opts.killGraceMs ?? DEFAULTS.killGraceMs,
    requestTimeoutMs: opts.startupTimeoutMs ?? DEFAULTS.startupTimeoutMs,
    ...(opts.maxMessageBytes === undefined ? {} : { maxMessageBytes: opts.maxMessageBytes }),
    clientName: opts.clientName ?? 'car',
    clientVersion: opts.clientVersion ?? '0.1.0',
    startFiles,
  };
  const pool = new AppServerPool(spec);
  return {
    id,
    async startSession(options: SessionOptions): Promise<CodexAgentSession> {
      const session = new CodexSession(opts, pool, options);
      await session.open(options.threadId);
      return session;
    },
    // the first session is most likely an unsupervised one in `cwd`: its thread is opened ahead too
    prewarm: ({ cwd }) => pool.prewarm(cwd, threadParams(opts, { cwd })),
    close: () => pool.close(),
    // what prewarm would start in `cwd`, written ahead by the next run's warm start
    warmLaunch: (cwd) => ({
      launch: {
        command: launch.command,
        cwd,
        env: launch.env,
        prelude: appServerPrelude({ ...spec, thread: threadParams(opts, { cwd }) }),
      },
      startFiles: startFiles(cwd),
    }),
  };
}

/**
 * What codex reads as it starts in `cwd`: its home's config and login, the project's `.codex/config.toml`,
 * and where car seeds a private home from the user's (home.ts), the user's config and login too.
 */
function codexStartFiles(env: NodeJS.ProcessEnv, seededFrom: string | null, cwd: string): string[] {
  const home = userCodexHome(env);
  return [
    join(home, 'config.toml'),
    join(home, 'auth.json'),
    join(cwd, '.codex', 'config.toml'),
    ...(seededFrom ? [join(seededFrom, 'config.toml'), join(seededFrom, 'auth.json')] : []),
  ];
}

/**
 * A thread's settings. A supervised session (a person answers, `SessionOptions.approvals`) asks before
 * every command and patch not known safe (`untrusted`); what the person allows runs as in yolo (in a
 * sandbox, codex's `workspace-write` keeps `.git` read-only, so an allowed `git commit` would fail).
 */
function threadParams(
  opts: CodexAgentOptions,
  session: Pick<SessionOptions, 'cwd' | 'approvals'>,
): { cwd: string; approvalPolicy: CodexApprovalPolicy; sandbox: CodexSandbox; model?: string } {
  const approvalPolicy: CodexApprovalPolicy = session.approvals
    ? 'untrusted'
    : (opts.approvalPolicy ?? 'never');
  const sandbox: CodexSandbox = session.approvals
    ? 'danger-full-access'
    : (opts.sandbox ?? 'danger-full-access');
  return { cwd: session.cwd, approvalPolicy, sandbox, ...(opts.model ? { model: opts.model } : {}) };
}

class CodexSession implements CodexAgentSession, ThreadListener {
  readonly #opts: CodexAgentOptions;
  readonly #pool: AppServerPool;
  readonly #session: SessionOptions;
  #server: SharedAppServer | null = null;
  #threadId: string | null = null;
  #turn: ActiveTurn | null = null;
  /** turn/start is awaiting its answer: an exit now is handled by its rejection (which may retry). */
  #starting = false;
  /** A turn was started on the thread (or it was resumed): codex has it stored. */
  #started = false;
  /** The current turn's first item is complete: codex has asked the model. */
  #asked = false;
  #closed = false;

  constructor(opts: CodexAgentOptions, pool: AppServerPool, session: SessionOptions) {
    this.#opts = opts;
    this.#pool = pool;
    this.#session = session;
  }

  get threadId(): string | null {
    return this.#threadId;
  }

  /** The app-server's process (group) id while it runs; for tests and diagnostics. */
  get pid(): number | null {
    return this.#server?.alive ? this.#server.pid : null;
  }

  /** False once the app-server this thread is open on died: the engine opens the thread again. */
  get alive(): boolean {
    return !this.#closed && this.#server !== null && this.#server.alive;
  }

  get busy(): boolean {
    return this.#turn !== null;
  }

  /** Opens the thread on the agent's app-server (started, or restarted, as needed). */
  async open(threadId: string | undefined): Promise<void> {
    // A process that dies while the thread is opened (killed between tickets) costs a restart, not the
    // session: one more try on a fresh one.
    for (let attempt = 1; ; attempt++) {
      const server = await this.#pool.acquire(this.#session.cwd);
      try {
        await this.#openThread(server, threadId);
        return;
      } catch (err) {
        const exited = err instanceof RpcError && err.kind === 'exited';
        if (exited && attempt < 2) continue;
        // a process that did not answer in time is not trusted with the next thread either
        if (err instanceof RpcError && err.kind === 'timeout') await this.#pool.discard(server);
        if (err instanceof CodexSessionError) throw err;
        throw new CodexSessionError(errorKind(err), (err as Error).message);
      }
    }
  }

  async #openThread(server: SharedAppServer, threadId: string | undefined): Promise<void> {
    const client = server.server.client;
    let id: string;
    if (threadId) {
      this.#started = true;
      const res = await client.request<{ thread?: { id?: string } }>('thread/resume', {
        threadId,
        excludeTurns: true,
        ...threadParams(this.#opts, this.#session),
      });
      id = res.thread?.id ?? threadId;
    } else {
      const params = threadParams(this.#opts, this.#session);
      let started = await server.takeSpareThread(params);
      if (!started) {
        // opened ahead while another turn starts: codex would work on this thread/start beside that
        // turn's start and delay its first request to the model (~85 ms on two cores); it is asked once
        // that turn has asked the model, or is under way as the engine sees it
        if (this.#session.openAfter) await Promise.race([this.#session.openAfter, server.nextTurnAsked()]);
        started =
          (await client.request<{ thread?: { id?: string } }>('thread/start', params)).thread?.id ?? null;
      }
      if (!started) throw new CodexSessionError('protocol', 'codex: thread/start returned no thread id');
      id = started;
    }
    if (this.#server && this.#threadId) this.#server.detach(this.#threadId, this);
    this.#threadId = id;
    this.#server = server;
    server.attach(id, this);
    // asked with the thread, codex answers once the thread's connection to the server is up (or failed);
    // a server that does not come up costs its tools, not the session
    for (const name of this.#opts.awaitMcpServers ?? []) {
      await client
        .request('mcpServerStatus/list', { threadId: id, serverName: name, detail: 'toolsAndAuthOnly' })
        .catch(() => {});
    }
  }

  /**
   * The app-server died since the last turn (killed on a stall, crashed): start again, same thread. A
   * thread that has run no turn yet has nothing stored to resume (codex writes a thread's rollout with its
   * first turn): a new one is started instead, losing nothing.
   */
  async #reopen(emit: (event: AgentEvent) => void): Promise<TurnResult | null> {
    const previous = this.#server?.server.client.exitInfo;
    try {
      await this.open(this.#started ? (this.#threadId ?? undefined) : undefined);
    } catch (err) {
      const kind = err instanceof CodexSessionError ? err.kind : errorKind(err);
      return failedTurn({ kind, message: (err as Error).message });
    }
    emit({
      type: 'status',
      message: `codex app-server restarted${previous ? ` (it had exited: ${describeExit(previous)})` : ''}`,
    });
    return null;
  }

  async runTurn(request: TurnRequest): Promise<TurnResult> {
    if (this.#turn) throw new Error('codex: a turn is already running in this session');
    if (this.#closed) return failedTurn({ kind: 'unknown', message: 'codex: session is closed' });
    if (request.signal.aborted) return { status: 'cancelled', finalText: '' };
    const emit = safeEmitter(request.onEvent);

    if (!this.#server?.alive) {
      const failed = await this.#reopen(emit);
      if (failed) return failed;
    }
    if (this.#server?.takeWarmNotice()) {
      emit({
        type: 'status',
        message: `codex app-server (pid ${this.#server.pid}) was started ahead, as car started: the launch of the previous car run here`,
      });
    }
    if (request.profile) {
      emit({
        type: 'status',
        message: `codex app-server ignores profile "${request.profile}" (codex applies profiles only to \`codex\`/\`codex exec\`)`,
      });
    }

    let finish!: (outcome: TurnOutcome) => void;
    const done = new Promise<TurnOutcome>((resolve) => {
      finish = resolve;
    });
    let settled = false;
    const threadId = (): string => this.#threadId!;
    // A stop asks codex to interrupt the turn; a turn that does not end within the grace is killed.
    const harness = startTurnHarness(request, {
      stallTimeoutMs: this.#opts.stallTimeoutMs ?? DEFAULTS.stallTimeoutMs,
      turnTimeoutMs: this.#opts.turnTimeoutMs ?? DEFAULTS.turnTimeoutMs,
      onStop: (_reason, message) => {
        harness.emit({ type: 'status', message: `${message}; interrupting` });
        if (turn.turnId) this.#interrupt(threadId(), turn.turnId);
      },
      forceStop: {
        afterMs: this.#opts.interruptGraceMs ?? DEFAULTS.interruptGraceMs,
        run: () => {
          harness.emit({ type: 'status', message: 'codex did not end the turn after interrupt; killing it' });
          if (this.#server) void this.#pool.discard(this.#server);
        },
      },
    });
    const turn: ActiveTurn = {
      turnId: null,
      harness,
      tracker: newItemTracker(this.#session.cwd),
      usage: null,
      finish: (outcome) => {
        if (settled) return;
        settled = true;
        harness.end(); // a stop after the turn ended changes nothing
        finish(outcome);
      },
    };
    this.#turn = turn;
    this.#asked = false;

    try {
      const params = {
        input: [{ type: 'text', text: request.prompt }],
        ...(request.model ? { model: request.model } : {}),
        ...(request.reasoning ? { effort: request.reasoning } : {}),
      };
      // The process may die after the check above and before the turn starts (killed between tickets):
      // nothing has run yet, so the turn starts once more on a restarted process.
      for (let attempt = 1; ; attempt++) {
        try {
          this.#starting = true;
          const res = await this.#server!.server.client.request<{ turn?: { id?: string } }>('turn/start', {
            threadId: threadId(),
            ...params,
          });
          this.#starting = false;
          this.#started = true;
          turn.turnId = res.turn?.id ?? turn.turnId;
          if (harness.stopped && turn.turnId && !settled) this.#interrupt(threadId(), turn.turnId);
          break;
        } catch (err) {
          this.#starting = false;
          const exited = err instanceof RpcError && err.kind === 'exited' && err.exit;
          if (exited && attempt < 2 && !harness.stopped && !settled) {
            const failed = await this.#reopen(harness.emit);
            if (failed) return failed;
            continue;
          }
          if (!harness.stopped) {
            if (err instanceof RpcError && err.kind === 'exited' && err.exit) {
              turn.finish({ kind: 'exited', exit: err.exit });
            } else {
              return failedTurn({
                kind: errorKind(err),
                message: `codex: turn/start failed: ${(err as Error).message}`,
              });
            }
          } else if (!turn.turnId) {
            // stopped before the turn existed: nothing to interrupt
            turn.finish({ kind: 'completed', turn: { status: 'interrupted' } });
          }
          break;
        }
      }
      const outcome = await done;
      return turnResult(turn, outcome, this.#pool.rateLimits);
    } finally {
      settled = true;
      harness.end();
      this.#turn = null;
    }
  }

  #interrupt(threadId: string, turnId: string): void {
    this.#server?.server.client
      .request('turn/interrupt', { threadId, turnId }, { timeoutMs: this.#opts.interruptGraceMs ?? 5000 })
      .catch(() => {
        // the turn may have ended meanwhile ("no active turn to interrupt"); the kill timer covers the rest
      });
  }

  onNotification(method: string, params: Record<string, unknown>): void {
    const turn = this.#turn;
    if (!turn) return;
    const turnId = typeof params.turnId === 'string' ? params.turnId : null;
    if (turnId !== null && turn.turnId !== null && turnId !== turn.turnId) return;
    if (!NOT_PROGRESS.has(method)) turn.harness.touch();
    if (method === 'item/completed' && !this.#asked) {
      this.#asked = true;
      this.#server?.turnAsked();
    }
    applyNotification(turn, method, params);
  }

  onExit(exit: ExitInfo): void {
    if (!this.#starting) this.#turn?.finish({ kind: 'exited', exit });
  }

  onProtocolProblem(problem: ProtocolProblem): void {
    const turn = this.#turn;
    if (!turn) return;
    turn.harness.emit({ type: 'error', message: `codex protocol: ${problem.message}: ${problem.excerpt}` });
    if (problem.kind === 'oversized' && problem.method === 'turn/completed') {
      turn.finish({
        kind: 'protocol',
        message: `codex: the turn/completed message was unreadable (${problem.message})`,
      });
    }
  }

  async onRequest(request: ServerRequest): Promise<unknown> {
    const turn = this.#turn;
    const approval = approvalRequest(request, this.#threadId);
    if (!approval) {
      turn?.harness.emit({
        type: 'status',
        message: `codex asked ${request.method}; car does not support it (declined)`,
      });
      throw new Error(`car does not handle ${request.method}`);
    }

    const release = turn?.harness.hold(); // codex waits for the answer: its silence is not a stall
    let decision: CodexApprovalDecision;
    try {
      const gate = this.#session.approvals;
      const question = gate
        ? approvalQuestion(
            approval,
            approval.itemId ? turn?.tracker.fileChanges.get(approval.itemId) : undefined,
          )
        : null;
      const fallback =
        this.#opts.approvalDecision ??
        (threadParams(this.#opts, this.#session).approvalPolicy === 'never' ? 'accept' : 'decline');
      if (gate && question) {
        // a person answers; a turn that ends meanwhile (stopped, timed out) cancels the question
        decision = turn ? codexDecision(await gate.ask(question, turn.harness.over), request) : 'cancel';
      } else {
        decision = this.#opts.onApproval ? await this.#opts.onApproval(approval) : fallback;
      }
    } catch {
      decision = 'decline';
    } finally {
      release?.();
    }
    const what = approval.command ? `: ${approval.command}` : '';
    turn?.harness.emit({ type: 'status', message: `approval ${approval.kind}${what} -> ${decision}` });
    return approvalResponse(request, decision);
  }

  /**
   * The ticket is over: the thread is let go (codex unloads it), the process stays for the agent's next
   * thread. A turn still running is interrupted.
   */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    const server = this.#server;
    const threadId = this.#threadId;
    if (!server || !threadId) return;
    const turn = this.#turn;
    if (turn) {
      if (turn.turnId) this.#interrupt(threadId, turn.turnId);
      turn.finish({ kind: 'protocol', message: 'codex: the session was closed during the turn' });
    }
    server.detach(threadId, this);
    if (server.alive) {
      server.server.client
        .request('thread/unsubscribe', { threadId }, { timeoutMs: this.#opts.interruptGraceMs ?? 5000 })
        .catch(() => {
          // the process may be going away; nothing to let go then
        });
    }
  }
}
