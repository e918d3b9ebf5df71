// `car mcp`: car's operations as an MCP server, for one repo or for a hub (then every repo tool names its
// repo by hub id). Tools run car's own CLI commands (cli-runner.ts) confined to the repo or hub the server
// was started for; resources are the tickets and contextspace documents.
import { McpServer, ResourceTemplate } from '@modelcontextprotocol/sdk/server/mcp.js';
import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import * as z from 'zod';
import { CONTEXTSPACE_DOCS, repoPaths } from '../../core/paths.ts';
import { CliError } from '../cli/errors.ts';
import { readContextspace, writeContextspace } from '../contextspace-docs.ts';
import { ApiError } from '../http/errors.ts';
import { CAR_VERSION } from '../version.ts';
import { type CliRunner, runCaptured } from './cli-runner.ts';
import { CLI_TOOLS, type CliTool } from './tools.ts';

export interface McpScope {
  kind: 'repo' | 'hub';
  /** The repo root, or the hub root. */
  root: string;
  /** A hub repo's folder by its id; throws a CliError for an id the hub does not have. */
  repoDir?: (id: string) => Promise<string>;
}

export interface McpServerOptions {
  scope: McpScope;
  run: CliRunner;
  env: NodeJS.ProcessEnv;
}

const text = (value: string, isError = false): CallToolResult => ({
  content: [{ type: 'text', text: value }],
  ...(isError ? { isError: true } : {}),
});

/** The argv for a tool call: scoped to the repo (--repo) or hub (--hub), --json before any `--`. */
function scopedArgv(tool: CliTool, args: Record<string, unknown>, dir: string): string[] {
  const argv = tool.argv(args);
  const end = argv.indexOf('--');
  const withJson = end < 0 ? [...argv, '--json'] : [...argv.slice(0, end), '--json', ...argv.slice(end)];
  if (tool.scope === 'hub') return [withJson[0]!, `--hub=${dir}`, ...withJson.slice(1)];
  return [`--repo=${dir}`, ...withJson];
}

/** The CLI's answer as a tool result: its JSON (lines become an array), or its error line and exit code. */
function toolResult(tool: CliTool, out: { code: number; stdout: string; stderr: string }): CallToolResult {
  let body = out.stdout.trim();
  if (tool.jsonLines) {
    const items = body === '' ? [] : body.split('\n').map((line) => JSON.parse(line) as unknown);
    body = JSON.stringify({ events: items }, null, 2);
  }
  if (out.code === 0) return text(body);
  const message = out.stderr.trim() || `car exited ${out.code}`;
  return text(`${message}\n(exit code ${out.code})${body ? `\n${body}` : ''}`, true);
}

function errorResult(err: unknown): CallToolResult {
  if (err instanceof CliError) return text(`car: ${err.message}\n(exit code ${err.code})`, true);
  if (err instanceof ApiError) return text(JSON.stringify(err.body(), null, 2), true);
  throw err;
}

export function createCarMcpServer(opts: McpServerOptions): McpServer {
  const { scope } = opts;
  const hub = scope.kind === 'hub';
  const server = new McpServer(
    { name: 'car', version: CAR_VERSION },
    {
      instructions: hub
        ? `car hub at ${scope.root}: tools act on one registered repo (the repo argument, a hub repo id; hub_status lists them).`
        : `car repo at ${scope.root}: tools act on this repo's ticket queue, runs and contextspace.`,
    },
  );
  const repoArg = { repo: z.string().min(1).describe('hub repo id (see hub_status)') };
  /** The folder a repo tool acts on: the server's repo, or the named hub repo. */
  const dirOf = async (args: Record<string, unknown>): Promise<string> =>
    hub ? scope.repoDir!(String(args.repo)) : scope.root;

  for (const tool of CLI_TOOLS) {
    if (tool.scope === 'hub' && !hub) continue;
    const input = tool.scope === 'repo' && hub ? { ...repoArg, ...tool.input } : tool.input;
    server.registerTool(
      tool.name,
      { description: tool.description, inputSchema: input },
      async (args: Record<string, unknown>) => {
        try {
          const dir = tool.scope === 'hub' ? scope.root : await dirOf(args);
          const out = await runCaptured(opts.run, scopedArgv(tool, args, dir), {
            cwd: dir,
            env: opts.env,
          });
          return toolResult(tool, out);
        } catch (err) {
          return errorResult(err);
        }
      },
    );
  }

  const kind = z.enum(CONTEXTSPACE_DOCS.map((d) => d.kind) as [string, ...string[]]);
  server.registerTool(
    'contextspace_read',
    {
      description:
        'Read a contextspace document (active_context, decisions, spec): the durable context every agent turn sees. Its hash is what contextspace_write needs.',
      inputSchema: hub ? { ...repoArg, kind } : { kind },
    },
    async (args: Record<string, unknown>) => {
      try {
        return text(
          JSON.stringify(readContextspace(repoPaths(await dirOf(args)), String(args.kind)), null, 2),
        );
      } catch (err) {
        return errorResult(err);
      }
    },
  );
  const writeInput = {
    kind,
    content: z.string().describe('the whole new document, markdown'),
    base_hash: z
      .string()
      .regex(/^[0-9a-f]{64}$/)
      .describe('the hash contextspace_read gave: the write is refused if the document changed since'),
  };
  server.registerTool(
    'contextspace_write',
    {
      description: 'Replace a contextspace document, guarded by the hash of the version you read.',
      inputSchema: hub ? { ...repoArg, ...writeInput } : writeInput,
    },
    async (args: Record<string, unknown>) => {
      try {
        const paths = repoPaths(await dirOf(args));
        const out = writeContextspace(paths, String(args.kind), String(args.content), String(args.base_hash));
        const { content: _content, ...info } = out;
        return text(JSON.stringify(info, null, 2));
      } catch (err) {
        return errorResult(err);
      }
    },
  );

  registerResources(server, opts, dirOf);
  return server;
}

interface TicketEntry {
  name: string;
  title: string | null;
  state: string;
}

/** Tickets as `car://tickets/{ticket}` and docs as `car://contextspace/{kind}` (`car://repos/{repo}/...` in a hub). */
function registerResources(
  server: McpServer,
  opts: McpServerOptions,
  dirOf: (args: Record<string, unknown>) => Promise<string>,
): void {
  const hub = opts.scope.kind === 'hub';
  const prefix = hub ? 'car://repos/{repo}/' : 'car://';
  const cli = async (dir: string, argv: string[]) => {
    const out = await runCaptured(opts.run, [`--repo=${dir}`, ...argv], { cwd: dir, env: opts.env });
    if (out.code !== 0) throw new Error(out.stderr.trim() || `car exited ${out.code}`);
    return JSON.parse(out.stdout) as Record<string, unknown>;
  };
  const repoIds = async (): Promise<string[]> => {
    if (!hub) return [''];
    const out = await runCaptured(opts.run, ['hub', `--hub=${opts.scope.root}`, 'list', '--json'], {
      cwd: opts.scope.root,
      env: opts.env,
    });
    if (out.code !== 0) return [];
    const parsed = JSON.parse(out.stdout) as { repos?: Array<{ id: string }> };
    return (parsed.repos ?? []).map((r) => r.id);
  };
  const uriBase = (repo: string) => (hub ? `car://repos/${repo}/` : 'car://');

  server.registerResource(
    'ticket',
    new ResourceTemplate(`${prefix}tickets/{ticket}`, {
      list: async () => {
        const resources = [];
        for (const repo of await repoIds()) {
          const dir = await dirOf({ repo });
          let tickets: TicketEntry[] = [];
          try {
            tickets = ((await cli(dir, ['ticket', 'list', '--json'])).tickets ?? []) as TicketEntry[];
          } catch {
            continue; // a repo without tickets/ lists nothing
          }
          for (const t of tickets) {
            resources.push({
              uri: `${uriBase(repo)}tickets/${t.name}`,
              name: `${hub ? `${repo}/` : ''}${t.name}`,
              title: t.title ?? t.name,
              description: `ticket (${t.state})`,
              mimeType: 'text/markdown',
            });
          }
        }
        return { resources };
      },
    }),
    { description: 'A ticket file (markdown with YAML frontmatter)', mimeType: 'text/markdown' },
    async (uri, variables) => {
      const dir = await dirOf(variables);
      const shown = await cli(dir, ['ticket', 'show', '--json', '--', String(variables.ticket)]);
      return { contents: [{ uri: uri.href, mimeType: 'text/markdown', text: String(shown.raw) }] };
    },
  );

  server.registerResource(
    'contextspace',
    new ResourceTemplate(`${prefix}contextspace/{kind}`, {
      list: async () => ({
        resources: (await repoIds()).flatMap((repo) =>
          CONTEXTSPACE_DOCS.map((d) => ({
            uri: `${uriBase(repo)}contextspace/${d.kind}`,
            name: `${hub ? `${repo}/` : ''}${d.kind}`,
            title: d.label,
            mimeType: 'text/markdown',
          })),
        ),
      }),
    }),
    { description: 'A contextspace document', mimeType: 'text/markdown' },
    async (uri, variables) => {
      const doc = readContextspace(repoPaths(await dirOf(variables)), String(variables.kind));
      return { contents: [{ uri: uri.href, mimeType: 'text/markdown', text: doc.content }] };
    },
  );
}
