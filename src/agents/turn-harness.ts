// What every agent turn needs whatever the protocol: events passed on without a listener's failure
// reaching the protocol loop, a stall watchdog and a wall-clock cap, and the abort signal, each of which
// stops the turn; a stopped turn ends as cancelled (abort) or failed 'stalled' / 'timeout' (watchdog).
// The adapter supplies only how its agent is asked to stop (interrupt, cancel, kill) and, when asking
// may not be enough, how it is ended by force.
import type { AgentEvent, TurnError, TurnRequest, TurnResult, TurnUsage } from '../core/agent.ts';
import { startWatchdog } from './watchdog.ts';

export type StopReason = 'cancelled' | 'stalled' | 'timeout';

export interface TurnHarnessOptions {
  /** No `touch()` for this long stops the turn as 'stalled'; 0 = never. */
  stallTimeoutMs: number;
  /** The turn is stopped as 'timeout' this long after it started; 0 = never. */
  turnTimeoutMs: number;
  /** Asks the agent to end the turn; called once, with the first reason. */
  onStop: (reason: StopReason, message: string) => void;
  /** When the turn has not ended `afterMs` after the stop, `run` ends it by force (kills the agent). */
  forceStop?: { afterMs: number; run: () => void };
}

export interface TurnHarness {
  /** Passes an event to the request's listener; a listener that throws does not break the turn. */
  emit(event: AgentEvent): void;
  /** Agent activity: restarts the stall timer. */
  touch(): void;
  /** Suspends the stall timer until the returned function is called (see `Watchdog.hold`). */
  hold(): () => void;
  /** Why and when the turn was stopped; null while it was not. */
  readonly stopped: { reason: StopReason; message: string } | null;
  /** Aborts when the turn is stopped or over: a wait on the turn's behalf (a person's answer) ends. */
  readonly over: AbortSignal;
  /** The turn is over: disarms the timers and the abort listener; a stop after this is ignored. */
  end(): void;
  /** The result of a stopped turn from what it produced; null when it was not stopped. */
  stoppedResult(base: TurnOutput): TurnResult | null;
}

/** What a turn produced, whatever its status. */
export interface TurnOutput {
  finalText: string;
  usage?: TurnUsage;
}

/** `onEvent` made safe to call from a protocol loop: a listener's failure must not break the turn. */
export function safeEmitter(onEvent: (event: AgentEvent) => void): (event: AgentEvent) => void {
  return (event) => {
    try {
      onEvent(event);
    } catch {
      // the listener's problem, not the turn's
    }
  };
}

/** A turn that failed before it produced anything. */
export function failedTurn(error: TurnError, finalText = ''): TurnResult {
  return { status: 'failed', finalText, error };
}

/**
 * Starts the harness of one turn. A signal that is already aborted stops the turn on the next microtask
 * (so the adapter has its harness in hand when `onStop` runs): an abort while the adapter was still
 * preparing the turn (starting a process) is not lost.
 */
export function startTurnHarness(
  request: Pick<TurnRequest, 'signal' | 'onEvent'>,
  options: TurnHarnessOptions,
): TurnHarness {
  const emit = safeEmitter(request.onEvent);
  let stopped: TurnHarness['stopped'] = null;
  let ended = false;
  let forceTimer: NodeJS.Timeout | undefined;
  const over = new AbortController();
  const stop = (reason: StopReason, message: string): void => {
    if (stopped || ended) return;
    stopped = { reason, message };
    over.abort(reason);
    watchdog.stop();
    const force = options.forceStop;
    if (force) forceTimer = setTimeout(force.run, force.afterMs);
    options.onStop(reason, message);
  };
  const watchdog = startWatchdog({
    stallTimeoutMs: options.stallTimeoutMs,
    turnTimeoutMs: options.turnTimeoutMs,
    onFire: stop,
  });
  const onAbort = (): void => stop('cancelled', 'turn cancelled');
  const { signal } = request;
  if (signal.aborted) queueMicrotask(onAbort);
  else signal.addEventListener('abort', onAbort, { once: true });

  return {
    emit,
    touch: () => watchdog.touch(),
    hold: () => watchdog.hold(),
    get stopped() {
      return stopped;
    },
    over: over.signal,
    end() {
      ended = true;
      over.abort('ended');
      watchdog.stop();
      clearTimeout(forceTimer);
      signal.removeEventListener('abort', onAbort);
    },
    stoppedResult(base) {
      if (!stopped) return null;
      if (stopped.reason === 'cancelled') return { status: 'cancelled', ...base };
      return { status: 'failed', ...base, error: { kind: stopped.reason, message: stopped.message } };
    },
  };
}
