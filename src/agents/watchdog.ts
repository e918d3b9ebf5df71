// Per-turn watchdog shared by the agent adapters: an idle timer reset by every agent event (an agent
// that goes silent is stalled) and a hard wall-clock cap on the whole turn.

export type WatchdogReason = 'stalled' | 'timeout';

export interface WatchdogOptions {
  /** Fire 'stalled' after this many ms without `touch()`; 0 or absent disables. */
  stallTimeoutMs?: number;
  /** Fire 'timeout' this many ms after start regardless of activity; 0 or absent disables. */
  turnTimeoutMs?: number;
  /** Called once, with the first reason that fires. */
  onFire: (reason: WatchdogReason, message: string) => void;
}

export interface Watchdog {
  /** Records activity: restarts the idle timer. */
  touch(): void;
  /**
   * Suspends the idle timer until the returned function is called (every hold, when several overlap):
   * while car itself is deciding an answer the agent waits for, the agent's silence is not a stall.
   */
  hold(): () => void;
  /** Stops both timers; the watchdog never fires afterwards. */
  stop(): void;
  /** The reason it fired, or null. */
  readonly fired: WatchdogReason | null;
}

export function startWatchdog(options: WatchdogOptions): Watchdog {
  const stallMs = options.stallTimeoutMs ?? 0;
  const turnMs = options.turnTimeoutMs ?? 0;
  let fired: WatchdogReason | null = null;
  let stopped = false;
  let holds = 0;
  let idleTimer: NodeJS.Timeout | undefined;
  let capTimer: NodeJS.Timeout | undefined;

  const fire = (reason: WatchdogReason, message: string) => {
    if (stopped || fired) return;
    fired = reason;
    clearTimeout(idleTimer);
    clearTimeout(capTimer);
    options.onFire(reason, message);
  };
  const armIdle = () => {
    clearTimeout(idleTimer);
    if (stallMs > 0 && holds === 0) {
      idleTimer = setTimeout(
        () => fire('stalled', `agent stalled: no progress for ${formatMs(stallMs)}`),
        stallMs,
      );
    }
  };
  armIdle();
  if (turnMs > 0) {
    capTimer = setTimeout(() => fire('timeout', `turn timed out after ${formatMs(turnMs)}`), turnMs);
  }
  return {
    touch() {
      if (!stopped && !fired) armIdle();
    },
    hold() {
      holds += 1;
      clearTimeout(idleTimer);
      let released = false;
      return () => {
        if (released) return;
        released = true;
        holds -= 1;
        if (!stopped && !fired) armIdle();
      };
    },
    stop() {
      stopped = true;
      clearTimeout(idleTimer);
      clearTimeout(capTimer);
    },
    get fired() {
      return fired;
    },
  };
}

function formatMs(ms: number): string {
  return ms >= 1000 && ms % 1000 === 0 ? `${ms / 1000} s` : `${ms} ms`;
}
