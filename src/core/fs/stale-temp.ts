// A process killed between creating a temp file and renaming it (kill -9, power loss) leaves the temp
// file behind. Readers skip dot-files, so it is only clutter; a run start sweeps the folders car writes.
import { readdirSync, statSync, unlinkSync } from 'node:fs';
import { join } from 'node:path';
import { tempFileOwner } from './atomic.ts';

/** A live writer renames its temp file within moments; one this old is stale even if its pid was reused. */
const STALE_AFTER_MS = 60 * 60 * 1000;

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    // EPERM: alive, owned by another user.
    return (err as NodeJS.ErrnoException).code !== 'ESRCH';
  }
}

/**
 * Removes the temp files (`.<name>.<pid>.<hex>.tmp`) directly in `dirs` whose writer is gone or that
 * are over an hour old. Missing folders and files that vanish meanwhile are fine. Returns the removed paths.
 */
export function removeStaleTempFiles(dirs: readonly string[], now = Date.now()): string[] {
  const removed: string[] = [];
  for (const dir of dirs) {
    let names: string[];
    try {
      names = readdirSync(dir);
    } catch {
      continue;
    }
    for (const name of names) {
      const pid = tempFileOwner(name);
      if (pid === null) continue;
      const path = join(dir, name);
      try {
        if (isAlive(pid) && now - statSync(path).mtimeMs < STALE_AFTER_MS) continue;
        unlinkSync(path);
        removed.push(path);
      } catch {
        // Renamed or removed by its writer meanwhile, or not ours to remove.
      }
    }
  }
  return removed;
}
