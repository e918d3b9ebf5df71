// The repo's flow status, shared by the header and the views; polled while the page is visible.
import { ApiError, api, errorText, post } from './api.svelte.ts';
import type { FlowStatus } from './types.ts';

export const flow = $state({ status: null as FlowStatus | null, error: '', busy: false });

export async function refreshFlow(): Promise<void> {
  try {
    flow.status = await api<FlowStatus>('/api/flow/status');
    flow.error = '';
  } catch (err) {
    // a 401 is the token form's to say, not the header's
    if (!(err instanceof ApiError && err.status === 401)) flow.error = errorText(err);
  }
}

/** start | pause | resume | stop; the answer's message is shown when it fails (e.g. wrong state). */
export async function flowAction(action: 'start' | 'pause' | 'resume' | 'stop'): Promise<string | null> {
  flow.busy = true;
  try {
    const res = await post<{ run_id: string }>(`/api/flow/${action}`, {});
    await refreshFlow();
    return res.run_id;
  } catch (err) {
    flow.error = errorText(err);
    return null;
  } finally {
    flow.busy = false;
  }
}

/** Refreshes every `ms` while the page is visible (the caller loads the first status). */
export function pollFlow(ms = 2000): () => void {
  const timer = setInterval(() => {
    if (document.visibilityState === 'visible') void refreshFlow();
  }, ms);
  return () => clearInterval(timer);
}
