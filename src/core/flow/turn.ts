// One agent turn on a ticket: the agent that works it (its quota fallback while its plan is used up),
// the session, the prompt, the turn's row and events, then what the turn left is filed (after-turn.ts)
// or its failure handled (turn-failure.ts).
import type { AgentSession } from '../agent.ts';
import type { JsonObject } from '../store/types.ts';
import type { Ticket } from '../tickets/index.ts';
import { afterTurn } from './after-turn.ts';
import { streamTurn } from './agent-turn.ts';
import { budgetPause } from './checks.ts';
import { buildContextIncludes } from './context-includes.ts';
import { buildContextspaceBlock } from './contextspace.ts';
import { end, type Step } from './flow-types.ts';
import { buildPrompt } from './prompt.ts';
import { pickAgent, waitForQuota } from './quota.ts';
import { listRepliesAfter, renderRepliesBlock } from './replies.ts';
import type { RunContext } from './run-context.ts';
import type { LikelyNext } from './sessions.ts';
import { budgetTokens, type TicketProgress, tightestTokenBudget } from './state.ts';
import { afterFailedTurn } from './turn-failure.ts';

/**
 * `previous` is the ticket before this one in the queue (CAR's `include_previous_ticket_context`);
 * `next` the one likely to follow, whose session is opened while this turn runs.
 */
export async function runTurn(
  ctx: RunContext,
  ticket: Ticket,
  progress: TicketProgress,
  previous: Ticket | undefined,
  next: LikelyNext | null = null,
): Promise<Step> {
  const { settings, store, state, paths } = ctx;

  await pickAgent(ctx, ticket, progress);
  if (state.quotaWait) {
    // Only the agent whose plan is used up waits; a ticket for another agent goes ahead.
    const waited = state.quotaWait.agent === progress.agent ? await waitForQuota(ctx, state.quotaWait) : null;
    if (waited) return end(waited);
    state.quotaWait = null;
  }

  const includes = await buildContextIncludes(
    ctx.root,
    ticket.context.map((c) => ({
      path: c.path,
      required: c.required,
      ...(c.maxBytes !== null ? { max_bytes: c.maxBytes } : {}),
    })),
  );
  if (includes.missingRequired.length > 0) {
    return end({
      status: 'failed',
      reasonCode: 'missing_required_context',
      reason: `Required context missing for ${ticket.relPath}: ${includes.missingRequired.join(', ')}`,
      details: { ticket: ticket.relPath, missing: includes.missingRequired },
    });
  }

  // The session opens (an agent may still be booting) while car reads what the turn needs from disk.
  const opening = ctx.sessions.open(progress).then(
    (opened) => ({ opened }),
    (err: unknown) => ({ failed: err as Error }),
  );
  const replies = await listRepliesAfter(paths, state.replySeq);
  const prFeedback = store.prs().pendingFeedback(ticket.ticketId);
  const { head: headBefore, fingerprint: fingerprintBefore } = await ctx.snapshot();
  const outcome = await opening;
  if ('failed' in outcome) {
    return end(
      await ctx.pause(
        'agent_unavailable',
        `Cannot start agent "${progress.agent}" for ${ticket.relPath}: ${outcome.failed.message}`,
        { ticket: ticket.relPath },
      ),
    );
  }
  const opened: { session: AgentSession; reused: boolean } = outcome.opened;

  const prompt = buildPrompt({
    variant: opened.reused ? 'existing_session' : 'full',
    ticketPath: ticket.relPath,
    ticketText: ticket.raw,
    runtimePaths: { dispatchDir: paths.rel.dispatchDir, dispatchFile: paths.rel.dispatchFile },
    requestedContext: includes.block,
    contextspace: opened.reused ? '' : await buildContextspaceBlock(ctx.root),
    humanReplies: renderRepliesBlock(replies),
    previousTicket:
      settings.includePreviousTicketContext && previous
        ? { path: previous.relPath, text: previous.raw }
        : null,
    previousOutput: state.lastOutput,
    previousOutputMaxChars: settings.previousOutputMaxChars,
    commitRequired: progress.commitPending
      ? { attemptsRemaining: settings.maxCommitRetries - progress.commitAttempts }
      : null,
    lintErrors: progress.lintErrors,
    loopGuard: progress.noChange > 0 ? { noChangeTurns: progress.noChange } : null,
    verifyFailed: progress.verify?.feedback ?? null,
    mergeFailed: progress.merge ?? null,
    prFeedback: prFeedback.map((f) => f.body),
    checkpointWarning: state.checkpointError,
  });

  ctx.forgetTree(); // the turn is about to change the tree
  const kind = progress.commitPending ? 'commit' : progress.lintErrors ? 'lint_repair' : 'agent';
  state.totalTurns += 1;
  progress.turns += 1;
  if (progress.commitPending) progress.commitAttempts += 1;
  state.phase = 'turn';
  const turn = store.transaction(() => {
    const t = store.beginTurn({
      runId: ctx.runId,
      agent: progress.agent,
      ticketPath: ticket.relPath,
      ticketId: ticket.ticketId,
      kind,
    });
    ctx.persist({}, [
      {
        type: 'turn_started',
        turnId: t.id,
        data: {
          turn: t.seq,
          ticket: ticket.relPath,
          agent: progress.agent,
          kind,
          prompt_bytes: prompt.bytes,
          sections: prompt.sections,
        },
      },
    ]);
    return t;
  });
  ctx.progress({
    type: 'ticket',
    ticket: ticket.relPath,
    title: ticket.title ?? null,
    agent: progress.agent,
    turn: progress.turns,
    totalTurns: state.totalTurns,
  });

  const budget = tightestTokenBudget(state, settings, ctx.runUsage());
  // the next ticket's session opens ahead, told when this turn is under way (codex opens its thread
  // then: a thread/start beside this turn/start delays the model's first request)
  let nowUnderWay = () => {};
  const underWay = new Promise<void>((resolve) => {
    nowUnderWay = resolve;
  });
  ctx.sessions.prepare(next, underWay);
  const { result, usage, overBudget, acted } = await streamTurn(
    ctx,
    opened.session,
    prompt.text,
    ticket,
    turn.id,
    budget,
    nowUnderWay,
  ).finally(nowUnderWay);
  state.phase = 'post_turn';
  const tokens = budgetTokens(usage);
  progress.tokens = (progress.tokens ?? 0) + tokens;
  state.tokens += tokens;
  store.transaction(() => {
    store.finishTurn(turn.id, {
      status: result.status,
      ...(result.usage ? { usage: result.usage as JsonObject } : {}),
      ...(result.error ? { error: `${result.error.kind}: ${result.error.message}` } : {}),
      outputExcerpt: result.finalText,
    });
    ctx.persist({}, [
      {
        type: 'turn_finished',
        turnId: turn.id,
        data: { turn: turn.seq, status: result.status, error: result.error ?? null },
      },
    ]);
  });
  ctx.progress({ type: 'turn_end', status: result.status, ticket: ticket.relPath });
  if (opened.session.threadId) {
    state.threads[progress.id] = {
      agent: progress.agent,
      profile: progress.profile,
      threadId: opened.session.threadId,
    };
  }

  if (result.status === 'cancelled' || result.status === 'interrupted') {
    const aborted = ctx.abortOutcome();
    if (aborted) return end(aborted);
  }
  // A turn cut short by its budget pauses here; one that finished anyway is filed as usual and the
  // next step's budget check pauses.
  if (overBudget && budget && result.status !== 'completed') {
    return end(await budgetPause(ctx, ticket, { ...budget, used: budget.used + tokens }));
  }
  if (result.status !== 'completed') return afterFailedTurn(ctx, ticket, progress, result);

  progress.networkRetries = 0;
  progress.stallRetries = 0;
  return afterTurn(ctx, ticket, progress, result, {
    headBefore,
    fingerprintBefore,
    consumedReplies: replies.map((r) => r.seq),
    consumedPrFeedback: prFeedback.map((f) => f.id),
    acted,
  });
}
