import type { Agent, AgentResolver } from '../core/agent.ts';
import type { AgentConfig, CarConfig } from '../core/config/index.ts';
import { envWithout, secretEnvToRemove } from '../core/config/secrets.ts';
import { createAcpAgent, resolveAcpPreset } from './acp/adapter.ts';
import { createCodexAgent } from './codex/adapter.ts';
import { seedCodexHome, workspaceCodexHome } from './codex/home.ts';
import { createCommandAgent } from './command/adapter.ts';
import { COMMAND_FORMATS, type CommandFormat } from './command/parsers.ts';
import { createDemoAgent } from './demo.ts';

export interface ResolverOptions {
  /** Repo (or worktree) root: the codex backend keeps a private CODEX_HOME per workspace. */
  root?: string;
  /** Overrides the demo agent's pause between steps (car demo). */
  demoStepDelayMs?: number;
  /** car's environment (default process.env). Agents get it without car's secrets. */
  env?: NodeJS.ProcessEnv;
}

const seconds = (value: number | null | undefined): number | undefined =>
  value === null ? 0 : value === undefined ? undefined : Math.round(value * 1000);

/** Loose extra keys an agent entry may carry beyond the typed ones (config objects keep unknown keys). */
function extra(entry: AgentConfig, key: string): unknown {
  return (entry as Record<string, unknown>)[key];
}

function argv(entry: AgentConfig, fallback: string[]): string[] {
  return [...(entry.command ?? fallback), ...(entry.args ?? [])];
}

/**
 * What every agent starts from: car's environment without car's own secrets (chat bot and API tokens),
 * except those `security.pass_secret_env` passes. An agent entry's `env:` applies on top.
 */
export function agentBaseEnv(config: CarConfig, env: NodeJS.ProcessEnv = process.env): NodeJS.ProcessEnv {
  return envWithout(env, secretEnvToRemove(config));
}

function build(agentId: string, entry: AgentConfig, config: CarConfig, opts: ResolverOptions): Agent {
  const unattended = config.ticket_flow.approval_mode === 'yolo';
  const baseEnv = agentBaseEnv(config, opts.env);
  switch (entry.backend) {
    case 'demo': {
      const configured = extra(entry, 'step_delay_ms');
      return createDemoAgent({
        stepDelayMs: opts.demoStepDelayMs ?? (typeof configured === 'number' ? configured : 0),
        baseEnv,
      });
    }
    case 'codex': {
      const command =
        entry.command ?? (entry.binary ? [entry.binary, 'app-server'] : config.app_server.command);
      let codexHome: string | undefined;
      if (opts.root) {
        codexHome = workspaceCodexHome(opts.root);
        seedCodexHome({ target: codexHome });
      }
      const decision = config.ticket_flow.default_approval_decision === 'decline' ? 'decline' : 'accept';
      return createCodexAgent({
        id: agentId,
        command: [...command, ...(entry.args ?? [])],
        baseEnv,
        ...(entry.env ? { env: entry.env } : {}),
        ...(codexHome ? { codexHome } : {}),
        ...(entry.model ? { model: entry.model } : {}),
        // yolo (CAR's default): never ask, full access. review: the sandbox asks and car answers by policy.
        approvalPolicy: unattended ? 'never' : 'on-request',
        sandbox: unattended ? 'danger-full-access' : 'workspace-write',
        approvalDecision: unattended ? 'accept' : decision,
        ...definedMs('turnTimeoutMs', seconds(config.app_server.turn_timeout_seconds)),
        ...definedMs('stallTimeoutMs', seconds(config.app_server.turn_stall_timeout_seconds)),
        ...definedMs('startupTimeoutMs', seconds(config.app_server.startup_timeout_seconds)),
      });
    }
    case 'acp':
    case 'opencode': {
      const preset = resolveAcpPreset(entry.backend === 'opencode' ? 'opencode' : agentId);
      const command = argv(entry, preset?.command ?? [entry.binary ?? agentId]);
      return createAcpAgent({
        id: agentId,
        command,
        baseEnv,
        env: { ...(preset?.env ?? {}), ...(entry.env ?? {}) },
        permission: unattended ? 'allow' : 'reject',
      });
    }
    case 'command': {
      const format = extra(entry, 'format');
      if (typeof format !== 'string' || !COMMAND_FORMATS.includes(format as CommandFormat)) {
        throw new Error(`agents.${agentId}.format must be one of: ${COMMAND_FORMATS.join(', ')}`);
      }
      if (!entry.command) throw new Error(`agents.${agentId}.command is required for the command backend`);
      return createCommandAgent({
        id: agentId,
        format: format as CommandFormat,
        command: argv(entry, []),
        baseEnv,
        ...(entry.env ? { env: entry.env } : {}),
        ...(extra(entry, 'prompt_via') === 'stdin' ? { promptVia: 'stdin' as const } : {}),
      });
    }
    default:
      throw new Error(
        `agent "${agentId}" has no backend set (agents.${agentId}.backend: codex, acp, command or demo)`,
      );
  }
}

function definedMs<K extends string>(key: K, value: number | undefined): Partial<Record<K, number>> {
  return value === undefined ? {} : ({ [key]: value } as Record<K, number>);
}

/**
 * Maps a ticket's `agent:` id to a backend from config. Unknown ids and incomplete entries fail with a
 * message naming the agent and the key; the engine turns that into an `agent_unavailable` pause.
 */
export function createAgentResolver(config: CarConfig, opts: ResolverOptions = {}): AgentResolver {
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
    const agent = build(agentId, entry, config, opts);
    cache.set(agentId, agent);
    return agent;
  };
}
