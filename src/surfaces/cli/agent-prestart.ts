// `car run` and the run worker start the agent of the queue's first ready ticket before they load the
// rest of car. Codex's app-server takes ~0.4 s to boot and the engine, store and git adapters ~0.2 s to
// load; started first, the two overlap instead of adding up. This module imports only the repo lookup, the
// config, the ticket reader and the agent resolver, so the agent is spawned as early as the config that
// names its command is known. The run then uses the same resolver (and the config read here): a prewarmed
// agent is the one the engine's first session gets. Nothing here writes a file.

import { createAgentResolver } from '../../agents/resolver.ts';
import type { AgentResolver } from '../../core/agent.ts';
import { knownAgentIds } from '../../core/config/agents.ts';
import type { LoadedConfig } from '../../core/config/index.ts';
import { loadTicketQueue, readiness } from '../../core/tickets/index.ts';
import { type GlobalOptions, loadRepoConfig, type RepoContext, resolveRepo } from './context.ts';
import type { CliIo } from './io.ts';

export interface Prestarted {
  repo: RepoContext;
  loaded: LoadedConfig;
  /** The run's resolver; whoever takes it closes it (the run does, through `runWorker`). */
  resolver: AgentResolver & { close(): Promise<void> };
}

/** Reads the repo and config, and asks the first ready ticket's agent to start its process. */
export async function prestartAgent(io: CliIo, global: GlobalOptions): Promise<Prestarted> {
  const repo = resolveRepo(io, global);
  const loaded = await loadRepoConfig(io, repo.paths.root);
  const resolver = createAgentResolver(loaded.config, { root: repo.paths.root });
  const agentId = firstReadyAgent(repo, loaded);
  if (agentId) {
    try {
      resolver(agentId).prewarm?.({ cwd: repo.paths.root });
    } catch {
      // an agent that cannot be resolved is the engine's to report (agent_unavailable), not this guess's
    }
  }
  return { repo, loaded, resolver };
}

/** What the engine will most likely run first: the first ready ticket by number, if it names an agent. */
function firstReadyAgent(repo: RepoContext, loaded: LoadedConfig): string | null {
  try {
    const queue = loadTicketQueue(repo.paths.ticketsDir, {
      repoRoot: repo.paths.root,
      agents: knownAgentIds(loaded.config),
    });
    const next = readiness(queue.tickets, queue.dependencies).ready[0];
    return next?.valid && next.agent ? next.agent.toLowerCase() : null;
  } catch {
    return null; // an unreadable queue is the run's to report
  }
}
