// One bounded request per chat platform, for `car doctor`: Telegram `getMe`, Discord `GET /users/@me`.
// Each answers three ways: the bot's identity, the platform refused the request (a wrong token gives
// 401), or api_root could not be reached (network error, no answer in time). The token never appears in
// a result: grammY's and node-fetch's errors can hold the request URL, and Telegram's URL holds the token.
import { DiscordAPIError, HTTPError, REST } from '@discordjs/rest';
import { Api, GrammyError, HttpError } from 'grammy';
import { redact } from '../../core/notify/text.ts';

export type ProbeResult =
  /** The platform answered with the bot's identity. */
  | { kind: 'ok'; username: string; id: string }
  /** An HTTP error answer: 401 is a wrong or revoked token. */
  | { kind: 'refused'; status: number; description: string }
  /** A success answer that is not the platform's API (api_root points elsewhere, a captive portal). */
  | { kind: 'not_api'; detail: string }
  /** No answer from api_root: network error or timeout. */
  | { kind: 'unreachable'; cause: string };

export interface ProbeOptions {
  token: string;
  apiRoot: string;
  /** The whole request, connect included, is aborted after this long (default 5000 ms). */
  timeoutMs?: number;
}

export const PROBE_TIMEOUT_MS = 5000;

/** The innermost error message of a cause chain (`fetch failed` → `connect ECONNREFUSED …`). */
function innermost(err: unknown): string {
  let e: unknown = err;
  for (let depth = 0; depth < 5; depth++) {
    const next = (e as { cause?: unknown } | null)?.cause;
    if (!(next instanceof Error)) break;
    e = next;
  }
  const msg = e instanceof Error ? e.message : String(e);
  // node-fetch: "request to <url> failed, reason: connect ECONNREFUSED 127.0.0.1:9"
  const reason = / reason: (.+)$/s.exec(msg);
  return (reason ? reason[1]! : msg).trim() || 'unknown error';
}

/** Runs `fn` with a signal that aborts after `ms`; the timer is not unref'd (the probe awaits it). */
async function bounded<T>(ms: number, fn: (signal: AbortSignal) => Promise<T>): Promise<T> {
  const controller = new AbortController();
  const timer = setTimeout(() => controller.abort(), ms);
  try {
    return await fn(controller.signal);
  } finally {
    clearTimeout(timer);
  }
}

function scrub(text: string, token: string): string {
  return redact(text, [token, encodeURIComponent(token)]);
}

function seconds(ms: number): string {
  return `${Math.round(ms / 100) / 10} s`;
}

/** `POST <apiRoot>/bot<token>/getMe` through grammY, as the chat service's first call. */
export async function probeTelegram(opts: ProbeOptions): Promise<ProbeResult> {
  const ms = opts.timeoutMs ?? PROBE_TIMEOUT_MS;
  // grammY's own timeout backs up the signal (it rounds to seconds, so it is the later of the two)
  const api = new Api(opts.token, { apiRoot: opts.apiRoot, timeoutSeconds: Math.ceil(ms / 1000) + 1 });
  let timedOut = false;
  try {
    const me = await bounded(ms, (signal) => {
      signal.addEventListener('abort', () => {
        timedOut = true;
      });
      // grammY types its signals as abort-controller's; it only listens for 'abort', which a native one has
      return api.getMe(signal as Parameters<Api['getMe']>[0]);
    });
    return { kind: 'ok', username: me.username, id: String(me.id) };
  } catch (err) {
    if (err instanceof GrammyError) {
      return { kind: 'refused', status: err.error_code, description: scrub(err.description, opts.token) };
    }
    if (timedOut) return { kind: 'unreachable', cause: `no answer within ${seconds(ms)}` };
    const inner = err instanceof HttpError ? err.error : err;
    if ((inner as { type?: unknown } | null)?.type === 'invalid-json') {
      return { kind: 'not_api', detail: 'the answer is not JSON' };
    }
    return { kind: 'unreachable', cause: scrub(innermost(inner), opts.token) };
  }
}

/** `GET <apiRoot>/v10/users/@me` with `Authorization: Bot <token>` through @discordjs/rest. */
export async function probeDiscord(opts: ProbeOptions): Promise<ProbeResult> {
  const ms = opts.timeoutMs ?? PROBE_TIMEOUT_MS;
  // the same REST root as the chat service (discord.ts: api = api_root, version 10); no retries, so the
  // probe is one request bounded by `ms`
  const rest = new REST({ version: '10', api: opts.apiRoot, retries: 0, timeout: ms + 1000 }).setToken(
    opts.token,
  );
  let timedOut = false;
  try {
    const me = (await bounded(ms, (signal) => {
      signal.addEventListener('abort', () => {
        timedOut = true;
      });
      return rest.get('/users/@me', { signal });
    })) as { id?: unknown; username?: unknown };
    if (typeof me?.username !== 'string')
      return { kind: 'not_api', detail: 'the answer is not a Discord user' };
    return { kind: 'ok', username: me.username, id: String(me.id) };
  } catch (err) {
    if (err instanceof DiscordAPIError) {
      // a JSON error body has `code` (OAuth ones `error_description`); anything else is not Discord's
      const raw = err.rawError as object;
      const discords =
        typeof raw === 'object' && raw !== null && ('code' in raw || 'error_description' in raw);
      const description = discords ? scrub(err.message, opts.token) : 'not a Discord API error';
      return { kind: 'refused', status: err.status, description };
    }
    if (err instanceof HTTPError) {
      return { kind: 'refused', status: err.status, description: scrub(err.message, opts.token) };
    }
    if (timedOut) return { kind: 'unreachable', cause: `no answer within ${seconds(ms)}` };
    return { kind: 'unreachable', cause: scrub(innermost(err), opts.token) };
  } finally {
    rest.clearHashSweeper();
    rest.clearHandlerSweeper();
  }
}
