// Shared set-up for the flow engine and control plane acceptance tests: a real temp git repo made by
// `initRepo` with committed tickets, a real SQLite run store, the real git adapter and a scripted agent.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { FlowControl } from '../../src/control/flow-control.ts';
import { type CarConfig, DEFAULT_CONFIG, knownAgentIds } from '../../src/core/config/index.ts';
import { type FlowDeps, FlowEngine, type FlowOutcome } from '../../src/core/flow/engine.ts';
import type { RepoState } from '../../src/core/flow/ports.ts';
import { type RunPaths, runPaths } from '../../src/core/flow/run-paths.ts';
import { type FlowSettings, flowSettings } from '../../src/core/flow/settings.ts';
import { type EngineState, initialState } from '../../src/core/flow/state.ts';
import { initRepo } from '../../src/core/init.ts';
import { type RepoPaths, repoPaths } from '../../src/core/paths.ts';
import { openRunStore, type RunStore } from '../../src/core/store/run-store.ts';
import type { JsonObject, Run, RunEvent } from '../../src/core/store/types.ts';
import { renderNewTicket } from '../../src/core/tickets/index.ts';
import { createRepoState } from '../../src/integrations/git/index.ts';
import { resolverFor, ScriptedAgent, type ScriptedAgentOptions } from '../fakes/scripted-agent.ts';
import { type GitRepo, makeGitRepo } from '../helpers/git-repo.ts';

export interface TicketSpec {
  agent?: string;
  done?: boolean;
  title?: string;
  body?: string;
  /** Extra frontmatter lines, verbatim (e.g. a `context:` block). */
  extraYaml?: string;
  /** File name suffix after the number (`TICKET-001-<slug>.md`). */
  slug?: string;
}

export interface Harness {
  git: GitRepo;
  root: string;
  paths: RepoPaths;
  repo: RepoState;
  store: RunStore;
  agent: ScriptedAgent;
  config: CarConfig;
  /** Writes `.codex-autorunner/tickets/TICKET-<nnn>.md`; returns its repo-relative path. */
  ticket(n: number, spec?: TicketSpec): string;
  /** Repo-relative path of ticket n (no slug). */
  ticketPath(n: number): string;
  readTicket(n: number): string;
  commit(message?: string): void;
  /** A new run row, as `car flow start` creates it. */
  newRun(settings?: Partial<FlowSettings>): Run;
  engine(deps?: Partial<FlowDeps>): FlowEngine;
  /** New engine with `settings`, run to the end. */
  run(runId: string, deps?: Partial<FlowDeps>): Promise<FlowOutcome>;
  settings(overrides?: Partial<FlowSettings>): FlowSettings;
  events(runId: string, types?: readonly string[]): RunEvent[];
  state(runId: string): EngineState;
  runPaths(runId: string): RunPaths;
  control(config?: CarConfig): FlowControl;
  cleanup(): void;
}

export const TICKETS_DIR = '.codex-autorunner/tickets';

/** Tickets numbered 1..n, committed; tests script the agent. */
export function setup(
  opts: { tickets?: number; agent?: ScriptedAgentOptions; settings?: Partial<FlowSettings> } = {},
): Harness {
  const git = makeGitRepo();
  const root = git.dir;
  initRepo(root);
  const paths = repoPaths(root);
  const store = openRunStore(paths.dbFile);
  const repo = createRepoState(root);
  const agent = new ScriptedAgent(opts.agent);
  const config = DEFAULT_CONFIG;
  const controls: FlowControl[] = [];
  const baseSettings = opts.settings ?? {};
  const settings = (overrides: Partial<FlowSettings> = {}) =>
    flowSettings(config, { ...baseSettings, ...overrides });
  const ticketPath = (n: number) => `${TICKETS_DIR}/TICKET-${String(n).padStart(3, '0')}.md`;

  const h: Harness = {
    git,
    root,
    paths,
    repo,
    store,
    agent,
    config,
    ticketPath,
    ticket(n, spec = {}) {
      const name = `TICKET-${String(n).padStart(3, '0')}${spec.slug ? `-${spec.slug}` : ''}.md`;
      let text = renderNewTicket(
        { agent: spec.agent ?? 'codex', done: spec.done ?? false, title: spec.title ?? `Ticket ${n}` },
        spec.body ?? `## Tasks\n\nDo thing ${n}.`,
      );
      if (spec.extraYaml) text = text.replace(/\n---\n/, `\n${spec.extraYaml.trimEnd()}\n---\n`);
      git.write(`${TICKETS_DIR}/${name}`, text);
      return `${TICKETS_DIR}/${name}`;
    },
    readTicket: (n) => readFileSync(join(root, ticketPath(n)), 'utf8'),
    commit(message = 'tickets') {
      git.commitAll(message);
    },
    newRun(overrides = {}) {
      const run = store.createRun({
        input: { workspace_root: root },
        state: initialState(settings(overrides).maxTotalTurns) as unknown as JsonObject,
      });
      store.appendEvent(run.id, { type: 'run_created', data: {} });
      return run;
    },
    settings,
    engine(deps = {}) {
      return new FlowEngine({
        root,
        store,
        repo,
        resolveAgent: resolverFor(agent),
        settings: settings(),
        knownAgents: knownAgentIds(config),
        sleep: async () => {},
        ...deps,
      });
    },
    run(runId, deps = {}) {
      return h.engine(deps).run(runId);
    },
    events(runId, types) {
      return store.listEvents(runId, { limit: 100_000, ...(types ? { types } : {}) });
    },
    state(runId) {
      return store.getRun(runId)!.state as unknown as EngineState;
    },
    runPaths: (runId) => runPaths(root, runId),
    control(cfg = config) {
      const c = new FlowControl(paths, cfg, repo);
      controls.push(c);
      return c;
    },
    cleanup() {
      for (const c of controls) c.close();
      store.close();
      git.cleanup();
    },
  };
  for (let n = 1; n <= (opts.tickets ?? 0); n++) h.ticket(n);
  h.commit('init car and tickets');
  return h;
}

/**
 * Asserts how a run ended, everywhere it is recorded: the returned outcome, the run row (status and
 * machine-readable reason code) and the run's last `flow_<status>` event.
 */
export function assertOutcome(
  h: Harness,
  runId: string,
  outcome: FlowOutcome,
  status: FlowOutcome['status'],
  reasonCode: string,
): void {
  assert.equal(outcome.status, status, `outcome: ${JSON.stringify(outcome)}`);
  assert.equal(outcome.reasonCode, reasonCode, `outcome: ${JSON.stringify(outcome)}`);
  const run = h.store.getRun(runId)!;
  assert.equal(run.status, status);
  assert.equal(run.reasonCode, reasonCode);
  assert.equal(run.reason, outcome.reason);
  assert.ok(run.reason && run.reason.length > 0, 'a human-readable reason is recorded');
  if (status === 'paused') assert.equal(run.finishedAt, null);
  else assert.ok(run.finishedAt, 'a terminal run has finishedAt');
  const last = h
    .events(runId)
    .filter((e) => e.type.startsWith('flow_'))
    .at(-1);
  assert.equal(last?.type, `flow_${status}`);
  assert.equal(last?.data.reason_code, reasonCode);
}

/** Counts events of `type`, optionally only those whose `data.ticket` is `ticket`. */
export function countEvents(h: Harness, runId: string, type: string, ticket?: string): number {
  return h.events(runId, [type]).filter((e) => ticket === undefined || e.data.ticket === ticket).length;
}
