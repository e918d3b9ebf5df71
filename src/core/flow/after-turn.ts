// Filing a completed turn: archive the dispatch and a turn summary, record the diff stat, mark the
// replies it carried as seen, update the loop guard, re-read the ticket (broken frontmatter gets repair
// turns), then go on, or pause on a `mode: pause` dispatch or a loop.
import { readFileSync } from 'node:fs';
import type { TurnResult } from '../agent.ts';
import { RUNTIME_PATHS } from '../paths.ts';
import { parseTicket, type Ticket } from '../tickets/index.ts';
import { patchLines } from '../verify/tamper.ts';
import { commitTree } from './commit.ts';
import { nextDispatchSeq, writeDispatch, writeTurnSummary } from './dispatch.ts';
import type { FlowEvent } from './events.ts';
import { CONTINUE, end, type Step } from './flow-types.ts';
import type { DiffStat, FileChange, RepoSnapshot } from './ports.ts';
import type { RunContext } from './run-context.ts';
import { issueLines } from './select.ts';
import { fileStagedDispatch } from './staged-dispatch.ts';
import type { TicketProgress } from './state.ts';
import { tailExcerpt } from './text-cut.ts';

const LAST_OUTPUT_KEEP_CHARS = 64 * 1024;

export interface TurnBefore {
  headBefore: string | null;
  fingerprintBefore: string;
  /** Reply seqs the turn's prompt carried. */
  consumedReplies: number[];
  /** Pull-request feedback rows the turn's prompt carried (seen once the turn succeeded). */
  consumedPrFeedback?: number[];
  /** The agent ran a command or a tool, or changed a file (see `StreamedTurn.acted`). */
  acted?: boolean;
}

/** Lines added and removed, counted from whole patches (null when one was cut: git counts then). */
export function diffStatOf(files: readonly FileChange[]): DiffStat | null {
  const stat: DiffStat = { filesChanged: files.length, insertions: 0, deletions: 0 };
  for (const f of files) {
    if (f.patchTruncated) return null;
    const { added, removed } = patchLines(f.patch);
    stat.insertions += added.length;
    stat.deletions += removed.length;
  }
  return stat;
}

/**
 * The loop guard's count of turns in a row that changed nothing. A turn that only talked to the human
 * (a dispatch, or replies it read) is not "no progress" (CAR counted it), nor is a commit or repair
 * turn, nor the turn that marked the ticket done.
 */
export function noChangeAfter(
  progress: Pick<TicketProgress, 'noChange' | 'commitPending' | 'lintErrors'>,
  turn: { changed: boolean; talked: boolean; ticketDone: boolean },
): number {
  if (turn.changed) return 0;
  if (turn.talked || progress.commitPending || progress.lintErrors || turn.ticketDone)
    return progress.noChange;
  return progress.noChange + 1;
}

export async function afterTurn(
  ctx: RunContext,
  ticket: Ticket,
  progress: TicketProgress,
  result: TurnResult,
  before: TurnBefore,
): Promise<Step> {
  const { settings, repo, state, paths } = ctx;

  // The ticket as the agent left it (whether it is done decides what the next step needs of git).
  let after: Ticket | null = null;
  try {
    after = parseTicket(readFileSync(ticket.path, 'utf8'), {
      path: ticket.path,
      relPath: ticket.relPath,
      agents: ctx.deps.knownAgents,
    });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
  }

  // git looks at the tree while car files the turn's records, which live under the excluded runtime
  // paths: the git processes run on other cores instead of after them. A ticket the turn marked done has
  // changed the tree (its own `done`, at least): the verify gate's diff (for the step that settles it)
  // is asked for together with the status instead of after it, and a turn that ran commands or edited
  // files its diff stat too (the untracked files come from the status either way).
  const snapshotting = repo.snapshot(RUNTIME_PATHS);
  // awaited only after the filing below: a look that fails sooner must not count as an unhandled rejection
  // (the run guard would end the run on it)
  snapshotting.catch(() => {});
  const base = progress.verify?.baseHead;
  const gated = after?.isDone === true && base !== undefined;
  if (gated) ctx.prefetchDiff(base, snapshotting);
  // the gate's diff is from the ticket's start, the stat's from the turn's: on a ticket's first turn
  // they are the same diff, and the stat is counted from it (one git process fewer)
  const gateDiff = gated && base === before.headBefore ? ctx.prefetched(base) : null;
  const statOf = (look: RepoSnapshot | Promise<RepoSnapshot>) =>
    gateDiff
      ? gateDiff.then((files) => diffStatOf(files) ?? repo.diffStat(before.headBefore, RUNTIME_PATHS, look))
      : repo.diffStat(before.headBefore, RUNTIME_PATHS, look);
  const statting = before.acted ? statOf(snapshotting) : null;
  statting?.catch(() => {});
  const settleGit = async (err: unknown) => {
    await Promise.allSettled([snapshotting, statting]);
    throw err;
  };
  const dispatch = await fileStagedDispatch(ctx, {}).catch(settleGit);
  if ('outcome' in dispatch) {
    await Promise.allSettled([snapshotting, statting]);
    return end(dispatch.outcome);
  }
  const summarySeq = await nextDispatchSeq(paths);
  await writeTurnSummary(paths, summarySeq, result.finalText, { durable: settings.durableWrites }).catch(
    settleGit,
  );
  const now = await snapshotting.catch(settleGit);
  // A turn that left the tree exactly as it found it changed nothing: no need to ask git for a diff.
  const changed = now.fingerprint !== before.fingerprintBefore;
  const stat = changed ? await (statting ?? statOf(now)) : { filesChanged: 0, insertions: 0, deletions: 0 };
  if (!changed) await statting?.catch(() => {});
  // The next step starts from this tree unless car commits first (which forgets it).
  ctx.knowTree(now);
  const events: FlowEvent[] = [
    {
      type: 'diff_updated',
      data: {
        ticket: ticket.relPath,
        files_changed: stat.filesChanged,
        insertions: stat.insertions,
        deletions: stat.deletions,
      },
    },
  ];
  // Replies count as seen only once a turn that carried them succeeded.
  if (before.consumedReplies.length > 0) state.replySeq = Math.max(state.replySeq, ...before.consumedReplies);
  if (before.consumedPrFeedback?.length) ctx.deps.store.prs().consumeFeedback(before.consumedPrFeedback);
  if (result.finalText.trim()) {
    // keep a generous tail; the prompt builder cuts it to previous_output_max_chars and labels the cut
    state.lastOutput = {
      ticket: ticket.relPath,
      text: tailExcerpt(result.finalText, LAST_OUTPUT_KEEP_CHARS).text,
    };
  }
  state.checkpointError = null;

  const talked = dispatch.archived !== null || before.consumedReplies.length > 0;
  progress.noChange = noChangeAfter(progress, { changed, talked, ticketDone: after?.isDone ?? false });

  if (after) {
    const errors = after.issues.filter((i) => i.severity === 'error');
    if (errors.length > 0) {
      progress.lintRetries += 1;
      if (progress.lintRetries > settings.maxLintRetries) {
        ctx.persist({}, events);
        return end(
          await ctx.pause(
            'ticket_invalid',
            `Ticket frontmatter still invalid after ${settings.maxLintRetries} repair turn(s): ${ticket.relPath}. Fix it and resume.`,
            { ticket: ticket.relPath, issues: issueLines(errors) },
          ),
        );
      }
      progress.lintErrors = issueLines(errors);
      events.push({
        type: 'lint_repair',
        data: { ticket: ticket.relPath, attempt: progress.lintRetries, errors: progress.lintErrors },
      });
    } else {
      // repaired: later damage to the same ticket gets the full number of repair turns again
      progress.lintErrors = null;
      progress.lintRetries = 0;
    }
  }
  ctx.persist({}, events);

  if (dispatch.archived?.mode === 'pause') {
    return end(
      await ctx.pause('dispatch', dispatch.archived.title ?? 'The agent asked for input.', {
        ticket: ticket.relPath,
        dispatch_seq: dispatch.archived.seq,
      }),
    );
  }
  if (progress.noChange >= settings.loopGuardTurns) return end(await loopDetected(ctx, ticket, progress));
  if (settings.autoCommit && after && !after.isDone && !progress.lintErrors && (await ctx.snapshot()).dirty) {
    await commitTree(ctx, after, 'checkpoint');
  }
  return CONTINUE;
}

/** The loop guard tripped: car writes the pause dispatch itself, so the person sees why. */
async function loopDetected(ctx: RunContext, ticket: Ticket, progress: TicketProgress) {
  const title = 'Ticket loop detected (no repo change)';
  await writeDispatch(ctx.paths, {
    mode: 'pause',
    title,
    body: `${progress.noChange} consecutive turns on ${ticket.relPath} changed nothing in the repo. Check the ticket, reply with guidance, and resume.`,
  });
  const filed = await fileStagedDispatch(ctx, { runner: true });
  return ctx.pause('loop_no_diff', title, {
    ticket: ticket.relPath,
    no_change_turns: progress.noChange,
    ...('archived' in filed && filed.archived ? { dispatch_seq: filed.archived.seq } : {}),
  });
}
