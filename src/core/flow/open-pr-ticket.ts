// CAR's `ticket_kind: open_pr` ticket, worked by car itself when GitHub is set up (`FlowDeps.pullRequests`):
// push the branch and open (or update) its pull request with the evidence of the tickets closed on it,
// `pr_url` and `done: true` written into the ticket, that edit committed when it is the tree's only
// change (and pushed, so the PR has it). The settle step then closes the ticket as any other. Without
// GitHub set up, an agent works the ticket as in CAR.
import { RUNTIME_PATHS } from '../paths.ts';
import { setTicketFileField, type Ticket } from '../tickets/index.ts';
import { commitTree } from './commit.ts';
import { CONTINUE, end, type Step } from './flow-types.ts';
import type { PullRequestPort } from './ports.ts';
import type { RunContext } from './run-context.ts';

export const OPEN_PR_TICKET_KIND = 'open_pr';

export function isOpenPrTicket(ticket: Ticket): boolean {
  return ticket.extra.ticket_kind === OPEN_PR_TICKET_KIND;
}

export async function workOpenPrTicket(
  ctx: RunContext,
  ticket: Ticket,
  port: PullRequestPort,
): Promise<Step> {
  const open = () =>
    ctx.wait('opening the pull request', port.open({ cwd: ctx.root, ticketPath: ticket.relPath }));
  try {
    await open();
    setTicketFileField(ticket.path, 'done', true, ticket.relPath);
    ctx.forgetTree();
    const changed = await ctx.wait('git status', ctx.repo.statusLines(RUNTIME_PATHS));
    if (changed.length === 1 && changed[0]!.endsWith(` ${ticket.relPath}`)) {
      await commitTree(ctx, ticket, 'ticket_done');
      await open();
    }
  } catch (err) {
    const why = err instanceof Error ? err.message : String(err);
    return end(
      await ctx.pause(
        'pr_failed',
        `Could not open the pull request for ${ticket.relPath}: ${why}. Fix it and resume, or open it with car pr open --ticket ${ticket.index ?? ticket.name}.`,
        { ticket: ticket.relPath },
      ),
    );
  }
  return CONTINUE;
}
