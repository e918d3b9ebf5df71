// One ACP session: the agent process, the connection over its stdio, the session it opened (new, or
// loaded to resume a thread), and its turns, each a `session/prompt` under car's turn harness.
import { realpathSync } from 'node:fs';
import * as acp from '@agentclientprotocol/sdk';
import type { AgentSession, SessionOptions, TurnRequest, TurnResult } from '../../core/agent.ts';
import { within } from '../../core/proc/wait.ts';
import { AgentError, type AgentProcess, describeExit, spawnAgentProcess } from '../process.ts';
import { failedTurn, startTurnHarness } from '../turn-harness.ts';
import { answerPermission, type ClientSide, readTextFile, writeTextFile } from './client-handlers.ts';
import { requestFailure } from './errors.ts';
import { SessionConfig } from './session-config.ts';
import { agentStream, LENIENT_UPDATE_METHOD } from './stream.ts';
import {
  flushMessage,
  type LooseUpdate,
  mergeUsage,
  newTurnState,
  parseLooseUpdate,
  type TurnState,
  translateUpdate,
} from './updates.ts';

/** An ACP agent's settings, defaults filled in (see `AcpAgentOptions`). */
export interface AcpSettings {
  id: string;
  command: readonly string[];
  env?: Record<string, string>;
  baseEnv?: NodeJS.ProcessEnv;
  permission: 'allow' | 'reject';
  stallTimeoutMs: number;
  turnTimeoutMs: number;
  startupTimeoutMs: number;
  cancelGraceMs: number;
  killGraceMs: number;
}

type PromptOutcome =
  | { kind: 'response'; response: acp.PromptResponse }
  | { kind: 'error'; error: AgentError };

export class AcpSession implements AgentSession {
  #threadId: string | null = null;
  readonly #settings: AcpSettings;
  readonly #proc: AgentProcess;
  readonly #client: ClientSide;
  #conn!: acp.ClientConnection;
  /** Resolves with the first fatal condition (exit, garbage on stdout, closed connection). */
  readonly #fatal: Promise<AgentError>;
  #resolveFatal!: (error: AgentError) => void;
  #fatalError: AgentError | null = null;
  #turn: TurnState | null = null;
  #closed = false;
  readonly #config = new SessionConfig();

  private constructor(settings: AcpSettings, proc: AgentProcess, rootReal: string) {
    this.#settings = settings;
    this.#proc = proc;
    this.#client = { rootReal, permission: settings.permission, turn: () => this.#turn };
    this.#fatal = new Promise((resolve) => {
      this.#resolveFatal = resolve;
    });
  }

  get threadId(): string | null {
    return this.#threadId;
  }

  /** The agent's pid, which is also its process group id (for diagnostics and tests). */
  get pid(): number {
    return this.#proc.pid;
  }

  static async start(settings: AcpSettings, options: SessionOptions): Promise<AcpSession> {
    const rootReal = realpathSync(options.cwd);
    const proc = await spawnAgentProcess({
      command: settings.command,
      cwd: options.cwd,
      env: { ...(settings.baseEnv ?? process.env), ...(settings.env ?? {}) },
      killGraceMs: settings.killGraceMs,
    });
    const session = new AcpSession(settings, proc, rootReal);
    try {
      await session.#connect(options);
    } catch (err) {
      await session.close();
      throw err;
    }
    return session;
  }

  #fail(error: AgentError): void {
    if (this.#fatalError) return;
    this.#fatalError = error;
    this.#resolveFatal(error);
  }

  /** Waits briefly for the process exit so a closed connection is reported with its cause. */
  async #settleFatal(fallback: AgentError): Promise<AgentError> {
    if (this.#fatalError) return this.#fatalError;
    await within(this.#proc.exited, 1000);
    await new Promise((r) => setImmediate(r));
    return this.#fatalError ?? fallback;
  }

  async #connect(options: SessionOptions): Promise<void> {
    const proc = this.#proc;
    void proc.exited.then((exit) =>
      this.#fail(new AgentError('agent', describeExit(exit, proc.stderrTail()))),
    );
    const stream = agentStream(proc, (line) => {
      this.#fail(new AgentError('protocol', `agent wrote non-JSON-RPC output on stdout: ${line}`));
      void proc.kill();
    });
    const client = this.#client;
    const app = acp
      .client({ name: 'car' })
      .onNotification(LENIENT_UPDATE_METHOD, parseLooseUpdate, ({ params }) => this.#onUpdate(params))
      .onRequest(acp.methods.client.session.requestPermission, ({ params }) =>
        answerPermission(client, params),
      )
      .onRequest(acp.methods.client.fs.readTextFile, ({ params }) => readTextFile(client, params))
      .onRequest(acp.methods.client.fs.writeTextFile, ({ params }) => writeTextFile(client, params));
    this.#conn = app.connect(stream);
    void this.#conn.closed.then(async () => {
      // report a crash by its exit (code, stderr) rather than as a closed stream
      this.#fail(await this.#settleFatal(new AgentError('agent', 'ACP connection closed')));
    });

    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(
        () =>
          reject(
            new AgentError(
              'timeout',
              `agent "${this.#settings.id}" did not start within ${this.#settings.startupTimeoutMs} ms`,
            ),
          ),
        this.#settings.startupTimeoutMs,
      );
    });
    const fatal = this.#fatal.then((err) => {
      throw err;
    });
    try {
      await Promise.race([this.#handshake(options), timeout, fatal]);
    } catch (err) {
      const error = requestFailure(err, 'agent start-up failed');
      if (!(err instanceof AgentError) && this.#conn.signal.aborted) throw await this.#settleFatal(error);
      throw error;
    } finally {
      clearTimeout(timer);
    }
  }

  async #handshake(options: SessionOptions): Promise<void> {
    const agent = this.#conn.agent;
    const init = await agent.request(acp.methods.agent.initialize, {
      protocolVersion: acp.PROTOCOL_VERSION,
      clientCapabilities: { fs: { readTextFile: true, writeTextFile: true }, terminal: false },
      clientInfo: { name: 'car', version: '0.1.0' },
    });
    if (options.threadId) {
      if (!init.agentCapabilities?.loadSession) {
        throw new AgentError(
          'agent',
          `agent "${this.#settings.id}" cannot load sessions; thread ${options.threadId} cannot be resumed`,
        );
      }
      const loaded = await agent
        .request(acp.methods.agent.session.load, {
          sessionId: options.threadId,
          cwd: this.#client.rootReal,
          mcpServers: [],
        })
        .catch((err: unknown) => {
          throw requestFailure(err, `session/load ${options.threadId} failed`);
        });
      this.#threadId = options.threadId;
      this.#config.remember(loaded as { configOptions?: unknown; modes?: unknown } | undefined);
      return;
    }
    const created = await agent
      .request(acp.methods.agent.session.new, { cwd: this.#client.rootReal, mcpServers: [] })
      .catch((err: unknown) => {
        throw requestFailure(err, 'session/new failed');
      });
    this.#threadId = created.sessionId;
    this.#config.remember(created);
  }

  #onUpdate(params: LooseUpdate): void {
    const update = params.update;
    if (update.sessionUpdate === 'config_option_update') this.#config.update(update.configOptions);
    // history replayed by session/load, and anything between turns, is not part of a turn
    const turn = this.#turn;
    if (!turn || params.sessionId !== this.#threadId) return;
    turn.harness.touch();
    translateUpdate(turn, update);
  }

  async runTurn(request: TurnRequest): Promise<TurnResult> {
    if (this.#turn)
      return failedTurn({ kind: 'agent', message: 'a turn is already running in this session' });
    if (this.#closed || this.#fatalError) {
      const error = this.#fatalError ?? { kind: 'agent', message: 'the agent session is closed' };
      return failedTurn({ kind: error.kind, message: error.message });
    }
    if (request.signal.aborted) return { status: 'cancelled', finalText: '' };

    const sessionId = this.#threadId!;
    // A stop asks the agent to cancel the turn; one that does not end it within the grace is killed.
    const harness = startTurnHarness(request, {
      stallTimeoutMs: this.#settings.stallTimeoutMs,
      turnTimeoutMs: this.#settings.turnTimeoutMs,
      onStop: (reason, message) => {
        if (reason !== 'cancelled') harness.emit({ type: 'error', message });
        void this.#conn.agent.notify(acp.methods.agent.session.cancel, { sessionId }).catch(() => {});
      },
      forceStop: { afterMs: this.#settings.cancelGraceMs, run: () => void this.#proc.kill() },
    });
    const turn = newTurnState(harness);
    this.#turn = turn;

    let outcome: PromptOutcome;
    try {
      await this.#config.apply(this.#conn.agent, sessionId, request, harness.emit);
      outcome = await Promise.race([
        this.#prompt(sessionId, request.prompt),
        this.#fatal.then((error): PromptOutcome => ({ kind: 'error', error })),
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
  #prompt(sessionId: string, text: string): Promise<PromptOutcome> {
    return this.#conn.agent
      .request(acp.methods.agent.session.prompt, { sessionId, prompt: [{ type: 'text', text }] })
      .then(
        (response): PromptOutcome => ({ kind: 'response', response }),
        async (err: unknown): Promise<PromptOutcome> => {
          const error = requestFailure(err, 'session/prompt failed');
          return { kind: 'error', error: this.#conn.signal.aborted ? await this.#settleFatal(error) : error };
        },
      );
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#conn?.close();
    await this.#proc.kill();
  }
}
