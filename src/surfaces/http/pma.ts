// /api/pma: the web Chat page's conversation with the project manager agent.
//   GET  /api/pma            {agent, available, error?, messages}: the transcript, oldest first
//   POST /api/pma/messages   {text} → SSE: `delta` {text}… `tool` {name}… then `done` {status, text, error, message}
//   POST /api/pma/reset      a new conversation
// The agent starts with the first message and stays for the server's life.
import { Hono } from 'hono';
import * as z from 'zod';
import type { Pma } from '../../control/pma.ts';
import { ApiError } from './errors.ts';
import { readJson } from './validate.ts';

/** Opens the PMA (throws a message for the person when it cannot: config, unknown agent). */
export type PmaOpener = () => Pma;

/** The web page is one conversation per server: the holder of the API token. */
const CONVERSATION = 'web';

const MessageBody = z.strictObject({
  text: z.string().trim().min(1, { error: 'must not be empty' }).max(100_000, { error: 'is too long' }),
});

export function pmaRoutes(open: PmaOpener | undefined): { routes: Hono; close(): Promise<void> } {
  const app = new Hono();
  let pma: Pma | null = null;
  /** The PMA, opened on first use; null with the reason when it cannot be. */
  const get = (): { pma: Pma | null; error: string | null } => {
    if (pma) return { pma, error: null };
    if (!open) return { pma: null, error: 'this server has no project manager agent' };
    try {
      pma = open();
      return { pma, error: null };
    } catch (err) {
      return { pma: null, error: (err as Error).message };
    }
  };
  const required = (): Pma => {
    const { pma: p, error } = get();
    if (!p) throw new ApiError(409, 'pma_unavailable', error ?? 'no project manager agent');
    return p;
  };

  app.get('/', (c) => {
    const { pma: p, error } = get();
    return c.json({
      agent: p?.agentId ?? null,
      available: p !== null,
      ...(error ? { error } : {}),
      messages: p ? p.transcript(CONVERSATION) : [],
    });
  });

  app.post('/reset', async (c) => {
    await required().reset(CONVERSATION);
    return c.json({ ok: true });
  });

  app.post('/messages', async (c) => {
    const p = required();
    const { text } = await readJson(c, MessageBody);
    const encoder = new TextEncoder();
    let closed = false;
    const stream = new ReadableStream<Uint8Array>({
      start(controller) {
        const send = (event: string, data: unknown) => {
          if (closed) return;
          controller.enqueue(encoder.encode(`event: ${event}\ndata: ${JSON.stringify(data)}\n\n`));
        };
        // the turn goes on when the page goes away: its answer is in the transcript
        void p
          .ask(CONVERSATION, text, {
            onDelta: (delta) => send('delta', { text: delta }),
            onTool: (name) => send('tool', { name }),
          })
          .then(
            (answer) =>
              send('done', {
                status: answer.status,
                text: answer.text,
                error: answer.error,
                message: answer.message,
              }),
            (err: unknown) =>
              send('done', { status: 'failed', text: '', error: (err as Error).message, message: null }),
          )
          .finally(() => {
            if (closed) return;
            closed = true;
            controller.close();
          });
      },
      cancel() {
        closed = true;
      },
    });
    return c.newResponse(stream, 200, {
      'Content-Type': 'text/event-stream',
      'Cache-Control': 'no-store',
      'X-Accel-Buffering': 'no',
    });
  });

  return {
    routes: app,
    close: () => {
      const closing = pma?.close() ?? Promise.resolve();
      pma = null;
      return closing;
    },
  };
}
