// A turn that did not complete: a used-up plan waits or falls back (quota.ts), a stalled agent is
// retried in a new session on the same thread, a network error is retried with backoff, anything else pauses for a person.
import type { TurnResult } from '../agent.ts';
import type { JsonObject } from '../store/types.ts';
import type { Ticket } from '../tickets/index.ts';
import { CONTINUE, end, type Step } from './flow-types.ts';
import { quotaExhausted } from './quota.ts';
import type { RunContext } from './run-context.ts';
import type { TicketProgress } from './state.ts';

/** Backoff before network retry `attempt` (1-based): 1 s doubling to 30 s. */
export function networkRetryDelayMs(attempt: number): number {
  // CAR retried at once and burned its retries in a blip
  return Math.min(30_000, 1000 * 2 ** (attempt - 1));
}

export async function afterFailedTurn(
  ctx: RunContext,
  ticket: Ticket,
  progress: TicketProgress,
  result: TurnResult,
): Promise<Step> {
  const { settings } = ctx;
  const message = result.error?.message ?? `turn ${result.status}`;
  if (result.error?.kind === 'quota') return quotaExhausted(ctx, ticket, progress, result.error);
  if (result.error?.kind === 'stalled' && (progress.stallRetries ?? 0) < settings.maxStallRetries) {
    // A wedged turn (no events for the idle timeout; the adapter interrupted it, and killed the agent's
    // process when that did not end it): retry in a new session on the same thread, as a person would,
    // before asking one.
    progress.stallRetries = (progress.stallRetries ?? 0) + 1;
    ctx.event({
      type: 'stall_retry',
      data: { ticket: ticket.relPath, attempt: progress.stallRetries, error: message.slice(0, 2000) },
    });
    ctx.progress({ type: 'note', text: `agent stalled; retrying on the same thread (${message})` });
    await ctx.sessions.close(progress.id);
    ctx.persist();
    return CONTINUE;
  }
  if (result.error?.kind === 'network' && progress.networkRetries < settings.maxNetworkRetries) {
    progress.networkRetries += 1;
    const delay = networkRetryDelayMs(progress.networkRetries);
    ctx.event({
      type: 'network_retry',
      data: { attempt: progress.networkRetries, delay_ms: delay, error: message },
    });
    ctx.persist();
    await ctx.wait('network retry backoff', ctx.sleep(delay, ctx.deps.signal));
    return CONTINUE;
  }
  return end(
    await ctx.pause(
      'agent_error',
      `Agent turn failed on ${ticket.relPath}: ${message}. Fix the cause and resume.`,
      {
        ticket: ticket.relPath,
        error: (result.error ?? { kind: 'unknown', message }) as unknown as JsonObject,
      },
    ),
  );
}
