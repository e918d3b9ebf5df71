// The process of one ACP agent and the connection over its stdio, shared by every session the agent opens
// for the run's lifetime (ACP lets a client open several sessions on one connection, each with its own
// cwd). What the agent streams (`session/update`) and asks (permissions, files) carries the session id
// and is routed to that session. A process that died is replaced by the pool's next `acquire`; its
// sessions see it through `alive` and load their sessions on the new one where the agent can.
import * as acp from '@agentclientprotocol/sdk';
import type { McpServerSpec } from '../../core/agent.ts';
import { within } from '../../core/proc/wait.ts';
import { AgentError, type AgentProcess, describeExit, spawnAgentProcess } from '../process.ts';
import { answerPermission, type ClientSide, readTextFile, writeTextFile } from './client-handlers.ts';
import { requestFailure } from './errors.ts';
import { agentStream, LENIENT_UPDATE_METHOD } from './stream.ts';
import { type LooseUpdate, parseLooseUpdate } from './updates.ts';

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
  /** MCP servers every session of the agent is given (`mcpServers` in session/new and session/load). */
  mcpServers?: readonly McpServerSpec[];
}

/** What a session gives the connection: how its client requests are answered, where its updates go. */
export interface SessionListener {
  readonly client: ClientSide;
  onUpdate(update: LooseUpdate['update']): void;
}

/** A request for a session the connection does not know. */
function unknownSession(sessionId: string): acp.RequestError {
  return acp.RequestError.invalidParams({ sessionId }, `car has no open session ${sessionId}`);
}

export class AcpConnection {
  readonly #settings: AcpSettings;
  readonly proc: AgentProcess;
  conn!: acp.ClientConnection;
  /** The agent can load a stored session (`session/load`): threads survive a restart. */
  loadSession = false;
  /** The agent can close a session (`session/close`), freeing what it holds for it. */
  closeSession = false;
  readonly #sessions = new Map<string, SessionListener>();
  /** Resolves with the first fatal condition (exit, garbage on stdout, closed connection). */
  readonly fatal: Promise<AgentError>;
  #resolveFatal!: (error: AgentError) => void;
  #fatalError: AgentError | null = null;
  #retired = false;

  private constructor(settings: AcpSettings, proc: AgentProcess) {
    this.#settings = settings;
    this.proc = proc;
    this.fatal = new Promise((resolve) => {
      this.#resolveFatal = resolve;
    });
  }

  /** Spawns the agent (in `cwd`) and initializes the connection, within the start-up timeout. */
  static async start(settings: AcpSettings, cwd: string): Promise<AcpConnection> {
    const proc = await spawnAgentProcess({
      command: settings.command,
      cwd,
      env: { ...(settings.baseEnv ?? process.env), ...(settings.env ?? {}) },
      killGraceMs: settings.killGraceMs,
    });
    const connection = new AcpConnection(settings, proc);
    try {
      await connection.#connect();
    } catch (err) {
      await connection.kill();
      throw err;
    }
    return connection;
  }

  get fatalError(): AgentError | null {
    return this.#fatalError;
  }

  /** False once the process died or the connection broke (or it is being stopped). */
  get alive(): boolean {
    return !this.#retired && this.#fatalError === null && this.proc.exit === null;
  }

  attach(sessionId: string, listener: SessionListener): void {
    this.#sessions.set(sessionId, listener);
  }

  detach(sessionId: string, listener: SessionListener): void {
    if (this.#sessions.get(sessionId) === listener) this.#sessions.delete(sessionId);
  }

  /**
   * Races `work` (a request of a session) against the connection's start-up timeout and its fatal end;
   * an error is classified, a broken connection reported by its cause (exit code, stderr).
   */
  async bounded<T>(work: Promise<T>, what: string): Promise<T> {
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
    const fatal = this.fatal.then((err) => {
      throw err;
    });
    fatal.catch(() => {});
    try {
      return await Promise.race([work, timeout, fatal]);
    } catch (err) {
      const error = requestFailure(err, what);
      if (!(err instanceof AgentError) && this.conn.signal.aborted) throw await this.settleFatal(error);
      throw error;
    } finally {
      clearTimeout(timer);
    }
  }

  /** Waits briefly for the process exit so a closed connection is reported with its cause. */
  async settleFatal(fallback: AgentError): Promise<AgentError> {
    if (this.#fatalError) return this.#fatalError;
    await within(this.proc.exited, 1000);
    await new Promise((r) => setImmediate(r));
    return this.#fatalError ?? fallback;
  }

  #fail(error: AgentError): void {
    if (this.#fatalError) return;
    this.#fatalError = error;
    this.#resolveFatal(error);
  }

  #client(sessionId: string): ClientSide {
    const listener = this.#sessions.get(sessionId);
    if (!listener) throw unknownSession(sessionId);
    return listener.client;
  }

  async #connect(): Promise<void> {
    const proc = this.proc;
    void proc.exited.then((exit) =>
      this.#fail(new AgentError('agent', describeExit(exit, proc.stderrTail()))),
    );
    const stream = agentStream(proc, (line) => {
      this.#fail(new AgentError('protocol', `agent wrote non-JSON-RPC output on stdout: ${line}`));
      void proc.kill();
    });
    const app = acp
      .client({ name: 'car' })
      .onNotification(LENIENT_UPDATE_METHOD, parseLooseUpdate, ({ params }) =>
        this.#sessions.get(params.sessionId)?.onUpdate(params.update),
      )
      .onRequest(acp.methods.client.session.requestPermission, ({ params }) => {
        const listener = this.#sessions.get(params.sessionId);
        if (!listener) return { outcome: { outcome: 'cancelled' } };
        return answerPermission(listener.client, params);
      })
      .onRequest(acp.methods.client.fs.readTextFile, ({ params }) =>
        readTextFile(this.#client(params.sessionId), params),
      )
      .onRequest(acp.methods.client.fs.writeTextFile, ({ params }) =>
        writeTextFile(this.#client(params.sessionId), params),
      );
    this.conn = app.connect(stream);
    void this.conn.closed.then(async () => {
      // report a crash by its exit (code, stderr) rather than as a closed stream
      this.#fail(await this.settleFatal(new AgentError('agent', 'ACP connection closed')));
    });
    const init = await this.bounded(
      this.conn.agent.request(acp.methods.agent.initialize, {
        protocolVersion: acp.PROTOCOL_VERSION,
        clientCapabilities: { fs: { readTextFile: true, writeTextFile: true }, terminal: false },
        clientInfo: { name: 'car', version: '0.1.0' },
      }),
      'agent start-up failed',
    );
    this.loadSession = init.agentCapabilities?.loadSession === true;
    const sessionCapabilities = (
      init.agentCapabilities as { sessionCapabilities?: { close?: unknown } } | undefined
    )?.sessionCapabilities;
    this.closeSession = sessionCapabilities?.close !== undefined && sessionCapabilities.close !== null;
  }

  /** Kills the process group (SIGTERM, then SIGKILL); `alive` is false from now on. */
  async kill(): Promise<void> {
    this.#retired = true;
    this.conn?.close();
    await this.proc.kill();
  }
}

/**
 * The agent's process: started on first use (or by `prewarm`, ahead of it), shared by its sessions,
 * replaced when it died, stopped by `close` at the end of the run. At most one start is under way.
 */
export class AcpPool {
  readonly #settings: AcpSettings;
  #current: Promise<AcpConnection> | null = null;

  constructor(settings: AcpSettings) {
    this.#settings = settings;
  }

  async acquire(cwd: string): Promise<AcpConnection> {
    // a dead one is replaced; an agent that keeps dying as soon as it started is an error, not a loop
    let dead: AcpConnection | null = null;
    for (let attempt = 1; attempt <= 3; attempt++) {
      this.#current ??= AcpConnection.start(this.#settings, cwd);
      const pending = this.#current;
      let connection: AcpConnection;
      try {
        connection = await pending;
      } catch (err) {
        if (this.#current === pending) this.#current = null;
        throw err;
      }
      if (connection.alive) return connection;
      if (this.#current === pending) this.#current = null;
      await connection.kill(); // what the dead agent left in its group
      dead = connection;
    }
    const why = dead?.fatalError?.message;
    throw new AgentError(
      'spawn',
      `agent "${this.#settings.id}" exited as soon as it started${why ? ` (${why})` : ''}`,
    );
  }

  prewarm(cwd: string): void {
    this.acquire(cwd).catch(() => {});
  }

  /** Kills `connection` (a turn it would not end); the next `acquire` starts a new process. */
  async discard(connection: AcpConnection): Promise<void> {
    if (this.#current && (await this.#current.catch(() => null)) === connection) this.#current = null;
    await connection.kill();
  }

  async close(): Promise<void> {
    const pending = this.#current;
    this.#current = null;
    const connection = await pending?.catch(() => null);
    await connection?.kill();
  }
}
