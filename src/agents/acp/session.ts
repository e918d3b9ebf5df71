// One ACP session (a ticket's thread) on the agent's shared connection (connection.ts): opened new, or
// loaded to resume a thread, and its turns, each a `session/prompt` under car's turn harness.
import { realpathSync } from 'node:fs';
import * as acp from '@agentclientprotocol/sdk';
import type { AgentEvent, AgentSession, SessionOptions, TurnRequest, TurnResult } from '../../core/agent.ts';
import { AgentError } from '../process.ts';
import { failedTurn, safeEmitter, startTurnHarness } from '../turn-harness.ts';
import type { ClientSide } from './client-handlers.ts';
import type { AcpConnection, AcpPool, AcpSettings, SessionListener } from './connection.ts';
import { requestFailure } from './errors.ts';
import { SessionConfig } from './session-config.ts';
import {
  flushMessage,
  type LooseUpdate,
  mergeUsage,
  newTurnState,
  type TurnState,
  translateUpdate,
} from './updates.ts';

export type { AcpSettings } from './connection.ts';

type PromptOutcome =
  | { kind: 'response'; response: acp.PromptResponse }
  | { kind: 'error'; error: AgentError };

/** The agent's MCP servers as ACP's stdio `McpServer` entries (env as name/value pairs). */
function acpMcpServers(settings: AcpSettings): acp.McpServer[] {
  return (settings.mcpServers ?? []).map((s) => ({
    name: s.name,
    command: s.command,
    args: [...s.args],
    env: Object.entries(s.env ?? {}).map(([name, value]) => ({ name, value })),
  }));
}

export class AcpSession implements AgentSession, SessionListener {
  #threadId: string | null = null;
  readonly #settings: AcpSettings;
  readonly #pool: AcpPool;
  readonly #cwd: string;
  readonly client: ClientSide;
  #connection: AcpConnection | null = null;
  #turn: TurnState | null = null;
  /** The session was prompted (or loaded): the agent holds a conversation to load after a restart. */
  #prompted = false;
  #closed = false;
  readonly #config = new SessionConfig();

  private constructor(settings: AcpSettings, pool: AcpPool, options: SessionOptions, rootReal: string) {
    this.#settings = settings;
    this.#pool = pool;
    this.#cwd = options.cwd;
    this.client = {
      rootReal,
      permission: settings.permission,
      ...(options.approvals ? { approvals: options.approvals } : {}),
      turn: () => this.#turn,
    };
  }

  get threadId(): string | null {
    return this.#threadId;
  }

  /** The agent's pid, which is also its process group id (for diagnostics and tests). */
  get pid(): number {
    return this.#connection?.proc.pid ?? 0;
  }

  /** False once the agent process this session lives in died: the engine loads the session again. */
  get alive(): boolean {
    return !this.#closed && this.#connection !== null && this.#connection.alive;
  }

  static async start(settings: AcpSettings, pool: AcpPool, options: SessionOptions): Promise<AcpSession> {
    const session = new AcpSession(settings, pool, options, realpathSync(options.cwd));
    await session.#open(options.threadId);
    return session;
  }

  /** Opens (or loads) the session on the agent's process; a process that dies meanwhile costs one retry. */
  async #open(threadId: string | undefined): Promise<void> {
    for (let attempt = 1; ; attempt++) {
      const connection = await this.#pool.acquire(this.#cwd);
      try {
        await this.#handshake(connection, threadId);
        return;
      } catch (err) {
        if (!connection.alive && attempt < 2) continue;
        throw err;
      }
    }
  }

  async #handshake(connection: AcpConnection, threadId: string | undefined): Promise<void> {
    const agent = connection.conn.agent;
    const previous = this.#connection;
    if (previous && this.#threadId) previous.detach(this.#threadId, this);
    if (threadId) {
      if (!connection.loadSession) {
        throw new AgentError(
          'agent',
          `agent "${this.#settings.id}" cannot load sessions; thread ${threadId} cannot be resumed`,
        );
      }
      // attached first: what the load replays (config updates) reaches this session
      connection.attach(threadId, this);
      try {
        const loaded = await connection.bounded(
          agent.request(acp.methods.agent.session.load, {
            sessionId: threadId,
            cwd: this.client.rootReal,
            mcpServers: acpMcpServers(this.#settings),
          }),
          `session/load ${threadId} failed`,
        );
        this.#config.remember(loaded as { configOptions?: unknown; modes?: unknown } | undefined);
      } catch (err) {
        connection.detach(threadId, this);
        throw err;
      }
      this.#threadId = threadId;
      this.#prompted = true;
    } else {
      const created = await connection.bounded(
        agent.request(acp.methods.agent.session.new, {
          cwd: this.client.rootReal,
          mcpServers: acpMcpServers(this.#settings),
        }),
        'session/new failed',
      );
      this.#threadId = created.sessionId;
      this.#config.remember(created);
      connection.attach(created.sessionId, this);
    }
    this.#connection = connection;
  }

  onUpdate(update: LooseUpdate['update']): void {
    if (update.sessionUpdate === 'config_option_update') this.#config.update(update.configOptions);
    // history replayed by session/load, and anything between turns, is not part of a turn
    const turn = this.#turn;
    if (!turn) return;
    turn.harness.touch();
    translateUpdate(turn, update);
  }

  /**
   * The agent process died since the last turn: load the session on a new one, where the agent can. A
   * session that was never prompted has nothing to load: a new one is opened instead, losing nothing.
   */
  async #reopen(emit: (event: AgentEvent) => void): Promise<TurnResult | null> {
    const previous = this.#connection?.fatalError;
    const resume = this.#prompted ? this.#threadId : null;
    if (this.#prompted && (!resume || !this.#connection?.loadSession)) {
      const error = previous ?? new AgentError('agent', 'the agent process is gone');
      return failedTurn({ kind: error.kind, message: error.message });
    }
    try {
      await this.#open(resume ?? undefined);
    } catch (err) {
      const error = requestFailure(err, 'restarting the agent failed');
      return failedTurn({ kind: error.kind, message: error.message });
    }
    emit({ type: 'status', message: `agent restarted${previous ? ` (${previous.message})` : ''}` });
    return null;
  }

  async runTurn(request: TurnRequest): Promise<TurnResult> {
    if (this.#turn)
      return failedTurn({ kind: 'agent', message: 'a turn is already running in this session' });
    if (this.#closed) return failedTurn({ kind: 'agent', message: 'the agent session is closed' });
    if (request.signal.aborted) return { status: 'cancelled', finalText: '' };
    if (!this.#connection?.alive) {
      const failed = await this.#reopen(safeEmitter(request.onEvent));
      if (failed) return failed;
    }
    const connection = this.#connection!;
    const sessionId = this.#threadId!;
    // A stop asks the agent to cancel the turn; one that does not end it within the grace is killed.
    const harness = startTurnHarness(request, {
      stallTimeoutMs: this.#settings.stallTimeoutMs,
      turnTimeoutMs: this.#settings.turnTimeoutMs,
      onStop: (reason, message) => {
        if (reason !== 'cancelled') harness.emit({ type: 'error', message });
        void connection.conn.agent.notify(acp.methods.agent.session.cancel, { sessionId }).catch(() => {});
      },
      forceStop: { afterMs: this.#settings.cancelGraceMs, run: () => void this.#pool.discard(connection) },
    });
    const turn = newTurnState(harness);
    this.#turn = turn;

    let outcome: PromptOutcome;
    try {
      await this.#config.apply(connection.conn.agent, sessionId, request, harness.emit);
      outcome = await Promise.race([
        this.#prompt(connection, sessionId, request.prompt),
        connection.fatal.then((error): PromptOutcome => ({ kind: 'error', error })),
      ]);
    } catch (err) {
      outcome = { kind: 'error', error: requestFailure(err, 'turn failed') };
    } finally {
      harness.end();
    }
    flushMessage(turn);
    this.#turn = null;

    const response = outcome.kind === 'response' ? outcome.response : null;
    const usage = mergeUsage(turn, response);
    if (usage) harness.emit({ type: 'usage', usage });
    const base = { finalText: turn.lastMessage, ...(usage ? { usage } : {}) };
    const stopped = harness.stoppedResult(base);
    if (stopped) return stopped;
    if (!response) {
      const error = outcome.kind === 'error' ? outcome.error : new AgentError('unknown', 'turn failed');
      harness.emit({ type: 'error', message: error.message });
      return { status: 'failed', ...base, error: { kind: error.kind, message: error.message } };
    }
    switch (response.stopReason) {
      case 'end_turn':
        return { status: 'completed', ...base };
      case 'max_tokens':
      case 'max_turn_requests':
        harness.emit({ type: 'status', message: `turn ended: ${response.stopReason}` });
        return { status: 'completed', ...base };
      case 'cancelled':
        return { status: 'interrupted', ...base };
      case 'refusal':
        return {
          status: 'failed',
          ...base,
          error: { kind: 'agent', message: 'the agent refused the prompt' },
        };
      default:
        return {
          status: 'failed',
          ...base,
          error: { kind: 'protocol', message: `unknown stop reason ${String(response.stopReason)}` },
        };
    }
  }

  /** `session/prompt`: resolves with the agent's response or its error, never rejects. */
  #prompt(connection: AcpConnection, sessionId: string, text: string): Promise<PromptOutcome> {
    this.#prompted = true;
    return connection.conn.agent
      .request(acp.methods.agent.session.prompt, { sessionId, prompt: [{ type: 'text', text }] })
      .then(
        (response): PromptOutcome => ({ kind: 'response', response }),
        async (err: unknown): Promise<PromptOutcome> => {
          const error = requestFailure(err, 'session/prompt failed');
          return {
            kind: 'error',
            error: connection.conn.signal.aborted ? await connection.settleFatal(error) : error,
          };
        },
      );
  }

  /**
   * The ticket is over: the session is let go, the agent's process stays for its next session. A turn
   * still running is cancelled.
   */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    const connection = this.#connection;
    const sessionId = this.#threadId;
    if (!connection || !sessionId) return;
    if (this.#turn && connection.alive) {
      void connection.conn.agent.notify(acp.methods.agent.session.cancel, { sessionId }).catch(() => {});
    }
    connection.detach(sessionId, this);
    // what the agent holds for the session (claude-agent-acp: a Claude Code process) is let go now, not
    // when the agent's process ends with the run
    if (connection.alive && connection.closeSession) {
      void connection.conn.agent.request(acp.methods.agent.session.close, { sessionId }).catch(() => {});
    }
  }
}
