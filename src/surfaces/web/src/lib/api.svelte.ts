// The API client: same-origin JSON calls with the bearer token the user gave once (kept in
// localStorage). A 401 clears the token and asks for it again. A GET answered with an ETag is kept;
// asking again sends If-None-Match, and a 304 reuses the kept body (the server then sends no body).
import { repoApi } from './scope.svelte.ts';
import type { Dispatch, RunEvent } from './types.ts';

const TOKEN_KEY = 'car.token';

export const auth = $state({ token: localStorage.getItem(TOKEN_KEY) ?? '', needed: false });

/** GET answers by URL with their ETag, the most recently used last; bounded. */
const kept = new Map<string, { etag: string; text: string }>();
const MAX_KEPT = 32;

function keep(path: string, etag: string | null, text: string): void {
  kept.delete(path);
  if (etag === null) return;
  kept.set(path, { etag, text });
  if (kept.size > MAX_KEPT) kept.delete(kept.keys().next().value!);
}

export function setToken(token: string): void {
  kept.clear();
  auth.token = token.trim();
  auth.needed = false;
  if (auth.token) localStorage.setItem(TOKEN_KEY, auth.token);
  else localStorage.removeItem(TOKEN_KEY);
}

export class ApiError extends Error {
  readonly status: number;
  readonly body: Record<string, unknown>;
  constructor(status: number, body: Record<string, unknown>) {
    super(typeof body.message === 'string' ? body.message : `HTTP ${status}`);
    this.status = status;
    this.body = body;
  }
}

export function authHeaders(): Record<string, string> {
  return auth.token ? { authorization: `Bearer ${auth.token}` } : {};
}

export interface CallOptions {
  method?: string;
  body?: unknown;
  headers?: Record<string, string>;
  signal?: AbortSignal;
}

export async function api<T>(path: string, opts: CallOptions = {}): Promise<T> {
  const method = opts.method ?? 'GET';
  const headers: Record<string, string> = { ...authHeaders(), ...opts.headers };
  let body: string | undefined;
  if (opts.body !== undefined) {
    headers['content-type'] = 'application/json';
    body = JSON.stringify(opts.body);
  }
  const cached = method === 'GET' ? kept.get(path) : undefined;
  if (cached) headers['if-none-match'] = cached.etag;
  const init: RequestInit = { method, headers };
  if (body !== undefined) init.body = body;
  if (opts.signal) init.signal = opts.signal;
  const res = await fetch(path, init);
  // a fresh parse each time: callers may change what they get
  if (res.status === 304 && cached) return JSON.parse(cached.text) as T;
  const text = await res.text();
  let data: Record<string, unknown> = {};
  try {
    data = text ? (JSON.parse(text) as Record<string, unknown>) : {};
  } catch {
    data = { message: text.slice(0, 200) };
  }
  if (res.status === 401) {
    auth.needed = true;
    throw new ApiError(401, data);
  }
  if (!res.ok) throw new ApiError(res.status, data);
  if (method === 'GET') keep(path, res.headers.get('etag'), text);
  return data as T;
}

export const post = <T>(path: string, body: unknown = {}) => api<T>(path, { method: 'POST', body });

/** The run's dispatches (few per run), newest last. */
export async function dispatches(runId: string): Promise<Dispatch[]> {
  const page = await api<{ events: RunEvent[] }>(
    repoApi(`/api/runs/${encodeURIComponent(runId)}/events?types=dispatch&limit=1000`),
  );
  return page.events.map((e) => ({ ...(e.data as Omit<Dispatch, 'event_seq'>), event_seq: e.seq }));
}

export function errorText(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
