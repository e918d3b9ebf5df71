// Process groups: car starts every child that may start children of its own (agents, verify commands,
// git with its hooks) as the leader of a new process group, so that stopping it stops everything it
// started, and a grandchild holding our pipes cannot outlive it unnoticed.
import { type ChildProcess, type SpawnOptions, spawn } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { pollUntil } from './wait.ts';

/** Starts `command` as the leader of a new process group (its pid is the group id). */
export function spawnInGroup(
  command: string,
  args: readonly string[],
  options: Omit<SpawnOptions, 'detached'>,
): ChildProcess {
  return spawn(command, args, { ...options, detached: true });
}

/** Signals every member of the group; false when the group is already gone. */
export function signalProcessGroup(pgid: number, signal: NodeJS.Signals | 0): boolean {
  try {
    process.kill(-pgid, signal);
    return true;
  } catch {
    return false;
  }
}

/**
 * Live (non-zombie) members of process group `pgid`. On Linux this reads /proc, so members that died
 * and wait to be reaped (an orphan re-parented to init, or children codex leaves behind) do not count;
 * elsewhere the group counts as live while kill(0) reaches it.
 */
export function liveGroupMembers(pgid: number): number[] {
  try {
    process.kill(-pgid, 0);
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM' ? [pgid] : [];
  }
  if (process.platform !== 'linux') return [pgid];
  let entries: string[];
  try {
    entries = readdirSync('/proc');
  } catch {
    return [pgid];
  }
  const live: number[] = [];
  for (const entry of entries) {
    if (entry.charCodeAt(0) < 48 || entry.charCodeAt(0) > 57) continue;
    let stat: string;
    try {
      stat = readFileSync(`/proc/${entry}/stat`, 'latin1');
    } catch {
      continue;
    }
    // pid (comm) state ppid pgrp ...; comm may contain spaces and parentheses
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    if (Number(fields[2]) === pgid && fields[0] !== 'Z' && fields[0] !== 'X') live.push(Number(entry));
  }
  return live;
}

/** True while any member of process group `pgid` is alive (zombies do not count). */
export function processGroupAlive(pgid: number): boolean {
  return liveGroupMembers(pgid).length > 0;
}

/** Polls until the group has no live member or `timeoutMs` passed; true when it is gone. */
export function waitForGroupGone(pgid: number, timeoutMs: number): Promise<boolean> {
  return pollUntil(() => !processGroupAlive(pgid), timeoutMs);
}

/** How long a group may take to be gone after SIGKILL (a dying process still has to be scheduled). */
const AFTER_SIGKILL_MS = 5000;

/**
 * Kills process group `pgid` with everything in it: SIGTERM, SIGKILL to whatever is still alive after
 * `graceMs`, then a bounded wait until no member is left. For a child of this process, `leaderExited`
 * says whether its exit was seen: the group counts as gone only then, because a dead leader stays a
 * zombie in the group until Node reaps it. Returns the signal after which the group was gone, or null
 * when it was gone before (or outlived the wait after SIGKILL).
 */
export async function killProcessGroup(
  pgid: number,
  graceMs: number,
  leaderExited: () => boolean = () => true,
): Promise<NodeJS.Signals | null> {
  const gone = () => leaderExited() && !processGroupAlive(pgid);
  if (gone() || !signalProcessGroup(pgid, 'SIGTERM')) return null;
  if (await pollUntil(gone, graceMs)) return 'SIGTERM';
  signalProcessGroup(pgid, 'SIGKILL');
  return (await pollUntil(gone, AFTER_SIGKILL_MS)) ? 'SIGKILL' : null;
}
