// GET /api/tickets/:name/work: what the ticket's work changed, with why car closed it. The work is an open
// lane's branch while a lane works the ticket (from where the lane started to its tip), else the commits
// the newest evidence record names (HEAD when the ticket was selected to HEAD when it closed); `?run=<id>`
// picks that run's evidence. A pair of commits never changes, so its diff is kept (a few, bounded).
import { readLanesState } from '../../core/flow/lanes/lane-state.ts';
import type { Ticket } from '../../core/tickets/index.ts';
import { collectEvidence, type EvidenceEntry } from '../../core/verify/evidence.ts';
import { diffBetween, resolveCommit, type WorkDiff } from '../../integrations/git/work.ts';
import { type Answer, AnswerCache, jsonAnswer } from './answer.ts';
import type { ApiContext } from './context.ts';
import { ApiError } from './errors.ts';

export interface TicketWork {
  ticket: string;
  ticket_id: string;
  source: 'lane' | 'evidence';
  /** The lane working the ticket now (source `lane`). */
  lane: { lane: number; run_id: string; branch: string } | null;
  /** The evidence the diff is of (source `evidence`), and every record of the ticket, newest first. */
  evidence: EvidenceEntry | null;
  records: EvidenceEntry[];
  diff: WorkDiff;
}

export function ticketWorkAnswers(ctx: ApiContext): (ticket: Ticket, runId?: string) => Promise<Answer> {
  const diffs = new AnswerCache(4);
  return async (ticket, runId) => {
    const control = ctx.control();
    const root = ctx.paths.root;
    const records = collectEvidence(control.store, root, ticket.ticketId);
    const body = (
      source: TicketWork['source'],
      lane: TicketWork['lane'],
      evidence: EvidenceEntry | null,
      diff: WorkDiff,
    ): TicketWork => ({
      ticket: ticket.relPath,
      ticket_id: ticket.ticketId,
      source,
      lane,
      evidence,
      records,
      diff,
    });

    const latest = runId === undefined ? control.store.latestRun() : null;
    const open = latest
      ? readLanesState(latest.state)?.lanes.find((l) => l.ticket === ticket.relPath)
      : undefined;
    if (open) {
      const tip = await resolveCommit(root, open.branch);
      if (tip) {
        const lane = { lane: open.slot, run_id: open.runId, branch: open.branch };
        return diffs.get(JSON.stringify(['lane', open.base, tip, records.length]), async () =>
          jsonAnswer(body('lane', lane, null, await diffBetween(root, open.base, tip))),
        );
      }
    }
    const evidence = runId === undefined ? records[0] : records.find((r) => r.run_id === runId);
    if (!evidence) {
      throw new ApiError(
        404,
        'no_work',
        runId === undefined
          ? `${ticket.relPath} has no recorded work yet: no lane works it and car has not closed it`
          : `${ticket.relPath} has no evidence from run ${runId}`,
        { ticket: ticket.relPath },
      );
    }
    if (!evidence.base_commit || !evidence.commit) {
      throw new ApiError(
        404,
        'no_work',
        `${ticket.relPath} was closed outside a git history car could read`,
        {
          ticket: ticket.relPath,
        },
      );
    }
    const { base_commit: base, commit: head } = evidence;
    return diffs.get(JSON.stringify(['evidence', base, head, evidence.path, records.length]), async () =>
      jsonAnswer(body('evidence', null, evidence, await diffBetween(root, base, head))),
    );
  };
}
