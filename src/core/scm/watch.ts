// Polling the open PRs car opened: each round looks at every one (the host answers unchanged ones from
// its ETag cache) and follows what changed. A rate limit ends the round and the next one waits until the
// host takes requests again; any other error is recorded on the PR and the round goes on.
import { abortableSleep } from '../sleep.ts';
import { type FollowDeps, followPr, type PrNotice } from './follow.ts';
import { ScmError } from './ports.ts';

export interface PollResult {
  looked: number;
  notices: PrNotice[];
  errors: string[];
  /** A rate limit stopped the round: poll again no earlier than this (epoch ms). */
  retryAt: number | null;
}

/** One round over the open PRs of this repo (of `deps.host.slug`); `only`: just this PR number. */
export async function pollOpenPrs(deps: FollowDeps, only: number | null = null): Promise<PollResult> {
  const result: PollResult = { looked: 0, notices: [], errors: [], retryAt: null };
  for (const record of deps.prs.list({ open: true })) {
    if (record.repoSlug !== deps.host.slug || (only !== null && record.number !== only)) continue;
    try {
      const obs = await deps.host.observe(record.number);
      result.looked += 1;
      result.notices.push(...(await followPr(record, obs, deps)).notices);
    } catch (err) {
      const message = err instanceof Error ? err.message : String(err);
      deps.prs.update(record.repoSlug, record.number, { lastError: message });
      result.errors.push(`#${record.number}: ${message}`);
      if (err instanceof ScmError && err.kind === 'rate_limit') {
        result.retryAt = err.retryAt;
        break;
      }
    }
  }
  return result;
}

/** Polls every `intervalMs` (longer after a rate limit) until `signal` aborts. */
export async function watchOpenPrs(
  deps: FollowDeps,
  opts: { intervalMs: number; signal: AbortSignal; onRound: (r: PollResult) => void; now?: () => number },
): Promise<void> {
  const now = opts.now ?? Date.now;
  while (!opts.signal.aborted) {
    const round = await pollOpenPrs(deps);
    opts.onRound(round);
    const wait = Math.max(opts.intervalMs, round.retryAt === null ? 0 : round.retryAt - now());
    await abortableSleep(wait, opts.signal);
  }
}
