// What a new PMA thread is told first: its role, what car is (from `car describe --json`, without the
// parts an agent does not need to operate car: schemas, CAR's aliases) and the repo's or hub's state.
import { type CliRunner, runCaptured } from '../mcp/cli-runner.ts';
import type { McpScope } from '../mcp/server.ts';

interface Described {
  car_version?: string;
  layout?: unknown;
  tickets?: Record<string, unknown>;
  commands?: Array<{ command: string; description: string }>;
  exit_codes?: unknown;
}

/** The parts of `car describe --json` a PMA needs, compact. */
export function carSummary(describeJson: string): string {
  const d = JSON.parse(describeJson) as Described;
  const { frontmatter_schema: _schema, ...tickets } = d.tickets ?? {};
  return JSON.stringify({
    car_version: d.car_version,
    layout: d.layout,
    tickets,
    commands: (d.commands ?? []).map((c) => `${c.command}: ${c.description}`),
    exit_codes: d.exit_codes,
  });
}

async function cliJson(run: CliRunner, argv: string[], cwd: string, env: NodeJS.ProcessEnv): Promise<string> {
  const out = await runCaptured(run, argv, { cwd, env });
  return out.code === 0 ? out.stdout.trim() : `(car ${argv.join(' ')} failed: ${out.stderr.trim()})`;
}

export async function pmaBriefing(scope: McpScope, run: CliRunner, env: NodeJS.ProcessEnv): Promise<string> {
  const hub = scope.kind === 'hub';
  const describe = await runCaptured(run, [`--repo=${scope.root}`, 'describe', '--json'], {
    cwd: scope.root,
    env,
  });
  const state = hub
    ? await cliJson(run, ['hub', `--hub=${scope.root}`, 'status', '--json'], scope.root, env)
    : [
        await cliJson(run, [`--repo=${scope.root}`, 'flow', 'status', '--json'], scope.root, env),
        await cliJson(run, [`--repo=${scope.root}`, 'ticket', 'list', '--json'], scope.root, env),
      ].join('\n');
  return [
    `You are car's project manager agent (PMA) for the ${hub ? 'hub' : 'repo'} at ${scope.root}.`,
    'car works a queue of markdown tickets (.codex-autorunner/tickets/TICKET-NNN.md, YAML frontmatter) with coding agents, one ticket at a time, unattended.',
    'You help the person plan work into tickets, start, watch and steer runs, and answer what a run waits for.',
    "Act on car through the tools of the `car` MCP server (ticket_*, flow_*, contextspace_*, hub_status), not by editing car's files or running car in a shell.",
    hub ? 'This is a hub: every repo tool takes `repo`, a hub repo id; hub_status lists them.' : '',
    'Keep answers short and say what you did.',
    '',
    `<car_describe>\n${describe.code === 0 ? carSummary(describe.stdout) : '(car describe failed)'}\n</car_describe>`,
    `<${hub ? 'hub' : 'repo'}_state>\n${state}\n</${hub ? 'hub' : 'repo'}_state>`,
  ]
    .filter((line, i, all) => line !== '' || all[i - 1] !== '')
    .join('\n');
}
