// One agent turn as the store sees it: the agent's events are batched into the run's events as they
// stream, the caller's abort reaches the turn, and a turn whose streamed usage crosses the token budget
// is interrupted.
import type { AgentEvent, AgentSession, TurnResult, TurnUsage } from '../agent.ts';
import type { JsonObject, NewEvent } from '../store/types.ts';
import type { Ticket } from '../tickets/index.ts';
import { AGENT_EVENT_TYPES } from './events.ts';
import type { RunContext } from './run-context.ts';
import { budgetTokens, type TokenBudget } from './state.ts';

const EVENT_BATCH = 256;
const EVENT_FLUSH_MS = 100;

export interface StreamedTurn {
  result: TurnResult;
  /** The turn's usage as reported at its end, or as last streamed. */
  usage: TurnUsage | undefined;
  /** The turn was interrupted because its usage crossed `budget`. */
  overBudget: boolean;
  /** The agent ran a command or a tool, or changed a file: the tree has likely changed. */
  acted: boolean;
}

export async function streamTurn(
  ctx: RunContext,
  session: AgentSession,
  prompt: string,
  ticket: Ticket,
  turnId: number,
  budget: TokenBudget | null,
  /** Called once, on the agent's first event that is not a status: the turn is under way. */
  underWay: () => void,
): Promise<StreamedTurn> {
  // The turn stops for the caller's abort or for its budget; the caller's signal lives as long as the
  // run, so it is forwarded with a listener removed after the turn (AbortSignal.any would pile up).
  const turnAbort = new AbortController();
  let overBudget = false;
  const outer = ctx.deps.signal;
  const forward = () => turnAbort.abort(outer?.reason);
  if (outer?.aborted) forward();
  else outer?.addEventListener('abort', forward, { once: true });
  let streamed: TurnUsage | undefined;
  let acted = false;
  const buffer: NewEvent[] = [];
  let timer: NodeJS.Timeout | undefined;
  const flush = () => {
    if (timer) clearTimeout(timer);
    timer = undefined;
    if (buffer.length > 0) ctx.store.appendEvents(ctx.runId, buffer.splice(0));
  };
  let started = false;
  const onEvent = (event: AgentEvent) => {
    const { type, ...data } = event;
    if (!started && type !== 'status') {
      started = true;
      underWay();
    }
    buffer.push({ type: AGENT_EVENT_TYPES[type], turnId, data: data as JsonObject });
    if (buffer.length >= EVENT_BATCH) flush();
    else timer ??= setTimeout(flush, EVENT_FLUSH_MS);
    if (event.type === 'file_change' || event.type === 'command_output' || event.type === 'tool_call') {
      acted = true;
    }
    if (event.type === 'message') ctx.progress({ type: 'agent', text: event.text });
    else if (event.type === 'tool_call') ctx.progress({ type: 'tool', name: event.name });
    else if (event.type === 'usage') {
      streamed = event.usage;
      if (budget && !turnAbort.signal.aborted && budget.used + budgetTokens(streamed) > budget.limit) {
        overBudget = true;
        turnAbort.abort('budget');
      }
    }
  };
  const request = { prompt, signal: turnAbort.signal, onEvent, ...ticketOverrides(ticket) };
  let result: TurnResult;
  ctx.activeTurnId = turnId;
  try {
    result = await ctx.wait(
      `${ctx.state.ticket?.agent ?? 'agent'} turn on ${ticket.relPath}`,
      session.runTurn(request),
    );
  } catch (err) {
    result = { status: 'failed', finalText: '', error: { kind: 'unknown', message: (err as Error).message } };
  } finally {
    ctx.activeTurnId = null;
    outer?.removeEventListener('abort', forward);
    flush();
  }
  return { result, usage: result.usage ?? streamed, overBudget, acted };
}

function ticketOverrides(ticket: Ticket): { model?: string; reasoning?: string; profile?: string } {
  const out: { model?: string; reasoning?: string; profile?: string } = {};
  if (ticket.model) out.model = ticket.model;
  if (ticket.reasoning) out.reasoning = ticket.reasoning;
  if (ticket.profile) out.profile = ticket.profile;
  return out;
}
