// The one JSON shape of a pull request car opened: `car pr status`, `car flow status`, the HTTP API and
// the web app read it.
import type { PullRequestRecord } from '../core/store/pr-store.ts';

export type PrJson = ReturnType<typeof prJson>;

export function prJson(pr: PullRequestRecord) {
  return {
    repo: pr.repoSlug,
    number: pr.number,
    url: pr.url,
    head: pr.headBranch,
    base: pr.baseBranch,
    head_sha: pr.headSha,
    state: pr.state,
    draft: pr.draft,
    checks: pr.checks,
    review: pr.review,
    ticket: pr.ticketPath,
    ticket_id: pr.ticketId,
    target_ticket_id: pr.targetTicketId,
    tickets: pr.tickets,
    opened_at: pr.openedAt,
    updated_at: pr.updatedAt,
    closed_at: pr.closedAt,
    last_error: pr.lastError,
  };
}

/** The PRs `car flow status` shows: every open one and the last few closed or merged. */
export function prsForStatus(all: readonly PullRequestRecord[]): PrJson[] {
  const open = all.filter((p) => p.state === 'open');
  const ended = all.filter((p) => p.state !== 'open').slice(0, 3);
  return [...open, ...ended].map(prJson);
}
