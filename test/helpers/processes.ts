import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';

/** True while the process exists (`kill(pid, 0)` reaches it). */
export function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** True while `process.kill(-pgid, 0)` finds the group (zombies awaiting reaping included). */
export function groupExists(pgid: number): boolean {
  try {
    process.kill(-pgid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code !== 'ESRCH';
  }
}

/**
 * Asserts every process group is gone: `process.kill(-pgid, 0)` throws ESRCH. Polls for a while
 * because an orphaned grandchild, once killed, is a zombie until init reaps it.
 */
export async function assertGroupsGone(pgids: number[], timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const left = pgids.filter(groupExists);
    if (left.length === 0) return;
    if (Date.now() > deadline) assert.fail(`process groups still alive: ${left.join(', ')}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

/** Pids a fake agent appended to its pid file, one a line. */
export function readPids(file: string): number[] {
  try {
    return readFileSync(file, 'utf8')
      .split('\n')
      .filter((l) => l.trim() !== '')
      .map(Number);
  } catch {
    return [];
  }
}
