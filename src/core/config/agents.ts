import type { CarConfig } from './schema.ts';

/** Agent ids a ticket may name: the configured agents plus `user` (a human). */
export function knownAgentIds(config: Pick<CarConfig, 'agents'>): Set<string> {
  return new Set([...Object.keys(config.agents), 'user']);
}
