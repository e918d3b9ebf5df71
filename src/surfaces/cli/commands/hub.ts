// `car hub add|remove|list|scan|status|run` and `car worktree new|list|remove`.
import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { agentProcessPort } from '../../../agents/orphans.ts';
import { FlowControl } from '../../../control/flow-control.ts';
import { SupervisorBusyError, type SupervisorEvent, superviseHub } from '../../../control/hub-supervisor.ts';
import { ConfigError, loadConfig, secretEnvToRemove } from '../../../core/config/index.ts';
import { loadHubConfig } from '../../../core/hub/config.ts';
import { ManifestError, readManifest, repoDir } from '../../../core/hub/manifest.ts';
import { findHubRoot, isHubRoot } from '../../../core/hub/paths.ts';
import {
  type AddResult,
  addRepo,
  cloneRepo,
  createRepo,
  type Hub,
  HubError,
  removeRepo,
  scanHub,
} from '../../../core/hub/registry.ts';
import { HubStatusReader } from '../../../core/hub/status.ts';
import { newWorktree, removeWorktree } from '../../../core/hub/worktrees.ts';
import { repoPaths, STATE_DIR } from '../../../core/paths.ts';
import { commandPassed, describeExit as describeCommandExit } from '../../../core/verify/run-command.ts';
import { createRepoState } from '../../../integrations/git/index.ts';
import { hubStatusReport, openHubAt } from '../../hub-report.ts';
import { preferSmallHeap } from '../../lean-heap.ts';
import { workerLauncher } from '../../worker-spawn.ts';
import { CliError, EXIT } from '../errors.ts';
import { type CliIo, formatTable, printJson } from '../io.ts';
import { onStopSignals } from '../stop-signals.ts';

export interface HubFlags {
  hub?: string;
  json?: boolean;
}

/** The hub a command acts on: `--hub`, else the nearest hub above the working directory, else $CAR_HUB_ROOT. */
function resolveHub(io: CliIo, flags: HubFlags): Hub {
  let root: string | null;
  if (flags.hub !== undefined) {
    root = resolve(io.cwd, flags.hub);
    if (!isHubRoot(root)) {
      throw new CliError(`--hub ${flags.hub}: not a hub (car init --mode hub)`, EXIT.usage);
    }
  } else root = findHubRoot(io.cwd, io.env);
  if (!root) {
    throw new CliError(
      `not inside a car hub: ${io.cwd} (run \`car init --mode hub\`, pass --hub, or set CAR_HUB_ROOT)`,
      EXIT.usage,
    );
  }
  try {
    return openHubAt(root, io.env);
  } catch (err) {
    if (err instanceof ConfigError) throw new CliError(err.message, EXIT.invalidInput);
    throw err;
  }
}

/** Hub refusals to exit codes. */
async function guarded<T>(fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (err) {
    if (err instanceof HubError) {
      const code = {
        not_found: EXIT.usage,
        invalid: EXIT.usage,
        conflict: EXIT.conflict,
        busy: EXIT.conflict,
      }[err.code];
      throw new CliError(err.message, code);
    }
    if (err instanceof ManifestError || err instanceof ConfigError)
      throw new CliError(err.message, EXIT.invalidInput);
    if (err instanceof SupervisorBusyError) throw new CliError(err.message, EXIT.conflict);
    throw err;
  }
}

/** The folder of the hub's repo `id` (CAR's `--repo-id`), in `hub` or the hub around the working directory. */
export async function hubRepoDir(io: CliIo, id: string, hub: string | undefined): Promise<string> {
  const found = resolveHub(io, hub !== undefined ? { hub } : {});
  const manifest = await guarded(async () => readManifest(found.paths.manifestFile));
  const repo = manifest.repos.find((r) => r.id === id);
  if (!repo) {
    throw new CliError(`no repo ${id} in the hub manifest ${found.paths.manifestFile}`, EXIT.usage);
  }
  return repoDir(found.root, repo);
}

export async function hubAdd(io: CliIo, path: string, flags: HubFlags & { id?: string }): Promise<void> {
  const hub = resolveHub(io, flags);
  const result = await guarded(() =>
    addRepo(hub, resolve(io.cwd, path), flags.id !== undefined ? { id: flags.id } : {}),
  );
  if (flags.json) return printJson(io, result);
  if (result.base) io.stdout(`registered base repo ${result.base.id} (${result.base.path})\n`);
  io.stdout(
    result.added
      ? `registered ${result.repo.kind} ${result.repo.id} (${result.repo.path})\n`
      : `already registered as ${result.repo.id} (${result.repo.path})\n`,
  );
  for (const dir of result.initialized) io.stdout(`  initialized ${dir}\n`);
}

function printAdded(io: CliIo, verb: string, result: AddResult): void {
  io.stdout(`${verb} ${result.repo.id} at ${result.repo.path}\n`);
  for (const dir of result.initialized) io.stdout(`  initialized ${dir}\n`);
}

export async function hubCreate(
  io: CliIo,
  id: string,
  flags: HubFlags & { repoPath?: string; gitInit?: boolean; force?: boolean },
): Promise<void> {
  const hub = resolveHub(io, flags);
  const result = await guarded(() =>
    createRepo(hub, id, {
      ...(flags.repoPath !== undefined ? { repoPath: flags.repoPath } : {}),
      ...(flags.gitInit === false ? { gitInit: false } : {}),
      ...(flags.force ? { force: true } : {}),
    }),
  );
  if (flags.json) return printJson(io, result);
  printAdded(io, 'created', result);
}

export async function hubClone(
  io: CliIo,
  flags: HubFlags & { gitUrl: string; id?: string; repoPath?: string; force?: boolean },
): Promise<void> {
  const hub = resolveHub(io, flags);
  const result = await guarded(() =>
    cloneRepo(hub, flags.gitUrl, {
      ...(flags.id !== undefined ? { id: flags.id } : {}),
      ...(flags.repoPath !== undefined ? { repoPath: flags.repoPath } : {}),
      ...(flags.force ? { force: true } : {}),
    }),
  );
  if (flags.json) return printJson(io, result);
  printAdded(io, 'cloned', result);
}

export async function hubRemove(io: CliIo, id: string, flags: HubFlags): Promise<void> {
  const hub = resolveHub(io, flags);
  const repo = await guarded(() => removeRepo(hub, id));
  if (flags.json) return printJson(io, { removed: repo });
  io.stdout(`removed ${repo.id} from the hub manifest (its files are untouched)\n`);
}

export async function hubList(io: CliIo, flags: HubFlags): Promise<void> {
  const hub = resolveHub(io, flags);
  const manifest = await guarded(async () => readManifest(hub.paths.manifestFile));
  const repos = manifest.repos.map((r) => {
    const dir = repoDir(hub.root, r);
    const exists = existsSync(dir);
    return {
      id: r.id,
      path: r.path,
      kind: r.kind,
      worktree_of: r.worktree_of ?? null,
      branch: r.branch ?? null,
      enabled: r.enabled,
      exists,
      initialized: exists && existsSync(join(dir, STATE_DIR)),
    };
  });
  if (flags.json) return printJson(io, { hub_root: hub.root, repos, issues: manifest.issues });
  if (repos.length === 0) {
    io.stdout('no repos registered (car hub add <path>, car hub scan)\n');
    return;
  }
  const rows = [['ID', 'KIND', 'BRANCH', 'PATH', 'STATE']];
  for (const r of repos) {
    const state = !r.exists ? 'missing' : !r.initialized ? 'not initialized' : r.enabled ? 'ok' : 'disabled';
    rows.push([
      r.id,
      r.worktree_of ? `worktree of ${r.worktree_of}` : r.kind,
      r.branch ?? '-',
      r.path,
      state,
    ]);
  }
  io.stdout(`${formatTable(rows)}\n`);
  for (const issue of manifest.issues) io.stderr(`manifest: ${issue}\n`);
}

export async function hubScan(io: CliIo, flags: HubFlags): Promise<void> {
  const hub = resolveHub(io, flags);
  const result = await guarded(() => scanHub(hub));
  if (flags.json) return printJson(io, result);
  for (const r of result.added)
    io.stdout(`registered ${r.kind} ${r.id} (${r.path})${r.worktree_of ? ` of ${r.worktree_of}` : ''}\n`);
  for (const dir of result.initialized) io.stdout(`initialized ${dir}\n`);
  for (const id of result.missing) io.stdout(`missing on disk: ${id}\n`);
  for (const w of result.warnings) io.stderr(`warning: ${w}\n`);
  io.stdout(`${result.repos.length} repos registered, ${result.added.length} new\n`);
}

export async function hubStatus(io: CliIo, flags: HubFlags): Promise<void> {
  const hub = resolveHub(io, flags);
  const reader = new HubStatusReader();
  const queueReader = new (await import('../../hub-queue-report.ts')).QueueReader();
  try {
    const local = await guarded(async () => hubStatusReport(hub, reader));
    const queue = hub.settings.queue.kind === 'postgres' ? await queueReader.read(hub, io.env) : null;
    const report = queue ? { ...local, queue } : local;
    if (flags.json) return printJson(io, report);
    if (queue) (await import('./hub-queue.ts')).printQueue(io, queue);
    if (report.repos.length === 0) {
      io.stdout('no repos registered (car hub add <path>, car hub scan)\n');
      return;
    }
    const rows = [['ID', 'STATE', 'WORKER', 'TICKETS', 'RUN', 'REASON']];
    for (const r of report.repos) {
      rows.push([
        r.id,
        r.state,
        r.worker.status === 'none' ? '-' : `${r.worker.status} ${r.worker.pid ?? ''}`.trim(),
        `${r.tickets.done}/${r.tickets.total}`,
        r.run ? r.run.run_id.slice(0, 8) : '-',
        r.error ??
          (r.run?.quota_wait && r.state === 'running'
            ? `waiting for ${r.run.quota_wait.agent}'s plan until ${r.run.quota_wait.until}`
            : (r.run?.reason_code ?? '')),
      ]);
    }
    io.stdout(`${formatTable(rows)}\n`);
    const sup = report.supervisor;
    if (sup) io.stdout(`supervisor: pid ${String(sup.pid)} ${sup.alive ? 'running' : 'not running'}\n`);
  } finally {
    reader.close();
    await queueReader.close();
  }
}

interface RunFlags extends HubFlags {
  maxParallel?: number;
  perRepo?: number;
  pollSeconds?: number;
  watch?: boolean;
  recover?: boolean;
}

function describeEvent(e: SupervisorEvent): string | null {
  switch (e.type) {
    case 'started':
      return `${e.repo}: ${e.action} run ${e.runId}, worker pid ${e.pid}`;
    case 'finished':
      return `${e.repo}: run ${e.runId} ${e.status}${e.reasonCode ? ` (${e.reasonCode})` : ''}`;
    case 'crashed':
      return `${e.repo}: worker ${e.pid ?? '?'} died; run ${e.runId} left for recovery (car flow start --repo <path>)`;
    case 'start_failed':
      return `${e.repo}: could not start: ${e.message}`;
    case 'skipped':
      return `${e.repo}: skipped, ${e.reason}`;
    case 'held':
      return `holding ${e.waiting} repo(s): ${e.reason}`;
    case 'idle':
      return null;
  }
}

/** `car hub run`: supervise flows across the hub until nothing is runnable (or Ctrl-C). */
export async function hubRun(io: CliIo, flags: RunFlags): Promise<void> {
  preferSmallHeap();
  const hub = resolveHub(io, flags);
  if (hub.settings.queue.kind === 'postgres')
    return guarded(async () => (await import('./hub-queue.ts')).hubQueueRun(io, hub, flags));
  const maxParallel = flags.maxParallel ?? hub.settings.max_parallel;
  const perRepo = flags.perRepo ?? hub.settings.per_repo;
  const launcher = workerLauncher(io.env);
  const abort = new AbortController();
  const signals = onStopSignals(io, 'car hub run', () => abort.abort());
  const events: SupervisorEvent[] = [];
  // each repo whose config says github.watch has its open pull requests followed while the hub runs
  const { followPullRequests } = await import('../../pr-follow.ts');
  const followers = [];
  for (const entry of readManifest(hub.paths.manifestFile).repos) {
    const dir = repoDir(hub.root, entry);
    if (!existsSync(join(dir, STATE_DIR))) continue;
    try {
      const { config } = loadConfig(dir, io.env);
      const f = await followPullRequests(repoPaths(dir), config, io.env, (line) => {
        if (!flags.json) io.stdout(`${entry.id}: ${line}\n`);
      });
      if (f) followers.push(f);
    } catch (err) {
      if (!(err instanceof ConfigError)) throw err;
    }
  }
  try {
    if (!flags.json)
      io.stdout(`supervising ${hub.root}: at most ${maxParallel} flows, ${perRepo} per repo\n`);
    const result = await guarded(() =>
      superviseHub(
        {
          hubRoot: hub.root,
          readRepos: () => readManifest(hub.paths.manifestFile).repos,
          openControl: (dir) => {
            const { config } = loadConfig(dir, io.env);
            return new FlowControl(repoPaths(dir), config, createRepoState(dir), {
              agentProcesses: agentProcessPort,
              launcher,
            });
          },
          lockFile: hub.paths.supervisorLock,
          stateFile: hub.paths.supervisorFile,
        },
        {
          maxParallel,
          perRepo,
          pollMs: (flags.pollSeconds ?? hub.settings.poll_seconds) * 1000,
          watch: flags.watch ?? false,
          recoverCrashed: flags.recover ?? false,
          admission: {
            maxLoadPerCore: hub.settings.admission.max_load_per_core,
            minAvailableMemoryMib: hub.settings.admission.min_available_memory_mb,
          },
          signal: abort.signal,
          onEvent: (e) => {
            events.push(e);
            const line = flags.json ? null : describeEvent(e);
            if (line) io.stdout(`${line}\n`);
          },
        },
      ),
    );
    const outcomes = Object.values(result.repos);
    if (flags.json) printJson(io, { ...result, events });
    else io.stdout(`done: ${outcomes.length} repos, at most ${result.maxLive} flows at once\n`);
    if (outcomes.some((o) => o.state === 'crashed' || o.state === 'start_failed' || o.status === 'failed'))
      throw new CliError('', EXIT.failed);
    if (outcomes.some((o) => o.status === 'paused' || o.status === 'stopped'))
      throw new CliError('', EXIT.notFinished);
  } finally {
    for (const f of followers) await f.stop();
    signals.dispose();
  }
}

/** `car hub queue init`. */
export async function hubQueueInitCommand(
  io: CliIo,
  flags: HubFlags & { grantRole?: string[] },
): Promise<void> {
  const hub = resolveHub(io, flags);
  await (await import('./hub-queue.ts')).hubQueueInit(io, hub, flags);
}

export async function worktreeNew(
  io: CliIo,
  repoId: string,
  branch: string,
  flags: HubFlags & { startPoint?: string },
): Promise<void> {
  const hub = resolveHub(io, flags);
  // The set-up commands (`pnpm install`, ...) get car's environment without car's secrets.
  const unsetEnv = secretEnvToRemove(loadHubConfig(hub.root, io.env).config);
  const result = await guarded(() =>
    newWorktree(hub, repoId, branch, {
      unsetEnv,
      ...(flags.startPoint !== undefined ? { startPoint: flags.startPoint } : {}),
    }),
  );
  const failed = result.setup.find((r) => !commandPassed(r));
  if (flags.json) printJson(io, result);
  else {
    io.stdout(
      `created worktree ${result.repo.id} at ${result.dir} (${result.existingBranch ? 'existing' : 'new'} branch ${branch}${result.startPoint ? ` from ${result.startPoint}` : ''})\n`,
    );
    if (result.autoGcDisabled) io.stdout('  gc.auto 0 for this worktree\n');
    for (const p of result.symlinked) io.stdout(`  linked ${p} from ${repoId}\n`);
    for (const r of result.setup) io.stdout(`  set-up: ${r.command}: ${describeCommandExit(r)}\n`);
  }
  if (failed) {
    const tail = failed.output.trim() ? `\n${failed.output.trim()}` : '';
    throw new CliError(
      `worktree ${result.repo.id} is registered, but its set-up command failed (${describeCommandExit(failed)}): ${failed.command}${tail}\nrun it by hand in ${result.dir}`,
      EXIT.failed,
    );
  }
}

export async function worktreeList(io: CliIo, flags: HubFlags): Promise<void> {
  const hub = resolveHub(io, flags);
  const manifest = await guarded(async () => readManifest(hub.paths.manifestFile));
  const worktrees = manifest.repos
    .filter((r) => r.kind === 'worktree')
    .map((r) => ({
      id: r.id,
      worktree_of: r.worktree_of ?? null,
      branch: r.branch ?? null,
      path: r.path,
      exists: existsSync(repoDir(hub.root, r)),
    }));
  if (flags.json) return printJson(io, { worktrees });
  if (worktrees.length === 0) {
    io.stdout('no worktrees (car worktree new <repo-id> <branch>, or car hub scan for existing ones)\n');
    return;
  }
  const rows = [['ID', 'BASE', 'BRANCH', 'PATH']];
  for (const w of worktrees)
    rows.push([w.id, w.worktree_of ?? '-', w.branch ?? '-', w.exists ? w.path : `${w.path} (missing)`]);
  io.stdout(`${formatTable(rows)}\n`);
}

export async function worktreeRemove(
  io: CliIo,
  id: string,
  flags: HubFlags & { deleteBranch?: boolean; force?: boolean },
): Promise<void> {
  const hub = resolveHub(io, flags);
  const result = await guarded(() =>
    removeWorktree(hub, id, { deleteBranch: flags.deleteBranch ?? false, force: flags.force ?? false }),
  );
  if (flags.json) return printJson(io, result);
  io.stdout(`removed worktree ${id}${result.removedFromDisk ? '' : ' (its folder was already gone)'}\n`);
  if (result.archivedTo) io.stdout(`  its car state (tickets, runs) is kept in ${result.archivedTo}\n`);
  if (result.branchDeleted) io.stdout(`  deleted branch ${result.repo.branch}\n`);
  if (result.branchError) io.stderr(`warning: branch not deleted: ${result.branchError}\n`);
}
