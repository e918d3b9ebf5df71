// ACP (Agent Client Protocol) backend: one agent process per session, JSON-RPC 2.0 over NDJSON stdio,
// driven with @agentclientprotocol/sdk 2.x (`client()` + `ndJsonStream`).
import { existsSync, mkdirSync, readFileSync, realpathSync } from 'node:fs';
import { dirname } from 'node:path';
import { Readable, Transform, type TransformCallback, Writable } from 'node:stream';
import { StringDecoder } from 'node:string_decoder';
import * as acp from '@agentclientprotocol/sdk';
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
import { writeFileAtomic } from '../../core/fs/atomic.ts';
import { within } from '../../core/proc/wait.ts';
import {
  AgentError,
  type AgentProcess,
  classifyFailure,
  describeExit,
  spawnAgentProcess,
} from '../process.ts';
import { startWatchdog, type WatchdogReason } from '../watchdog.ts';
import { confinePath } from './confine.ts';

export interface AcpAgentOptions {
  id: string;
  /** argv of the agent, e.g. `['opencode', 'acp']`. */
  command: readonly string[];
  /** Extra environment for the agent (merged over `baseEnv`). */
  env?: Record<string, string>;
  /** The environment the agent starts from (default process.env); the resolver passes car's without car's secrets. */
  baseEnv?: NodeJS.ProcessEnv;
  /** Answer to `session/request_permission` (default 'allow': car runs unattended). */
  permission?: 'allow' | 'reject';
  /** No agent activity for this long → cancel, then kill; the turn fails 'stalled' (default 5 min). */
  stallTimeoutMs?: number;
  /** Hard cap on one turn → cancel, then kill; the turn fails 'timeout' (default 60 min, 0 = none). */
  turnTimeoutMs?: number;
  /** Spawn + `initialize` + `session/new|load` must finish within this (default 60 s). */
  startupTimeoutMs?: number;
  /** After `session/cancel`, wait this long for the prompt to return before killing (default 5 s). */
  cancelGraceMs?: number;
  /** SIGTERM → SIGKILL grace when killing the process group (default 2 s). */
  killGraceMs?: number;
}

export interface AcpPreset {
  command: readonly string[];
  env?: Record<string, string>;
  /** Added only when car runs as root (the Claude adapters refuse root without it). */
  rootEnv?: Record<string, string>;
}

/** Known ACP agents; any other is just a command + args + env. */
export const ACP_PRESETS: Readonly<Record<string, AcpPreset>> = {
  opencode: { command: ['opencode', 'acp'] },
  claude: { command: ['claude-agent-acp'], rootEnv: { IS_SANDBOX: '1' } },
  gemini: { command: ['gemini', '--acp'] },
  'codex-acp': { command: ['codex-acp'] },
  hermes: { command: ['hermes', 'acp'] },
  // CAR starts both of its ACP runtimes as `<binary> acp`
  omp: { command: ['omp', 'acp'] },
};

/** The command and env of a preset for this process (adds `rootEnv` when running as root). */
export function resolveAcpPreset(
  name: string,
  isRoot: boolean = process.getuid?.() === 0,
): { command: string[]; env: Record<string, string> } | null {
  const preset = ACP_PRESETS[name];
  if (!preset) return null;
  return {
    command: [...preset.command],
    env: { ...(preset.env ?? {}), ...(isRoot ? (preset.rootEnv ?? {}) : {}) },
  };
}

const DEFAULTS = {
  stallTimeoutMs: 5 * 60_000,
  turnTimeoutMs: 60 * 60_000,
  startupTimeoutMs: 60_000,
  cancelGraceMs: 5000,
  killGraceMs: 2000,
};

export function createAcpAgent(options: AcpAgentOptions): Agent {
  const settings = { ...DEFAULTS, ...definedOnly(options) };
  return {
    id: options.id,
    startSession: (session) => AcpSession.start(options, settings, session),
  };
}

function definedOnly<T extends object>(value: T): Partial<T> {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as Partial<T>;
}

interface Deferred<T> {
  promise: Promise<T>;
  resolve: (value: T) => void;
}
function deferred<T>(): Deferred<T> {
  let resolve!: (value: T) => void;
  const promise = new Promise<T>((r) => {
    resolve = r;
  });
  return { promise, resolve };
}

/** Describes an error answer from the agent (JSON-RPC error or thrown value), classified. */
function requestFailure(err: unknown, what: string): AgentError {
  if (err instanceof AgentError) return err;
  if (err instanceof acp.RequestError) {
    const details =
      err.data && typeof err.data === 'object' && 'details' in err.data
        ? ` (${String((err.data as { details: unknown }).details)})`
        : '';
    const text = `${what}: ${err.message}${details} [${err.code}]`;
    if (err.code === -32000) return new AgentError('agent', `${text}; the agent needs to be logged in`);
    if (err.code === -32700 || err.code === -32600 || err.code === -32601 || err.code === -32602) {
      return new AgentError('protocol', text);
    }
    return AgentError.from(classifyFailure(text, 'agent'));
  }
  const message = `${what}: ${err instanceof Error ? err.message : String(err)}`;
  return AgentError.from(classifyFailure(message, 'unknown'));
}

/** Passes stdout through unchanged and reports the first line that is not a JSON object. */
function stdoutGuard(onGarbage: (line: string) => void): Transform {
  const decoder = new StringDecoder('utf8');
  let pending = '';
  let reported = false;
  const check = (line: string) => {
    const text = line.trim();
    if (text === '' || reported) return;
    let ok = false;
    try {
      const value: unknown = JSON.parse(text);
      ok = typeof value === 'object' && value !== null && !Array.isArray(value);
    } catch {
      ok = false;
    }
    if (!ok) {
      reported = true;
      onGarbage(text.length > 200 ? `${text.slice(0, 200)}…` : text);
    }
  };
  return new Transform({
    transform(chunk: Buffer, _enc, callback: TransformCallback) {
      pending += decoder.write(chunk);
      let nl = pending.indexOf('\n');
      while (nl >= 0) {
        check(pending.slice(0, nl));
        pending = pending.slice(nl + 1);
        nl = pending.indexOf('\n');
      }
      callback(null, chunk);
    },
    flush(callback: TransformCallback) {
      check(pending + decoder.end());
      callback();
    },
  });
}

const UPDATE_METHOD = acp.methods.client.session.update;
const LENIENT_UPDATE_METHOD = '_car/session_update';

type Loose = Record<string, unknown>;
interface LooseUpdate {
  sessionId: string;
  update: Loose & { sessionUpdate: string };
}

function record(value: unknown): Loose | undefined {
  return typeof value === 'object' && value !== null && !Array.isArray(value) ? (value as Loose) : undefined;
}
function str(value: unknown): string | undefined {
  return typeof value === 'string' ? value : undefined;
}
function parseLooseUpdate(params: unknown): LooseUpdate {
  const p = record(params);
  const update = record(p?.update);
  if (typeof p?.sessionId !== 'string' || !update || typeof update.sessionUpdate !== 'string') {
    throw acp.RequestError.invalidParams(
      undefined,
      'session/update needs sessionId and update.sessionUpdate',
    );
  }
  return { sessionId: p.sessionId, update: update as LooseUpdate['update'] };
}

type ConfigOption = { id: string; category?: string | null; type?: string; options?: unknown };
type ModeState = { currentModeId?: string; availableModes?: { id: string; name?: string }[] } | null;

interface TurnState {
  request: TurnRequest;
  emit: (event: AgentEvent) => void;
  touch: () => void;
  cancelRequested: boolean;
  /** Text of the message being streamed, and its id. */
  current: string;
  currentId: string | null;
  lastMessage: string;
  usage: TurnUsage;
  hasUsage: boolean;
  tools: Map<string, string>;
}

class AcpSession implements AgentSession {
  #threadId: string | null = null;
  readonly #agentOptions: AcpAgentOptions;
  readonly #settings: typeof DEFAULTS;
  readonly #proc: AgentProcess;
  readonly #rootReal: string;
  #conn!: acp.ClientConnection;
  /** Resolves with the first fatal condition (exit, garbage on stdout, closed connection). */
  readonly #fatal = deferred<AgentError>();
  #fatalError: AgentError | null = null;
  #turn: TurnState | null = null;
  #closed = false;
  #configOptions: ConfigOption[] = [];
  #modes: ModeState = null;

  private constructor(
    agentOptions: AcpAgentOptions,
    settings: typeof DEFAULTS,
    proc: AgentProcess,
    root: string,
  ) {
    this.#agentOptions = agentOptions;
    this.#settings = settings;
    this.#proc = proc;
    this.#rootReal = root;
  }

  get threadId(): string | null {
    return this.#threadId;
  }

  /** The agent's pid, which is also its process group id (for diagnostics and tests). */
  get pid(): number {
    return this.#proc.pid;
  }

  static async start(
    agentOptions: AcpAgentOptions,
    settings: typeof DEFAULTS,
    options: SessionOptions,
  ): Promise<AcpSession> {
    const rootReal = realpathSync(options.cwd);
    const proc = await spawnAgentProcess({
      command: agentOptions.command,
      cwd: options.cwd,
      env: { ...(agentOptions.baseEnv ?? process.env), ...(agentOptions.env ?? {}) },
      killGraceMs: settings.killGraceMs,
    });
    const session = new AcpSession(agentOptions, settings, proc, rootReal);
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
    this.#fatal.resolve(error);
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
    const guarded = proc.stdout.pipe(
      stdoutGuard((line) => {
        this.#fail(new AgentError('protocol', `agent wrote non-JSON-RPC output on stdout: ${line}`));
        void proc.kill();
      }),
    );
    const raw = acp.ndJsonStream(
      Writable.toWeb(proc.stdin!) as WritableStream<Uint8Array>,
      Readable.toWeb(guarded) as ReadableStream<Uint8Array>,
    );
    // The SDK's client validates every session/update strictly and drops the whole notification on
    // one off-schema field; route them to our own lenient handler under a private method name.
    const stream: acp.Stream = {
      writable: raw.writable,
      readable: raw.readable.pipeThrough(
        new TransformStream<acp.AnyMessage, acp.AnyMessage>({
          transform(message, controller) {
            if ('method' in message && !('id' in message) && message.method === UPDATE_METHOD) {
              controller.enqueue({ ...message, method: LENIENT_UPDATE_METHOD });
            } else {
              controller.enqueue(message);
            }
          },
        }),
      ),
    };
    const app = acp
      .client({ name: 'car' })
      .onNotification(LENIENT_UPDATE_METHOD, parseLooseUpdate, ({ params }) => this.#onUpdate(params))
      .onRequest(acp.methods.client.session.requestPermission, ({ params }) => this.#onPermission(params))
      .onRequest(acp.methods.client.fs.readTextFile, ({ params }) => this.#onRead(params))
      .onRequest(acp.methods.client.fs.writeTextFile, ({ params }) => this.#onWrite(params));
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
              `agent "${this.#agentOptions.id}" did not start within ${this.#settings.startupTimeoutMs} ms`,
            ),
          ),
        this.#settings.startupTimeoutMs,
      );
    });
    const fatal = this.#fatal.promise.then((err) => {
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
          `agent "${this.#agentOptions.id}" cannot load sessions; thread ${options.threadId} cannot be resumed`,
        );
      }
      const loaded = await agent
        .request(acp.methods.agent.session.load, {
          sessionId: options.threadId,
          cwd: this.#rootReal,
          mcpServers: [],
        })
        .catch((err: unknown) => {
          throw requestFailure(err, `session/load ${options.threadId} failed`);
        });
      this.#threadId = options.threadId;
      this.#rememberConfig(loaded as { configOptions?: unknown; modes?: unknown } | undefined);
      return;
    }
    const created = await agent
      .request(acp.methods.agent.session.new, { cwd: this.#rootReal, mcpServers: [] })
      .catch((err: unknown) => {
        throw requestFailure(err, 'session/new failed');
      });
    this.#threadId = created.sessionId;
    this.#rememberConfig(created);
  }

  #rememberConfig(response: { configOptions?: unknown; modes?: unknown } | undefined): void {
    if (Array.isArray(response?.configOptions))
      this.#configOptions = response.configOptions as ConfigOption[];
    if (response?.modes && typeof response.modes === 'object') this.#modes = response.modes as ModeState;
  }

  // --- agent → client --------------------------------------------------------------------------

  /**
   * `session/update` is parsed leniently: real agents send slightly off-schema updates (claude-agent-acp
   * sends `usage_update` with `used: null`), and one odd field must not drop a message chunk.
   */
  #onUpdate(params: LooseUpdate): void {
    const turn = this.#turn;
    const update = params.update;
    const kind = update.sessionUpdate;
    if (kind === 'config_option_update' && Array.isArray(update.configOptions)) {
      this.#configOptions = update.configOptions as ConfigOption[];
    }
    // history replayed by session/load, and anything between turns, is not part of a turn
    if (!turn || params.sessionId !== this.#threadId) return;
    turn.touch();
    switch (kind) {
      case 'agent_message_chunk': {
        const content = record(update.content);
        const text = content?.type === 'text' ? str(content.text) : undefined;
        if (!text) return;
        const id = str(update.messageId) ?? null;
        if (id !== null && turn.currentId !== null && id !== turn.currentId) flushMessage(turn);
        turn.currentId = id;
        turn.current += text;
        turn.emit({ type: 'message_delta', text });
        return;
      }
      case 'tool_call':
      case 'tool_call_update': {
        flushMessage(turn);
        const id = str(update.toolCallId) ?? '';
        const title = str(update.title) || str(update.kind);
        if (kind === 'tool_call') {
          const name = title || 'tool';
          turn.tools.set(id, name);
          turn.emit({
            type: 'tool_call',
            name,
            id,
            ...(update.rawInput !== undefined && update.rawInput !== null ? { input: update.rawInput } : {}),
          });
        } else if (title) {
          turn.tools.set(id, title);
        }
        const content = Array.isArray(update.content) ? (update.content as unknown[]).map(record) : [];
        for (const item of content) {
          const path = str(item?.path);
          if (item?.type === 'diff' && path) {
            turn.emit({ type: 'file_change', path, kind: item.oldText == null ? 'add' : 'modify' });
          }
        }
        if (update.status === 'completed' || update.status === 'failed') {
          const texts = content.flatMap((item) => {
            const inner = record(item?.content);
            const text = item?.type === 'content' && inner?.type === 'text' ? str(inner.text) : undefined;
            return text === undefined ? [] : [text];
          });
          let output = texts.join('\n');
          if (output === '' && update.rawOutput !== undefined && update.rawOutput !== null) {
            output =
              typeof update.rawOutput === 'string' ? update.rawOutput : JSON.stringify(update.rawOutput);
          }
          turn.emit(
            update.status === 'failed'
              ? { type: 'tool_result', id, error: output || 'tool call failed' }
              : { type: 'tool_result', id, ...(output ? { output } : {}) },
          );
        }
        return;
      }
      case 'plan': {
        const entries = Array.isArray(update.entries) ? (update.entries as unknown[]).map(record) : [];
        const done = entries.filter((e) => e?.status === 'completed').length;
        const active = str(entries.find((e) => e?.status === 'in_progress')?.content);
        turn.emit({
          type: 'status',
          message: `plan: ${done}/${entries.length} done${active ? `; now: ${active}` : ''}`,
        });
        return;
      }
      case 'usage_update': {
        const cost = record(update.cost);
        if (typeof cost?.amount === 'number' && str(cost.currency)?.toUpperCase() === 'USD') {
          turn.usage.costUsd = cost.amount;
          turn.hasUsage = true;
        }
        if (typeof update.used === 'number') {
          turn.emit({ type: 'status', message: `context: ${update.used}/${String(update.size)} tokens` });
        }
        return;
      }
      case 'current_mode_update':
        turn.emit({ type: 'status', message: `mode: ${String(update.currentModeId)}` });
        return;
      case 'notice': {
        const title = str(update.title) ?? 'notice';
        const text = str(update.description) ? `${title}: ${str(update.description)}` : title;
        turn.emit(
          update.severity === 'error' ? { type: 'error', message: text } : { type: 'status', message: text },
        );
        return;
      }
      case 'compaction_update':
        turn.emit({ type: 'status', message: 'compacting context' });
        return;
      default:
        // user_message_chunk, agent_thought_chunk, available_commands_update, session_info_update, …
        return;
    }
  }

  #onPermission(params: acp.RequestPermissionRequest): acp.RequestPermissionResponse {
    const turn = this.#turn;
    turn?.touch();
    const title =
      params.toolCall.title ?? turn?.tools.get(params.toolCall.toolCallId) ?? params.toolCall.toolCallId;
    if (!turn || turn.cancelRequested) {
      turn?.emit({ type: 'status', message: `permission cancelled: ${title}` });
      return { outcome: { outcome: 'cancelled' } };
    }
    const allow = (this.#agentOptions.permission ?? 'allow') === 'allow';
    const preferred = allow ? ['allow_once', 'allow_always'] : ['reject_once', 'reject_always'];
    const option = preferred
      .map((kind) => params.options.find((o) => o.kind === kind))
      .find((o) => o !== undefined);
    if (!option) {
      turn.emit({
        type: 'status',
        message: `permission cancelled (no ${allow ? 'allow' : 'reject'} option): ${title}`,
      });
      return { outcome: { outcome: 'cancelled' } };
    }
    turn.emit({
      type: 'status',
      message: `permission ${allow ? 'allowed' : 'rejected'} (${option.kind}): ${title}`,
    });
    return { outcome: { outcome: 'selected', optionId: option.optionId } };
  }

  #confine(path: string, action: string): string {
    const real = confinePath(this.#rootReal, path);
    if (real === null) {
      const message = `refused to ${action} ${path}: outside the workspace ${this.#rootReal}`;
      this.#turn?.emit({ type: 'error', message });
      throw acp.RequestError.invalidParams({ path }, message);
    }
    return real;
  }

  #onRead(params: acp.ReadTextFileRequest): acp.ReadTextFileResponse {
    this.#turn?.touch();
    const real = this.#confine(params.path, 'read');
    let content: string;
    try {
      content = readFileSync(real, 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT')
        throw acp.RequestError.resourceNotFound(params.path);
      throw acp.RequestError.internalError(undefined, (err as Error).message);
    }
    if (params.line != null || params.limit != null) {
      const start = Math.max(0, (params.line ?? 1) - 1);
      const lines = content.split('\n');
      const end = params.limit != null ? start + params.limit : lines.length;
      content = lines.slice(start, end).join('\n');
    }
    return { content };
  }

  #onWrite(params: acp.WriteTextFileRequest): acp.WriteTextFileResponse {
    this.#turn?.touch();
    const real = this.#confine(params.path, 'write');
    const existed = existsSync(real);
    try {
      mkdirSync(dirname(real), { recursive: true });
      writeFileAtomic(real, params.content);
    } catch (err) {
      throw acp.RequestError.internalError(undefined, (err as Error).message);
    }
    this.#turn?.emit({ type: 'file_change', path: params.path, kind: existed ? 'modify' : 'add' });
    return {};
  }

  // --- turns --------------------------------------------------------------------------------------

  async #applyOverrides(request: TurnRequest, emit: (e: AgentEvent) => void): Promise<void> {
    const wanted: [string, string, string][] = [];
    if (request.model) wanted.push(['model', request.model, 'model']);
    if (request.reasoning) wanted.push(['thought_level', request.reasoning, 'reasoning']);
    if (request.profile) wanted.push(['mode', request.profile, 'profile']);
    for (const [category, value, label] of wanted) {
      const option = this.#configOptions.find((o) => o.category === category && o.type === 'select');
      const values = option ? selectValues(option.options) : [];
      const match =
        values.find((v) => v.value === value) ??
        values.find((v) => v.name?.toLowerCase() === value.toLowerCase());
      try {
        if (option && match) {
          await this.#conn.agent.request(acp.methods.agent.session.setConfigOption, {
            sessionId: this.#threadId!,
            configId: option.id,
            value: match.value,
          });
          continue;
        }
        const mode =
          category === 'mode' ? this.#modes?.availableModes?.find((m) => m.id === value) : undefined;
        if (mode) {
          await this.#conn.agent.request(acp.methods.agent.session.setMode, {
            sessionId: this.#threadId!,
            modeId: mode.id,
          });
          continue;
        }
        emit({
          type: 'status',
          message: `${label} "${value}" is not offered by the agent; using its default`,
        });
      } catch (err) {
        emit({ type: 'error', message: requestFailure(err, `setting ${label} "${value}" failed`).message });
      }
    }
  }

  async runTurn(request: TurnRequest): Promise<TurnResult> {
    if (this.#turn) {
      return failed('', { kind: 'agent', message: 'a turn is already running in this session' });
    }
    if (this.#closed || this.#fatalError) {
      return failed('', this.#fatalError ?? { kind: 'agent', message: 'the agent session is closed' });
    }
    if (request.signal.aborted) return { status: 'cancelled', finalText: '' };

    let stopReason: 'abort' | WatchdogReason | null = null;
    let stopMessage = '';
    let killTimer: NodeJS.Timeout | undefined;
    const watchdog = startWatchdog({
      stallTimeoutMs: this.#settings.stallTimeoutMs,
      turnTimeoutMs: this.#settings.turnTimeoutMs,
      onFire: (reason, message) => stop(reason, message),
    });
    const turn: TurnState = {
      request,
      emit: (event) => {
        try {
          request.onEvent(event);
        } catch {
          // a failing listener must not break the protocol handling
        }
      },
      touch: () => watchdog.touch(),
      cancelRequested: false,
      current: '',
      currentId: null,
      lastMessage: '',
      usage: {},
      hasUsage: false,
      tools: new Map(),
    };
    const stop = (reason: 'abort' | WatchdogReason, message: string) => {
      if (stopReason) return;
      stopReason = reason;
      stopMessage = message;
      turn.cancelRequested = true;
      watchdog.stop();
      if (reason !== 'abort') turn.emit({ type: 'error', message });
      void this.#conn.agent
        .notify(acp.methods.agent.session.cancel, { sessionId: this.#threadId! })
        .catch(() => {});
      killTimer = setTimeout(() => {
        void this.#proc.kill();
      }, this.#settings.cancelGraceMs);
    };
    const onAbort = () => stop('abort', 'cancelled');
    request.signal.addEventListener('abort', onAbort, { once: true });
    this.#turn = turn;

    type Outcome = { kind: 'response'; response: acp.PromptResponse } | { kind: 'error'; error: AgentError };
    let outcome: Outcome;
    try {
      await this.#applyOverrides(request, turn.emit);
      const prompt = this.#conn.agent
        .request(acp.methods.agent.session.prompt, {
          sessionId: this.#threadId!,
          prompt: [{ type: 'text', text: request.prompt }],
        })
        .then(
          (response): Outcome => ({ kind: 'response', response }),
          async (err: unknown): Promise<Outcome> => {
            const error = requestFailure(err, 'session/prompt failed');
            return {
              kind: 'error',
              error: this.#conn.signal.aborted ? await this.#settleFatal(error) : error,
            };
          },
        );
      outcome = await Promise.race([
        prompt,
        this.#fatal.promise.then((error): Outcome => ({ kind: 'error', error })),
      ]);
    } catch (err) {
      outcome = { kind: 'error', error: requestFailure(err, 'turn failed') };
    } finally {
      watchdog.stop();
      clearTimeout(killTimer);
      request.signal.removeEventListener('abort', onAbort);
    }
    flushMessage(turn);
    this.#turn = null;

    const response = outcome.kind === 'response' ? outcome.response : null;
    const usage = mergeUsage(turn, response);
    if (usage) turn.emit({ type: 'usage', usage });
    const base = { finalText: turn.lastMessage, ...(usage ? { usage } : {}) };
    const reason = stopReason as 'abort' | WatchdogReason | null;
    if (reason === 'abort') return { status: 'cancelled', ...base };
    if (reason) return { status: 'failed', ...base, error: { kind: reason, message: stopMessage } };
    if (!response) {
      const error = outcome.kind === 'error' ? outcome.error : new AgentError('unknown', 'turn failed');
      turn.emit({ type: 'error', message: error.message });
      return { status: 'failed', ...base, error: { kind: error.kind, message: error.message } };
    }
    switch (response.stopReason) {
      case 'end_turn':
        return { status: 'completed', ...base };
      case 'max_tokens':
      case 'max_turn_requests':
        turn.emit({ type: 'status', message: `turn ended: ${response.stopReason}` });
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

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#conn?.close();
    await this.#proc.kill();
  }
}

function failed(finalText: string, error: TurnError): TurnResult {
  return { status: 'failed', finalText, error: { kind: error.kind, message: error.message } };
}

function flushMessage(turn: TurnState): void {
  if (turn.current === '') return;
  turn.emit({ type: 'message', text: turn.current });
  turn.lastMessage = turn.current;
  turn.current = '';
  turn.currentId = null;
}

function selectValues(options: unknown): { value: string; name?: string }[] {
  if (!Array.isArray(options)) return [];
  const out: { value: string; name?: string }[] = [];
  for (const entry of options as Record<string, unknown>[]) {
    if (Array.isArray(entry.options)) out.push(...selectValues(entry.options));
    else if (typeof entry.value === 'string') {
      out.push(
        typeof entry.name === 'string' ? { value: entry.value, name: entry.name } : { value: entry.value },
      );
    }
  }
  return out;
}

/** Usage from the prompt response (newer agents; unstable in ACP v1) merged with `usage_update` cost. */
function mergeUsage(turn: TurnState, response: acp.PromptResponse | null): TurnUsage | undefined {
  const raw = (response as { usage?: Record<string, unknown> } | null)?.usage;
  const usage: TurnUsage = { ...turn.usage };
  let has = turn.hasUsage;
  if (raw && typeof raw === 'object') {
    const num = (key: string) => (typeof raw[key] === 'number' ? (raw[key] as number) : undefined);
    const input = num('inputTokens');
    const output = num('outputTokens');
    const cached = num('cachedReadTokens');
    if (input !== undefined) usage.inputTokens = input;
    if (output !== undefined) usage.outputTokens = output;
    if (cached !== undefined) usage.cachedInputTokens = cached;
    has ||= input !== undefined || output !== undefined;
  }
  return has ? usage : undefined;
}
