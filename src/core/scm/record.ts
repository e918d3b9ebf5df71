// PR news into the run store: a `pull_request` event on the repo's latest run, where chat notices and
// `car flow events` find it. A repo without a run yet has nowhere to tell it (the PR table still has it).
import type { FlowEvent, FlowEventData } from '../flow/events.ts';
import type { RunStore } from '../store/run-store.ts';

export type PrEventData = FlowEventData['pull_request'];

export function recordPrEvent(store: RunStore, data: PrEventData): void {
  const run = store.latestRun();
  if (!run) return;
  store.appendEvent(run.id, { type: 'pull_request', data } satisfies FlowEvent);
}
