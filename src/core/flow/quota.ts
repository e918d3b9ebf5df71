// A used-up plan (`quota` errors carry the provider's reset time). With a known reset within
// `max_quota_wait_seconds` the ticket's next turn waits for it (the run goes on by itself, overnight
// too) or a configured `quota_fallback` agent takes the ticket meanwhile; otherwise a person decides.
// The wait is in the run state, so a restarted worker waits out the rest; it is not working time.
import type { TurnError } from '../agent.ts';
import type { Ticket } from '../tickets/index.ts';
import { CONTINUE, end, type FlowOutcome, type Step, stopped } from './flow-types.ts';
import type { RunContext } from './run-context.ts';
import type { QuotaWait, TicketProgress } from './state.ts';

/** Providers' reset times are to the second: start a little after, not a little before. */
const QUOTA_MARGIN_MS = 30_000;
/** How often a quota wait looks for pause and stop requests. */
const QUOTA_POLL_MS = 2_000;
/** A used-up plan whose reset nobody said is taken for used up this long. */
const UNKNOWN_RESET_MS = 3600_000;

export async function quotaExhausted(
  ctx: RunContext,
  ticket: Ticket,
  progress: TicketProgress,
  error: TurnError,
): Promise<Step> {
  const { settings } = ctx;
  const resetsAt = error.retryAt ? Date.parse(error.retryAt) : Number.NaN;
  const waitMs = resetsAt + QUOTA_MARGIN_MS - ctx.now();
  const known = Number.isFinite(resetsAt);
  // remembered for the run: tickets for this agent start on its fallback until then
  ctx.state.exhausted[progress.agent] = new Date(
    known ? resetsAt + QUOTA_MARGIN_MS : ctx.now() + UNKNOWN_RESET_MS,
  ).toISOString();
  if (await pickAgent(ctx, ticket, progress)) {
    ctx.persist();
    return CONTINUE;
  }
  if (known && waitMs <= settings.maxQuotaWaitSeconds * 1000) {
    const until = new Date(ctx.now() + Math.max(0, waitMs)).toISOString();
    ctx.state.quotaWait = { agent: progress.agent, until, message: error.message.slice(0, 500) };
    ctx.event({
      type: 'quota_wait',
      data: {
        ticket: ticket.relPath,
        agent: progress.agent,
        until,
        wait_seconds: Math.round(Math.max(0, waitMs) / 1000),
        error: error.message.slice(0, 2000),
      },
    });
    ctx.progress({
      type: 'note',
      text: `${progress.agent}'s usage limit is used up; waiting until ${until}, then going on (car flow stop ends the run)`,
    });
    ctx.persist();
    return CONTINUE;
  }
  const when = known ? `; it resets at ${new Date(resetsAt).toISOString()}` : '';
  const tooFar =
    known && settings.maxQuotaWaitSeconds > 0 ? ', later than ticket_flow.max_quota_wait_seconds' : '';
  return end(
    await ctx.pause(
      'quota_exhausted',
      `${progress.agent}'s usage limit is used up${when}${tooFar}. Resume once it has reset (car flow resume).`,
      {
        ticket: ticket.relPath,
        agent: progress.agent,
        resets_at: known ? new Date(resetsAt).toISOString() : null,
        error: error.message.slice(0, 2000),
      },
    ),
  );
}

/**
 * Which agent works the ticket's next turn: while the ticket's own agent has its plan used up and a
 * `quota_fallback` is configured (and is not used up itself), the fallback; once the plan has reset,
 * the ticket's own again. Returns whether it switched. The thread of the agent left is not resumed.
 */
export async function pickAgent(ctx: RunContext, ticket: Ticket, progress: TicketProgress): Promise<boolean> {
  const now = ctx.now();
  const exhausted = (agent: string) => {
    const until = ctx.state.exhausted[agent];
    return until !== undefined && Date.parse(until) > now;
  };
  const switchTo = async (
    agent: string,
    profile: string | null,
    type: 'quota_fallback' | 'quota_fallback_over',
  ) => {
    ctx.event({ type, data: { ticket: ticket.relPath, from: progress.agent, to: agent } });
    ctx.progress({
      type: 'note',
      text:
        type === 'quota_fallback'
          ? `${progress.agent}'s usage limit is used up; ${agent} takes over ${ticket.relPath}`
          : `${agent}'s usage limit has reset; it takes ${ticket.relPath} back`,
    });
    await ctx.sessions.close(progress.id);
    progress.agent = agent;
    progress.profile = profile;
  };
  if (progress.primary) {
    if (exhausted(progress.primary.agent)) return false;
    const { agent, profile } = progress.primary;
    delete progress.primary;
    await switchTo(agent, profile, 'quota_fallback_over');
    return true;
  }
  const fallback = ctx.settings.quotaFallback[progress.agent];
  if (!exhausted(progress.agent) || !fallback || fallback === progress.agent) return false;
  if (!ctx.deps.knownAgents.has(fallback) || exhausted(fallback)) return false;
  progress.primary = { agent: progress.agent, profile: progress.profile };
  await switchTo(fallback, null, 'quota_fallback');
  return true;
}

/**
 * Waits out a quota wait before the agent's next turn, looking for pause and stop requests meanwhile.
 * Returns an outcome when one ended the wait; the time waited is not working time.
 */
export async function waitForQuota(ctx: RunContext, wait: QuotaWait): Promise<FlowOutcome | null> {
  const until = Date.parse(wait.until);
  const started = ctx.now();
  try {
    for (;;) {
      const left = until - ctx.now();
      if (!(left > 0)) break;
      const requested = ctx.requested();
      if (requested === 'stop') return stopped();
      if (requested === 'pause') {
        // a person steps in: the next turn tries at once (they may have raised the plan)
        ctx.state.quotaWait = null;
        return await ctx.pause('pause_requested', 'Paused on request; resume to continue.');
      }
      await ctx.wait('quota reset wait', ctx.sleep(Math.min(left, QUOTA_POLL_MS), ctx.deps.signal));
      const aborted = ctx.abortOutcome();
      if (aborted) return aborted;
    }
  } finally {
    ctx.idleMs += ctx.now() - started;
  }
  ctx.state.quotaWait = null;
  ctx.event({ type: 'quota_wait_over', data: { agent: wait.agent } });
  return null;
}
