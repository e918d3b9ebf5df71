// The PMA for a repo or hub, as every surface (car pma, the web Chat page, chat bots) starts it: the
// configured agent given car's MCP server for the same scope, its conversations in the scope's database,
// and its briefing from `car describe --json` and the repo's or hub's state.
import { createAgentResolver } from '../../agents/resolver.ts';
import { Pma } from '../../control/pma.ts';
import type { McpServerSpec } from '../../core/agent.ts';
import { type CarConfig, loadConfig, pmaAgentId } from '../../core/config/index.ts';
import { loadHubConfig } from '../../core/hub/config.ts';
import { hubPaths } from '../../core/hub/paths.ts';
import { repoPaths } from '../../core/paths.ts';
import { openPmaStore } from '../../core/store/pma-store.ts';
import type { CliRunner } from '../mcp/cli-runner.ts';
import type { McpScope } from '../mcp/server.ts';
import { cliEntry } from '../worker-spawn.ts';
import { pmaBriefing } from './briefing.ts';

export class PmaSetupError extends Error {
  override name = 'PmaSetupError';
}

/** `car mcp` for the scope, as the agent starts it. */
export function carMcpServer(scope: Pick<McpScope, 'kind' | 'root'>): McpServerSpec {
  return {
    name: 'car',
    command: process.execPath,
    args: [...cliEntry(), 'mcp', scope.kind === 'hub' ? '--hub' : '--repo', scope.root],
    // a loaded machine can take more than codex's 10 s to start node; flow_start waits for its worker
    startupTimeoutSec: 60,
    toolTimeoutSec: 300,
  };
}

export interface OpenPmaOptions {
  scope: Pick<McpScope, 'kind' | 'root'>;
  env: NodeJS.ProcessEnv;
  run: CliRunner;
}

/** The scope's config: a hub's own for a hub. A bad file is a ConfigError. */
function scopeConfig(scope: Pick<McpScope, 'kind' | 'root'>, env: NodeJS.ProcessEnv): CarConfig {
  return scope.kind === 'hub' ? loadHubConfig(scope.root, env).config : loadConfig(scope.root, env).config;
}

/**
 * The scope's PMA. A bad config file is a ConfigError; a `pma.agent` that is not configured, or cannot
 * take MCP servers, a PmaSetupError. Nothing is started until the first message.
 */
export function openPma(opts: OpenPmaOptions): Pma {
  const { scope } = opts;
  const config = scopeConfig(scope, opts.env);
  const agentId = pmaAgentId(config);
  if (!Object.hasOwn(config.agents, agentId)) {
    throw new PmaSetupError(
      `pma.agent: agent "${agentId}" is not configured (configured: ${Object.keys(config.agents).sort().join(', ')})`,
    );
  }
  const resolve = createAgentResolver(config, {
    root: scope.root,
    env: opts.env,
    mcpServers: [carMcpServer(scope)],
  });
  let agent: ReturnType<typeof resolve>;
  try {
    agent = resolve(agentId);
  } catch (err) {
    throw new PmaSetupError(`pma.agent: ${(err as Error).message}`);
  }
  const dbFile =
    scope.kind === 'hub'
      ? hubPaths(scope.root, loadHubConfig(scope.root, opts.env).hub).chatDb
      : repoPaths(scope.root).dbFile;
  return new Pma({
    agentId,
    agent,
    store: openPmaStore(dbFile, config.pma.transcript_messages),
    cwd: scope.root,
    briefing: () => pmaBriefing(scope, opts.run, opts.env),
  });
}
