// `car pr open` and `ticket_kind: open_pr` tickets: push the branch, open (or update) its PR with a body
// built from the evidence of the tickets closed on it, record the PR, and write `pr_url` into the ticket.
// Each step that can fail comes before the ones that record anything, so a refused push or a host that
// says no leaves the ticket and the store as they were.
import type { CarConfig } from '../config/schema.ts';
import { isOpenPrTicket } from '../flow/open-pr-ticket.ts';
import type { PrStore, PullRequestRecord } from '../store/pr-store.ts';
import type { RunStore } from '../store/run-store.ts';
import { editTicketField } from '../tickets/edit-field.ts';
import type { Ticket } from '../tickets/types.ts';
import { collectEvidence } from '../verify/evidence.ts';
import { ScmError, type ScmGit, type ScmHost } from './ports.ts';
import { type ClosedTicket, prBody } from './pr-body.ts';
import { recordPrEvent } from './record.ts';

export type GithubSettings = CarConfig['github'];

export interface OpenPrInput {
  /** The repo or lane worktree whose checked-out branch is pushed. */
  cwd: string;
  /** The repo root (run store paths are relative to it). */
  root: string;
  settings: GithubSettings;
  host: ScmHost;
  git: ScmGit;
  store: RunStore;
  prs: PrStore;
  /** The ticket queue as loaded now. */
  tickets: readonly Ticket[];
  /** The ticket the PR is for (`--ticket`, or the open_pr ticket a run reached); gets `pr_url`. */
  ticket: Ticket | null;
  knownAgents: Set<string>;
  draft: boolean;
  /** Push this branch (a lane's, say) instead of the one checked out at `cwd`. */
  branch?: string | undefined;
}

export interface OpenPrResult {
  record: PullRequestRecord;
  created: boolean;
  branch: string;
  base: string;
  closed: ClosedTicket[];
  /** `pr_url` was written into the ticket (false: no ticket, or it already said so). */
  ticketUpdated: boolean;
}

/** The tickets whose newest evidence names a commit among `commits`, in queue order. */
export function ticketsClosedOn(
  store: RunStore,
  root: string,
  tickets: readonly Ticket[],
  commits: ReadonlySet<string>,
): ClosedTicket[] {
  const closed: ClosedTicket[] = [];
  for (const t of tickets) {
    const evidence = collectEvidence(store, root, t.ticketId).find((e) => e.commit && commits.has(e.commit));
    if (evidence) closed.push({ name: t.name, ticketId: t.ticketId, title: t.title, evidence });
  }
  return closed;
}

function prTitle(ticket: Ticket | null, closed: readonly ClosedTicket[], branch: string): string {
  if (ticket && !isOpenPrTicket(ticket) && ticket.title) return ticket.title;
  if (closed.length === 1) return closed[0]!.title ?? closed[0]!.name;
  return `car: ${closed.length} ticket(s) from ${branch}`;
}

export async function openPullRequest(input: OpenPrInput): Promise<OpenPrResult> {
  const { cwd, settings, host, git } = input;
  const branch = input.branch ?? (await git.currentBranch(cwd));
  if (!branch) {
    throw new ScmError(
      'usage',
      `HEAD is detached in ${cwd}: check out the branch to open a pull request from (or name it with --branch)`,
    );
  }
  if ((await git.remoteUrl(cwd, settings.remote)) === null) {
    throw new ScmError(
      'usage',
      `no git remote "${settings.remote}" (github.remote): add it with \`git remote add ${settings.remote} <url>\``,
    );
  }
  const base = settings.base_branch ?? (await host.defaultBranch());
  if (branch === base) {
    throw new ScmError(
      'usage',
      `the branch to push is the base branch "${base}": work on a branch of its own (or set github.base_branch)`,
    );
  }
  const head = await git.resolve(cwd, `refs/heads/${branch}`);
  if (!head) throw new ScmError('usage', `no branch "${branch}" with a commit in ${cwd}`);

  await git.push(cwd, settings.remote, branch);
  const remoteBase = (await git.fetch(cwd, settings.remote, base)) ? `${settings.remote}/${base}` : base;
  const commits = new Set(await git.commitsBetween(cwd, remoteBase, head));
  const closed = ticketsClosedOn(input.store, input.root, input.tickets, commits);
  const body = prBody({ branch, base, closed });
  const title = prTitle(input.ticket, closed, branch);

  const existing = await host.findOpenPr(branch);
  const pr = existing
    ? await host.updatePr(existing.number, { title, body })
    : await host.createPr({ title, body, head: branch, base, draft: input.draft });
  if (settings.labels.length > 0) await host.addLabels(pr.number, settings.labels);

  const byId = new Map(input.tickets.map((t) => [t.ticketId, t]));
  const work = closed.filter((c) => {
    const t = byId.get(c.ticketId);
    return t !== undefined && !isOpenPrTicket(t);
  });
  const record = input.prs.upsert({
    repoSlug: host.slug,
    number: pr.number,
    url: pr.url,
    headBranch: branch,
    baseBranch: base,
    headSha: pr.headSha || head,
    ticketPath: input.ticket?.relPath ?? null,
    ticketId: input.ticket?.ticketId ?? null,
    targetTicketId: work.at(-1)?.ticketId ?? input.ticket?.ticketId ?? null,
    tickets: closed.map((c) => c.ticketId),
    draft: pr.draft,
  });

  recordPrEvent(input.store, {
    kind: existing ? 'updated' : 'opened',
    repo: host.slug,
    number: pr.number,
    url: pr.url,
    text: `Pull request #${pr.number} ${existing ? 'updated' : 'opened'} from ${branch} into ${base} with the evidence of ${closed.length} ticket(s): ${pr.url}`,
  });
  let ticketUpdated = false;
  if (input.ticket && input.ticket.extra.pr_url !== pr.url) {
    editTicketField(input.ticket, input.knownAgents, 'pr_url', pr.url);
    ticketUpdated = true;
  }
  return { record, created: existing === null, branch, base, closed, ticketUpdated };
}
