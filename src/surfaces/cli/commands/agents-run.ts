import { existsSync, rmSync } from 'node:fs';
import { dirname } from 'node:path';
import { workspaceCodexHome } from '../../../agents/codex/home.ts';
import { agentProcessPort } from '../../../agents/orphans.ts';
import { type AgentReport, reportAgents } from '../../../agents/report.ts';
import { createAgentResolver, wrapSessions } from '../../../agents/resolver.ts';
import { FlowControl, type FlowOutcome, runWorker } from '../../../control/flow-control.ts';
import type { Agent, AgentResolver } from '../../../core/agent.ts';
import { defaultAgentId } from '../../../core/config/agents.ts';
import type { CarConfig, LoadedConfig } from '../../../core/config/index.ts';
import { secretEnvToRemove } from '../../../core/config/secrets.ts';
import { findRepoRoot, repoPaths } from '../../../core/paths.ts';
import { newTicketId, renderNewTicket } from '../../../core/tickets/index.ts';
import { createRepoState } from '../../../integrations/git/index.ts';
import { type GlobalOptions, loadRepoConfig, repoSearchStart } from '../context.ts';
import { CliError, EXIT } from '../errors.ts';
import { type CliIo, formatTable, painter, printJson } from '../io.ts';
import { makeScratchRepo } from '../scratch-repo.ts';

/** The config of the repo around the working directory; outside a repo, the built-in agents (and env). */
async function loadAgentsConfig(io: CliIo, global: GlobalOptions): Promise<LoadedConfig> {
  const start = repoSearchStart(io, global);
  return loadRepoConfig(io, findRepoRoot(start)?.root ?? start);
}

export async function agentsList(io: CliIo, global: GlobalOptions, opts: { json?: boolean }): Promise<void> {
  const loaded = await loadAgentsConfig(io, global);
  const agents = reportAgents(loaded, io.env);
  if (opts.json) {
    printJson(io, { default_agent: defaultAgentId(loaded.config), agents });
    return;
  }
  const paint = painter(io);
  const rows = [['ID', 'BACKEND', 'ON PATH', 'COMMAND', 'FROM']];
  for (const a of agents) {
    const onPath = a.binary === null ? 'built in' : (a.path ?? 'NOT FOUND');
    rows.push([
      `${a.id}${a.default ? ' *' : ''}`,
      a.backend ?? '?',
      onPath,
      a.command?.join(' ') ?? '-',
      a.sources.join(', '),
    ]);
  }
  const [header, ...body] = formatTable(rows).split('\n');
  io.stdout(`${paint('bold', header ?? '')}\n${body.join('\n')}\n`);
  io.stdout(`* = the default agent for new tickets (ticket_flow.default_agent)\n`);
  for (const a of agents) {
    if (a.error) io.stdout(`${paint('red', `${a.id}: ${a.error}`)}\n`);
    else if (a.install) io.stdout(`${a.id}: ${a.binary} is not on PATH; install: ${a.install}\n`);
  }
  io.stdout('car agents test <id> tries one; docs/AGENTS.md shows how to set each agent up\n');
}

const HELLO_FILE = 'TICKET-001-hello.md';

function helloTicket(agentId: string): { file: string; text: string } {
  const body = `## Tasks
- Reply with one short line that says hello.
- Then set \`done: true\` in the frontmatter of this file (.codex-autorunner/tickets/${HELLO_FILE}).
  Nothing else needs to change.
`;
  const fields = { ticket_id: newTicketId(), agent: agentId, done: false, title: 'Say hello' };
  return { file: HELLO_FILE, text: renderNewTicket(fields, body) };
}

/** The person's config, with what a hello run in a scratch repo needs: no verify commands, car commits. */
function helloConfig(config: CarConfig): CarConfig {
  return {
    ...config,
    ticket_flow: { ...config.ticket_flow, max_total_turns: 3 },
    verify: { ...config.verify, commands: [] },
    git: { ...config.git, auto_commit: true },
  };
}

/** The resolver, with the time from the first agent start to the agent's first event recorded. */
function timed(resolve: AgentResolver, clock: { started?: number; firstEvent?: number }): AgentResolver {
  const wrapped = (id: string): Agent =>
    wrapSessions(resolve(id), (session) => ({
      get threadId() {
        return session.threadId;
      },
      get alive() {
        return session.alive;
      },
      runTurn: (request) =>
        session.runTurn({
          ...request,
          onEvent: (event) => {
            clock.firstEvent ??= Date.now();
            request.onEvent(event);
          },
        }),
      close: () => session.close(),
    }));
  return Object.assign(
    (id: string): Agent => {
      const agent = wrapped(id);
      return {
        ...agent,
        startSession: (options) => {
          clock.started ??= Date.now();
          return agent.startSession(options);
        },
      };
    },
    resolve.close ? { close: resolve.close } : {},
  );
}

const AUTH_RE =
  /\b401\b|\b403\b|unauthori[sz]ed|authenticat|api[ _-]?key|logged in|log ?in\b|credential|not signed in/i;

/** Why a hello run did not finish, in a few words a person can act on. */
function failure(outcome: FlowOutcome, timedOut: boolean, timeoutS: number): string {
  if (timedOut) return `timeout: the hello ticket was not done within ${timeoutS} s`;
  const error = (outcome.details?.error as { message?: string } | undefined)?.message ?? outcome.reason;
  switch (outcome.reasonCode) {
    case 'agent_unavailable':
      return `cannot start: ${outcome.reason}`;
    case 'agent_error':
    case 'quota_exhausted':
      return AUTH_RE.test(error) ? `auth missing: ${error}` : `${outcome.reasonCode}: ${error}`;
    case 'max_turns':
    case 'loop_no_diff':
      return `answered, but did not mark the hello ticket done (${outcome.reasonCode})`;
    default:
      return `${outcome.reasonCode}: ${outcome.reason}`;
  }
}

const secondsText = (ms: number) => `${(ms / 1000).toFixed(1)} s`;

export async function agentsTest(
  io: CliIo,
  global: GlobalOptions,
  id: string,
  opts: { timeout: number; keep?: boolean },
): Promise<void> {
  const loaded = await loadAgentsConfig(io, global);
  const report = reportAgents(loaded, io.env).find((a) => a.id === id);
  if (!report) {
    const ids = Object.keys(loaded.config.agents).sort().join(', ');
    throw new CliError(`"${id}" is not a configured agent (configured: ${ids})`, EXIT.usage);
  }
  const label = `${id} (${report.backend ?? 'no backend'})`;
  // the verdict is one line on stdout either way; a failure exits 1
  const fail = (why: string): never => {
    io.stdout(`failed: ${label}: ${why}\n`);
    throw new CliError('', EXIT.failed);
  };
  if (report.error) fail(`config: ${report.error}`);
  if (report.binary !== null && report.path === null) fail(notOnPath(report));

  const dir = await makeScratchRepo('car-agent-test-', [helloTicket(id)], 'a hello ticket');
  const config = helloConfig(loaded.config);
  const control = new FlowControl(repoPaths(dir), config, createRepoState(dir), {
    agentProcesses: agentProcessPort,
  });
  const clock: { started?: number; firstEvent?: number } = {};
  const abort = new AbortController();
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    abort.abort('stop');
  }, opts.timeout * 1000);
  const started = Date.now();
  let outcome: FlowOutcome;
  try {
    const prepared = await control.prepareStart();
    outcome = await runWorker({
      control,
      runId: prepared.run.id,
      repo: createRepoState(dir, { unsetEnv: secretEnvToRemove(config) }),
      resolveAgent: timed(createAgentResolver(config, { root: dir, env: io.env }), clock),
      signal: abort.signal,
    });
  } finally {
    clearTimeout(timer);
    control.close();
    if (!opts.keep) removeScratch(dir, report);
  }
  const first =
    clock.started !== undefined && clock.firstEvent !== undefined
      ? `first event after ${secondsText(clock.firstEvent - clock.started)}`
      : clock.started !== undefined
        ? 'no event from the agent'
        : 'the agent was not started';
  const kept = opts.keep ? `; repo kept at ${dir}` : '';
  if (outcome.status === 'completed') {
    io.stdout(
      `ok: ${label} did the hello ticket in ${secondsText(Date.now() - started)} (${first})${kept}\n`,
    );
    return;
  }
  fail(`${failure(outcome, timedOut, opts.timeout)} (${first})${kept}`);
}

function notOnPath(report: AgentReport): string {
  return `not on PATH: ${report.binary}${report.install ? ` (install: ${report.install})` : ''}`;
}

/** The scratch repo, and the private CODEX_HOME the codex backend made for it. */
function removeScratch(dir: string, report: AgentReport): void {
  rmSync(dir, { recursive: true, force: true });
  if (report.backend !== 'codex') return;
  const workspace = dirname(workspaceCodexHome(dir));
  if (existsSync(workspace)) rmSync(workspace, { recursive: true, force: true });
}
