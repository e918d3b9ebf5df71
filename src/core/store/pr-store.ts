// Pull requests in the run store's database (tables from schema step 4): each PR car opened with its
// state as last seen, the feedback a followed PR left for a ticket's next prompt, and the webhook
// deliveries already taken (a replayed delivery id is refused).
import type { SqlDb } from './sqlite.ts';

export type PrState = 'open' | 'closed' | 'merged';
export type ChecksState = 'none' | 'pending' | 'success' | 'failure';
export type FeedbackKind = 'check_failed' | 'changes_requested';

export interface PullRequestRecord {
  repoSlug: string;
  number: number;
  url: string;
  headBranch: string;
  baseBranch: string;
  headSha: string | null;
  ticketPath: string | null;
  ticketId: string | null;
  /** The ticket a failed check or a review asking for changes sends back. */
  targetTicketId: string | null;
  tickets: string[];
  state: PrState;
  draft: boolean;
  checks: ChecksState;
  review: string | null;
  /** Check runs and reviews already acted on. */
  seen: string[];
  openedAt: string;
  updatedAt: string;
  closedAt: string | null;
  lastError: string | null;
}

export interface PrFeedback {
  id: number;
  ticketId: string;
  repoSlug: string;
  prNumber: number;
  kind: FeedbackKind;
  body: string;
  createdAt: string;
}

interface PrRow {
  repo_slug: string;
  number: number;
  url: string;
  head_branch: string;
  base_branch: string;
  head_sha: string | null;
  ticket_path: string | null;
  ticket_id: string | null;
  target_ticket_id: string | null;
  tickets: string;
  state: PrState;
  draft: number;
  checks: ChecksState;
  review: string | null;
  seen: string;
  opened_at: string;
  updated_at: string;
  closed_at: string | null;
  last_error: string | null;
}

const toRecord = (r: PrRow): PullRequestRecord => ({
  repoSlug: r.repo_slug,
  number: r.number,
  url: r.url,
  headBranch: r.head_branch,
  baseBranch: r.base_branch,
  headSha: r.head_sha,
  ticketPath: r.ticket_path,
  ticketId: r.ticket_id,
  targetTicketId: r.target_ticket_id,
  tickets: JSON.parse(r.tickets) as string[],
  state: r.state,
  draft: r.draft === 1,
  checks: r.checks,
  review: r.review,
  seen: JSON.parse(r.seen) as string[],
  openedAt: r.opened_at,
  updatedAt: r.updated_at,
  closedAt: r.closed_at,
  lastError: r.last_error,
});

export type NewPullRequest = Omit<
  PullRequestRecord,
  'state' | 'checks' | 'review' | 'seen' | 'openedAt' | 'updatedAt' | 'closedAt' | 'lastError'
>;

export type PullRequestPatch = Partial<
  Pick<
    PullRequestRecord,
    'headSha' | 'state' | 'draft' | 'checks' | 'review' | 'seen' | 'closedAt' | 'lastError' | 'url'
  >
>;

export class PrStore {
  readonly db: SqlDb;
  readonly #now: () => Date;

  /** `db` must already be migrated: get it from `RunStore.prs()`. */
  constructor(db: SqlDb, opts: { now?: () => Date } = {}) {
    this.db = db;
    this.#now = opts.now ?? (() => new Date());
  }

  transaction<T>(fn: () => T): T {
    return this.db.transaction(fn);
  }

  /** Records a PR car opened or updated; an existing row keeps its state and what was acted on. */
  upsert(pr: NewPullRequest): PullRequestRecord {
    const now = this.#now().toISOString();
    this.db
      .prepare(
        `INSERT INTO pull_requests (repo_slug, number, url, head_branch, base_branch, head_sha, ticket_path,
           ticket_id, target_ticket_id, tickets, state, draft, opened_at, updated_at)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 'open', ?, ?, ?)
         ON CONFLICT (repo_slug, number) DO UPDATE SET url = excluded.url,
           head_branch = excluded.head_branch, base_branch = excluded.base_branch,
           head_sha = excluded.head_sha, ticket_path = coalesce(excluded.ticket_path, ticket_path),
           ticket_id = coalesce(excluded.ticket_id, ticket_id),
           target_ticket_id = coalesce(excluded.target_ticket_id, target_ticket_id),
           tickets = excluded.tickets, draft = excluded.draft, updated_at = excluded.updated_at`,
      )
      .run(
        pr.repoSlug,
        pr.number,
        pr.url,
        pr.headBranch,
        pr.baseBranch,
        pr.headSha,
        pr.ticketPath,
        pr.ticketId,
        pr.targetTicketId,
        JSON.stringify(pr.tickets),
        pr.draft ? 1 : 0,
        now,
        now,
      );
    return this.get(pr.repoSlug, pr.number)!;
  }

  get(repoSlug: string, number: number): PullRequestRecord | null {
    const row = this.db
      .prepare('SELECT * FROM pull_requests WHERE repo_slug = ? AND number = ?')
      .get<PrRow>(repoSlug, number);
    return row ? toRecord(row) : null;
  }

  /** Every PR, newest first; `open` only those still open. */
  list(opts: { open?: boolean } = {}): PullRequestRecord[] {
    const where = opts.open ? "WHERE state = 'open'" : '';
    return this.db
      .prepare(`SELECT * FROM pull_requests ${where} ORDER BY opened_at DESC, number DESC`)
      .all<PrRow>()
      .map(toRecord);
  }

  /** The PRs that list a ticket (as theirs, as the one sent back, or among the closed tickets). */
  forTicket(ticketId: string): PullRequestRecord[] {
    return this.list().filter(
      (pr) => pr.ticketId === ticketId || pr.targetTicketId === ticketId || pr.tickets.includes(ticketId),
    );
  }

  update(repoSlug: string, number: number, patch: PullRequestPatch): PullRequestRecord {
    const cols: string[] = [];
    const args: (string | number | null)[] = [];
    const set = (col: string, value: string | number | null) => {
      cols.push(`${col} = ?`);
      args.push(value);
    };
    if (patch.url !== undefined) set('url', patch.url);
    if (patch.headSha !== undefined) set('head_sha', patch.headSha);
    if (patch.state !== undefined) set('state', patch.state);
    if (patch.draft !== undefined) set('draft', patch.draft ? 1 : 0);
    if (patch.checks !== undefined) set('checks', patch.checks);
    if (patch.review !== undefined) set('review', patch.review);
    if (patch.seen !== undefined) set('seen', JSON.stringify(patch.seen));
    if (patch.closedAt !== undefined) set('closed_at', patch.closedAt);
    if (patch.lastError !== undefined) set('last_error', patch.lastError);
    set('updated_at', this.#now().toISOString());
    this.db
      .prepare(`UPDATE pull_requests SET ${cols.join(', ')} WHERE repo_slug = ? AND number = ?`)
      .run(...args, repoSlug, number);
    const row = this.get(repoSlug, number);
    if (!row) throw new Error(`no pull request ${repoSlug}#${number} in the store`);
    return row;
  }

  // --- feedback for the next prompt ---

  /** Queues feedback for a ticket's next prompt; false when this check run or review was queued before. */
  addFeedback(f: {
    ticketId: string;
    repoSlug: string;
    prNumber: number;
    kind: FeedbackKind;
    dedupeKey: string;
    body: string;
  }): boolean {
    const res = this.db
      .prepare(
        `INSERT OR IGNORE INTO pr_feedback (ticket_id, repo_slug, pr_number, kind, dedupe_key, body, created_at)
         VALUES (?, ?, ?, ?, ?, ?, ?)`,
      )
      .run(f.ticketId, f.repoSlug, f.prNumber, f.kind, f.dedupeKey, f.body, this.#now().toISOString());
    return res.changes === 1;
  }

  /** Feedback not yet shown in a turn that succeeded, oldest first. */
  pendingFeedback(ticketId: string): PrFeedback[] {
    return this.db
      .prepare(
        `SELECT id, ticket_id, repo_slug, pr_number, kind, body, created_at FROM pr_feedback
         WHERE ticket_id = ? AND consumed_at IS NULL ORDER BY id`,
      )
      .all<{
        id: number;
        ticket_id: string;
        repo_slug: string;
        pr_number: number;
        kind: FeedbackKind;
        body: string;
        created_at: string;
      }>(ticketId)
      .map((r) => ({
        id: r.id,
        ticketId: r.ticket_id,
        repoSlug: r.repo_slug,
        prNumber: r.pr_number,
        kind: r.kind,
        body: r.body,
        createdAt: r.created_at,
      }));
  }

  /** Marks feedback as seen by a turn that succeeded (a failed turn shows it again). */
  consumeFeedback(ids: readonly number[]): void {
    const now = this.#now().toISOString();
    const stmt = this.db.prepare(
      'UPDATE pr_feedback SET consumed_at = ? WHERE id = ? AND consumed_at IS NULL',
    );
    this.transaction(() => {
      for (const id of ids) stmt.run(now, id);
    });
  }

  // --- webhook deliveries ---

  /** Records a webhook delivery id; false when it was taken before (a replay). */
  takeDelivery(deliveryId: string, event: string): boolean {
    const res = this.db
      .prepare('INSERT OR IGNORE INTO scm_deliveries (delivery_id, event, received_at) VALUES (?, ?, ?)')
      .run(deliveryId, event, this.#now().toISOString());
    return res.changes === 1;
  }
}
