// A local fake of the Anthropic Messages API (loopback only) for running real Claude-based agents
// offline. Every POST /v1/messages answers one assistant message, a text or (when `reply` says so) one
// tool call: streamed as SSE when the request asks for `stream: true` (message_start,
// content_block_start, content_block_delta text_delta… or input_json_delta, content_block_stop,
// message_delta with stop_reason and usage, message_stop), else as one JSON body.
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

/** What the fake model answers: a text, or a call of one of the tools the request offers. */
export type AnthropicReply = { text: string } | { tool: string; input: Record<string, unknown> };

/** The parts of a Messages request the scripts look at. */
export interface MessagesBody {
  model?: string;
  stream?: boolean;
  tools?: { name: string }[];
  messages?: { role: string; content: string | { type: string }[] }[];
}

export interface FakeAnthropicOptions {
  /** The assistant's reply text (split into a few deltas), when `reply` is not given. */
  text?: string;
  /** Decides each answer from the request. */
  reply?: (body: MessagesBody) => AnthropicReply;
  inputTokens?: number;
  outputTokens?: number;
}

/** The request's last message carries a tool result: the model has seen its tool's output. */
export function hasToolResult(body: MessagesBody): boolean {
  const last = body.messages?.at(-1)?.content;
  return Array.isArray(last) && last.some((block) => block.type === 'tool_result');
}

export interface RecordedRequest {
  method: string;
  url: string;
  body: unknown;
}

export interface FakeAnthropicApi {
  /** `http://127.0.0.1:PORT` — use as ANTHROPIC_BASE_URL. */
  url: string;
  requests: RecordedRequest[];
  close(): Promise<void>;
}

function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}

export async function startFakeAnthropicApi(options: FakeAnthropicOptions = {}): Promise<FakeAnthropicApi> {
  const text = options.text ?? 'Hello from fake claude.';
  const inputTokens = options.inputTokens ?? 12;
  const outputTokens = options.outputTokens ?? 5;
  const requests: RecordedRequest[] = [];
  let n = 0;

  const server: Server = createServer((req, res) => {
    void readBody(req).then((raw) => {
      let body: unknown = null;
      try {
        body = JSON.parse(raw);
      } catch {
        body = raw;
      }
      requests.push({ method: req.method ?? '', url: req.url ?? '', body });
      const path = (req.url ?? '').split('?')[0];
      if (req.method !== 'POST' || path !== '/v1/messages') {
        res.writeHead(404, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ type: 'error', error: { type: 'not_found_error', message: 'not found' } }));
        return;
      }
      const request = (body ?? {}) as MessagesBody;
      const id = `msg_fake_${++n}`;
      const model = request.model ?? 'claude-fake';
      const usage = { input_tokens: inputTokens, output_tokens: outputTokens };
      const reply = options.reply?.(request) ?? { text };
      const block =
        'text' in reply
          ? { type: 'text', text: reply.text }
          : { type: 'tool_use', id: `toolu_fake_${n}`, name: reply.tool, input: reply.input };
      const stopReason = 'text' in reply ? 'end_turn' : 'tool_use';
      if (!request.stream) {
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end(
          JSON.stringify({
            id,
            type: 'message',
            role: 'assistant',
            model,
            content: [block],
            stop_reason: stopReason,
            stop_sequence: null,
            usage,
          }),
        );
        return;
      }
      const events: [string, unknown][] = [
        [
          'message_start',
          {
            type: 'message_start',
            message: {
              id,
              type: 'message',
              role: 'assistant',
              model,
              content: [],
              stop_reason: null,
              stop_sequence: null,
              usage: { input_tokens: inputTokens, output_tokens: 1 },
            },
          },
        ],
        [
          'content_block_start',
          {
            type: 'content_block_start',
            index: 0,
            content_block: 'text' in reply ? { type: 'text', text: '' } : { ...block, input: {} },
          },
        ],
      ];
      const delta = (d: Record<string, unknown>): [string, unknown] => [
        'content_block_delta',
        { type: 'content_block_delta', index: 0, delta: d },
      ];
      if ('text' in reply) {
        const mid = Math.ceil(reply.text.length / 2);
        for (const part of [reply.text.slice(0, mid), reply.text.slice(mid)]) {
          if (part) events.push(delta({ type: 'text_delta', text: part }));
        }
      } else {
        events.push(delta({ type: 'input_json_delta', partial_json: JSON.stringify(reply.input) }));
      }
      events.push(
        ['content_block_stop', { type: 'content_block_stop', index: 0 }],
        [
          'message_delta',
          {
            type: 'message_delta',
            delta: { stop_reason: stopReason, stop_sequence: null },
            usage: { output_tokens: outputTokens },
          },
        ],
        ['message_stop', { type: 'message_stop' }],
      );
      res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache' });
      res.end(events.map(([event, data]) => `event: ${event}\ndata: ${JSON.stringify(data)}\n\n`).join(''));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    requests,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/**
 * What points Claude Code (and claude-agent-acp, which bundles it) at a fake at `apiUrl`, offline. Claude
 * Code refuses to start as root unless told it runs in a sandbox (IS_SANDBOX: its permission mode is
 * unchanged, so it still asks before Bash where it would).
 */
export function claudeOfflineEnv(apiUrl: string): Record<string, string> {
  return {
    ANTHROPIC_BASE_URL: apiUrl,
    ANTHROPIC_API_KEY: 'sk-ant-fake',
    IS_SANDBOX: '1',
    DISABLE_TELEMETRY: '1',
    DISABLE_AUTOUPDATER: '1',
    CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC: '1',
  };
}
