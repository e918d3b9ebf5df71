// How long-running commands (`serve`, `chat run`, `hub run`, a foreground run, `flow worker`) end on
// SIGINT/SIGTERM: the first signal starts a graceful stop; if the process is still there `graceMs`
// later, or a second signal comes, it exits at once with status 1 and says it was forced. Whatever state
// the command is in (starting up, waiting on a platform, mid-turn), a signal ends it within a bound.
import type { CliIo } from './io.ts';

export interface StopSignals {
  /** True once a signal came. */
  readonly signalled: boolean;
  /**
   * Removes the handlers (call when the command ends). Once a signal came the force timer stays armed,
   * unref'd: a command that returned but left a handle open still exits within the grace.
   */
  dispose(): void;
}

export function onStopSignals(
  io: CliIo,
  what: string,
  stop: (signal: NodeJS.Signals) => void,
  graceMs = 5000,
): StopSignals {
  let signalled = false;
  let timer: NodeJS.Timeout | undefined;
  const force = (why: string) => {
    io.stderr(`car: ${what} did not stop ${why}; exiting now\n`);
    io.exit?.(1);
  };
  const onSignal = (signal: NodeJS.Signals) => {
    if (signalled) return force('after a second signal');
    signalled = true;
    timer = setTimeout(() => force(`within ${graceMs / 1000} s`), graceMs);
    stop(signal);
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  return {
    get signalled() {
      return signalled;
    },
    dispose() {
      if (signalled) timer?.unref();
      else clearTimeout(timer);
      process.off('SIGINT', onSignal);
      process.off('SIGTERM', onSignal);
    },
  };
}
