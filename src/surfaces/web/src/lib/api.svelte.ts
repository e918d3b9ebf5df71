// The API client: same-origin JSON calls with the bearer token the user gave once (kept in
// localStorage). A 401 clears the token and asks for it again.
import type { Dispatch, RunEvent } from './types.ts';

const TOKEN_KEY = 'car.token';

export const auth = $state({ token: localStorage.getItem(TOKEN_KEY) ?? '', needed: false });

export function setToken(token: string): void {
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
  const headers: Record<string, string> = { ...authHeaders(), ...opts.headers };
  let body: string | undefined;
  if (opts.body !== undefined) {
    headers['content-type'] = 'application/json';
    body = JSON.stringify(opts.body);
  }
  const init: RequestInit = { method: opts.method ?? 'GET', headers };
  if (body !== undefined) init.body = body;
  if (opts.signal) init.signal = opts.signal;
  const res = await fetch(path, init);
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
  return data as T;
}

export const post = <T>(path: string, body: unknown = {}) => api<T>(path, { method: 'POST', body });

/** The run's dispatches (few per run), newest last. */
export async function dispatches(runId: string): Promise<Dispatch[]> {
  const page = await api<{ events: RunEvent[] }>(
    `/api/runs/${encodeURIComponent(runId)}/events?types=dispatch&limit=1000`,
  );
  return page.events.map((e) => ({ ...(e.data as Omit<Dispatch, 'event_seq'>), event_seq: e.seq }));
}

export function errorText(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
