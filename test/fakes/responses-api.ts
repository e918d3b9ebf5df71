// A local fake of the OpenAI Responses API (POST /v1/responses, SSE), scripted per test, so the real
// `codex app-server` binary can run whole turns offline. Loopback only. Each request codex makes takes the
// next scripted reply from a queue (or a function of the request); every request is recorded so a test can
// assert what the model was shown (e.g. that a resumed thread carries the earlier conversation).
import { mkdirSync, writeFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';

export interface RecordedRequest {
  /** 1-based request number. */
  n: number;
  method: string;
  url: string;
  /** Parsed JSON body (null when not JSON). */
  body: ResponsesBody | null;
  /** When the request arrived (Date.now()). */
  at: number;
}

export interface ResponsesBody {
  model?: string;
  stream?: boolean;
  tools?: Array<{ name?: string; type?: string }>;
  input?: InputItem[];
  [key: string]: unknown;
}

export interface InputItem {
  type?: string;
  role?: string;
  content?: Array<{ type?: string; text?: string }>;
  call_id?: string;
  output?: unknown;
  [key: string]: unknown;
}

/** One scripted answer to one request. */
export type FakeReply =
  /** A complete SSE stream of Responses events. */
  | { kind: 'sse'; events: SseEvent[] }
  /** An HTTP error with a JSON `{error:{message}}` body. */
  | { kind: 'status'; status: number; message: string }
  /** Send these events, then keep the stream open without another byte (a stalled provider). */
  | { kind: 'stall'; events: SseEvent[] }
  /** Any HTTP response: status, headers and a JSON body (quota and rate-limit answers). */
  | { kind: 'raw'; status: number; headers: Record<string, string>; body: unknown }
  /** Send `reply`'s first `after` events, stay silent for `silentMs`, then send the rest (a model thinking). */
  | { kind: 'slow'; reply: { kind: 'sse'; events: SseEvent[] }; after: number; silentMs: number };

export type SseEvent = { type: string; [key: string]: unknown };
export type ReplyScript = FakeReply | ((req: RecordedRequest) => FakeReply);

const USAGE = {
  input_tokens: 100,
  input_tokens_details: null,
  output_tokens: 7,
  output_tokens_details: null,
  total_tokens: 107,
};

/** A model turn that calls one tool (function_call) and ends. */
export function toolCallReply(name: string, args: unknown, callId = 'call_1'): FakeReply {
  const id = `resp-${callId}`;
  return {
    kind: 'sse',
    events: [
      { type: 'response.created', response: { id } },
      {
        type: 'response.output_item.done',
        item: { type: 'function_call', id: callId, call_id: callId, name, arguments: JSON.stringify(args) },
      },
      { type: 'response.completed', response: { id, usage: USAGE } },
    ],
  };
}

/**
 * A model turn that calls a tool of an MCP server codex was given: codex 0.169 offers each server's tools
 * as a namespace `mcp__<server>`, and the model names the namespace and the tool.
 */
export function mcpToolCallReply(server: string, tool: string, args: unknown, callId = 'call_1'): FakeReply {
  const id = `resp-${callId}`;
  return {
    kind: 'sse',
    events: [
      { type: 'response.created', response: { id } },
      {
        type: 'response.output_item.done',
        item: {
          type: 'function_call',
          id: callId,
          call_id: callId,
          namespace: `mcp__${server}`,
          name: tool,
          arguments: JSON.stringify(args),
        },
      },
      { type: 'response.completed', response: { id, usage: USAGE } },
    ],
  };
}

/** A model turn that runs a shell command through codex's `exec_command` tool. */
export function execCommandReply(
  cmd: string,
  callId = 'call_1',
  extra: Record<string, unknown> = {},
): FakeReply {
  // codex hands control back to the model after yield_time_ms even if the command still runs: generous, so
  // a loaded machine still sees the command finish within the call (it returns as soon as it exits)
  return toolCallReply('exec_command', { cmd, yield_time_ms: 30_000, ...extra }, callId);
}

/** A model turn that answers with a text message, streamed as the given deltas. */
export function messageReply(deltas: string[] | string, msgId = 'msg_1'): FakeReply {
  const parts = typeof deltas === 'string' ? [deltas] : deltas;
  const text = parts.join('');
  const id = `resp-${msgId}`;
  return {
    kind: 'sse',
    events: [
      { type: 'response.created', response: { id } },
      {
        type: 'response.output_item.added',
        item: { type: 'message', role: 'assistant', id: msgId, content: [] },
      },
      ...parts.map((delta) => ({ type: 'response.output_text.delta', item_id: msgId, delta })),
      {
        type: 'response.output_item.done',
        item: { type: 'message', role: 'assistant', id: msgId, content: [{ type: 'output_text', text }] },
      },
      { type: 'response.completed', response: { id, usage: USAGE } },
    ],
  };
}

/** Starts the stream (`response.created`, optionally a partial message), then goes silent. */
export function stallReply(partialText?: string): FakeReply {
  const events: SseEvent[] = [{ type: 'response.created', response: { id: 'resp-stall' } }];
  if (partialText !== undefined) {
    events.push(
      {
        type: 'response.output_item.added',
        item: { type: 'message', role: 'assistant', id: 'msg_stall', content: [] },
      },
      { type: 'response.output_text.delta', item_id: 'msg_stall', delta: partialText },
    );
  }
  return { kind: 'stall', events };
}

/** `reply` with a silence of `silentMs` after its first event (`response.created`): a model thinking. */
export function slowReply(reply: FakeReply, silentMs: number): FakeReply {
  if (reply.kind !== 'sse') throw new Error('slowReply takes an sse reply');
  return { kind: 'slow', reply, after: 1, silentMs };
}

export function errorReply(status: number, message = 'boom'): FakeReply {
  return { kind: 'status', status, message };
}

/** All text of `message` input items with this role, in order (what the model was shown). */
export function inputTexts(req: RecordedRequest, role: string): string[] {
  return (req.body?.input ?? [])
    .filter((item) => item.type === 'message' && item.role === role)
    .flatMap((item) => (item.content ?? []).map((c) => c.text ?? ''));
}

export class FakeResponsesApi {
  readonly requests: RecordedRequest[] = [];
  #queue: ReplyScript[] = [];
  #fallback: ReplyScript = errorReply(400, 'fake Responses API: no scripted reply left');
  #server: Server;
  #port = 0;

  private constructor(server: Server) {
    this.#server = server;
  }

  static async start(): Promise<FakeResponsesApi> {
    const holder: { api: FakeResponsesApi | null } = { api: null };
    const server = createServer((req, res) => holder.api?.handle(req, res));
    const self = new FakeResponsesApi(server);
    holder.api = self;
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(0, '127.0.0.1', () => resolve());
    });
    self.#port = (server.address() as AddressInfo).port;
    return self;
  }

  /** Base URL for a codex model provider (`base_url`). */
  get baseUrl(): string {
    return `http://127.0.0.1:${this.#port}/v1`;
  }

  /** Queue replies, used one per request in order. */
  enqueue(...replies: ReplyScript[]): void {
    this.#queue.push(...replies);
  }

  /** The reply for requests once the queue is empty (default: HTTP 400 naming the problem). */
  setFallback(reply: ReplyScript): void {
    this.#fallback = reply;
  }

  get pending(): number {
    return this.#queue.length;
  }

  async close(): Promise<void> {
    this.#server.closeAllConnections();
    await new Promise<void>((resolve) => this.#server.close(() => resolve()));
  }

  /** The HTTP handler (public only so the server callback can reach it). */
  handle(req: IncomingMessage, res: ServerResponse): void {
    const at = Date.now();
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      let body: ResponsesBody | null = null;
      try {
        body = JSON.parse(Buffer.concat(chunks).toString('utf8')) as ResponsesBody;
      } catch {
        body = null;
      }
      const recorded: RecordedRequest = {
        n: this.requests.length + 1,
        method: req.method ?? '',
        url: req.url ?? '',
        body,
        at,
      };
      if (req.method !== 'POST' || !recorded.url.endsWith('/responses')) {
        res.writeHead(404).end();
        return;
      }
      this.requests.push(recorded);
      const script = this.#queue.shift() ?? this.#fallback;
      const reply = typeof script === 'function' ? script(recorded) : script;
      if (reply.kind === 'status') {
        res.writeHead(reply.status, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ error: { message: reply.message, type: 'fake_error' } }));
        return;
      }
      if (reply.kind === 'raw') {
        res.writeHead(reply.status, { 'content-type': 'application/json', ...reply.headers });
        res.end(JSON.stringify(reply.body));
        return;
      }
      res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache' });
      const sse = (events: SseEvent[]) =>
        events.map((e) => `event: ${e.type}\ndata: ${JSON.stringify(e)}\n\n`).join('');
      if (reply.kind === 'sse') res.end(sse(reply.events));
      else if (reply.kind === 'stall') res.write(sse(reply.events));
      else {
        res.write(sse(reply.reply.events.slice(0, reply.after)));
        const timer = setTimeout(() => res.end(sse(reply.reply.events.slice(reply.after))), reply.silentMs);
        res.once('close', () => clearTimeout(timer));
      }
    });
  }
}

export interface CodexHomeConfig {
  /** Extra top-level TOML lines. */
  extra?: string[];
  /** Extra lines for the `[model_providers.fake]` table. */
  providerExtra?: string[];
}

/** Writes `config.toml` into `codexHome` pointing codex at the fake (no retries, no websockets). */
export function writeFakeCodexConfig(codexHome: string, baseUrl: string, opts: CodexHomeConfig = {}): void {
  mkdirSync(codexHome, { recursive: true });
  const lines = [
    'model = "mock-model"',
    'model_provider = "fake"',
    ...(opts.extra ?? []),
    '',
    '[features]',
    'remote_models = false',
    '',
    '[model_providers.fake]',
    'name = "Local fake Responses API"',
    `base_url = "${baseUrl}"`,
    'wire_api = "responses"',
    'request_max_retries = 0',
    'stream_max_retries = 0',
    'supports_websockets = false',
    ...(opts.providerExtra ?? []),
    '',
  ];
  writeFileSync(join(codexHome, 'config.toml'), lines.join('\n'));
}
