// A local fake of the Gemini API (loopback only), for running Gemini CLI offline with
// GOOGLE_GEMINI_BASE_URL: `POST /v1beta/models/<model>:streamGenerateContent?alt=sse` answers one model
// turn (a text or one function call) as one SSE `data:` chunk with usage; `:generateContent` (the CLI's
// side requests: routing, checks) answers a short JSON text; `:countTokens` a count.
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

type Part = { text?: string; functionCall?: unknown; functionResponse?: unknown };

/** The parts of a request the scripts look at. */
export interface GenerateBody {
  contents?: { role?: string; parts?: Part[] }[];
  tools?: { functionDeclarations?: { name: string }[] }[];
}

/** What the fake model answers: a text, or a call of one of the functions the request declares. */
export type GeminiReply = { text: string } | { call: string; args: Record<string, unknown> };

export interface FakeGeminiApi {
  /** `http://127.0.0.1:PORT`: GOOGLE_GEMINI_BASE_URL. */
  url: string;
  /** The streamed (main) requests. */
  requests: GenerateBody[];
  close(): Promise<void>;
}

export function declaresFunction(body: GenerateBody, name: string): boolean {
  return (body.tools ?? []).some((t) => (t.functionDeclarations ?? []).some((f) => f.name === name));
}

/** The last content carries a function's response: the model has seen what its call did. */
export function afterFunctionCall(body: GenerateBody): boolean {
  return (body.contents?.at(-1)?.parts ?? []).some((p) => p.functionResponse !== undefined);
}

const USAGE = { promptTokenCount: 40, candidatesTokenCount: 6, totalTokenCount: 46 };

export async function startFakeGeminiApi(reply: (body: GenerateBody) => GeminiReply): Promise<FakeGeminiApi> {
  const requests: GenerateBody[] = [];
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const url = req.url ?? '';
      let body: GenerateBody = {};
      try {
        body = JSON.parse(Buffer.concat(chunks).toString('utf8')) as GenerateBody;
      } catch {
        // an empty body answers like an empty request
      }
      const json = (value: unknown) => {
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end(JSON.stringify(value));
      };
      const candidate = (part: Part) => ({
        candidates: [{ content: { role: 'model', parts: [part] }, finishReason: 'STOP', index: 0 }],
        usageMetadata: USAGE,
      });
      if (req.method === 'POST' && url.includes(':streamGenerateContent')) {
        requests.push(body);
        const answer = reply(body);
        const part =
          'text' in answer
            ? { text: answer.text }
            : { functionCall: { name: answer.call, args: answer.args } };
        res.writeHead(200, { 'content-type': 'text/event-stream' });
        res.end(`data: ${JSON.stringify(candidate(part))}\n\n`);
      } else if (req.method === 'POST' && url.includes(':generateContent')) {
        json(candidate({ text: '{}' }));
      } else if (req.method === 'POST' && url.includes(':countTokens')) {
        json({ totalTokens: USAGE.promptTokenCount });
      } else {
        res.writeHead(404, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ error: { code: 404, message: 'not found', status: 'NOT_FOUND' } }));
      }
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
