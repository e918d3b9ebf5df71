// A JSON-RPC client over a child process's stdio, one JSON object per line (JSONL), as `codex app-server`
// speaks it: JSON-RPC 2.0 shapes without the "jsonrpc" member (accepted when present). The child may also
// send requests of its own (approvals); a handler answers them. Nothing here can hang a caller: every
// request ends with its response, its timeout, a protocol error, or the child's exit.
import type { ChildProcessWithoutNullStreams } from 'node:child_process';

export type RpcId = number | string;

export type RpcErrorKind =
  /** The server answered with a JSON-RPC error object. */
  | 'remote'
  /** No response within the request's timeout. */
  | 'timeout'
  /** The child exited (or its stdout closed) before answering. */
  | 'exited'
  /** The response could not be read (e.g. it was larger than the message limit). */
  | 'protocol'
  /** The caller aborted, or the connection was closed on our side. */
  | 'aborted';

export class RpcError extends Error {
  readonly kind: RpcErrorKind;
  readonly method: string;
  /** JSON-RPC error code when `kind` is 'remote'. */
  readonly code: number | undefined;
  readonly data: unknown;
  readonly exit: ExitInfo | undefined;

  constructor(
    kind: RpcErrorKind,
    method: string,
    message: string,
    extra: { code?: number; data?: unknown; exit?: ExitInfo } = {},
  ) {
    super(message);
    this.name = 'RpcError';
    this.kind = kind;
    this.method = method;
    this.code = extra.code;
    this.data = extra.data;
    this.exit = extra.exit;
  }
}

export interface ExitInfo {
  code: number | null;
  signal: NodeJS.Signals | null;
  /** The last bytes the child wrote to stderr (bounded). */
  stderrTail: string;
}

/** Something on stdout that is not a usable message; reported, never thrown. */
export interface ProtocolProblem {
  kind: 'invalid_json' | 'not_an_object' | 'oversized' | 'unknown_response' | 'unexpected_shape';
  message: string;
  /** The start of the offending line (bounded). */
  excerpt: string;
  /** For oversized messages: the id / method read from the message's head, when visible. */
  id?: RpcId;
  method?: string;
}

export interface ServerRequest {
  id: RpcId;
  method: string;
  params: unknown;
}

export interface JsonRpcClientOptions {
  /** Default per-request timeout in ms (0 = none). Default 30 000. */
  requestTimeoutMs?: number;
  /** A line longer than this is dropped and reported as a protocol problem. Default 50 MiB. */
  maxMessageBytes?: number;
  /** How much of the child's stderr to keep for error messages. Default 8 KiB. */
  stderrTailBytes?: number;
  /** Add `"jsonrpc":"2.0"` to outgoing messages (codex omits it). Default false. */
  jsonrpcField?: boolean;
  /** Name used in error messages, e.g. 'codex app-server'. */
  label?: string;
  onNotification?: (method: string, params: unknown) => void;
  /**
   * Answers a request from the server. Its return value is the result; a throw becomes a JSON-RPC error
   * response. Without a handler every server request is answered "method not found".
   */
  onRequest?: (request: ServerRequest) => unknown;
  onProtocolProblem?: (problem: ProtocolProblem) => void;
  /** Called once when the child has exited and its stdout is drained. */
  onExit?: (exit: ExitInfo) => void;
}

export interface RequestOptions {
  timeoutMs?: number;
  signal?: AbortSignal;
}

interface Pending {
  method: string;
  resolve: (value: unknown) => void;
  reject: (err: RpcError) => void;
  timer: NodeJS.Timeout | undefined;
  cleanup: () => void;
}

const EXCERPT = 200;
/** How long to wait for stdout to drain after the child's exit before settling anyway. */
const EXIT_DRAIN_MS = 500;

export class JsonRpcClient {
  readonly #child: ChildProcessWithoutNullStreams;
  readonly #opts: JsonRpcClientOptions;
  readonly #label: string;
  readonly #maxBytes: number;
  readonly #stderrMax: number;
  readonly #pending = new Map<RpcId, Pending>();
  #nextId = 1;
  #stdoutChunks: Buffer[] = [];
  #stdoutLength = 0;
  /** True while discarding the rest of an oversized line. */
  #dropping = false;
  #stderr = '';
  #exitInfo: ExitInfo | null = null;
  #rawExit: { code: number | null; signal: NodeJS.Signals | null } | null = null;
  #closedLocally = false;
  readonly exited: Promise<ExitInfo>;
  #resolveExited!: (info: ExitInfo) => void;

  constructor(child: ChildProcessWithoutNullStreams, opts: JsonRpcClientOptions = {}) {
    this.#child = child;
    this.#opts = opts;
    this.#label = opts.label ?? 'server';
    this.#maxBytes = opts.maxMessageBytes ?? 50 * 1024 * 1024;
    this.#stderrMax = opts.stderrTailBytes ?? 8192;
    this.exited = new Promise((resolve) => {
      this.#resolveExited = resolve;
    });

    child.stdout.on('data', (chunk: Buffer) => this.#onStdout(chunk));
    child.stderr.on('data', (chunk: Buffer) => {
      this.#stderr = (this.#stderr + chunk.toString('utf8')).slice(-this.#stderrMax);
    });
    // EPIPE and friends: the exit path reports what happened.
    child.stdin.on('error', () => {});
    child.stdout.on('error', () => {});
    child.stderr.on('error', () => {});

    let drainTimer: NodeJS.Timeout | undefined;
    child.on('exit', (code, signal) => {
      this.#rawExit = { code, signal };
      // Not unref'd: a caller may be awaiting `exited`, and an unref'd timer would let the event loop
      // empty under that await (Node then exits with status 13 and says nothing).
      drainTimer = setTimeout(() => this.#settleExit(), EXIT_DRAIN_MS);
    });
    child.on('close', (code, signal) => {
      if (drainTimer) clearTimeout(drainTimer);
      this.#rawExit ??= { code, signal };
      this.#settleExit();
    });
    child.on('error', (err) => {
      // spawn failure (ENOENT, EACCES): no 'exit' follows in that case
      this.#stderr = `${this.#stderr}${err.message}`.slice(-this.#stderrMax);
      if (child.pid === undefined) {
        this.#rawExit ??= { code: null, signal: null };
        this.#settleExit();
      }
    });
  }

  get pid(): number | undefined {
    return this.#child.pid;
  }

  /** Null while the child runs. */
  get exitInfo(): ExitInfo | null {
    return this.#exitInfo;
  }

  stderrTail(): string {
    return this.#stderr;
  }

  request<T = unknown>(method: string, params?: unknown, options: RequestOptions = {}): Promise<T> {
    if (this.#exitInfo) return Promise.reject(this.#exitError(method, this.#exitInfo));
    if (this.#closedLocally) {
      return Promise.reject(new RpcError('aborted', method, `${this.#label}: connection closed`));
    }
    if (options.signal?.aborted) {
      return Promise.reject(new RpcError('aborted', method, `${method}: aborted`));
    }
    const id = this.#nextId++;
    const response = this.#await<T>(id, method, options);
    this.#write({ id, method, ...(params === undefined ? {} : { params }) });
    return response;
  }

  /**
   * The response to request `id`, written to the server before this client existed (a prelude the
   * process was started with, see app-server.ts): later requests take ids after it.
   */
  adopt<T = unknown>(id: number, method: string, options: RequestOptions = {}): Promise<T> {
    if (this.#exitInfo) return Promise.reject(this.#exitError(method, this.#exitInfo));
    this.#nextId = Math.max(this.#nextId, id + 1);
    return this.#await<T>(id, method, options);
  }

  #await<T>(id: number, method: string, options: RequestOptions): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      const timeoutMs = options.timeoutMs ?? this.#opts.requestTimeoutMs ?? 30_000;
      const onAbort = () => this.#fail(id, new RpcError('aborted', method, `${method}: aborted`));
      const entry: Pending = {
        method,
        resolve: resolve as (value: unknown) => void,
        reject,
        timer: undefined,
        cleanup: () => {
          if (entry.timer) clearTimeout(entry.timer);
          options.signal?.removeEventListener('abort', onAbort);
        },
      };
      if (timeoutMs > 0) {
        entry.timer = setTimeout(
          () =>
            this.#fail(
              id,
              new RpcError(
                'timeout',
                method,
                `${this.#label}: no response to ${method} within ${timeoutMs} ms`,
              ),
            ),
          timeoutMs,
        );
      }
      options.signal?.addEventListener('abort', onAbort, { once: true });
      this.#pending.set(id, entry);
    });
  }

  notify(method: string, params?: unknown): void {
    this.#write({ method, ...(params === undefined ? {} : { params }) });
  }

  /** Number of requests still waiting for a response. */
  get pendingCount(): number {
    return this.#pending.size;
  }

  /** Rejects every pending request and stops sending; the caller ends the child. */
  close(): void {
    this.#closedLocally = true;
    for (const [id, entry] of [...this.#pending]) {
      this.#fail(id, new RpcError('aborted', entry.method, `${this.#label}: connection closed`));
    }
    this.#child.stdin.end();
  }

  #write(message: Record<string, unknown>): void {
    if (this.#exitInfo || this.#child.stdin.destroyed || !this.#child.stdin.writable) return;
    const body = this.#opts.jsonrpcField ? { jsonrpc: '2.0', ...message } : message;
    this.#child.stdin.write(`${JSON.stringify(body)}\n`);
  }

  #fail(id: RpcId, err: RpcError): void {
    const entry = this.#pending.get(id);
    if (!entry) return;
    this.#pending.delete(id);
    entry.cleanup();
    entry.reject(err);
  }

  #onStdout(chunk: Buffer): void {
    let start = 0;
    while (start < chunk.length) {
      const nl = chunk.indexOf(0x0a, start);
      const end = nl < 0 ? chunk.length : nl;
      const piece = chunk.subarray(start, end);
      if (this.#dropping) {
        if (nl >= 0) this.#dropping = false;
      } else if (this.#stdoutLength + piece.length > this.#maxBytes) {
        // too long: report it now (with whatever id/method its head shows) and skip to the next newline
        const head = Buffer.concat([...this.#stdoutChunks, piece.subarray(0, 4096)]).subarray(0, 4096);
        this.#stdoutChunks = [];
        this.#stdoutLength = 0;
        this.#dropping = nl < 0;
        this.#onOversized(head.toString('utf8'));
      } else {
        this.#stdoutChunks.push(piece);
        this.#stdoutLength += piece.length;
        if (nl >= 0) {
          const line = Buffer.concat(this.#stdoutChunks, this.#stdoutLength).toString('utf8');
          this.#stdoutChunks = [];
          this.#stdoutLength = 0;
          this.#onLine(line);
        }
      }
      if (nl < 0) break;
      start = nl + 1;
    }
  }

  #onOversized(head: string): void {
    const idMatch = /^\s*\{\s*"id"\s*:\s*(\d+|"(?:[^"\\]|\\.)*")/.exec(head);
    const methodMatch = /"method"\s*:\s*"([^"]{1,200})"/.exec(head);
    const problem: ProtocolProblem = {
      kind: 'oversized',
      message: `${this.#label}: dropped a message larger than ${this.#maxBytes} bytes`,
      excerpt: head.slice(0, EXCERPT),
    };
    let id: RpcId | undefined;
    if (idMatch?.[1]) {
      id = idMatch[1].startsWith('"') ? (JSON.parse(idMatch[1]) as string) : Number(idMatch[1]);
      problem.id = id;
    }
    if (methodMatch?.[1]) problem.method = methodMatch[1];
    this.#opts.onProtocolProblem?.(problem);
    // a response we were waiting for: fail that request instead of leaving it hanging
    if (id !== undefined && problem.method === undefined) {
      const entry = this.#pending.get(id);
      if (entry) {
        this.#fail(
          id,
          new RpcError('protocol', entry.method, `${problem.message} (the response to ${entry.method})`),
        );
      }
    } else if (id !== undefined && problem.method !== undefined) {
      // a server request we cannot read: tell the server so it does not wait for us
      this.#write({ id, error: { code: -32600, message: 'request too large' } });
    }
  }

  #onLine(raw: string): void {
    const line = raw.trim();
    if (line === '') return;
    let msg: unknown;
    try {
      msg = JSON.parse(line);
    } catch {
      this.#problem('invalid_json', `${this.#label}: a line on stdout is not JSON`, line);
      return;
    }
    if (msg === null || typeof msg !== 'object' || Array.isArray(msg)) {
      this.#problem('not_an_object', `${this.#label}: a message is not a JSON object`, line);
      return;
    }
    const m = msg as Record<string, unknown>;
    const hasId = typeof m.id === 'number' || typeof m.id === 'string';
    const method = typeof m.method === 'string' ? m.method : undefined;
    if (method !== undefined && hasId) {
      this.#onServerRequest({ id: m.id as RpcId, method, params: m.params });
    } else if (method !== undefined) {
      try {
        this.#opts.onNotification?.(method, m.params);
      } catch {
        // a listener's bug must not break the reader
      }
    } else if (hasId && ('result' in m || 'error' in m)) {
      this.#onResponse(m.id as RpcId, m, line);
    } else {
      this.#problem(
        'unexpected_shape',
        `${this.#label}: a message is neither request, response nor notification`,
        line,
      );
    }
  }

  #onResponse(id: RpcId, m: Record<string, unknown>, line: string): void {
    const entry = this.#pending.get(id);
    if (!entry) {
      this.#problem(
        'unknown_response',
        `${this.#label}: a response for unknown request id ${String(id)}`,
        line,
      );
      return;
    }
    this.#pending.delete(id);
    entry.cleanup();
    if (m.error !== undefined && m.error !== null) {
      const e = (typeof m.error === 'object' ? m.error : {}) as {
        code?: unknown;
        message?: unknown;
        data?: unknown;
      };
      const code = typeof e.code === 'number' ? e.code : undefined;
      const message = typeof e.message === 'string' ? e.message : JSON.stringify(m.error);
      entry.reject(
        new RpcError('remote', entry.method, `${entry.method} failed: ${message}`, {
          ...(code === undefined ? {} : { code }),
          data: e.data,
        }),
      );
    } else {
      entry.resolve(m.result);
    }
  }

  #onServerRequest(req: ServerRequest): void {
    const handler = this.#opts.onRequest;
    if (!handler) {
      this.#write({ id: req.id, error: { code: -32601, message: `method not handled: ${req.method}` } });
      return;
    }
    Promise.resolve()
      .then(() => handler(req))
      .then(
        (result) => this.#write({ id: req.id, result: result ?? null }),
        (err: unknown) =>
          this.#write({
            id: req.id,
            error: { code: -32603, message: err instanceof Error ? err.message : String(err) },
          }),
      );
  }

  #problem(kind: ProtocolProblem['kind'], message: string, line: string): void {
    this.#opts.onProtocolProblem?.({ kind, message, excerpt: line.slice(0, EXCERPT) });
  }

  #exitError(method: string, info: ExitInfo): RpcError {
    const how = info.signal ? `signal ${info.signal}` : `code ${info.code === null ? 'unknown' : info.code}`;
    const tail = info.stderrTail.trim();
    const message = `${this.#label} exited (${how}) before answering ${method}${tail ? `; stderr: ${tail.slice(-2000)}` : ''}`;
    return new RpcError('exited', method, message, { exit: info });
  }

  #settleExit(): void {
    if (this.#exitInfo) return;
    const raw = this.#rawExit ?? { code: null, signal: null };
    const info: ExitInfo = { code: raw.code, signal: raw.signal, stderrTail: this.#stderr };
    this.#exitInfo = info;
    for (const [id, entry] of [...this.#pending]) this.#fail(id, this.#exitError(entry.method, info));
    try {
      this.#opts.onExit?.(info);
    } finally {
      this.#resolveExited(info);
    }
  }
}
