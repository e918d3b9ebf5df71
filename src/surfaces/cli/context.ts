import { statSync } from 'node:fs';
import { resolve } from 'node:path';
import type { LoadedConfig } from '../../core/config/index.ts';
import { findRepoRoot, type RepoPaths, repoPaths } from '../../core/paths.ts';
import { CliError, EXIT } from './errors.ts';
import type { CliIo } from './io.ts';

export interface GlobalOptions {
  repo?: string;
}

export interface RepoContext {
  paths: RepoPaths;
  initialized: boolean;
  git: boolean;
}

/**
 * Where the repo search starts: `--repo` (relative to the working directory, and it must be an existing
 * folder, so a typo never silently falls back to an enclosing repo) or the working directory.
 */
export function repoSearchStart(io: CliIo, opts: GlobalOptions): string {
  if (opts.repo === undefined) return io.cwd;
  const start = resolve(io.cwd, opts.repo);
  let isDir = false;
  try {
    isDir = statSync(start).isDirectory();
  } catch {
    // missing: reported below
  }
  if (!isDir) throw new CliError(`--repo ${opts.repo}: no such folder (${start})`, EXIT.usage);
  return start;
}

/** The repo a command acts on: `--repo` if given, else the nearest repo above the working directory. */
export function resolveRepo(io: CliIo, opts: GlobalOptions, { requireInit = true } = {}): RepoContext {
  const start = repoSearchStart(io, opts);
  const found = findRepoRoot(start);
  if (!found) {
    throw new CliError(
      `not inside a git repo or car repo: ${start} (run \`car init\` in a git repo)`,
      EXIT.usage,
    );
  }
  if (requireInit && !found.initialized) {
    throw new CliError(`car is not initialized in ${found.root} (run \`car init\`)`, EXIT.usage);
  }
  return { paths: repoPaths(found.root), initialized: found.initialized, git: found.git };
}

/** Loads layered config; a bad file or value becomes exit code 3 with the file and key path in the message. */
export async function loadRepoConfig(io: CliIo, root: string): Promise<LoadedConfig> {
  const { loadConfig, ConfigError } = await import('../../core/config/index.ts');
  try {
    return loadConfig(root, io.env);
  } catch (err) {
    if (err instanceof ConfigError) throw new CliError(err.message, EXIT.invalidInput);
    throw err;
  }
}
