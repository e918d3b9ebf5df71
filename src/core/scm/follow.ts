// Following a PR car opened: one look at it (polled, or named by a webhook) turned into what car does.
// A failed check run sends the PR's ticket back (`done: false`) or adds a ticket to fix it
// (`github.on_check_failure`), with the check's name and the tail of its report queued for the next
// prompt; a review asking for changes sends the ticket back with the review and its comments; merged or
// closed is recorded; with `github.auto_merge` a PR whose checks all passed, that no review holds back
// and whose evidence holds is merged. Each check run and review is acted on once (`seen`).
import type { RepoPaths } from '../paths.ts';
import type { PrStore, PullRequestRecord } from '../store/pr-store.ts';
import type { RunStore } from '../store/run-store.ts';
import { createTicket } from '../tickets/create.ts';
import { editTicketField } from '../tickets/edit-field.ts';
import { loadTicketQueue } from '../tickets/queue.ts';
import type { Ticket } from '../tickets/types.ts';
import { collectEvidence } from '../verify/evidence.ts';
import type { GithubSettings } from './open-pr.ts';
import { type CheckRunInfo, type PrObservation, ScmError, type ScmHost } from './ports.ts';
import { evidencePasses } from './pr-body.ts';
import { recordPrEvent } from './record.ts';

export type PrNoticeKind = 'checks_failed' | 'changes_requested' | 'merged' | 'closed' | 'merge_refused';

/** Something a person hears about (chat, `car pr watch`'s output). */
export interface PrNotice {
  kind: PrNoticeKind;
  repoSlug: string;
  number: number;
  url: string;
  text: string;
}

export interface FollowDeps {
  paths: Pick<RepoPaths, 'root' | 'ticketsDir' | 'runsDir'>;
  settings: GithubSettings;
  host: ScmHost;
  prs: PrStore;
  store: RunStore;
  knownAgents: Set<string>;
  /** The agent a follow-up ticket gets. */
  defaultAgent: string;
}

// `cancelled` and `stale` are left out: a run cancelled by a newer push says nothing about the work
const FAILED = new Set(['failure', 'timed_out', 'action_required', 'startup_failure']);
/** Bytes of a failed check's report kept for the prompt (its tail: where the failing step is). */
const EXCERPT_CHARS = 4000;

/** The newest run of each check name (a re-run replaces the earlier result). */
function latestChecks(checks: readonly CheckRunInfo[]): CheckRunInfo[] {
  const byName = new Map<string, CheckRunInfo>();
  for (const c of checks) {
    const had = byName.get(c.name);
    if (!had || c.id > had.id) byName.set(c.name, c);
  }
  return [...byName.values()];
}

function checksState(checks: readonly CheckRunInfo[]): PullRequestRecord['checks'] {
  if (checks.length === 0) return 'none';
  if (checks.some((c) => c.status === 'completed' && FAILED.has(String(c.conclusion)))) return 'failure';
  if (checks.some((c) => c.status !== 'completed')) return 'pending';
  return 'success';
}

function reviewState(obs: PrObservation): string | null {
  const byUser = new Map<string, string>();
  for (const r of obs.reviews) {
    if (r.state === 'APPROVED' || r.state === 'CHANGES_REQUESTED' || r.state === 'DISMISSED')
      byUser.set(r.user ?? `#${r.id}`, r.state);
  }
  const states = [...byUser.values()];
  if (states.includes('CHANGES_REQUESTED')) return 'changes_requested';
  return states.includes('APPROVED') ? 'approved' : null;
}

function tail(text: string, max: number): string {
  return text.length <= max ? text : `…${text.slice(text.length - max)}`;
}

export function checkFailedFeedback(pr: PullRequestRecord, sha: string, c: CheckRunInfo): string {
  const report = [c.output.title, c.output.summary, c.output.text].filter(Boolean).join('\n').trim();
  return [
    `Check "${c.name}" failed (${c.conclusion}) on commit ${sha.slice(0, 12)} of pull request #${pr.number} (${pr.url}).`,
    c.detailsUrl ? `Details: ${c.detailsUrl}` : '',
    report
      ? `Log excerpt (the end of the check's report):\n${tail(report, EXCERPT_CHARS)}`
      : 'The check reported no output.',
    'Fix the cause in the code, commit, and set `done: true` again; car pushes the branch and updates the pull request.',
  ]
    .filter(Boolean)
    .join('\n\n');
}

function changesRequestedFeedback(pr: PullRequestRecord, obs: PrObservation, reviewId: number): string {
  const review = obs.reviews.find((r) => r.id === reviewId)!;
  const comments = obs.comments.filter((c) => c.reviewId === reviewId);
  return [
    `${review.user ?? 'A reviewer'} asked for changes on pull request #${pr.number} (${pr.url}).`,
    review.body.trim() ? `Review:\n${review.body.trim()}` : '',
    comments.length > 0
      ? `Comments:\n${comments.map((c) => `- ${c.path}${c.line !== null ? `:${c.line}` : ''}: ${c.body.trim()}`).join('\n')}`
      : '',
    'Address every point, commit, and set `done: true` again.',
  ]
    .filter(Boolean)
    .join('\n\n');
}

/** Applies one observation of `pr`; returns the record as now stored and what to tell people. */
export async function followPr(
  record: PullRequestRecord,
  obs: PrObservation,
  deps: FollowDeps,
): Promise<{ record: PullRequestRecord; notices: PrNotice[] }> {
  const { prs } = deps;
  const notices: PrNotice[] = [];
  const notice = (kind: PrNoticeKind, text: string) => {
    notices.push({ kind, repoSlug: record.repoSlug, number: record.number, url: record.url, text });
    recordPrEvent(deps.store, { kind, repo: record.repoSlug, number: record.number, url: record.url, text });
  };
  const now = new Date().toISOString();

  if (obs.pr.merged || obs.pr.state === 'closed') {
    const state = obs.pr.merged ? 'merged' : 'closed';
    if (record.state !== state) {
      notice(state, `Pull request #${record.number} was ${state}: ${record.url}`);
      record = prs.update(record.repoSlug, record.number, { state, closedAt: now, headSha: obs.pr.headSha });
    }
    return { record, notices };
  }

  const seen = new Set(record.seen);
  const checks = latestChecks(obs.checks);
  const queue = () =>
    loadTicketQueue(deps.paths.ticketsDir, { repoRoot: deps.paths.root, agents: deps.knownAgents }).tickets;
  let tickets: Ticket[] | null = null;
  const sendBack = (
    ticketId: string | null,
    kind: 'check_failed' | 'changes_requested',
    key: string,
    body: string,
  ) => {
    if (!ticketId) return 'no ticket to send back';
    tickets ??= queue();
    const ticket = tickets.find((t) => t.ticketId === ticketId);
    if (!ticket) return `ticket ${ticketId} is gone`;
    prs.addFeedback({
      ticketId,
      repoSlug: record.repoSlug,
      prNumber: record.number,
      kind,
      dedupeKey: key,
      body,
    });
    if (ticket.isDone) editTicketField(ticket, deps.knownAgents, 'done', false);
    return `${ticket.name} sent back`;
  };

  for (const c of checks) {
    const key = `check:${c.id}`;
    if (seen.has(key) || c.status !== 'completed' || !FAILED.has(String(c.conclusion))) continue;
    const body = checkFailedFeedback(record, obs.pr.headSha, c);
    let what: string;
    if (deps.settings.on_check_failure === 'follow_up') {
      const created = createTicket(deps.paths, deps.knownAgents, {
        agent: deps.defaultAgent,
        title: `Fix the failing check ${c.name} on PR #${record.number}`,
        body: `${body}\n`,
      });
      prs.addFeedback({
        ticketId: created.ticketId,
        repoSlug: record.repoSlug,
        prNumber: record.number,
        kind: 'check_failed',
        dedupeKey: key,
        body,
      });
      what = `${created.name} created`;
      tickets = null;
    } else {
      what = sendBack(record.targetTicketId ?? record.ticketId, 'check_failed', key, body);
    }
    seen.add(key);
    notice(
      'checks_failed',
      `Check ${c.name} failed on pull request #${record.number} (${what}): ${record.url}`,
    );
  }

  for (const r of obs.reviews) {
    const key = `review:${r.id}`;
    if (seen.has(key) || r.state !== 'CHANGES_REQUESTED') continue;
    const what = sendBack(
      record.targetTicketId ?? record.ticketId,
      'changes_requested',
      key,
      changesRequestedFeedback(record, obs, r.id),
    );
    seen.add(key);
    notice(
      'changes_requested',
      `${r.user ?? 'A reviewer'} asked for changes on pull request #${record.number} (${what}): ${record.url}`,
    );
  }

  const state = checksState(checks);
  const review = reviewState(obs);
  record = prs.update(record.repoSlug, record.number, {
    headSha: obs.pr.headSha,
    draft: obs.pr.draft,
    checks: state,
    review,
    seen: [...seen],
    lastError: null,
  });

  if (deps.settings.auto_merge && state === 'success' && review !== 'changes_requested' && !obs.pr.draft) {
    const closed = record.tickets.flatMap((id) => {
      const evidence = collectEvidence(deps.store, deps.paths.root, id)[0];
      return evidence ? [{ name: id, ticketId: id, title: null, evidence }] : [];
    });
    if (closed.length === record.tickets.length && evidencePasses(closed)) {
      try {
        await deps.host.merge(record.number, { method: deps.settings.merge_method, sha: obs.pr.headSha });
        record = prs.update(record.repoSlug, record.number, { state: 'merged', closedAt: now });
        notice(
          'merged',
          `Pull request #${record.number} merged by car (every check and the evidence passed): ${record.url}`,
        );
      } catch (err) {
        if (!(err instanceof ScmError) || err.kind === 'rate_limit') throw err;
        const repeated = record.lastError === err.message;
        record = prs.update(record.repoSlug, record.number, { lastError: err.message });
        if (!repeated)
          notice('merge_refused', `car could not merge pull request #${record.number}: ${err.message}`);
      }
    }
  }
  return { record, notices };
}
