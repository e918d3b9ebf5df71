// Is a process recorded earlier (by a car that may be dead now) still the same process? A pid alone does
// not say: after a reboot none of the recorded processes can be alive, and the kernel hands a freed pid
// to the next process. The boot id and the process's start time tell them apart (Linux; elsewhere the
// pid is all there is).
import { readFileSync } from 'node:fs';
import { liveGroupMembers } from './group.ts';

/** Field 22 of /proc/<pid>/stat (start time in ticks since boot); null where there is no /proc. */
export function processStartTicks(pid: number): string | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'latin1');
    // pid (comm) state ppid ...: comm may hold spaces and parentheses, so count from the last ')'
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19] ?? null;
  } catch {
    return null;
  }
}

/** This boot's id (Linux), null where the system has none. */
export function bootId(): string | null {
  try {
    return readFileSync('/proc/sys/kernel/random/boot_id', 'latin1').trim() || null;
  } catch {
    return null;
  }
}

/** A process group as recorded when its leader was started. */
export interface RecordedGroup {
  pgid: number;
  /** The leader's `processStartTicks` then (null: unknown). */
  start: string | null;
  /** The `bootId()` then (null: unknown). */
  bootId: string | null;
}

/** The live members of a recorded group; none when its id now belongs to someone else. */
export function survivingMembers(group: RecordedGroup): number[] {
  if (group.bootId !== null && group.bootId !== bootId()) return [];
  const members = liveGroupMembers(group.pgid);
  // A leader that is alive must be the process recorded, not a later one that got the same pid. (While any
  // member is alive Linux does not hand the group id out again, so members of a dead leader are ours.)
  if (members.includes(group.pgid) && group.start !== null && processStartTicks(group.pgid) !== group.start) {
    return [];
  }
  return members;
}
