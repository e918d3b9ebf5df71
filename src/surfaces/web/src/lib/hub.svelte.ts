// The hub's stream (GET /api/hub/stream), followed while the app runs at a hub's root: the inbox's count
// for the badge (and its ETag: a page showing the inbox fetches it again when that changes) and the live
// view's runs. Reconnects with a growing delay; the last values stay shown meanwhile.
import { ApiError, auth, authHeaders, errorText } from './api.svelte.ts';
import { parseFrame, sleep } from './stream.ts';
import type { HubLiveRun } from './types.ts';

export const hubFeed = $state({
  /** Inbox items (the badge). */
  count: 0,
  /** The inbox answer's ETag: changes whenever the inbox does. */
  inboxTag: '',
  live: null as HubLiveRun[] | null,
  /** Why the stream is not connected now. */
  error: '',
});

/** Follows the hub's stream until the returned stop is called. */
export function followHub(): () => void {
  const abort = new AbortController();
  const { signal } = abort;
  void (async () => {
    let delay = 500;
    while (!signal.aborted) {
      try {
        const res = await fetch('/api/hub/stream', {
          headers: { ...authHeaders(), accept: 'text/event-stream' },
          signal,
        });
        if (res.status === 401) auth.needed = true;
        if (!res.ok || !res.body)
          throw new ApiError(res.status, { message: `hub stream: HTTP ${res.status}` });
        hubFeed.error = '';
        delay = 500;
        const reader = res.body.pipeThrough(new TextDecoderStream()).getReader();
        let buf = '';
        for (;;) {
          const { value, done } = await reader.read();
          if (done) break;
          buf += value.replace(/\r\n?/g, '\n');
          let cut = buf.indexOf('\n\n');
          while (cut >= 0) {
            const frame = parseFrame(buf.slice(0, cut));
            buf = buf.slice(cut + 2);
            cut = buf.indexOf('\n\n');
            if (!frame) continue;
            if (frame.event === 'inbox') {
              const data = JSON.parse(frame.data) as { count: number; etag: string };
              hubFeed.count = data.count;
              hubFeed.inboxTag = data.etag;
            } else if (frame.event === 'live') {
              hubFeed.live = (JSON.parse(frame.data) as { runs: HubLiveRun[] }).runs;
            }
          }
        }
      } catch (err) {
        if (signal.aborted) return;
        if (err instanceof ApiError && err.status === 401) return;
        hubFeed.error = errorText(err);
      }
      await sleep(delay, signal);
      delay = Math.min(delay * 2, 10_000);
    }
  })();
  return () => abort.abort();
}
