// The stop rules: what a person asked for (pause, stop, an aborted signal), and what must hold before
// another agent turn on a ticket (valid frontmatter, an agent ticket, the turn, token and wall-clock
// budgets, the worker's stop-after-runs count). Budgets only stop another turn: a run whose last turn
// finished the queue completes.
import { frontmatterFix, type Ticket } from '../tickets/index.ts';
import { ticketVerifyCommands } from '../verify/commands.ts';
import { type FlowOutcome, stopped } from './flow-types.ts';
import type { RunContext } from './run-context.ts';
import { issueLines } from './select.ts';
import { type TicketProgress, type TokenBudget, tightestTokenBudget } from './state.ts';

/** A pause or stop asked for by another process or by the caller's signal. */
export async function controlOutcome(ctx: RunContext): Promise<FlowOutcome | null> {
  const requested = ctx.requested();
  if (requested === 'stop') return stopped();
  if (requested === 'pause') return ctx.pause('pause_requested', 'Paused on request; resume to continue.');
  return ctx.abortOutcome();
}

/** Why the ticket may not get another agent turn now, or null when it may. */
export async function checkBeforeTurn(
  ctx: RunContext,
  ticket: Ticket,
  progress: TicketProgress,
): Promise<FlowOutcome | null> {
  const { state, settings } = ctx;
  const verifyShape = ticketVerifyCommands(ticket.frontmatter?.verify).error;
  if (verifyShape && !progress.lintErrors) {
    return ctx.pause(
      'ticket_invalid',
      `Ticket frontmatter invalid: ${ticket.relPath}: ${verifyShape}. Fix it and resume.`,
      { ticket: ticket.relPath, issues: [`${ticket.relPath}: verify: ${verifyShape}`] },
    );
  }
  const errors = ticket.issues.filter((i) => i.severity === 'error');
  const [error] = errors;
  if (error && !progress.lintErrors) {
    const fix = frontmatterFix(error, settings.defaultAgent);
    return ctx.pause(
      'ticket_invalid',
      `Ticket frontmatter invalid: ${ticket.relPath} (${error.message}); fix: ${fix}. Then resume.`,
      { ticket: ticket.relPath, issues: issueLines(errors), fix },
    );
  }
  if (progress.agent === 'user') {
    return ctx.pause(
      'user_ticket',
      `Waiting for a person: ${ticket.relPath} is a user ticket. Do it, mark it done (car ticket done ${ticket.index}) and resume.`,
      { ticket: ticket.relPath },
    );
  }
  const run = ctx.runUsage();
  if (run.turns >= run.turnLimit) {
    return ctx.pause('max_turns', `Max turns reached (${run.turns}). Review the tickets and resume.`);
  }
  const runs = state.totalTurns - ctx.turnsAtStart;
  if (settings.stopAfterRuns !== null && runs >= settings.stopAfterRuns) {
    return ctx.pause(
      'stop_after_runs',
      `Stopped after ${runs} agent turn(s) of this worker (stop after runs: ${settings.stopAfterRuns}). car run continues.`,
      { runs, stop_after_runs: settings.stopAfterRuns },
    );
  }
  const budget = tightestTokenBudget(state, settings, run);
  if (budget && budget.used >= budget.limit) return budgetPause(ctx, ticket, budget);
  if (settings.maxWallclockSeconds !== null && state.activeMs >= settings.maxWallclockSeconds * 1000) {
    return ctx.pause(
      'max_wallclock',
      `Wall-clock budget of ${settings.maxWallclockSeconds}s used. Resume to continue.`,
    );
  }
  return null;
}

/** Pauses on a used-up token budget; resuming grants the same budget again (FlowControl.resume). */
export function budgetPause(ctx: RunContext, ticket: Ticket, budget: TokenBudget): Promise<FlowOutcome> {
  const what = budget.scope === 'ticket' ? `${ticket.relPath}'s token budget` : "the run's token budget";
  const key = budget.scope === 'ticket' ? 'max_tokens_per_ticket' : 'max_tokens_per_run';
  return ctx.pause(
    'token_budget',
    `${what} is used up (${budget.used} of ${budget.limit} tokens, ticket_flow.${key}). Resume to grant it again.`,
    { ticket: ticket.relPath, scope: budget.scope, used: budget.used, limit: budget.limit },
  );
}
