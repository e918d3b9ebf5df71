// The codex backend: drives `codex app-server` (JSON-RPC over stdio, v2 API, codex 0.169) behind car's
// Agent interface. One app-server process per session, in its own process group so a stop kills
// everything it started; one codex thread per session, reusable across turns and across car restarts
// (`thread/resume`). Every turn is bounded by an idle watchdog and a wall-clock cap, and every server
// request (approvals) gets an answer, so a misbehaving agent cannot hang a run.

import { spawn } from 'node:child_process';
import type {
  Agent,
  AgentEvent,
  AgentSession,
  SessionOptions,
  TurnError,
  TurnRequest,
  TurnResult,
  TurnUsage,
} from '../../core/agent.ts';
import { within } from '../../core/proc/wait.ts';
import { processGroupAlive, signalProcessGroup, trackGroup, untrackGroup } from '../process.ts';
import {
  addUsage,
  type CodexTurnError,
  classifyCodexError,
  type ItemTracker,
  itemCompletedEvents,
  itemStartedEvents,
  mergeRateLimits,
  newItemTracker,
  quotaResetAt,
  type RateLimits,
} from './events.ts';
import {
  type ExitInfo,
  JsonRpcClient,
  type ProtocolProblem,
  RpcError,
  type ServerRequest,
} from './jsonrpc.ts';

export type CodexApprovalPolicy = 'never' | 'on-request' | 'on-failure' | 'untrusted';
export type CodexSandbox = 'danger-full-access' | 'workspace-write' | 'read-only';
export type CodexApprovalDecision = 'accept' | 'acceptForSession' | 'decline' | 'cancel';

/** A question codex asks car while a turn runs (normalised from the several server request methods). */
export interface CodexApprovalRequest {
  kind: 'command' | 'file_change' | 'permissions' | 'user_input' | 'elicitation';
  method: string;
  threadId: string | null;
  itemId?: string;
  command?: string;
  cwd?: string;
  reason?: string;
  params: unknown;
}

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
}

/** Thrown by `startSession` when the app-server cannot be started or the thread cannot be opened. */
export class CodexSessionError extends Error {
  readonly kind: TurnError['kind'];
  constructor(kind: TurnError['kind'], message: string) {
    super(message);
    this.name = 'CodexSessionError';
    this.kind = kind;
  }
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

/** A codex session; `pid` is the app-server's process group id while it runs. */
export interface CodexAgentSession extends AgentSession {
  readonly pid: number | null;
}

export interface CodexAgent extends Agent {
  startSession(options: SessionOptions): Promise<CodexAgentSession>;
}

export function createCodexAgent(opts: CodexAgentOptions = {}): CodexAgent {
  const id = opts.id ?? 'codex';
  return {
    id,
    async startSession(options: SessionOptions): Promise<CodexAgentSession> {
      const session = new CodexSession(opts, options);
      await session.open(options.threadId);
      return session;
    },
  };
}

// --- process ---------------------------------------------------------------------------------

interface AppServer {
  client: JsonRpcClient;
  pid: number;
  exited: Promise<ExitInfo>;
}

/** A timer something awaits is never unref'd: that would let the event loop empty under the await. */
function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

async function waitGroupGone(pgid: number, ms: number): Promise<boolean> {
  const end = Date.now() + ms;
  while (processGroupAlive(pgid)) {
    if (Date.now() >= end) return false;
    await delay(20);
  }
  return true;
}

/** SIGTERM the group, SIGKILL whatever is left after the grace period, wait until the group is gone. */
async function killGroup(server: AppServer, graceMs: number): Promise<void> {
  if (processGroupAlive(server.pid)) {
    signalProcessGroup(server.pid, 'SIGTERM');
    if (!(await waitGroupGone(server.pid, graceMs))) {
      signalProcessGroup(server.pid, 'SIGKILL');
      await waitGroupGone(server.pid, 2000);
    }
  }
  await within(server.exited, 1000);
  if (!processGroupAlive(server.pid)) untrackGroup(server.pid);
}

// --- session ---------------------------------------------------------------------------------

type StopReason = 'cancelled' | 'stalled' | 'timeout';

type TurnOutcome =
  | { kind: 'completed'; turn: Record<string, unknown> }
  | { kind: 'exited'; exit: ExitInfo }
  | { kind: 'protocol'; message: string };

interface ActiveTurn {
  turnId: string | null;
  onEvent: (event: AgentEvent) => void;
  tracker: ItemTracker;
  usage: TurnUsage | null;
  stop: StopReason | null;
  stopMessage: string;
  /** Server requests being answered (the idle watchdog waits while a handler decides). */
  answering: number;
  finish: (outcome: TurnOutcome) => void;
  touch: () => void;
}

class CodexSession implements CodexAgentSession {
  readonly #opts: CodexAgentOptions;
  readonly #session: SessionOptions;
  #server: AppServer | null = null;
  #threadId: string | null = null;
  #turn: ActiveTurn | null = null;
  /** The account's rate-limit windows as codex last reported them: when a used-up quota resets. */
  #rateLimits: RateLimits = {};
  #closed = false;

  constructor(opts: CodexAgentOptions, session: SessionOptions) {
    this.#opts = opts;
    this.#session = session;
  }

  get threadId(): string | null {
    return this.#threadId;
  }

  /** The app-server's process (group) id while it runs; for tests and diagnostics. */
  get pid(): number | null {
    return this.#server?.pid ?? null;
  }

  get #policy(): CodexApprovalPolicy {
    return this.#opts.approvalPolicy ?? 'never';
  }

  get #startupTimeout(): number {
    return this.#opts.startupTimeoutMs ?? DEFAULTS.startupTimeoutMs;
  }

  async open(threadId: string | undefined): Promise<void> {
    await this.#spawnAndInit();
    try {
      await this.#openThread(threadId);
    } catch (err) {
      await this.#kill();
      if (err instanceof CodexSessionError) throw err;
      throw new CodexSessionError(errorKind(err), (err as Error).message);
    }
  }

  async #spawnAndInit(): Promise<void> {
    const [cmd, ...args] = this.#opts.command ?? DEFAULTS.command;
    if (!cmd) throw new CodexSessionError('spawn', 'codex: empty app-server command');
    const env: NodeJS.ProcessEnv = { ...(this.#opts.baseEnv ?? process.env), ...this.#opts.env };
    if (this.#opts.codexHome) env.CODEX_HOME = this.#opts.codexHome;
    const child = spawn(cmd, args, {
      cwd: this.#session.cwd,
      env,
      stdio: ['pipe', 'pipe', 'pipe'],
      detached: true,
    });
    const client = new JsonRpcClient(child, {
      label: 'codex app-server',
      requestTimeoutMs: this.#startupTimeout,
      ...(this.#opts.maxMessageBytes === undefined ? {} : { maxMessageBytes: this.#opts.maxMessageBytes }),
      onNotification: (method, params) => this.#onNotification(method, params),
      onRequest: (request) => this.#onServerRequest(request),
      onProtocolProblem: (problem) => this.#onProtocolProblem(problem),
      onExit: (exit) => {
        if (child.pid !== undefined && !processGroupAlive(child.pid)) untrackGroup(child.pid);
        this.#turn?.finish({ kind: 'exited', exit });
      },
    });
    const spawned = await new Promise<boolean>((resolve) => {
      child.once('spawn', () => resolve(true));
      child.once('error', () => resolve(false));
    });
    if (!spawned || child.pid === undefined) {
      const info = await client.exited;
      throw new CodexSessionError(
        'spawn',
        `codex: cannot start ${cmd}: ${info.stderrTail.trim() || 'spawn failed'}`,
      );
    }
    this.#server = { client, pid: child.pid, exited: client.exited };
    trackGroup(child.pid, cmd);
    try {
      await client.request('initialize', {
        clientInfo: {
          name: this.#opts.clientName ?? 'car',
          title: null,
          version: this.#opts.clientVersion ?? '0.1.0',
        },
        capabilities: {
          experimentalApi: false,
          optOutNotificationMethods: ['remoteControl/status/changed'],
        },
      });
      client.notify('initialized');
    } catch (err) {
      await this.#kill();
      throw new CodexSessionError(
        err instanceof RpcError && err.kind === 'remote' ? 'protocol' : 'spawn',
        `codex app-server did not initialize: ${(err as Error).message}`,
      );
    }
  }

  #threadParams(model: string | undefined): Record<string, unknown> {
    return {
      cwd: this.#session.cwd,
      approvalPolicy: this.#policy,
      sandbox: this.#opts.sandbox ?? 'danger-full-access',
      ...(model ? { model } : {}),
    };
  }

  async #openThread(threadId: string | undefined): Promise<void> {
    const client = this.#server!.client;
    if (threadId) {
      const res = await client.request<{ thread?: { id?: string } }>('thread/resume', {
        threadId,
        excludeTurns: true,
        ...this.#threadParams(this.#opts.model),
      });
      this.#threadId = res.thread?.id ?? threadId;
    } else {
      const res = await client.request<{ thread?: { id?: string } }>(
        'thread/start',
        this.#threadParams(this.#opts.model),
      );
      const id = res.thread?.id;
      if (!id) throw new CodexSessionError('protocol', 'codex: thread/start returned no thread id');
      this.#threadId = id;
    }
  }

  async runTurn(request: TurnRequest): Promise<TurnResult> {
    if (this.#turn) throw new Error('codex: a turn is already running in this session');
    if (this.#closed) return failed('unknown', 'codex: session is closed');
    const { onEvent, signal } = request;
    if (signal.aborted) return { status: 'cancelled', finalText: '' };

    // The app-server died since the last turn (killed on a stall, crashed): start again, same thread.
    if (!this.#server || this.#server.client.exitInfo || !processGroupAlive(this.#server.pid)) {
      try {
        const previous = this.#server?.client.exitInfo;
        await this.#kill();
        await this.#spawnAndInit();
        await this.#openThread(this.#threadId ?? undefined);
        safeEmit(onEvent, {
          type: 'status',
          message: `codex app-server restarted${previous ? ` (it had exited: ${describeExit(previous)})` : ''}`,
        });
      } catch (err) {
        await this.#kill();
        return failed(err instanceof CodexSessionError ? err.kind : errorKind(err), (err as Error).message);
      }
    }
    if (request.profile) {
      safeEmit(onEvent, {
        type: 'status',
        message: `codex app-server ignores profile "${request.profile}" (codex applies profiles only to \`codex\`/\`codex exec\`)`,
      });
    }

    const server = this.#server!;
    const threadId = this.#threadId!;
    let finish!: (outcome: TurnOutcome) => void;
    const done = new Promise<TurnOutcome>((resolve) => {
      finish = resolve;
    });
    let settled = false;
    const stallMs = this.#opts.stallTimeoutMs ?? DEFAULTS.stallTimeoutMs;
    const turnMs = this.#opts.turnTimeoutMs ?? DEFAULTS.turnTimeoutMs;
    let stallTimer: NodeJS.Timeout | undefined;
    let wallTimer: NodeJS.Timeout | undefined;
    let killTimer: NodeJS.Timeout | undefined;

    const turn: ActiveTurn = {
      turnId: null,
      onEvent: (event) => safeEmit(onEvent, event),
      tracker: newItemTracker(this.#session.cwd),
      usage: null,
      stop: null,
      stopMessage: '',
      answering: 0,
      finish: (outcome) => {
        if (settled) return;
        settled = true;
        finish(outcome);
      },
      touch: () => {
        if (stallTimer) clearTimeout(stallTimer);
        stallTimer = undefined;
        if (stallMs > 0 && turn.stop === null && turn.answering === 0) {
          stallTimer = setTimeout(
            () => stop('stalled', `codex turn stalled: no progress for ${stallMs} ms`),
            stallMs,
          );
        }
      },
    };

    const stop = (reason: StopReason, message: string) => {
      if (turn.stop || settled) return;
      turn.stop = reason;
      turn.stopMessage = message;
      if (stallTimer) clearTimeout(stallTimer);
      if (wallTimer) clearTimeout(wallTimer);
      turn.onEvent({ type: 'status', message: `${message}; interrupting` });
      if (turn.turnId) this.#interrupt(threadId, turn.turnId);
      killTimer = setTimeout(() => {
        if (settled) return;
        turn.onEvent({ type: 'status', message: 'codex did not end the turn after interrupt; killing it' });
        void this.#kill();
      }, this.#opts.interruptGraceMs ?? DEFAULTS.interruptGraceMs);
    };
    const onAbort = () => stop('cancelled', 'turn cancelled');

    this.#turn = turn;
    signal.addEventListener('abort', onAbort, { once: true });
    turn.touch();
    if (turnMs > 0) {
      wallTimer = setTimeout(
        () => stop('timeout', `codex turn exceeded its time limit of ${turnMs} ms`),
        turnMs,
      );
    }

    try {
      try {
        const model = request.model;
        const res = await server.client.request<{ turn?: { id?: string } }>('turn/start', {
          threadId,
          input: [{ type: 'text', text: request.prompt }],
          ...(model ? { model } : {}),
          ...(request.reasoning ? { effort: request.reasoning } : {}),
        });
        turn.turnId = res.turn?.id ?? turn.turnId;
        if (turn.stop && turn.turnId && !settled) this.#interrupt(threadId, turn.turnId);
      } catch (err) {
        if (!turn.stop) {
          if (err instanceof RpcError && err.kind === 'exited' && err.exit) {
            turn.finish({ kind: 'exited', exit: err.exit });
          } else {
            return failed(errorKind(err), `codex: turn/start failed: ${(err as Error).message}`);
          }
        } else if (!turn.turnId) {
          // stopped before the turn existed: nothing to interrupt
          turn.finish({ kind: 'completed', turn: { status: 'interrupted' } });
        }
      }
      const outcome = await done;
      return this.#result(turn, outcome);
    } finally {
      settled = true;
      clearTimeout(stallTimer);
      clearTimeout(wallTimer);
      clearTimeout(killTimer);
      signal.removeEventListener('abort', onAbort);
      this.#turn = null;
    }
  }

  #interrupt(threadId: string, turnId: string): void {
    this.#server?.client
      .request('turn/interrupt', { threadId, turnId }, { timeoutMs: this.#opts.interruptGraceMs ?? 5000 })
      .catch(() => {
        // the turn may have ended meanwhile ("no active turn to interrupt"); the kill timer covers the rest
      });
  }

  #result(turn: ActiveTurn, outcome: TurnOutcome): TurnResult {
    const finalText = turn.tracker.lastMessage ?? '';
    const base = { finalText, ...(turn.usage ? { usage: turn.usage } : {}) };
    const stopped = (): TurnResult =>
      turn.stop === 'cancelled'
        ? { status: 'cancelled', ...base }
        : {
            status: 'failed',
            ...base,
            error: { kind: turn.stop === 'stalled' ? 'stalled' : 'timeout', message: turn.stopMessage },
          };

    if (outcome.kind === 'completed') {
      const status = outcome.turn.status;
      if (status === 'completed') {
        return { status: 'completed', ...base };
      }
      if (turn.stop) return stopped();
      if (status === 'failed') {
        const error = classifyCodexError(outcome.turn.error as CodexTurnError | null);
        const resetAt = error.kind === 'quota' ? quotaResetAt(this.#rateLimits) : null;
        return { status: 'failed', ...base, error: resetAt ? { ...error, retryAt: resetAt } : error };
      }
      if (status === 'interrupted') return { status: 'interrupted', ...base };
      return {
        status: 'failed',
        ...base,
        error: { kind: 'protocol', message: `codex: turn ended with status ${String(status)}` },
      };
    }
    if (turn.stop) return stopped();
    if (outcome.kind === 'protocol')
      return { status: 'failed', ...base, error: { kind: 'protocol', message: outcome.message } };
    return {
      status: 'failed',
      ...base,
      error: {
        kind: 'agent',
        message: `codex app-server exited during the turn: ${describeExit(outcome.exit)}`,
      },
    };
  }

  #onNotification(method: string, raw: unknown): void {
    if (method === 'account/rateLimits/updated') {
      this.#rateLimits = mergeRateLimits(this.#rateLimits, raw);
      return;
    }
    const turn = this.#turn;
    if (!turn) return;
    const params = (raw !== null && typeof raw === 'object' ? raw : {}) as Record<string, unknown>;
    const threadId = typeof params.threadId === 'string' ? params.threadId : null;
    if (threadId !== null && threadId !== this.#threadId) return;
    const turnId = typeof params.turnId === 'string' ? params.turnId : null;
    if (turnId !== null && turn.turnId !== null && turnId !== turn.turnId) return;
    if (!NOT_PROGRESS.has(method)) turn.touch();

    const item = (params.item !== null && typeof params.item === 'object' ? params.item : null) as Record<
      string,
      unknown
    > | null;
    switch (method) {
      case 'turn/started': {
        const t = params.turn as { id?: unknown } | undefined;
        if (turn.turnId === null && typeof t?.id === 'string') turn.turnId = t.id;
        return;
      }
      case 'item/agentMessage/delta': {
        const delta = typeof params.delta === 'string' ? params.delta : '';
        const itemId = typeof params.itemId === 'string' ? params.itemId : '';
        turn.tracker.messageDeltas.set(itemId, (turn.tracker.messageDeltas.get(itemId) ?? '') + delta);
        if (delta) turn.onEvent({ type: 'message_delta', text: delta });
        return;
      }
      case 'item/commandExecution/outputDelta': {
        const itemId = typeof params.itemId === 'string' ? params.itemId : '';
        const delta = typeof params.delta === 'string' ? params.delta : '';
        const sofar = turn.tracker.commandOutput.get(itemId) ?? '';
        if (sofar.length < 1_000_000) turn.tracker.commandOutput.set(itemId, sofar + delta);
        return;
      }
      case 'item/started':
        if (item) for (const e of itemStartedEvents(item, turn.tracker)) turn.onEvent(e);
        return;
      case 'item/completed':
        if (item) for (const e of itemCompletedEvents(item, turn.tracker)) turn.onEvent(e);
        return;
      case 'thread/tokenUsage/updated':
        // streamed as it grows (the turn's total so far), so a token budget can stop the turn mid-way
        turn.usage = addUsage(turn.usage ?? {}, params);
        turn.onEvent({ type: 'usage', usage: turn.usage });
        return;
      case 'error': {
        const error = (params.error ?? {}) as CodexTurnError;
        const message = [error.message, error.additionalDetails].filter(Boolean).join(': ') || 'codex error';
        if (params.willRetry === true)
          turn.onEvent({ type: 'status', message: `codex is retrying: ${message}` });
        else turn.onEvent({ type: 'error', message });
        return;
      }
      case 'warning':
        if (typeof params.message === 'string')
          turn.onEvent({ type: 'status', message: `codex warning: ${params.message}` });
        return;
      case 'turn/completed': {
        const t = (params.turn ?? {}) as Record<string, unknown>;
        if (turn.turnId !== null && typeof t.id === 'string' && t.id !== turn.turnId) return;
        if (turn.tracker.lastMessage === null && Array.isArray(t.items)) {
          // codex 0.169 summarises the final agent message here; use it if no item/completed carried it
          const last = [...t.items]
            .reverse()
            .find((i) => (i as { type?: unknown }).type === 'agentMessage') as { text?: unknown } | undefined;
          if (typeof last?.text === 'string') turn.tracker.lastMessage = last.text;
        }
        turn.finish({ kind: 'completed', turn: t });
        return;
      }
      default:
        return;
    }
  }

  #onProtocolProblem(problem: ProtocolProblem): void {
    const turn = this.#turn;
    if (!turn) return;
    turn.onEvent({ type: 'error', message: `codex protocol: ${problem.message}: ${problem.excerpt}` });
    if (problem.kind === 'oversized' && problem.method === 'turn/completed') {
      turn.finish({
        kind: 'protocol',
        message: `codex: the turn/completed message was unreadable (${problem.message})`,
      });
    }
  }

  async #onServerRequest(request: ServerRequest): Promise<unknown> {
    const turn = this.#turn;
    const p = (request.params !== null && typeof request.params === 'object' ? request.params : {}) as Record<
      string,
      unknown
    >;
    const s = (v: unknown) => (typeof v === 'string' ? v : undefined);
    const kindByMethod: Record<string, CodexApprovalRequest['kind']> = {
      'item/commandExecution/requestApproval': 'command',
      execCommandApproval: 'command',
      'item/fileChange/requestApproval': 'file_change',
      applyPatchApproval: 'file_change',
      'item/permissions/requestApproval': 'permissions',
      'item/tool/requestUserInput': 'user_input',
      'mcpServer/elicitation/request': 'elicitation',
    };
    const kind = kindByMethod[request.method];
    if (!kind) {
      turn?.onEvent({
        type: 'status',
        message: `codex asked ${request.method}; car does not support it (declined)`,
      });
      throw new Error(`car does not handle ${request.method}`);
    }
    const command = s(p.command) ?? (Array.isArray(p.command) ? p.command.join(' ') : undefined);
    const approval: CodexApprovalRequest = {
      kind,
      method: request.method,
      threadId: s(p.threadId) ?? s(p.conversationId) ?? this.#threadId,
      params: request.params,
      ...((s(p.itemId) ?? s(p.callId)) ? { itemId: (s(p.itemId) ?? s(p.callId)) as string } : {}),
      ...(command ? { command } : {}),
      ...(s(p.cwd) ? { cwd: s(p.cwd) as string } : {}),
      ...(s(p.reason) ? { reason: s(p.reason) as string } : {}),
    };

    if (turn) {
      turn.answering += 1;
      if (turn.answering === 1) turn.touch(); // pauses the idle watchdog while we decide
    }
    let decision: CodexApprovalDecision;
    try {
      const fallback = this.#opts.approvalDecision ?? (this.#policy === 'never' ? 'accept' : 'decline');
      decision = this.#opts.onApproval ? await this.#opts.onApproval(approval) : fallback;
    } catch {
      decision = 'decline';
    } finally {
      if (turn) {
        turn.answering -= 1;
        turn.touch();
      }
    }
    const what = approval.command ? `: ${approval.command}` : '';
    turn?.onEvent({ type: 'status', message: `approval ${kind}${what} -> ${decision}` });
    return approvalResponse(request.method, decision, p);
  }

  async #kill(): Promise<void> {
    const server = this.#server;
    if (!server) return;
    server.client.close();
    await killGroup(server, this.#opts.killGraceMs ?? DEFAULTS.killGraceMs);
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    const server = this.#server;
    if (!server) return;
    // Ending stdin lets codex exit on its own (flushing the thread's rollout); the group is killed after.
    server.client.close();
    await waitGroupGone(server.pid, this.#opts.killGraceMs ?? DEFAULTS.killGraceMs);
    await killGroup(server, this.#opts.killGraceMs ?? DEFAULTS.killGraceMs);
  }
}

function approvalResponse(
  method: string,
  decision: CodexApprovalDecision,
  params: Record<string, unknown>,
): unknown {
  const accept = decision === 'accept' || decision === 'acceptForSession';
  switch (method) {
    case 'item/commandExecution/requestApproval':
    case 'item/fileChange/requestApproval':
      return { decision };
    case 'execCommandApproval':
    case 'applyPatchApproval': {
      const legacy = {
        accept: 'approved',
        acceptForSession: 'approved_for_session',
        decline: 'denied',
        cancel: 'abort',
      };
      return { decision: legacy[decision] };
    }
    case 'item/permissions/requestApproval':
      return {
        permissions: accept ? (params.permissions ?? {}) : {},
        scope: decision === 'acceptForSession' ? 'session' : 'turn',
      };
    case 'item/tool/requestUserInput':
      // nobody is there to answer: no answers (the model carries on without them)
      return { answers: {} };
    case 'mcpServer/elicitation/request':
      return { action: decision === 'cancel' ? 'cancel' : 'decline', content: null, _meta: null };
    default:
      return { decision };
  }
}

function safeEmit(onEvent: (event: AgentEvent) => void, event: AgentEvent): void {
  try {
    onEvent(event);
  } catch {
    // a listener's failure must not break the turn
  }
}

function failed(kind: TurnError['kind'], message: string): TurnResult {
  return { status: 'failed', finalText: '', error: { kind, message } };
}

function errorKind(err: unknown): TurnError['kind'] {
  if (err instanceof CodexSessionError) return err.kind;
  if (err instanceof RpcError) {
    if (err.kind === 'timeout') return 'timeout';
    if (err.kind === 'protocol') return 'protocol';
    if (err.kind === 'exited') return 'agent';
    if (err.kind === 'remote') return 'agent';
  }
  return 'unknown';
}

function describeExit(exit: ExitInfo): string {
  const how = exit.signal ? `signal ${exit.signal}` : `code ${exit.code ?? 'unknown'}`;
  const tail = exit.stderrTail.trim();
  return tail ? `${how}; stderr: ${tail.slice(-1000)}` : how;
}
