// Every configured agent as a person checks it: the backend and the command car would start, whether
// that command is on PATH, which config layers its settings come from, and what car can do with it
// (`car agents list`, `car describe --json`).
import { defaultAgentId } from '../core/config/agents.ts';
import type { LoadedConfig } from '../core/config/index.ts';
import { which } from '../core/which.ts';
import {
  BACKEND_CAPABILITIES,
  type BackendKind,
  backendKind,
  type Capability,
  type Support,
} from './capabilities.ts';
import { installHint } from './catalog.ts';
import { agentLaunch } from './resolver.ts';

export interface AgentReport {
  id: string;
  /** The backend kind (`codex`, `acp`, `command:<format>`, `demo`); null when the entry is incomplete. */
  backend: BackendKind | null;
  /** The argv car starts (a command agent gets flags and the prompt appended); null for the demo agent. */
  command: string[] | null;
  /** The program of `command`. */
  binary: string | null;
  /** Where `binary` was found on PATH; null when it was not (or there is none). */
  path: string | null;
  on_path: boolean | null;
  /** The config layers that set this agent's keys, lowest precedence first. */
  sources: string[];
  default: boolean;
  capabilities: Record<Capability, Support> | null;
  /** How to install `binary` when it is missing and car knows the agent. */
  install: string | null;
  /** Why the entry cannot run (an incomplete entry), or null. */
  error: string | null;
}

function sourcesOf(loaded: LoadedConfig, id: string): string[] {
  const entry = loaded.config.agents[id] ?? {};
  const found = new Set([loaded.origin(['agents', id])]);
  for (const key of Object.keys(entry)) found.add(loaded.origin(['agents', id, key]));
  const order = loaded.sources.map((s) => s.layer);
  // repo layers are named as listed; a hub's files by their path from the repo; variables by name
  const rank = (source: string) => {
    const at = order.indexOf(source);
    if (at !== -1) return at;
    return source.endsWith('.yml') ? order.indexOf('hub_config') : order.length;
  };
  return [...found].sort((a, b) => rank(a) - rank(b));
}

export function reportAgents(loaded: LoadedConfig, env: NodeJS.ProcessEnv): AgentReport[] {
  const defaultAgent = defaultAgentId(loaded.config);
  return Object.keys(loaded.config.agents)
    .sort()
    .map((id): AgentReport => {
      const about = { default: id === defaultAgent, sources: sourcesOf(loaded, id) };
      let launch: ReturnType<typeof agentLaunch>;
      try {
        launch = agentLaunch(id, loaded.config.agents[id]!, loaded.config);
      } catch (err) {
        const none = { backend: null, command: null, binary: null, path: null, on_path: null };
        return { id, ...none, ...about, capabilities: null, install: null, error: (err as Error).message };
      }
      const kind = backendKind(launch.backend, launch.format);
      const binary = launch.command?.[0] ?? null;
      const path = binary === null ? null : which(binary, env);
      const capabilities = Object.fromEntries(
        Object.entries(BACKEND_CAPABILITIES[kind]).map(([c, info]) => [c, info.support]),
      ) as Record<Capability, Support>;
      return {
        id,
        backend: kind,
        command: launch.command,
        binary,
        path,
        on_path: binary === null ? null : path !== null,
        ...about,
        capabilities,
        install: binary !== null && path === null ? installHint(binary) : null,
        error: null,
      };
    });
}
