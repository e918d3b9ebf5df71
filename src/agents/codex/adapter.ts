// The codex backend: drives `codex app-server` (JSON-RPC over stdio, v2 API, codex 0.169) behind car's
// Agent interface. One app-server process per session, in its own process group so a stop kills
// everything it started; one codex thread per session, reusable across turns and across car restarts
// (`thread/resume`). Every turn is bounded by an idle watchdog and a wall-clock cap, and every server
// request (approvals) gets an answer, so a misbehaving agent cannot hang a run.

import type { Agent, AgentSession, SessionOptions, TurnRequest, TurnResult } from '../../core/agent.ts';
import { processGroupAlive, waitForGroupGone } from '../../core/proc/group.ts';
import { failedTurn, safeEmitter, startTurnHarness } from '../turn-harness.ts';
import { type AppServer, CodexSessionError, errorKind, startAppServer, stopAppServer } from './app-server.ts';
import {
  approvalRequest,
  approvalResponse,
  type CodexApprovalDecision,
  type CodexApprovalRequest,
} from './approvals.ts';
import { mergeRateLimits, newItemTracker, type RateLimits } from './events.ts';
import { type ProtocolProblem, RpcError, type ServerRequest } from './jsonrpc.ts';
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
    return this.#server?.proc.pid ?? null;
  }

  get #policy(): CodexApprovalPolicy {
    return this.#opts.approvalPolicy ?? 'never';
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
    const env: NodeJS.ProcessEnv = { ...(this.#opts.baseEnv ?? process.env), ...this.#opts.env };
    if (this.#opts.codexHome) env.CODEX_HOME = this.#opts.codexHome;
    this.#server = await startAppServer({
      command: this.#opts.command ?? DEFAULTS.command,
      cwd: this.#session.cwd,
      env,
      killGraceMs: this.#opts.killGraceMs ?? DEFAULTS.killGraceMs,
      requestTimeoutMs: this.#opts.startupTimeoutMs ?? DEFAULTS.startupTimeoutMs,
      ...(this.#opts.maxMessageBytes === undefined ? {} : { maxMessageBytes: this.#opts.maxMessageBytes }),
      clientName: this.#opts.clientName ?? 'car',
      clientVersion: this.#opts.clientVersion ?? '0.1.0',
      onNotification: (method, params) => this.#onNotification(method, params),
      onRequest: (request) => this.#onServerRequest(request),
      onProtocolProblem: (problem) => this.#onProtocolProblem(problem),
      onExit: (exit) => this.#turn?.finish({ kind: 'exited', exit }),
    });
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
    if (this.#closed) return failedTurn({ kind: 'unknown', message: 'codex: session is closed' });
    if (request.signal.aborted) return { status: 'cancelled', finalText: '' };
    const emit = safeEmitter(request.onEvent);

    // The app-server died since the last turn (killed on a stall, crashed): start again, same thread.
    if (!this.#server || this.#server.client.exitInfo || !processGroupAlive(this.#server.proc.pid)) {
      try {
        const previous = this.#server?.client.exitInfo;
        await this.#kill();
        await this.#spawnAndInit();
        await this.#openThread(this.#threadId ?? undefined);
        emit({
          type: 'status',
          message: `codex app-server restarted${previous ? ` (it had exited: ${describeExit(previous)})` : ''}`,
        });
      } catch (err) {
        await this.#kill();
        const kind = err instanceof CodexSessionError ? err.kind : errorKind(err);
        return failedTurn({ kind, message: (err as Error).message });
      }
    }
    if (request.profile) {
      emit({
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
    // A stop asks codex to interrupt the turn; a turn that does not end within the grace is killed.
    const harness = startTurnHarness(request, {
      stallTimeoutMs: this.#opts.stallTimeoutMs ?? DEFAULTS.stallTimeoutMs,
      turnTimeoutMs: this.#opts.turnTimeoutMs ?? DEFAULTS.turnTimeoutMs,
      onStop: (_reason, message) => {
        harness.emit({ type: 'status', message: `${message}; interrupting` });
        if (turn.turnId) this.#interrupt(threadId, turn.turnId);
      },
      forceStop: {
        afterMs: this.#opts.interruptGraceMs ?? DEFAULTS.interruptGraceMs,
        run: () => {
          harness.emit({ type: 'status', message: 'codex did not end the turn after interrupt; killing it' });
          void this.#kill();
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
        if (harness.stopped && turn.turnId && !settled) this.#interrupt(threadId, turn.turnId);
      } catch (err) {
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
      }
      const outcome = await done;
      return turnResult(turn, outcome, this.#rateLimits);
    } finally {
      settled = true;
      harness.end();
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
    if (!NOT_PROGRESS.has(method)) turn.harness.touch();

    applyNotification(turn, method, params);
  }

  #onProtocolProblem(problem: ProtocolProblem): void {
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

  async #onServerRequest(request: ServerRequest): Promise<unknown> {
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
      const fallback = this.#opts.approvalDecision ?? (this.#policy === 'never' ? 'accept' : 'decline');
      decision = this.#opts.onApproval ? await this.#opts.onApproval(approval) : fallback;
    } catch {
      decision = 'decline';
    } finally {
      release?.();
    }
    const what = approval.command ? `: ${approval.command}` : '';
    turn?.harness.emit({ type: 'status', message: `approval ${approval.kind}${what} -> ${decision}` });
    return approvalResponse(request, decision);
  }

  async #kill(): Promise<void> {
    if (this.#server) await stopAppServer(this.#server);
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    const server = this.#server;
    if (!server) return;
    // Ending stdin lets codex exit on its own (flushing the thread's rollout); the group is killed after.
    server.client.close();
    await waitForGroupGone(server.proc.pid, this.#opts.killGraceMs ?? DEFAULTS.killGraceMs);
    await server.proc.kill();
  }
}
