// The repo's flow status, its paused runs and the approvals agents wait for (what waits for a person: the
// Inbox and its badge), shared by the header and the views; polled while the page is visible.
import { ApiError, api, errorText, post } from './api.svelte.ts';
import { repoApi } from './scope.svelte.ts';
import type { Approval, FlowStatus, Run } from './types.ts';

export const flow = $state({
  status: null as FlowStatus | null,
  /** Every paused run, newest first: each waits for a person (the Inbox). */
  paused: [] as Run[],
  /** Approvals supervised agents wait for, newest first. */
  approvals: [] as Approval[],
  /** Why the last poll failed. */
  error: '',
  /** Why the last action failed (kept until the next action: a poll does not clear it). */
  actionError: '',
  busy: false,
});

export async function refreshFlow(): Promise<void> {
  // at a hub, the pages may have turned to another repo while this was asked: its answer is not shown
  const asked = repoApi('');
  try {
    const [status, paused, approvals] = await Promise.all([
      api<FlowStatus>(repoApi('/api/flow/status')),
      api<{ runs: Run[] }>(repoApi('/api/runs?status=paused&limit=100')),
      api<{ approvals: Approval[] }>(repoApi('/api/approvals')),
    ]);
    if (repoApi('') !== asked) return;
    flow.status = status;
    flow.paused = paused.runs;
    flow.approvals = approvals.approvals;
    flow.error = '';
  } catch (err) {
    // a 401 is the token form's to say, not the header's
    if (!(err instanceof ApiError && err.status === 401)) flow.error = errorText(err);
  }
}

export type FlowAction = 'start' | 'pause' | 'resume' | 'stop' | 'finish-user-ticket';

/**
 * start | pause | resume | stop | finish-user-ticket (of `runId`, else the latest run); the run as
 * answered shows at once, the answer's message when it fails (e.g. wrong state). Resolves to the run id.
 */
export async function flowAction(action: FlowAction, runId?: string): Promise<string | null> {
  flow.busy = true;
  flow.actionError = '';
  try {
    const res = await post<{ run_id: string; run: Run }>(
      repoApi(`/api/flow/${action}`),
      runId && action !== 'start' ? { run_id: runId } : {},
    );
    // the answer's run first (a pause request shows as "pausing" without waiting for the next poll)
    if (flow.status?.run?.run_id === res.run_id) flow.status.run = res.run;
    await refreshFlow();
    return res.run_id;
  } catch (err) {
    flow.actionError = errorText(err);
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
