import { basename } from 'node:path';
import type { Agent, AgentResolver, AgentSession, McpServerSpec } from '../core/agent.ts';
import type { AgentConfig, CarConfig } from '../core/config/index.ts';
import { envWithout, secretEnvToRemove } from '../core/config/secrets.ts';
import type { AcpAgentOptions } from './acp/adapter.ts';
import { ACP_PRESETS, resolveAcpPreset } from './acp/presets.ts';
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
  /** MCP servers every agent is given (codex: `-c mcp_servers.*`; ACP: `mcpServers`); others cannot take them. */
  mcpServers?: readonly McpServerSpec[];
}

/**
 * codex's `-c` overrides that give it these MCP servers (`mcp_servers.<name>` in its config.toml). JSON
 * strings and string arrays are valid TOML values.
 */
export function codexMcpArgs(servers: readonly McpServerSpec[]): string[] {
  return servers.flatMap((s) => {
    const key = `mcp_servers.${s.name}`;
    const env = Object.entries(s.env ?? {});
    const seconds = (name: string, value: number | undefined) =>
      value === undefined ? [] : ['-c', `${key}.${name}=${value}`];
    return [
      '-c',
      `${key}.command=${JSON.stringify(s.command)}`,
      '-c',
      `${key}.args=${JSON.stringify(s.args)}`,
      ...(env.length === 0
        ? []
        : [
            '-c',
            `${key}.env={${env.map(([k, v]) => `${JSON.stringify(k)}=${JSON.stringify(v)}`).join(',')}}`,
          ]),
      ...seconds('startup_timeout_sec', s.startupTimeoutSec),
      ...seconds('tool_timeout_sec', s.toolTimeoutSec),
    ];
  });
}

/** The backends an agent entry can resolve to (`backend: opencode` is CAR's name for an ACP agent). */
export type Backend = 'codex' | 'acp' | 'command' | 'demo';

/** What car starts for an agent entry, before any turn: the part of the config a person can check. */
export interface AgentLaunch {
  backend: Backend;
  /**
   * The argv car spawns; null for the built-in demo agent. A command agent gets model, reasoning and
   * resume flags and the prompt appended per turn.
   */
  command: string[] | null;
  /** Environment the entry (or a known ACP agent's preset) adds. */
  env: Record<string, string>;
  /** Command agents: how their output is read. */
  format?: CommandFormat;
  promptVia?: 'arg' | 'stdin';
}

const seconds = (value: number | null | undefined): number | undefined =>
  value === null ? 0 : value === undefined ? undefined : Math.round(value * 1000);

/** Loose extra keys an agent entry may carry beyond the typed ones (config objects keep unknown keys). */
function extra(entry: AgentConfig, key: string): unknown {
  return (entry as Record<string, unknown>)[key];
}

/**
 * A known ACP agent's preset, by agent id or else by the binary the entry runs (so `claude-acp:
 * {command: [claude-agent-acp]}` gets what `claude-agent-acp` needs, like any other id would).
 */
function acpPreset(agentId: string, entry: AgentConfig): ReturnType<typeof resolveAcpPreset> {
  const named = resolveAcpPreset(entry.backend === 'opencode' ? 'opencode' : agentId);
  if (named) return named;
  const binary = entry.command?.[0] ?? entry.binary;
  if (!binary) return null;
  const match = Object.entries(ACP_PRESETS).find(([, p]) => p.command[0] === basename(binary));
  return match ? resolveAcpPreset(match[0]) : null;
}

/**
 * The backend, argv and environment an agent entry resolves to. Incomplete entries fail with a message
 * naming the agent and the key.
 */
export function agentLaunch(agentId: string, entry: AgentConfig, config: CarConfig): AgentLaunch {
  const args = entry.args ?? [];
  const env = entry.env ?? {};
  switch (entry.backend) {
    case 'demo':
      return { backend: 'demo', command: null, env };
    case 'codex': {
      const command =
        entry.command ?? (entry.binary ? [entry.binary, 'app-server'] : config.app_server.command);
      return { backend: 'codex', command: [...command, ...args], env };
    }
    case 'acp':
    case 'opencode': {
      const preset = acpPreset(agentId, entry);
      // `binary` replaces the preset's program, keeping its arguments (`hermes acp` → `/opt/hermes acp`)
      const fallback = preset
        ? [entry.binary ?? preset.command[0]!, ...preset.command.slice(1)]
        : [entry.binary ?? agentId];
      return {
        backend: 'acp',
        command: [...(entry.command ?? fallback), ...args],
        env: { ...(preset?.env ?? {}), ...env },
      };
    }
    case 'command': {
      const format = extra(entry, 'format');
      if (typeof format !== 'string' || !COMMAND_FORMATS.includes(format as CommandFormat)) {
        throw new Error(`agents.${agentId}.format must be one of: ${COMMAND_FORMATS.join(', ')}`);
      }
      if (!entry.command) throw new Error(`agents.${agentId}.command is required for the command backend`);
      return {
        backend: 'command',
        command: [...entry.command, ...args],
        env,
        format: format as CommandFormat,
        promptVia: extra(entry, 'prompt_via') === 'stdin' ? 'stdin' : 'arg',
      };
    }
    default:
      throw new Error(
        `agent "${agentId}" has no backend set (agents.${agentId}.backend: codex, acp, command or demo)`,
      );
  }
}

/**
 * What every agent starts from: car's environment without car's own secrets (chat bot and API tokens),
 * except those `security.pass_secret_env` passes. An agent entry's `env:` applies on top.
 */
export function agentBaseEnv(config: CarConfig, env: NodeJS.ProcessEnv = process.env): NodeJS.ProcessEnv {
  return envWithout(env, secretEnvToRemove(config));
}

function build(agentId: string, entry: AgentConfig, config: CarConfig, opts: ResolverOptions): Agent {
  // the entry's own `approval_policy` wins over the repo's mode; `ask` sessions get a person's gate from
  // the engine (SessionOptions.approvals), and without one they are answered as in review
  const unattended = (entry.approval_policy ?? config.ticket_flow.approval_mode) === 'yolo';
  const baseEnv = agentBaseEnv(config, opts.env);
  const launch = agentLaunch(agentId, entry, config);
  const env = Object.keys(launch.env).length > 0 ? { env: launch.env } : {};
  const mcp = opts.mcpServers ?? [];
  if (mcp.length > 0 && (launch.backend === 'command' || launch.backend === 'demo')) {
    throw new Error(
      `agent "${agentId}" (backend ${launch.backend}) cannot be given MCP servers: use a codex or ACP agent`,
    );
  }
  switch (launch.backend) {
    case 'demo': {
      const configured = extra(entry, 'step_delay_ms');
      return createDemoAgent({
        stepDelayMs: opts.demoStepDelayMs ?? (typeof configured === 'number' ? configured : 0),
        baseEnv,
      });
    }
    case 'codex': {
      let codexHome: string | undefined;
      if (opts.root) {
        codexHome = workspaceCodexHome(opts.root);
        seedCodexHome({ target: codexHome });
      }
      const decision = config.ticket_flow.default_approval_decision === 'decline' ? 'decline' : 'accept';
      return createCodexAgent({
        id: agentId,
        command: [...launch.command!, ...codexMcpArgs(mcp)],
        ...(mcp.length > 0 ? { awaitMcpServers: mcp.map((s) => s.name) } : {}),
        baseEnv,
        ...env,
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
      return lazyAcpAgent({
        id: agentId,
        command: launch.command!,
        baseEnv,
        env: launch.env,
        permission: unattended ? 'allow' : 'reject',
        ...(mcp.length > 0 ? { mcpServers: mcp } : {}),
      });
    case 'command':
      return createCommandAgent({
        id: agentId,
        format: launch.format!,
        command: launch.command!,
        baseEnv,
        ...env,
        ...(launch.promptVia === 'stdin' ? { promptVia: 'stdin' as const } : {}),
      });
  }
}

/**
 * An ACP agent whose adapter (and the ACP SDK, a fifth of what a run loads) is loaded when the run first
 * uses it, so runs of other backends never load it.
 */
function lazyAcpAgent(options: AcpAgentOptions): Agent {
  let loading: Promise<Agent> | null = null;
  const agent = () => (loading ??= import('./acp/adapter.ts').then((m) => m.createAcpAgent(options)));
  return {
    id: options.id,
    startSession: async (session) => (await agent()).startSession(session),
    prewarm: (where) => {
      agent().then(
        (a) => a.prewarm?.(where),
        () => {},
      );
    },
    close: async () => {
      const loaded = await loading?.catch(() => null);
      await loaded?.close?.();
    },
  };
}

function definedMs<K extends string>(key: K, value: number | undefined): Partial<Record<K, number>> {
  return value === undefined ? {} : ({ [key]: value } as Record<K, number>);
}

/**
 * The entry's `model` and `reasoning` for turns whose ticket sets none (a ticket's own values win).
 * codex also takes `model` as its threads' default; the other backends only see it per turn.
 */
function withEntryDefaults(agent: Agent, entry: AgentConfig): Agent {
  const model = entry.model ?? undefined;
  const reasoning = entry.reasoning ?? undefined;
  if (!model && !reasoning) return agent;
  return wrapSessions(agent, (session) => ({
    get threadId() {
      return session.threadId;
    },
    get alive() {
      return session.alive;
    },
    runTurn: (request) =>
      session.runTurn({
        ...request,
        ...(model && !request.model ? { model } : {}),
        ...(reasoning && !request.reasoning ? { reasoning } : {}),
      }),
    close: () => session.close(),
  }));
}

/** `agent` with each session it starts passed through `wrap`; its process hooks (prewarm, close) kept. */
export function wrapSessions(agent: Agent, wrap: (session: AgentSession) => AgentSession): Agent {
  return {
    id: agent.id,
    startSession: async (options) => wrap(await agent.startSession(options)),
    ...(agent.prewarm ? { prewarm: (options: { cwd: string }) => agent.prewarm?.(options) } : {}),
    ...(agent.close ? { close: () => agent.close?.() ?? Promise.resolve() } : {}),
  };
}

/**
 * Maps a ticket's `agent:` id to a backend from config. Unknown ids and incomplete entries fail with a
 * message naming the agent and the key; the engine turns that into an `agent_unavailable` pause.
 */
export function createAgentResolver(
  config: CarConfig,
  opts: ResolverOptions = {},
): AgentResolver & {
  close(): Promise<void>;
} {
  // One agent per id for the resolver's lifetime (a run): backends that keep a process (codex, ACP)
  // share it between the run's sessions; `close` stops them when the run is over.
  const cache = new Map<string, Agent>();
  const resolve = (agentId: string): Agent => {
    const cached = cache.get(agentId);
    if (cached) return cached;
    const entry = config.agents[agentId];
    if (!entry) {
      throw new Error(
        `agent "${agentId}" is not configured (configured: ${Object.keys(config.agents).sort().join(', ')})`,
      );
    }
    const agent = withEntryDefaults(build(agentId, entry, config, opts), entry);
    cache.set(agentId, agent);
    return agent;
  };
  return Object.assign(resolve, {
    async close(): Promise<void> {
      await Promise.all([...cache.values()].map((agent) => agent.close?.().catch(() => {})));
    },
  });
}
