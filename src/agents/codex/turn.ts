// One codex turn as car sees it: the app-server's notifications translated to AgentEvents (and the
// turn's running state), and how the turn ended translated to a TurnResult.
import type { TurnResult, TurnUsage } from '../../core/agent.ts';
import type { TurnHarness } from '../turn-harness.ts';
import {
  addUsage,
  type CodexTurnError,
  classifyCodexError,
  type ItemTracker,
  itemCompletedEvents,
  itemStartedEvents,
  quotaResetAt,
  type RateLimits,
} from './events.ts';
import type { ExitInfo } from './jsonrpc.ts';

export type TurnOutcome =
  | { kind: 'completed'; turn: Record<string, unknown> }
  | { kind: 'exited'; exit: ExitInfo }
  | { kind: 'protocol'; message: string };

export interface ActiveTurn {
  turnId: string | null;
  harness: TurnHarness;
  tracker: ItemTracker;
  usage: TurnUsage | null;
  finish: (outcome: TurnOutcome) => void;
}

/** Applies a notification of the turn (already known to be this turn's) to it. */
export function applyNotification(turn: ActiveTurn, method: string, params: Record<string, unknown>): void {
  const item = (params.item !== null && typeof params.item === 'object' ? params.item : null) as Record<
    string,
    unknown
  > | null;
  switch (method) {
    case 'turn/started': {
      const t = params.turn as { id?: unknown } | undefined;
      if (turn.turnId === null && typeof t?.id === 'string') turn.turnId = t.id;
      return;
    }
    case 'item/agentMessage/delta': {
      const delta = typeof params.delta === 'string' ? params.delta : '';
      const itemId = typeof params.itemId === 'string' ? params.itemId : '';
      turn.tracker.messageDeltas.set(itemId, (turn.tracker.messageDeltas.get(itemId) ?? '') + delta);
      if (delta) turn.harness.emit({ type: 'message_delta', text: delta });
      return;
    }
    case 'item/commandExecution/outputDelta': {
      const itemId = typeof params.itemId === 'string' ? params.itemId : '';
      const delta = typeof params.delta === 'string' ? params.delta : '';
      const sofar = turn.tracker.commandOutput.get(itemId) ?? '';
      if (sofar.length < 1_000_000) turn.tracker.commandOutput.set(itemId, sofar + delta);
      return;
    }
    case 'item/started':
      if (item) for (const e of itemStartedEvents(item, turn.tracker)) turn.harness.emit(e);
      return;
    case 'item/completed':
      if (item) for (const e of itemCompletedEvents(item, turn.tracker)) turn.harness.emit(e);
      return;
    case 'thread/tokenUsage/updated':
      // streamed as it grows (the turn's total so far), so a token budget can stop the turn mid-way
      turn.usage = addUsage(turn.usage ?? {}, params);
      turn.harness.emit({ type: 'usage', usage: turn.usage });
      return;
    case 'error': {
      const error = (params.error ?? {}) as CodexTurnError;
      const message = [error.message, error.additionalDetails].filter(Boolean).join(': ') || 'codex error';
      if (params.willRetry === true)
        turn.harness.emit({ type: 'status', message: `codex is retrying: ${message}` });
      else turn.harness.emit({ type: 'error', message });
      return;
    }
    case 'warning':
      if (typeof params.message === 'string')
        turn.harness.emit({ type: 'status', message: `codex warning: ${params.message}` });
      return;
    case 'turn/completed': {
      const t = (params.turn ?? {}) as Record<string, unknown>;
      if (turn.turnId !== null && typeof t.id === 'string' && t.id !== turn.turnId) return;
      if (turn.tracker.lastMessage === null && Array.isArray(t.items)) {
        // codex 0.169 summarises the final agent message here; use it if no item/completed carried it
        const last = [...t.items].reverse().find((i) => (i as { type?: unknown }).type === 'agentMessage') as
          | { text?: unknown }
          | undefined;
        if (typeof last?.text === 'string') turn.tracker.lastMessage = last.text;
      }
      turn.finish({ kind: 'completed', turn: t });
      return;
    }
    default:
      return;
  }
}

export function turnResult(turn: ActiveTurn, outcome: TurnOutcome, rateLimits: RateLimits): TurnResult {
  const finalText = turn.tracker.lastMessage ?? '';
  const base = { finalText, ...(turn.usage ? { usage: turn.usage } : {}) };
  // a turn codex completed stands even when car stopped it meanwhile
  if (outcome.kind === 'completed' && outcome.turn.status === 'completed') {
    return { status: 'completed', ...base };
  }
  const stopped = turn.harness.stoppedResult(base);
  if (stopped) return stopped;
  if (outcome.kind === 'completed') {
    const status = outcome.turn.status;
    if (status === 'failed') {
      const error = classifyCodexError(outcome.turn.error as CodexTurnError | null);
      const resetAt = error.kind === 'quota' ? quotaResetAt(rateLimits) : null;
      return { status: 'failed', ...base, error: resetAt ? { ...error, retryAt: resetAt } : error };
    }
    if (status === 'interrupted') return { status: 'interrupted', ...base };
    return {
      status: 'failed',
      ...base,
      error: { kind: 'protocol', message: `codex: turn ended with status ${String(status)}` },
    };
  }
  if (outcome.kind === 'protocol')
    return { status: 'failed', ...base, error: { kind: 'protocol', message: outcome.message } };
  return {
    status: 'failed',
    ...base,
    error: {
      kind: 'agent',
      message: `codex app-server exited during the turn: ${describeExit(outcome.exit)}`,
    },
  };
}

export function describeExit(exit: ExitInfo): string {
  const how = exit.signal ? `signal ${exit.signal}` : `code ${exit.code ?? 'unknown'}`;
  const tail = exit.stderrTail.trim();
  return tail ? `${how}; stderr: ${tail.slice(-1000)}` : how;
}
