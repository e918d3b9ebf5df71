import type { Agent, AgentResolver } from '../core/agent.ts';
import type { CarConfig } from '../core/config/index.ts';
import { createDemoAgent } from './demo.ts';

/**
 * Maps a ticket's `agent:` id to a backend from config. Unknown ids and backends car cannot run yet
 * fail with a message naming the agent and what to do; the engine turns that into a pause.
 */
export function createAgentResolver(
  config: CarConfig,
  opts: { demoStepDelayMs?: number } = {},
): AgentResolver {
  const cache = new Map<string, Agent>();
  return (agentId) => {
    const cached = cache.get(agentId);
    if (cached) return cached;
    const entry = config.agents[agentId];
    if (!entry) {
      throw new Error(
        `agent "${agentId}" is not configured (configured: ${Object.keys(config.agents).sort().join(', ')})`,
      );
    }
    let agent: Agent;
    switch (entry.backend) {
      case 'demo': {
        const configured = (entry as Record<string, unknown>).step_delay_ms;
        const delay = opts.demoStepDelayMs ?? (typeof configured === 'number' ? configured : 0);
        agent = createDemoAgent({ stepDelayMs: delay });
        break;
      }
      default:
        throw new Error(
          `agent "${agentId}" uses backend "${entry.backend ?? 'unset'}", which this build of car cannot run yet`,
        );
    }
    cache.set(agentId, agent);
    return agent;
  };
}
