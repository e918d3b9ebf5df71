// The `codex app-server` process: started in its own process group, initialized over JSON-RPC, and
// stopped with everything it started.
import type { ChildProcessWithoutNullStreams } from 'node:child_process';
import type { TurnError } from '../../core/agent.ts';
import { type AgentProcess, spawnAgentProcess } from '../process.ts';
import { rememberLaunch } from '../warm-start.ts';
import { JsonRpcClient, type JsonRpcClientOptions, RpcError } from './jsonrpc.ts';

/** Thrown by `startSession` when the app-server cannot be started or the thread cannot be opened. */
export class CodexSessionError extends Error {
  readonly kind: TurnError['kind'];
  constructor(kind: TurnError['kind'], message: string) {
    super(message);
    this.name = 'CodexSessionError';
    this.kind = kind;
  }
}

/** The app-server process (leader of its own process group) and the JSON-RPC connection over its stdio. */
export interface AppServer {
  proc: AgentProcess;
  client: JsonRpcClient;
}

export interface AppServerOptions
  extends Pick<JsonRpcClientOptions, 'onNotification' | 'onRequest' | 'onProtocolProblem' | 'onExit'> {
  command: readonly string[];
  cwd: string;
  /** The app-server's full environment. */
  env: NodeJS.ProcessEnv;
  killGraceMs: number;
  /** Bound on `initialize`, and the default for every later request. */
  requestTimeoutMs: number;
  maxMessageBytes?: number;
  clientName: string;
  clientVersion: string;
  /**
   * The files the app-server reads as it starts in a folder (its config, the login): a `car run` keeps this launch
   * for the next one's warm start, valid while they are unchanged (warm-start.ts).
   */
  startFiles?: (cwd: string) => readonly string[];
  /** A thread to start with these params together with `initialize` (see `appServerPrelude`). */
  thread?: Record<string, unknown>;
}

export interface StartedAppServer extends AppServer {
  /** The id of the thread asked for by `thread`, or null (not asked for, or it failed). */
  thread: Promise<string | null> | null;
}

const INITIALIZE_ID = 1;
const THREAD_START_ID = 2;

/**
 * What car writes to a new app-server before it has read anything from it: `initialize`, `initialized`
 * and, with `thread`, `thread/start`. Codex reads them in order as soon as it is up, so the first thread
 * does not wait for car to hear of the initialization (a round trip) nor, for a warm start, which
 * writes the same bytes, for car's modules to load. Codex's own boot is what the first thread waits for.
 */
export function appServerPrelude(
  options: Pick<AppServerOptions, 'clientName' | 'clientVersion' | 'thread'>,
): string {
  const lines: Record<string, unknown>[] = [
    {
      id: INITIALIZE_ID,
      method: 'initialize',
      params: {
        clientInfo: { name: options.clientName, title: null, version: options.clientVersion },
        capabilities: {
          experimentalApi: false,
          optOutNotificationMethods: ['remoteControl/status/changed'],
        },
      },
    },
    { method: 'initialized' },
  ];
  if (options.thread) lines.push({ id: THREAD_START_ID, method: 'thread/start', params: options.thread });
  return lines.map((l) => `${JSON.stringify(l)}\n`).join('');
}

/** Starts and initializes an app-server; throws a CodexSessionError (and leaves nothing running). */
export async function startAppServer(options: AppServerOptions): Promise<StartedAppServer> {
  if (!options.command[0]) throw new CodexSessionError('spawn', 'codex: empty app-server command');
  const prelude = appServerPrelude(options);
  let proc: AgentProcess;
  try {
    proc = await spawnAgentProcess({
      command: options.command,
      cwd: options.cwd,
      env: options.env,
      killGraceMs: options.killGraceMs,
      prelude,
    });
  } catch (err) {
    throw new CodexSessionError('spawn', `codex: ${(err as Error).message}`);
  }
  // spawned with three pipes, so none of the child's streams is null
  const client = new JsonRpcClient(proc.child as ChildProcessWithoutNullStreams, {
    label: 'codex app-server',
    requestTimeoutMs: options.requestTimeoutMs,
    ...(options.maxMessageBytes === undefined ? {} : { maxMessageBytes: options.maxMessageBytes }),
    ...(options.onNotification ? { onNotification: options.onNotification } : {}),
    ...(options.onRequest ? { onRequest: options.onRequest } : {}),
    ...(options.onProtocolProblem ? { onProtocolProblem: options.onProtocolProblem } : {}),
    ...(options.onExit ? { onExit: options.onExit } : {}),
  });
  const initialized = client.adopt(INITIALIZE_ID, 'initialize');
  const thread = options.thread
    ? client
        .adopt<{ thread?: { id?: string } }>(THREAD_START_ID, 'thread/start')
        .then((res) => res.thread?.id ?? null)
        .catch(() => null)
    : null;
  const server = { proc, client, thread };
  try {
    await initialized;
  } catch (err) {
    await stopAppServer(server);
    throw new CodexSessionError(
      err instanceof RpcError && err.kind === 'remote' ? 'protocol' : 'spawn',
      `codex app-server did not initialize: ${(err as Error).message}`,
    );
  }
  if (options.startFiles) {
    rememberLaunch(
      { command: options.command, cwd: options.cwd, env: options.env, prelude },
      options.startFiles(options.cwd),
    );
  }
  return server;
}

/** Closes the connection and kills the app-server's process group (SIGTERM, then SIGKILL). */
export async function stopAppServer(server: AppServer): Promise<void> {
  server.client.close();
  await server.proc.kill();
}

/** The engine's classification of an error from starting the app-server or talking to it. */
export function errorKind(err: unknown): TurnError['kind'] {
  if (err instanceof CodexSessionError) return err.kind;
  if (err instanceof RpcError) {
    if (err.kind === 'timeout') return 'timeout';
    if (err.kind === 'protocol') return 'protocol';
    if (err.kind === 'exited') return 'agent';
    if (err.kind === 'remote') return 'agent';
  }
  return 'unknown';
}
