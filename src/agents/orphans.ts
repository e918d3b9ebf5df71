// Agents that outlived their car. A worker killed with SIGKILL leaves its agents running (each leads its
// own process group), still editing the repo; the next worker must stop them before it starts its own.
import type { AgentProcessPort, OrphanedAgent } from '../control/flow-control.ts';
import {
  bootId,
  type LedgerGroup,
  processStartTicks,
  readGroupLedger,
  writeGroupLedger,
} from './group-ledger.ts';
import { keepGroupLedger, liveGroupMembers, signalProcessGroup, waitForGroupGone } from './process.ts';

/** Members still running from a ledger entry; none when the id now belongs to someone else. */
function survivors(group: LedgerGroup, sameBoot: boolean): number[] {
  if (!sameBoot) return [];
  const members = liveGroupMembers(group.pgid);
  // A leader that is alive must be the process recorded, not a later one that got the same pid. (While any
  // member is alive Linux does not hand the group id out again, so members of a dead leader are ours.)
  if (members.includes(group.pgid) && group.start !== null && processStartTicks(group.pgid) !== group.start) {
    return [];
  }
  return members;
}

/**
 * Stops the agent groups recorded in the ledger at `file` that are still running (SIGTERM, then SIGKILL
 * after `graceMs`) and removes the ledger. Call only while holding the repo lock, so its previous
 * owner is known to be gone.
 */
export async function stopOrphanedAgents(file: string, graceMs = 2000): Promise<OrphanedAgent[]> {
  const ledger = readGroupLedger(file);
  if (!ledger) return [];
  if (ledger.owner_pid === process.pid) return []; // our own agents are not orphans
  const sameBoot = ledger.boot_id === null || ledger.boot_id === bootId();
  const stopped: OrphanedAgent[] = [];
  for (const group of ledger.groups) {
    const members = survivors(group, sameBoot);
    if (members.length === 0) continue;
    const report: OrphanedAgent = {
      pgid: group.pgid,
      command: group.command,
      started_at: group.started_at,
      processes: members.length,
      signal: null,
    };
    stopped.push(report);
    if (!signalProcessGroup(group.pgid, 'SIGTERM')) continue;
    if (await waitForGroupGone(group.pgid, graceMs)) {
      report.signal = 'SIGTERM';
      continue;
    }
    signalProcessGroup(group.pgid, 'SIGKILL');
    if (await waitForGroupGone(group.pgid, 2000)) report.signal = 'SIGKILL';
  }
  writeGroupLedger(file, []);
  return stopped;
}

/** The control plane's view of agent process bookkeeping (FlowControl's AgentProcessPort). */
export const agentProcessPort: AgentProcessPort = {
  stopOrphans: (ledgerFile) => stopOrphanedAgents(ledgerFile),
  keepLedger: (ledgerFile) => keepGroupLedger(ledgerFile),
};
