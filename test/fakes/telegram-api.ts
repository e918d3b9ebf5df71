// A faithful local fake of the Telegram Bot API subset car uses, on 127.0.0.1: `POST /bot<token>/<method>`
// with JSON bodies, answering `{ok, result}` / `{ok:false, error_code, description, parameters}` like the
// real server. getUpdates long-polls (offset confirms earlier updates; waits up to `timeout` seconds),
// sendMessage can be made to answer 429 with `retry_after`, or to hold requests unprocessed.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface SentMessage {
  message_id: number;
  chat_id: string;
  text: string;
  reply_markup?: { inline_keyboard?: { text: string; callback_data?: string }[][] };
  at: number;
}

export interface ApiCall {
  method: string;
  at: number;
  /** The status the fake answered (0 while held). */
  status: number;
}

type Update = Record<string, unknown> & { update_id: number };

interface Waiter {
  offset: number;
  res: ServerResponse;
  timer: NodeJS.Timeout;
}

export interface FakeTelegram {
  url: string;
  token: string;
  sent: SentMessage[];
  calls: ApiCall[];
  callbackAnswers: { callback_query_id: string; text?: string }[];
  /** Queues an update; returns its update_id. */
  pushUpdate(update: Record<string, unknown>): number;
  /** A text message from a user in a chat (private chat when chatId == userId). */
  userMessage(opts: { chatId: number; userId: number; text: string; replyTo?: number }): number;
  /** A press on an inline button of one of the bot's messages. */
  buttonPress(opts: { chatId: number; userId: number; data: string; messageId?: number }): number;
  /** The next `n` sendMessage calls answer 429 Too Many Requests with this retry_after (seconds). */
  rateLimitNext(n: number, retryAfterSeconds: number): void;
  /** The next `n` sendMessage calls answer 500 (a transient server error). */
  failNext(n: number): void;
  /**
   * Once this many messages were sent, further sendMessage requests are held open and never processed
   * (as if lost in flight); null (the default) holds nothing.
   */
  holdSendsFrom: number | null;
  /** sendMessage requests currently held. */
  held(): number;
  /** The highest update_id the bot confirmed (via a later offset). */
  confirmedUpTo(): number;
  waitFor<T>(check: () => T | undefined | false | null, timeoutMs?: number, what?: string): Promise<T>;
  close(): Promise<void>;
}

const BOT = { id: 777000111, is_bot: true, first_name: 'car', username: 'car_test_bot' };

export async function startFakeTelegram(token = '123456:TEST-telegram-token-abc'): Promise<FakeTelegram> {
  const updates: Update[] = [];
  let nextUpdateId = 1000;
  let nextMessageId = 1;
  let confirmed = 0;
  let rateLimited: { n: number; retryAfter: number } = { n: 0, retryAfter: 0 };
  let failing = 0;
  const waiters = new Set<Waiter>();
  const heldRequests = new Set<ServerResponse>();
  const sent: SentMessage[] = [];
  const calls: ApiCall[] = [];
  const callbackAnswers: FakeTelegram['callbackAnswers'] = [];

  const reply = (res: ServerResponse, status: number, body: unknown, call?: ApiCall) => {
    if (call) call.status = status;
    if (res.writableEnded || res.destroyed) return;
    res.writeHead(status, { 'content-type': 'application/json' });
    res.end(JSON.stringify(body));
  };
  const ok = (res: ServerResponse, result: unknown, call?: ApiCall) =>
    reply(res, 200, { ok: true, result }, call);
  const error = (res: ServerResponse, code: number, description: string, call?: ApiCall, extra = {}) =>
    reply(res, code, { ok: false, error_code: code, description, ...extra }, call);

  const pending = (offset: number) => updates.filter((u) => u.update_id >= offset);
  const confirm = (offset: number) => {
    // Telegram forgets updates below the offset: they were confirmed
    if (offset > 0) confirmed = Math.max(confirmed, offset - 1);
    for (let i = updates.length - 1; i >= 0; i--) if (updates[i]!.update_id < offset) updates.splice(i, 1);
  };
  const wake = () => {
    for (const w of [...waiters]) {
      const ready = pending(w.offset);
      if (ready.length > 0) {
        clearTimeout(w.timer);
        waiters.delete(w);
        ok(w.res, ready);
      }
    }
  };

  const handle = (method: string, body: Record<string, unknown>, res: ServerResponse, call: ApiCall) => {
    switch (method) {
      case 'getMe':
        return ok(res, { ...BOT, can_join_groups: true, can_read_all_group_messages: false }, call);
      case 'deleteWebhook':
      case 'setMyCommands':
        return ok(res, true, call);
      case 'getUpdates': {
        const offset = typeof body.offset === 'number' ? body.offset : 0;
        confirm(offset);
        const ready = pending(offset).slice(0, typeof body.limit === 'number' ? body.limit : 100);
        const timeout = typeof body.timeout === 'number' ? body.timeout : 0;
        if (ready.length > 0 || timeout === 0) return ok(res, ready, call);
        const w: Waiter = {
          offset,
          res,
          timer: setTimeout(() => {
            waiters.delete(w);
            ok(res, [], call);
          }, timeout * 1000),
        };
        waiters.add(w);
        res.on('close', () => {
          clearTimeout(w.timer);
          waiters.delete(w);
        });
        return;
      }
      case 'sendMessage': {
        if (body.chat_id === undefined || typeof body.text !== 'string' || body.text === '') {
          return error(res, 400, 'Bad Request: message text is empty', call);
        }
        if (body.text.length > 4096) return error(res, 400, 'Bad Request: message is too long', call);
        if (rateLimited.n > 0) {
          rateLimited.n--;
          const s = rateLimited.retryAfter;
          return error(res, 429, `Too Many Requests: retry after ${s}`, call, {
            parameters: { retry_after: s },
          });
        }
        if (failing > 0) {
          failing--;
          return error(res, 500, 'Internal Server Error', call);
        }
        if (fake.holdSendsFrom !== null && sent.length >= fake.holdSendsFrom) {
          heldRequests.add(res);
          res.on('close', () => heldRequests.delete(res));
          return;
        }
        const msg: SentMessage = {
          message_id: nextMessageId++,
          chat_id: String(body.chat_id),
          text: body.text,
          at: Date.now(),
          ...(body.reply_markup
            ? { reply_markup: body.reply_markup as NonNullable<SentMessage['reply_markup']> }
            : {}),
        };
        sent.push(msg);
        return ok(
          res,
          {
            message_id: msg.message_id,
            date: Math.floor(Date.now() / 1000),
            chat: { id: Number(body.chat_id), type: 'private' },
            from: BOT,
            text: msg.text,
          },
          call,
        );
      }
      case 'answerCallbackQuery':
        callbackAnswers.push({
          callback_query_id: String(body.callback_query_id),
          ...(typeof body.text === 'string' ? { text: body.text } : {}),
        });
        return ok(res, true, call);
      default:
        return error(res, 404, 'Not Found: method not found', call);
    }
  };

  const server: Server = createServer((req: IncomingMessage, res: ServerResponse) => {
    const m = /^\/bot([^/]+)\/([A-Za-z]+)$/.exec(req.url?.split('?')[0] ?? '');
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      if (!m) return error(res, 404, 'Not Found');
      const call: ApiCall = { method: m[2]!, at: Date.now(), status: 0 };
      calls.push(call);
      if (m[1] !== token) return error(res, 401, 'Unauthorized', call);
      let body: Record<string, unknown> = {};
      const raw = Buffer.concat(chunks).toString('utf8');
      if (raw) {
        try {
          body = JSON.parse(raw) as Record<string, unknown>;
        } catch {
          return error(res, 400, "Bad Request: can't parse JSON", call);
        }
      }
      handle(m[2]!, body, res, call);
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as AddressInfo;

  const fake: FakeTelegram = {
    url: `http://127.0.0.1:${port}`,
    token,
    sent,
    calls,
    callbackAnswers,
    holdSendsFrom: null,
    pushUpdate(update) {
      const u = { update_id: nextUpdateId++, ...update } as Update;
      updates.push(u);
      wake();
      return u.update_id;
    },
    userMessage({ chatId, userId, text, replyTo }) {
      const entities = text.startsWith('/')
        ? [{ type: 'bot_command', offset: 0, length: text.split(/\s/)[0]!.length }]
        : undefined;
      return fake.pushUpdate({
        message: {
          message_id: nextMessageId++,
          date: Math.floor(Date.now() / 1000),
          chat:
            chatId === userId
              ? { id: chatId, type: 'private', first_name: 'Ann' }
              : { id: chatId, type: 'group', title: 'team' },
          from: { id: userId, is_bot: false, first_name: 'Ann', username: `user${userId}` },
          text,
          ...(entities ? { entities } : {}),
          ...(replyTo !== undefined
            ? {
                reply_to_message: {
                  message_id: replyTo,
                  date: 0,
                  chat: { id: chatId, type: 'private' },
                  from: BOT,
                  text: '',
                },
              }
            : {}),
        },
      });
    },
    buttonPress({ chatId, userId, data, messageId }) {
      return fake.pushUpdate({
        callback_query: {
          id: `cb${nextUpdateId}`,
          from: { id: userId, is_bot: false, first_name: 'Ann' },
          chat_instance: 'ci1',
          data,
          message: {
            message_id: messageId ?? 1,
            date: 0,
            chat: { id: chatId, type: 'private', first_name: 'Ann' },
            from: BOT,
            text: 'notice',
          },
        },
      });
    },
    rateLimitNext(n, retryAfterSeconds) {
      rateLimited = { n, retryAfter: retryAfterSeconds };
    },
    failNext(n) {
      failing = n;
    },
    held: () => heldRequests.size,
    confirmedUpTo: () => confirmed,
    async waitFor(check, timeoutMs = 15_000, what = 'condition') {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const v = check();
        if (v !== undefined && v !== false && v !== null) return v;
        if (Date.now() > deadline) {
          throw new Error(`timed out waiting for ${what}; sent: ${JSON.stringify(sent.map((s) => s.text))}`);
        }
        await new Promise((r) => setTimeout(r, 20));
      }
    },
    async close() {
      for (const w of waiters) clearTimeout(w.timer);
      for (const r of heldRequests) r.destroy();
      server.closeAllConnections();
      await new Promise<void>((r) => server.close(() => r()));
    },
  };
  return fake;
}
