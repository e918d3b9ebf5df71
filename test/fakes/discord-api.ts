// A faithful local fake of the Discord REST API (v10) subset car uses plus its Gateway, on 127.0.0.1.
// REST: `GET /v10/gateway/bot` (how @discordjs/ws finds the gateway), `POST /v10/channels/:id/messages`
// (nonce + enforce_nonce dedupe like Discord's: the same nonce in a channel returns the first message),
// `POST /v10/interactions/:id/:token/callback`; `Authorization: Bot <token>` is checked; 429s carry the
// `Retry-After` header and the JSON `retry_after` body. Gateway (JSON encoding, no compression): HELLO →
// IDENTIFY (token checked, close 4004 otherwise) → READY, heartbeats ACKed, dispatches with sequence numbers.
import { randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { type WebSocket, WebSocketServer } from 'ws';

export interface DiscordMessage {
  id: string;
  channel_id: string;
  content: string;
  nonce?: string;
  components?: { type: number; components: { type: number; custom_id?: string; label?: string }[] }[];
  at: number;
}

export interface RestCall {
  method: string;
  path: string;
  status: number;
  at: number;
  auth: string | null;
}

export interface FakeDiscord {
  url: string;
  token: string;
  /** Messages created (deduped by nonce), in order. */
  messages: DiscordMessage[];
  /** Every create-message request, including ones answered from the nonce dedupe. */
  createRequests: { nonce: string | null; deduped: boolean; at: number }[];
  calls: RestCall[];
  interactionResponses: { id: string; token: string; body: Record<string, unknown> }[];
  /** Slash commands as registered (bulk overwrite): by scope, `global` or the guild id. */
  commands: Map<string, { name: string; description: string; options?: unknown[] }[]>;
  /** A user running a slash command (`/name args`), as Discord dispatches it. */
  slashCommand(opts: {
    channelId: string;
    guildId?: string;
    userId: string;
    name: string;
    args?: string;
  }): string;
  identifies: Record<string, unknown>[];
  /** Sockets that completed IDENTIFY → READY. */
  ready(): number;
  /** Sends a gateway dispatch to every ready socket. */
  dispatch(t: string, d: Record<string, unknown>): void;
  userMessage(opts: { channelId: string; guildId?: string; userId: string; content: string }): string;
  buttonClick(opts: { channelId: string; guildId?: string; userId: string; customId: string }): string;
  /** The next `n` create-message calls answer 429 with this retry_after (seconds). */
  rateLimitNext(n: number, retryAfterSeconds: number): void;
  /**
   * Once this many messages exist, further create-message requests are processed (the message exists,
   * as when Discord accepted it) but never answered, as when the sender dies before reading the answer.
   */
  holdResponsesFrom: number | null;
  held(): number;
  waitFor<T>(check: () => T | undefined | false | null, timeoutMs?: number, what?: string): Promise<T>;
  close(): Promise<void>;
}

const BOT_USER = {
  id: '900000000000000001',
  username: 'car-bot',
  discriminator: '0',
  bot: true,
  global_name: null,
  avatar: null,
};
const APP_ID = '900000000000000002';
let snowflake = 1_300_000_000_000_000_000n;
const nextId = () => String(++snowflake);

export async function startFakeDiscord(token = 'TEST.discord-token.xyz123'): Promise<FakeDiscord> {
  const messages: DiscordMessage[] = [];
  const createRequests: FakeDiscord['createRequests'] = [];
  const calls: RestCall[] = [];
  const interactionResponses: FakeDiscord['interactionResponses'] = [];
  const commands: FakeDiscord['commands'] = new Map();
  const identifies: Record<string, unknown>[] = [];
  const readySockets = new Map<WebSocket, { seq: number }>();
  const heldResponses = new Set<ServerResponse>();
  let rateLimited = { n: 0, retryAfter: 0 };

  const json = (res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}) => {
    if (res.writableEnded || res.destroyed) return;
    if (status === 204) {
      res.writeHead(204, headers);
      res.end();
      return;
    }
    res.writeHead(status, { 'content-type': 'application/json', ...headers });
    res.end(JSON.stringify(body));
  };

  const server: Server = createServer((req: IncomingMessage, res: ServerResponse) => {
    const path = req.url?.split('?')[0] ?? '';
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const call: RestCall = {
        method: req.method ?? 'GET',
        path,
        status: 0,
        at: Date.now(),
        auth: typeof req.headers.authorization === 'string' ? req.headers.authorization : null,
      };
      calls.push(call);
      const send = (status: number, body: unknown, headers: Record<string, string> = {}) => {
        call.status = status;
        json(res, status, body, headers);
      };
      let body: Record<string, unknown> = {};
      try {
        const raw = Buffer.concat(chunks).toString('utf8');
        if (raw) body = JSON.parse(raw) as Record<string, unknown>;
      } catch {
        return send(400, { message: '400: Bad Request', code: 0 });
      }
      const interaction = /^\/v10\/interactions\/(\d+)\/([^/]+)\/callback$/.exec(path);
      if (interaction && req.method === 'POST') {
        // interaction callbacks are authorized by the interaction token in the path, not the bot token
        interactionResponses.push({ id: interaction[1]!, token: interaction[2]!, body });
        return send(204, null);
      }
      if (call.auth !== `Bot ${token}`) return send(401, { message: '401: Unauthorized', code: 0 });
      if (path === '/v10/gateway/bot' && req.method === 'GET') {
        return send(200, {
          url: fake.url.replace('http', 'ws'),
          shards: 1,
          session_start_limit: { total: 1000, remaining: 999, reset_after: 14_400_000, max_concurrency: 1 },
        });
      }
      if (path === '/v10/users/@me' && req.method === 'GET') return send(200, BOT_USER);
      const overwrite = /^\/v10\/applications\/(\d+)(?:\/guilds\/(\d+))?\/commands$/.exec(path);
      if (overwrite && req.method === 'PUT') {
        if (overwrite[1] !== APP_ID) return send(404, { message: 'Unknown Application', code: 10002 });
        const list = Array.isArray(body) ? (body as { name?: unknown; description?: unknown }[]) : null;
        const valid = list?.every(
          (c) =>
            typeof c.name === 'string' &&
            /^[-_a-z0-9]{1,32}$/.test(c.name) &&
            typeof c.description === 'string' &&
            c.description.length >= 1 &&
            c.description.length <= 100,
        );
        if (!list || !valid || list.length > 100)
          return send(400, { message: 'Invalid Form Body', code: 50035 });
        commands.set(overwrite[2] ?? 'global', list as { name: string; description: string }[]);
        return send(
          200,
          list.map((c) => ({ ...c, id: nextId(), application_id: APP_ID, version: nextId() })),
        );
      }
      const create = /^\/v10\/channels\/(\d+)\/messages$/.exec(path);
      if (create && req.method === 'POST') {
        const channelId = create[1]!;
        if (rateLimited.n > 0) {
          rateLimited.n--;
          const s = rateLimited.retryAfter;
          return send(
            429,
            { message: 'You are being rate limited.', retry_after: s, global: false },
            {
              'retry-after': String(Math.ceil(s)),
              'x-ratelimit-scope': 'user',
              'x-ratelimit-bucket': 'msgs',
            },
          );
        }
        const content = typeof body.content === 'string' ? body.content : '';
        if (content.length > 2000) {
          return send(400, {
            message: 'Invalid Form Body',
            code: 50035,
            errors: {
              content: {
                _errors: [{ code: 'BASE_TYPE_MAX_LENGTH', message: 'Must be 2000 or fewer in length.' }],
              },
            },
          });
        }
        if (!content && !body.components)
          return send(400, { message: 'Cannot send an empty message', code: 50006 });
        const nonce =
          typeof body.nonce === 'string' || typeof body.nonce === 'number' ? String(body.nonce) : null;
        const existing =
          nonce && body.enforce_nonce === true
            ? messages.find((m) => m.channel_id === channelId && m.nonce === nonce)
            : undefined;
        createRequests.push({ nonce, deduped: existing !== undefined, at: Date.now() });
        const msg: DiscordMessage = existing ?? {
          id: nextId(),
          channel_id: channelId,
          content,
          at: Date.now(),
          ...(nonce ? { nonce } : {}),
          ...(body.components
            ? { components: body.components as NonNullable<DiscordMessage['components']> }
            : {}),
        };
        const hold = fake.holdResponsesFrom !== null && messages.length >= fake.holdResponsesFrom;
        if (!existing) {
          messages.push(msg);
          // like Discord, the bot's own message comes back through the gateway
          fake.dispatch('MESSAGE_CREATE', {
            id: msg.id,
            channel_id: channelId,
            author: BOT_USER,
            content: msg.content,
            timestamp: new Date(msg.at).toISOString(),
            type: 0,
          });
        }
        if (hold) {
          heldResponses.add(res);
          res.on('close', () => heldResponses.delete(res));
          return;
        }
        return send(200, {
          id: msg.id,
          channel_id: channelId,
          content: msg.content,
          author: BOT_USER,
          timestamp: new Date(msg.at).toISOString(),
          edited_timestamp: null,
          tts: false,
          mention_everyone: false,
          mentions: [],
          mention_roles: [],
          attachments: [],
          embeds: [],
          pinned: false,
          type: 0,
          ...(msg.nonce ? { nonce: msg.nonce } : {}),
          components: msg.components ?? [],
        });
      }
      return send(404, { message: '404: Not Found', code: 0 });
    });
  });

  const wss = new WebSocketServer({ server });
  wss.on('connection', (ws) => {
    const send = (payload: Record<string, unknown>) => ws.send(JSON.stringify(payload));
    send({ op: 10, d: { heartbeat_interval: 41_250 }, s: null, t: null });
    ws.on('message', (raw) => {
      let p: { op: number; d: unknown };
      try {
        p = JSON.parse(String(raw)) as { op: number; d: unknown };
      } catch {
        ws.close(4002, 'Error while decoding payload.');
        return;
      }
      if (p.op === 1) send({ op: 11, d: null, s: null, t: null });
      else if (p.op === 2) {
        const d = p.d as Record<string, unknown>;
        identifies.push({ ...d, token: d.token === token ? '<valid>' : '<invalid>' });
        if (d.token !== token) {
          ws.close(4004, 'Authentication failed.');
          return;
        }
        const state = { seq: 1 };
        readySockets.set(ws, state);
        send({
          op: 0,
          t: 'READY',
          s: state.seq,
          d: {
            v: 10,
            user: BOT_USER,
            guilds: [],
            session_id: randomUUID().replace(/-/g, ''),
            resume_gateway_url: fake.url.replace('http', 'ws'),
            shard: [0, 1],
            application: { id: APP_ID, flags: 0 },
          },
        });
      }
    });
    ws.on('close', () => readySockets.delete(ws));
  });

  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as AddressInfo;

  const author = (userId: string) => ({
    id: userId,
    username: `user${userId.slice(-4)}`,
    discriminator: '0',
    global_name: null,
    avatar: null,
  });

  /** INTERACTION_CREATE as Discord sends it: in a guild (with the member) or a DM (with the user). */
  const interaction = (
    type: number,
    opts: { channelId: string; guildId?: string | undefined; userId: string },
    rest: Record<string, unknown>,
  ): string => {
    const id = nextId();
    fake.dispatch('INTERACTION_CREATE', {
      id,
      application_id: APP_ID,
      type,
      token: `itok${id}`,
      version: 1,
      channel_id: opts.channelId,
      ...(opts.guildId
        ? {
            guild_id: opts.guildId,
            member: { user: author(opts.userId), roles: [], joined_at: '2024-01-01T00:00:00Z' },
          }
        : { user: author(opts.userId) }),
      ...rest,
    });
    return id;
  };

  const fake: FakeDiscord = {
    url: `http://127.0.0.1:${port}`,
    token,
    messages,
    createRequests,
    calls,
    interactionResponses,
    commands,
    identifies,
    holdResponsesFrom: null,
    ready: () => readySockets.size,
    dispatch(t, d) {
      for (const [ws, state] of readySockets) {
        state.seq++;
        ws.send(JSON.stringify({ op: 0, t, s: state.seq, d }));
      }
    },
    userMessage({ channelId, guildId, userId, content }) {
      const id = nextId();
      fake.dispatch('MESSAGE_CREATE', {
        id,
        channel_id: channelId,
        ...(guildId ? { guild_id: guildId } : {}),
        author: author(userId),
        content,
        timestamp: new Date().toISOString(),
        edited_timestamp: null,
        tts: false,
        mention_everyone: false,
        mentions: [],
        mention_roles: [],
        attachments: [],
        embeds: [],
        pinned: false,
        type: 0,
      });
      return id;
    },
    buttonClick({ channelId, guildId, userId, customId }) {
      return interaction(
        3,
        { channelId, guildId, userId },
        {
          data: { custom_id: customId, component_type: 2 },
          message: { id: messages.at(-1)?.id ?? nextId(), channel_id: channelId, content: '' },
        },
      );
    },
    slashCommand({ channelId, guildId, userId, name, args }) {
      const options = args === undefined ? {} : { options: [{ name: 'args', type: 3, value: args }] };
      return interaction(
        2,
        { channelId, guildId, userId },
        { data: { id: nextId(), name, type: 1, ...options } },
      );
    },
    rateLimitNext(n, retryAfterSeconds) {
      rateLimited = { n, retryAfter: retryAfterSeconds };
    },
    held: () => heldResponses.size,
    async waitFor(check, timeoutMs = 15_000, what = 'condition') {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const v = check();
        if (v !== undefined && v !== false && v !== null) return v;
        if (Date.now() > deadline) {
          throw new Error(
            `timed out waiting for ${what}; messages: ${JSON.stringify(messages.map((m) => m.content))}`,
          );
        }
        await new Promise((r) => setTimeout(r, 20));
      }
    },
    async close() {
      for (const r of heldResponses) r.destroy();
      for (const ws of wss.clients) ws.terminate();
      wss.close();
      server.closeAllConnections();
      await new Promise<void>((r) => server.close(() => r()));
    },
  };
  return fake;
}
