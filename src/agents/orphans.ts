// Agents that outlived their car. A worker killed with SIGKILL leaves its agents running (each leads its
// own process group), still editing the repo; the next worker must stop them before it starts its own.
import type { AgentProcessPort, OrphanedAgent } from '../control/flow-control.ts';
import { killProcessGroup } from '../core/proc/group.ts';
import { survivingMembers } from '../core/proc/liveness.ts';
import { readGroupLedger, writeGroupLedger } from './group-ledger.ts';
import { keepGroupLedger } from './process.ts';

/**
 * Stops the agent groups recorded in the ledger at `file` that are still running (SIGTERM, then SIGKILL
 * after `graceMs`) and removes the ledger. Call only while holding the repo lock, so its previous
 * owner is known to be gone.
 */
export async function stopOrphanedAgents(file: string, graceMs = 2000): Promise<OrphanedAgent[]> {
  const ledger = readGroupLedger(file);
  if (!ledger) return [];
  if (ledger.owner_pid === process.pid) return []; // our own agents are not orphans
  const stopped: OrphanedAgent[] = [];
  for (const group of ledger.groups) {
    const members = survivingMembers({ pgid: group.pgid, start: group.start, bootId: ledger.boot_id });
    if (members.length === 0) continue;
    stopped.push({
      pgid: group.pgid,
      command: group.command,
      started_at: group.started_at,
      processes: members.length,
      signal: await killProcessGroup(group.pgid, graceMs),
    });
  }
  writeGroupLedger(file, []);
  return stopped;
}

/** The control plane's view of agent process bookkeeping (FlowControl's AgentProcessPort). */
export const agentProcessPort: AgentProcessPort = {
  stopOrphans: (ledgerFile) => stopOrphanedAgents(ledgerFile),
  keepLedger: (ledgerFile) => keepGroupLedger(ledgerFile),
};
