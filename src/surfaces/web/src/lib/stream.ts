// A Server-Sent Events reader over fetch, so the bearer token travels in a header (EventSource cannot
// send one, and a token in the URL would end up in logs). Reconnects from the last `id:` it saw, also
// when the server dropped it for reading too slowly (`event: dropped`).
import { ApiError, auth, authHeaders } from './api.svelte.ts';
import type { RunEvent } from './types.ts';

export interface FollowOptions {
  /** Start after this sequence number. */
  after: number;
  signal: AbortSignal;
  onEvents(events: RunEvent[]): void;
  /** The run settled and every event was delivered. */
  onEnd(): void;
  onError?(err: unknown): void;
}

interface Frame {
  id?: string;
  event?: string;
  data: string;
}

export function parseFrame(text: string): Frame | null {
  const frame: Frame = { data: '' };
  const data: string[] = [];
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith(':')) continue;
    const colon = line.indexOf(':');
    const field = colon < 0 ? line : line.slice(0, colon);
    let value = colon < 0 ? '' : line.slice(colon + 1);
    if (value.startsWith(' ')) value = value.slice(1);
    if (field === 'data') data.push(value);
    else if (field === 'id') frame.id = value;
    else if (field === 'event') frame.event = value;
  }
  if (data.length === 0) return null;
  frame.data = data.join('\n');
  return frame;
}

const sleep = (ms: number, signal: AbortSignal) =>
  new Promise<void>((resolve) => {
    const t = setTimeout(resolve, ms);
    signal.addEventListener(
      'abort',
      () => {
        clearTimeout(t);
        resolve();
      },
      { once: true },
    );
  });

/** Follows `/api/runs/<id>/stream` until the run ends or `signal` aborts. */
export async function followRun(runId: string, opts: FollowOptions): Promise<void> {
  const { signal } = opts;
  let last = opts.after;
  let delay = 500;
  while (!signal.aborted) {
    try {
      const res = await fetch(`/api/runs/${encodeURIComponent(runId)}/stream?after=${last}`, {
        headers: { ...authHeaders(), accept: 'text/event-stream' },
        signal,
      });
      if (res.status === 204) return opts.onEnd();
      if (res.status === 401) auth.needed = true;
      if (!res.ok || !res.body) throw new ApiError(res.status, { message: `stream: HTTP ${res.status}` });
      delay = 500;
      const reader = res.body.pipeThrough(new TextDecoderStream()).getReader();
      let buf = '';
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        buf += value.replace(/\r\n?/g, '\n');
        const batch: RunEvent[] = [];
        let cut = buf.indexOf('\n\n');
        while (cut >= 0) {
          const frame = parseFrame(buf.slice(0, cut));
          buf = buf.slice(cut + 2);
          cut = buf.indexOf('\n\n');
          if (!frame) continue;
          if (frame.event === 'end') {
            if (batch.length > 0) opts.onEvents(batch);
            return opts.onEnd();
          }
          if (frame.event === 'dropped') break;
          const event = JSON.parse(frame.data) as RunEvent;
          batch.push(event);
          last = event.seq;
        }
        if (batch.length > 0) opts.onEvents(batch);
      }
    } catch (err) {
      if (signal.aborted) return;
      if (err instanceof ApiError && err.status < 500) return opts.onError?.(err);
      opts.onError?.(err);
    }
    await sleep(delay, signal);
    delay = Math.min(delay * 2, 10_000);
  }
}
