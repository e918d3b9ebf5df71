// ACP (Agent Client Protocol) backend: one agent process per agent for the run's lifetime, a session per
// ticket on it, JSON-RPC 2.0 over NDJSON stdio, driven with @agentclientprotocol/sdk 2.x (`client()` +
// `ndJsonStream`). connection.ts runs the process and the connection (stream.ts) and routes what arrives
// to the session (session.ts) it belongs to; what the agent streams is translated in updates.ts, and
// what it asks the client (permissions, files) is answered in client-handlers.ts.
import type { Agent, McpServerSpec } from '../../core/agent.ts';
import { AcpPool, type AcpSettings } from './connection.ts';
import { AcpSession } from './session.ts';

export { ACP_PRESETS, type AcpPreset, resolveAcpPreset } from './presets.ts';

export interface AcpAgentOptions {
  id: string;
  /** argv of the agent, e.g. `['opencode', 'acp']`. */
  command: readonly string[];
  /** Extra environment for the agent (merged over `baseEnv`). */
  env?: Record<string, string>;
  /** The environment the agent starts from (default process.env); the resolver passes car's without car's secrets. */
  baseEnv?: NodeJS.ProcessEnv;
  /** Answer to `session/request_permission` (default 'allow': car runs unattended). */
  permission?: 'allow' | 'reject';
  /** No agent activity for this long → cancel, then kill; the turn fails 'stalled' (default 5 min). */
  stallTimeoutMs?: number;
  /** Hard cap on one turn → cancel, then kill; the turn fails 'timeout' (default 60 min, 0 = none). */
  turnTimeoutMs?: number;
  /** Spawn + `initialize` + `session/new|load` must finish within this (default 60 s). */
  startupTimeoutMs?: number;
  /** After `session/cancel`, wait this long for the prompt to return before killing (default 5 s). */
  cancelGraceMs?: number;
  /** SIGTERM → SIGKILL grace when killing the process group (default 2 s). */
  killGraceMs?: number;
  /** MCP servers every session gets (`mcpServers` in session/new and session/load). */
  mcpServers?: readonly McpServerSpec[];
}

const DEFAULTS = {
  permission: 'allow',
  stallTimeoutMs: 5 * 60_000,
  turnTimeoutMs: 60 * 60_000,
  startupTimeoutMs: 60_000,
  cancelGraceMs: 5000,
  killGraceMs: 2000,
} as const;

export function createAcpAgent(options: AcpAgentOptions): Agent {
  const settings: AcpSettings = {
    ...DEFAULTS,
    ...definedOnly(options),
    id: options.id,
    command: options.command,
  };
  const pool = new AcpPool(settings);
  return {
    id: options.id,
    startSession: (session) => AcpSession.start(settings, pool, session),
    prewarm: ({ cwd }) => pool.prewarm(cwd),
    close: () => pool.close(),
  };
}

function definedOnly<T extends object>(value: T): Partial<T> {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as Partial<T>;
}
