// Bounded waits on child processes. Two rules keep every wait settling whatever the order of events:
// a timer something awaits is never unref'd (an unref'd timer lets the event loop empty under the
// await, and Node exits with status 13 without a word), and a child's 'close' always follows its 'exit'
// (a grandchild that keeps our pipes open is not allowed to hold the wait forever).
import type { ChildProcess } from 'node:child_process';

/** Waits for `promise` at most `ms`; the timer is cleared either way, so it never holds the process. */
export async function within(promise: Promise<unknown>, ms: number): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  try {
    await Promise.race([promise, new Promise((resolve) => (timer = setTimeout(resolve, ms)))]);
  } finally {
    clearTimeout(timer);
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
