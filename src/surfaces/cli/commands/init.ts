import { existsSync, statSync } from 'node:fs';
import { resolve } from 'node:path';
import { initRepo } from '../../../core/init.ts';
import { gitTopLevel, runGit } from '../../../integrations/git/index.ts';
import type { GlobalOptions } from '../context.ts';
import { CliError, EXIT } from '../errors.ts';
import { type CliIo, printJson } from '../io.ts';

interface InitOptions {
  force?: boolean;
  gitInit?: boolean;
  mode: 'auto' | 'repo' | 'hub';
  json?: boolean;
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
  if (opts.mode === 'hub') return initHubCommand(io, target, opts);
  // A repo is initialized at its git top level (or worktree root), whichever subfolder init ran in.
  let root = await gitTopLevel(target);
  if (root === null) {
    if (!opts.gitInit)
      throw new CliError(`${target} is not a git repo; use --git-init to create one`, EXIT.usage);
    await runGit(['init', '--quiet'], { cwd: target });
    root = target;
  }
  const result = initRepo(root, { force: opts.force ?? false });
  if (opts.json) {
    printJson(io, result);
    return;
  }
  io.stdout(`Initialized repo at ${result.root}\n`);
  for (const file of result.created) io.stdout(`  created ${file}\n`);
  if (result.created.length === 0) io.stdout('  nothing to create: already initialized\n');
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
