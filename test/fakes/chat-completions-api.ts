// A local fake of the OpenAI Chat Completions API (loopback only), for running OpenCode offline: every
// POST /v1/chat/completions answers one assistant turn, a text or one tool call, streamed as
// `data: {chat.completion.chunk}` lines (the delta, a chunk with finish_reason, a usage chunk) and
// `data: [DONE]`, or as one JSON body when the request does not ask for a stream.
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

/** The parts of a request the scripts look at. */
export interface ChatBody {
  model?: string;
  stream?: boolean;
  tools?: { function?: { name?: string } }[];
  messages?: { role: string; content?: unknown }[];
}

/** What the fake model answers: a text, or a call of one of the tools the request offers. */
export type ChatReply = { text: string } | { tool: string; args: Record<string, unknown> };

export interface FakeChatApi {
  /** `http://127.0.0.1:PORT/v1`: the provider's base URL. */
  baseUrl: string;
  requests: ChatBody[];
  close(): Promise<void>;
}

/** The request offers a tool of this name. */
export function offersTool(body: ChatBody, name: string): boolean {
  return (body.tools ?? []).some((t) => t.function?.name === name);
}

/** The last message is a tool's output: the model has seen what its call did. */
export function afterToolCall(body: ChatBody): boolean {
  return body.messages?.at(-1)?.role === 'tool';
}

export async function startFakeChatApi(reply: (body: ChatBody) => ChatReply): Promise<FakeChatApi> {
  const requests: ChatBody[] = [];
  let n = 0;
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      if (req.method !== 'POST' || !(req.url ?? '').startsWith('/v1/chat/completions')) {
        res.writeHead(404, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ error: { message: 'not found' } }));
        return;
      }
      let body: ChatBody = {};
      try {
        body = JSON.parse(Buffer.concat(chunks).toString('utf8')) as ChatBody;
      } catch {
        // an empty body answers like an empty request
      }
      requests.push(body);
      const answer = reply(body);
      const id = `chatcmpl-fake-${++n}`;
      const model = body.model ?? 'fake-model';
      const usage = { prompt_tokens: 50, completion_tokens: 5, total_tokens: 55 };
      const toolCall =
        'tool' in answer
          ? {
              index: 0,
              id: `call_fake_${n}`,
              type: 'function',
              function: { name: answer.tool, arguments: JSON.stringify(answer.args) },
            }
          : null;
      const finish = toolCall ? 'tool_calls' : 'stop';
      if (!body.stream) {
        const message = toolCall
          ? { role: 'assistant', content: null, tool_calls: [toolCall] }
          : { role: 'assistant', content: 'text' in answer ? answer.text : '' };
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end(
          JSON.stringify({
            id,
            object: 'chat.completion',
            model,
            choices: [{ index: 0, message, finish_reason: finish }],
            usage,
          }),
        );
        return;
      }
      const chunk = (choices: unknown[], extra: Record<string, unknown> = {}) =>
        `data: ${JSON.stringify({ id, object: 'chat.completion.chunk', model, choices, ...extra })}\n\n`;
      const delta = toolCall
        ? { role: 'assistant', tool_calls: [toolCall] }
        : { role: 'assistant', content: 'text' in answer ? answer.text : '' };
      res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache' });
      res.end(
        chunk([{ index: 0, delta, finish_reason: null }]) +
          chunk([{ index: 0, delta: {}, finish_reason: finish }]) +
          chunk([], { usage }) +
          'data: [DONE]\n\n',
      );
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    baseUrl: `http://127.0.0.1:${port}/v1`,
    requests,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
