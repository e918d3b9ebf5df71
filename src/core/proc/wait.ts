// Bounded waits on child processes, the only waiting code of src/core/proc/. Two rules keep every wait
// settling whatever the order of events:
// - A timer something awaits is NEVER unref'd. An unref'd timer lets the event loop empty under the
//   await, and Node then exits with status 13 without a word (issue 14's P0; see docs/ARCHITECTURE.md).
//   Every timer below is awaited by someone, so none of them is unref'd, and each is cleared once the
//   wait is over so that it holds the process no longer than the wait lasts.
// - A child's 'close' always follows its 'exit' (a grandchild that keeps our pipes open is not allowed to
//   hold the wait forever): see closeAfterExit.
import type { ChildProcess } from 'node:child_process';

/** Resolves after `ms`; the timer is not unref'd (see the rule above). */
export function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Waits for `promise` at most `ms`; the timer is cleared either way, so it never holds the process. */
export async function within(promise: Promise<unknown>, ms: number): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  try {
    await Promise.race([promise, new Promise((resolve) => (timer = setTimeout(resolve, ms)))]);
  } finally {
    clearTimeout(timer);
  }
}

/** Polls `done` every `everyMs` until it returns true (then true) or `timeoutMs` passed (then false). */
export async function pollUntil(done: () => boolean, timeoutMs: number, everyMs = 20): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (done()) return true;
    if (Date.now() >= deadline) return false;
    await delay(everyMs);
  }
}

/**
 * After the child's exit, gives its pipes `graceMs` to drain and close, then destroys them, so the
 * child's 'close' event comes even when something it started still holds a pipe open.
 */
export function closeAfterExit(child: ChildProcess, graceMs: number): void {
  let timer: NodeJS.Timeout | undefined;
  child.once('exit', () => {
    timer = setTimeout(() => {
      for (const stream of [child.stdin, child.stdout, child.stderr]) stream?.destroy();
    }, graceMs);
  });
  child.once('close', () => clearTimeout(timer));
}
