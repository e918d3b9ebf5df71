import { existsSync, statSync } from 'node:fs';
import { relative, resolve } from 'node:path';
import { KNOWN_AGENTS } from '../../../agents/catalog.ts';
import { createAgentResolver } from '../../../agents/resolver.ts';
import { prepareWarmStart } from '../../../agents/warm-start.ts';
import type { InitialAgent } from '../../../core/config/template.ts';
import { initRepo } from '../../../core/init.ts';
import { repoPaths } from '../../../core/paths.ts';
import { which } from '../../../core/which.ts';
import { gitTopLevel, runGit } from '../../../integrations/git/index.ts';
import { type GlobalOptions, loadRepoConfig } from '../context.ts';
import { CliError, EXIT } from '../errors.ts';
import { type CliIo, printJson } from '../io.ts';

interface InitOptions {
  force?: boolean;
  gitInit?: boolean;
  mode: 'auto' | 'repo' | 'hub';
  agent?: string;
  json?: boolean;
}

/**
 * The default agent for new tickets: `--agent` (a configured agent, or one car knows how to configure),
 * else the first known agent whose program is on PATH, else the demo agent.
 */
async function chooseAgent(io: CliIo, root: string, requested: string | undefined): Promise<InitialAgent> {
  let configured: Set<string> | null = null;
  try {
    configured = new Set(Object.keys((await loadRepoConfig(io, root)).config.agents));
  } catch (err) {
    // detection works without the other layers; changing a broken config does not
    if (requested !== undefined || !(err instanceof CliError)) throw err;
  }
  const entryFor = (id: string) =>
    configured?.has(id) ? null : (KNOWN_AGENTS.find((a) => a.id === id)?.entry ?? null);
  if (requested !== undefined) {
    const id = requested.trim().toLowerCase();
    if (!configured?.has(id) && !KNOWN_AGENTS.some((a) => a.id === id)) {
      const ids = new Set([...(configured ?? []), ...KNOWN_AGENTS.map((a) => a.id)]);
      throw new CliError(
        `--agent ${requested}: no such agent (one of: ${[...ids].sort().join(', ')})`,
        EXIT.usage,
      );
    }
    return { id, entry: entryFor(id), note: `chosen with car init --agent ${id}` };
  }
  for (const known of KNOWN_AGENTS) {
    const path = which(known.binary, io.env);
    if (path)
      return {
        id: known.id,
        entry: entryFor(known.id),
        note: `${known.binary} is on PATH (${path})`,
      };
  }
  const looked = KNOWN_AGENTS.map((a) => a.binary).join(', ');
  return {
    id: 'demo',
    entry: null,
    note: `no agent found on PATH (looked for ${looked}), so the offline demo agent`,
  };
}

/**
 * The first `car run` here starts warm too (agents/warm-start.ts): the default agent's process launch,
 * when it is one car keeps running (codex's app-server), is kept for it. Never init's failure.
 */
async function prepareFirstRun(io: CliIo, root: string): Promise<void> {
  try {
    const { config } = await loadRepoConfig(io, root);
    const id = config.ticket_flow.default_agent;
    if (!id) return;
    // resolving starts nothing (a codex agent starts its app-server on first use)
    const warm = createAgentResolver(config, { root })(id).warmLaunch?.(root);
    if (warm) prepareWarmStart(root, warm.launch, warm.startFiles);
  } catch {
    // an agent that cannot be resolved now is the run's to report
  }
}

/** A line on the chosen agent, with what to do when its program is missing. */
function agentLines(agent: InitialAgent, env: NodeJS.ProcessEnv): string {
  const known = KNOWN_AGENTS.find((a) => a.id === agent.id);
  const missing =
    known && !which(known.binary, env) ? `\n  ${known.binary} is not on PATH yet: ${known.install}` : '';
  const none =
    agent.id === 'demo' ? '\n  install an agent (docs/AGENTS.md), then: car init --agent <id>' : '';
  return (
    `default agent for new tickets: ${agent.id}: ${agent.note}${missing}${none}\n` +
    '  change it with car init --agent <id>; car agents list shows the configured agents\n'
  );
}

export async function initCommand(
  io: CliIo,
  global: GlobalOptions,
  path: string,
  opts: InitOptions,
): Promise<void> {
  const target = resolve(io.cwd, global.repo ?? path);
  if (!existsSync(target) || !statSync(target).isDirectory()) {
    throw new CliError(`no such folder: ${target}`, EXIT.usage);
  }
  if (opts.mode === 'hub') {
    if (opts.agent !== undefined) throw new CliError('--agent applies to a repo, not a hub', EXIT.usage);
    return initHubCommand(io, target, opts);
  }
  // A repo is initialized at its git top level (or worktree root), whichever subfolder init ran in.
  let root = await gitTopLevel(target);
  if (root === null) {
    if (!opts.gitInit)
      throw new CliError(`${target} is not a git repo; use --git-init to create one`, EXIT.usage);
    await runGit(['init', '--quiet'], { cwd: target });
    root = target;
  }
  const configFile = repoPaths(root).configFile;
  const existed = existsSync(configFile);
  // an existing config keeps its default unless --agent asks for another
  const agent = !existed || opts.agent !== undefined ? await chooseAgent(io, root, opts.agent) : null;
  const result = initRepo(root, { force: opts.force ?? false, ...(agent && !existed ? { agent } : {}) });
  const changed = existed && agent ? [await changeDefaultAgent(io, root, configFile, agent)] : [];
  await prepareFirstRun(io, root);
  if (opts.json) {
    printJson(io, { ...result, changed, default_agent: agent ? { id: agent.id, note: agent.note } : null });
    return;
  }
  io.stdout(`Initialized repo at ${result.root}\n`);
  for (const file of result.created) io.stdout(`  created ${file}\n`);
  for (const file of changed) io.stdout(`  changed ${file}: ticket_flow.default_agent\n`);
  if (result.created.length === 0 && changed.length === 0)
    io.stdout('  nothing to create: already initialized\n');
  if (agent) io.stdout(agentLines(agent, io.env));
}

/** `car init --agent` in an initialized repo: edits config.yml, and restores it if the result does not load. */
async function changeDefaultAgent(
  io: CliIo,
  root: string,
  configFile: string,
  agent: InitialAgent,
): Promise<string> {
  const { setDefaultAgent } = await import('../../../core/config/edit.ts');
  const { ConfigError } = await import('../../../core/config/errors.ts');
  const { writeFileAtomic } = await import('../../../core/fs/atomic.ts');
  const label = relative(root, configFile);
  let before: string;
  try {
    before = setDefaultAgent(configFile, label, agent);
  } catch (err) {
    if (err instanceof ConfigError) throw new CliError(err.message, EXIT.invalidInput);
    throw err;
  }
  try {
    await loadRepoConfig(io, root);
  } catch (err) {
    writeFileAtomic(configFile, before);
    throw err;
  }
  return label;
}

/** `car init --mode hub`: the hub layout in the folder itself (a hub need not be a git repo). */
async function initHubCommand(io: CliIo, root: string, opts: InitOptions): Promise<void> {
  const { initHub, HubInitError } = await import('../../../core/hub/init.ts');
  let result: ReturnType<typeof initHub>;
  try {
    result = initHub(root, { force: opts.force ?? false });
  } catch (err) {
    if (err instanceof HubInitError) throw new CliError(err.message, EXIT.failed);
    throw err;
  }
  if (opts.json) {
    printJson(io, { ...result, mode: 'hub' });
    return;
  }
  io.stdout(`Initialized hub at ${result.root}\n`);
  for (const file of result.created) io.stdout(`  created ${file}\n`);
  if (result.created.length === 0) io.stdout('  nothing to create: already a hub\n');
  io.stdout('Next: car hub add <path> or put repos in repos/ and run car hub scan\n');
}
