import type { CarConfig } from './schema.ts';

/** The agent new tickets get: `ticket_flow.default_agent`, else codex (car's default before the key). */
export function defaultAgentId(config: Pick<CarConfig, 'ticket_flow'>): string {
  return config.ticket_flow.default_agent ?? 'codex';
}

/** Agent ids a ticket may name: the configured agents plus `user` (a human). */
export function knownAgentIds(config: Pick<CarConfig, 'agents'>): Set<string> {
  return new Set([...Object.keys(config.agents), 'user']);
}

/** The project manager agent: `pma.agent`, else CAR's `pma.default_agent`, else codex. */
export function pmaAgentId(config: Pick<CarConfig, 'pma'>): string {
  return config.pma.agent ?? config.pma.default_agent ?? 'codex';
}
