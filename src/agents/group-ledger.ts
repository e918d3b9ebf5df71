// The ledger of agent process groups a car worker has running, kept in the repo's runtime folder. An exit
// hook stops the groups when car exits, but nothing runs after a SIGKILL or a power cut; the ledger lets
// whoever takes the repo next find the agents that outlived their car (see orphans.ts).
import { readFileSync, rmSync } from 'node:fs';
import { writeFileAtomic } from '../core/fs/atomic.ts';
import { bootId } from '../core/proc/liveness.ts';

export interface LedgerGroup {
  /** Process group id: the agent's pid (it leads its own group). */
  pgid: number;
  /** The leader's start time in clock ticks since boot (Linux), to tell pid reuse apart. */
  start: string | null;
  /** The agent's command (argv[0]), for reports. */
  command: string;
  started_at: string;
}

export interface GroupLedger {
  version: 1;
  /** The boot the groups belong to: after a reboot none of them can be alive. */
  boot_id: string | null;
  owner_pid: number;
  groups: LedgerGroup[];
}

/** The ledger at `file`, or null when there is none or it cannot be read as one. */
export function readGroupLedger(file: string): GroupLedger | null {
  let value: unknown;
  try {
    value = JSON.parse(readFileSync(file, 'utf8'));
  } catch {
    return null;
  }
  const ledger = value as Partial<GroupLedger> | null;
  if (ledger?.version !== 1 || !Array.isArray(ledger.groups)) return null;
  const groups = ledger.groups.filter(
    (g): g is LedgerGroup => Number.isSafeInteger(g?.pgid) && g.pgid > 1 && typeof g.command === 'string',
  );
  return {
    version: 1,
    boot_id: typeof ledger.boot_id === 'string' ? ledger.boot_id : null,
    owner_pid: Number(ledger.owner_pid) || 0,
    groups,
  };
}

/** Records `groups` as this process's live agents; an empty list removes the file. */
export function writeGroupLedger(file: string, groups: LedgerGroup[]): void {
  if (groups.length === 0) {
    rmSync(file, { force: true });
    return;
  }
  const ledger: GroupLedger = { version: 1, boot_id: bootId(), owner_pid: process.pid, groups };
  // A record of this process only: a crash must not tear it, but power loss ends every group anyway.
  writeFileAtomic(file, `${JSON.stringify(ledger, null, 2)}\n`, { createDirs: true, durable: false });
}
