// `car mcp`: serve car's operations to an agent over MCP (stdio). stdout carries the protocol only.
import { resolve } from 'node:path';
import { StdioServerTransport } from '@modelcontextprotocol/sdk/server/stdio.js';
import { findHubRoot, isHubRoot } from '../../../core/hub/paths.ts';
import { findRepoRoot } from '../../../core/paths.ts';
import type { CliRunner } from '../../mcp/cli-runner.ts';
import { createCarMcpServer, type McpScope } from '../../mcp/server.ts';
import { type GlobalOptions, repoSearchStart, resolveRepo } from '../context.ts';
import { CliError, EXIT } from '../errors.ts';
import type { CliIo } from '../io.ts';

export interface ScopeFlags {
  hub?: string;
}

/**
 * What car's MCP server (and the PMA) acts on: `--hub`, else `--repo`, else the repo around the working
 * directory, which is a hub when its root is one, else the hub around it.
 */
export async function mcpScope(io: CliIo, global: GlobalOptions, flags: ScopeFlags): Promise<McpScope> {
  const hubScope = async (root: string): Promise<McpScope> => {
    const { hubRepoDir } = await import('./hub.ts');
    return { kind: 'hub', root, repoDir: (id) => hubRepoDir(io, id, root) };
  };
  if (flags.hub !== undefined) {
    const root = resolve(io.cwd, flags.hub);
    if (!isHubRoot(root))
      throw new CliError(`--hub ${flags.hub}: not a hub (car init --mode hub)`, EXIT.usage);
    return hubScope(root);
  }
  if (global.repo === undefined) {
    const found = findRepoRoot(repoSearchStart(io, global));
    if (found && isHubRoot(found.root)) return hubScope(found.root);
    if (!found) {
      const hub = findHubRoot(io.cwd, io.env);
      if (hub) return hubScope(hub);
    }
  }
  return { kind: 'repo', root: resolveRepo(io, global).paths.root };
}

export async function mcpCommand(
  io: CliIo,
  global: GlobalOptions,
  flags: ScopeFlags,
  run: CliRunner,
): Promise<void> {
  const scope = await mcpScope(io, global, flags);
  const server = createCarMcpServer({ scope, run, env: io.env });
  const transport = new StdioServerTransport();
  const closed = new Promise<void>((done) => {
    transport.onclose = () => done();
    process.stdin.once('end', () => done());
  });
  await server.connect(transport);
  io.stderr(`car mcp: serving ${scope.kind} ${scope.root} on stdio\n`);
  await closed;
  await server.close();
}
