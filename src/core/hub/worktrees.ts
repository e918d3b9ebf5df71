// `car worktree new|list|remove`: git worktrees of a registered base repo, under `hub.worktrees_root`,
// registered in the manifest as `kind: worktree`. Hygiene for agent worktrees: they share the base's
// object store (git worktree), get `gc.auto 0` in their own config so an automatic gc cannot race
// another checkout's commit, get car's files seeded fresh (never copied from the base), and can link
// heavy git-ignored folders (node_modules) from the base instead of rebuilding them.
import {
  cpSync,
  existsSync,
  lstatSync,
  mkdirSync,
  readdirSync,
  readlinkSync,
  rmdirSync,
  rmSync,
  symlinkSync,
  unlinkSync,
} from 'node:fs';
import { join } from 'node:path';
import { initRepo } from '../init.ts';
import { readLock } from '../lock.ts';
import { repoPaths, STATE_DIR } from '../paths.ts';
import { commandPassed, runVerifyCommand, type VerifyCommandResult } from '../verify/run-command.ts';
import { findById, type ManifestRepo, manifestPath, readManifest, repoDir, worktreeId } from './manifest.ts';
import { type Hub, HubError, updateManifest } from './registry.ts';

export interface NewWorktreeResult {
  repo: ManifestRepo;
  dir: string;
  /** Existing branch checked out (true) or new branch created (false). */
  existingBranch: boolean;
  startPoint: string | null;
  symlinked: string[];
  autoGcDisabled: boolean;
  /** The base repo's `worktree_setup_commands`, run in order in the new worktree; stops at a failure. */
  setup: VerifyCommandResult[];
}

/** CAR's limit for one set-up command (an install can be slow). */
const SETUP_TIMEOUT_MS = 600_000;
const SETUP_OUTPUT_BYTES = 8 * 1024;

/** Paths (repo-relative) linked from the base by the set-up; removal unlinks them first. */
function setupLinks(hub: Hub): string[] {
  return hub.settings.worktree_setup.symlink.map((p) => p.replace(/^\.\/+|\/+$/g, ''));
}

function isSymlink(path: string): boolean {
  try {
    return lstatSync(path).isSymbolicLink();
  } catch {
    return false;
  }
}

/**
 * A git step the user's repo can refuse (a bad branch name, a broken checkout): its failure becomes a
 * refusal that says what car was doing, with git's own words, instead of an internal error.
 */
async function gitStep<T>(what: string, step: () => Promise<T>): Promise<T> {
  try {
    return await step();
  } catch (err) {
    throw new HubError('invalid', `${what}: ${err instanceof Error ? err.message : String(err)}`);
  }
}

/** A repo whose HEAD names no commit yet (`git init` and nothing committed). */
function noCommitsYet(baseId: string, baseDir: string): HubError {
  return new HubError(
    'invalid',
    `repo ${baseId} (${baseDir}) has no commits yet: a worktree needs a first commit to branch from; commit something there (git commit) and run this again`,
  );
}

export async function newWorktree(
  hub: Hub,
  baseId: string,
  branch: string,
  /** `unsetEnv`: car's secrets, kept from the set-up commands' environment. */
  opts: { startPoint?: string; unsetEnv?: readonly string[] } = {},
): Promise<NewWorktreeResult> {
  if (!/^[^\s~^:?*[\\]+$/.test(branch) || branch.startsWith('-')) {
    throw new HubError('invalid', `invalid branch name: ${branch}`);
  }
  const manifest = readManifest(hub.paths.manifestFile);
  const base = findById(manifest, baseId);
  if (!base) throw new HubError('not_found', `no repo ${baseId} in the hub manifest`);
  if (base.kind !== 'base') throw new HubError('invalid', `${baseId} is a worktree; give its base repo`);
  const baseDir = repoDir(hub.root, base);
  if (!existsSync(baseDir)) throw new HubError('invalid', `${baseId}: ${baseDir} does not exist`);
  const id = worktreeId(base.id, branch);
  if (findById(manifest, id)) throw new HubError('conflict', `worktree ${id} is already registered`);
  const dir = join(hub.paths.worktreesRoot, id);
  if (existsSync(dir)) throw new HubError('conflict', `${dir} already exists`);

  const branchSha = await hub.git.resolveCommit(baseDir, `refs/heads/${branch}`);
  const headSha = await hub.git.resolveCommit(baseDir, 'HEAD');
  if (!headSha && !(await hub.git.inspect(baseDir)))
    throw new HubError('invalid', `repo ${baseId}: ${baseDir} is not a git repo`);
  let startSha: string | null = null;
  if (opts.startPoint !== undefined) {
    startSha = await hub.git.resolveCommit(baseDir, opts.startPoint);
    if (!startSha && !headSha && !branchSha) throw noCommitsYet(baseId, baseDir);
    if (!startSha)
      throw new HubError('invalid', `start point ${opts.startPoint} is not a commit in ${baseId}`);
  } else if (!branchSha && !headSha) {
    // git would fail half-way (`not a valid object name: 'HEAD'`); nothing is created
    throw noCommitsYet(baseId, baseDir);
  }
  if (branchSha && startSha && branchSha !== startSha) {
    throw new HubError(
      'conflict',
      `branch ${branch} already exists at ${branchSha.slice(0, 12)}, not at ${opts.startPoint} (${startSha.slice(0, 12)})`,
    );
  }
  if (branchSha) {
    // git checks a branch out in one worktree at a time
    const holder = (
      await gitStep(`cannot list the worktrees of ${baseId}`, () => hub.git.listWorktrees(baseDir))
    ).find((w) => w.branch === branch);
    if (holder?.prunable)
      throw new HubError(
        'conflict',
        `branch ${branch} is still checked out in ${holder.path}, a worktree whose folder is gone: run git worktree prune in ${baseDir}, then this again`,
      );
    if (holder)
      throw new HubError(
        'conflict',
        `branch ${branch} is already checked out in ${holder.path}; a branch can be checked out in one worktree at a time`,
      );
  }
  const madeRoot = mkdirSync(hub.paths.worktreesRoot, { recursive: true });
  try {
    await gitStep(`git could not add worktree ${id} of ${baseId}`, () =>
      hub.git.addWorktree(baseDir, {
        path: dir,
        branch,
        create: branchSha === null,
        ...(branchSha === null && opts.startPoint !== undefined ? { startPoint: opts.startPoint } : {}),
      }),
    );
  } catch (err) {
    // leave the disk as it was: git removes what it started; the worktrees folder was made here
    if (existsSync(dir) && readdirSync(dir).length === 0) rmdirSync(dir);
    if (madeRoot && readdirSync(hub.paths.worktreesRoot).length === 0) rmSync(madeRoot, { recursive: true });
    throw err;
  }

  let autoGcDisabled = false;
  if (hub.settings.worktree_setup.disable_auto_gc) {
    await hub.git.disableAutoGc(dir);
    autoGcDisabled = true;
  }
  const symlinked: string[] = [];
  for (const rel of setupLinks(hub)) {
    const from = join(baseDir, rel);
    const to = join(dir, rel);
    if (!existsSync(from) || existsSync(to) || isSymlink(to)) continue;
    mkdirSync(join(to, '..'), { recursive: true });
    symlinkSync(from, to);
    symlinked.push(rel);
  }
  initRepo(dir);
  // As CAR does (`pnpm install` and the like). A failure leaves the worktree registered: it exists on
  // disk and the command can be run again by hand; the caller reports it.
  const setup: VerifyCommandResult[] = [];
  for (const command of base.worktree_setup_commands ?? []) {
    const result = await runVerifyCommand(command, {
      cwd: dir,
      timeoutMs: SETUP_TIMEOUT_MS,
      maxOutputBytes: SETUP_OUTPUT_BYTES,
      ...(opts.unsetEnv ? { unsetEnv: opts.unsetEnv } : {}),
    });
    setup.push(result);
    if (!commandPassed(result)) break;
  }

  const repo = await updateManifest(hub, async (m) => {
    if (findById(m, id)) throw new HubError('conflict', `worktree ${id} is already registered`);
    const entry: ManifestRepo = {
      id,
      path: manifestPath(hub.root, dir),
      enabled: true,
      auto_run: false,
      kind: 'worktree',
      display_name: id,
      worktree_of: base.id,
      branch,
      extra: {},
    };
    m.repos.push(entry);
    return { value: entry, changed: true };
  });
  return {
    repo,
    dir,
    existingBranch: branchSha !== null,
    startPoint: branchSha === null ? (opts.startPoint ?? 'HEAD') : null,
    symlinked,
    autoGcDisabled,
    setup,
  };
}

export interface RemoveWorktreeResult {
  repo: ManifestRepo;
  /** Where the worktree's `.codex-autorunner/` (tickets, runs, store) was kept, if it had one. */
  archivedTo: string | null;
  removedFromDisk: boolean;
  branchDeleted: boolean;
  /** Why `--delete-branch` did not delete it (unmerged without --force, ...). */
  branchError: string | null;
}

export async function removeWorktree(
  hub: Hub,
  id: string,
  opts: { deleteBranch?: boolean; force?: boolean } = {},
): Promise<RemoveWorktreeResult> {
  const manifest = readManifest(hub.paths.manifestFile);
  const repo = findById(manifest, id);
  if (!repo) throw new HubError('not_found', `no worktree ${id} in the hub manifest`);
  if (repo.kind !== 'worktree')
    throw new HubError('invalid', `${id} is a base repo, not a worktree (car hub remove)`);
  const base = repo.worktree_of ? findById(manifest, repo.worktree_of) : undefined;
  if (!base)
    throw new HubError('invalid', `${id}: its base repo ${repo.worktree_of ?? '?'} is not registered`);
  const baseDir = repoDir(hub.root, base);
  const dir = repoDir(hub.root, repo);
  const onDisk = existsSync(dir);
  let archivedTo: string | null = null;
  /** The first folder made for the archive copy, removed with it when git refuses the removal. */
  let archiveMade: string | undefined;
  if (onDisk) {
    const lock = readLock(repoPaths(dir).lockFile);
    if (lock && !lock.stale && !opts.force) {
      throw new HubError(
        'busy',
        `${id} has a live flow worker (pid ${lock.holder?.pid ?? '?'}); stop it first`,
      );
    }
    const links = setupLinks(hub);
    const status = await gitStep(
      `${id}: ${dir} is not a working git worktree any more (move the folder away, then car worktree remove ${id} drops it from the manifest)`,
      () => hub.git.dirtyPaths(dir),
    );
    const dirty = status.filter(
      (p) => !p.startsWith(`${STATE_DIR}/`) && !links.some((l) => p === l || p.startsWith(`${l}/`)),
    );
    if (dirty.length > 0 && !opts.force) {
      throw new HubError(
        'conflict',
        `${id} has uncommitted changes (${dirty.slice(0, 5).join(', ')}${dirty.length > 5 ? ', ...' : ''}); commit them or use --force`,
      );
    }
    if (existsSync(join(dir, STATE_DIR))) {
      const archiveRoot = join(hub.paths.stateDir, 'archive', 'worktrees');
      archiveMade = mkdirSync(archiveRoot, { recursive: true });
      archivedTo = join(archiveRoot, `${id}-${Date.now()}`);
      cpSync(join(dir, STATE_DIR), archivedTo, {
        recursive: true,
        filter: (src) => !src.endsWith('flow.lock'),
      });
    }
    const unlinked: [string, string][] = [];
    for (const rel of links) {
      const at = join(dir, rel);
      if (!isSymlink(at)) continue;
      const target = readlinkSync(at);
      unlinkSync(at);
      unlinked.push([at, target]);
    }
    try {
      // car's own state is untracked in a fresh worktree; it is archived above
      await gitStep(`git could not remove worktree ${id}`, () =>
        hub.git.removeWorktree(baseDir, dir, { force: true }),
      );
    } catch (err) {
      // nothing removed: put the links back and drop the archive copy
      for (const [at, target] of unlinked) if (!isSymlink(at) && !existsSync(at)) symlinkSync(target, at);
      const copy = archiveMade ?? archivedTo;
      if (copy) rmSync(copy, { recursive: true, force: true });
      throw err;
    }
  }
  await updateManifest(hub, async (m) => {
    m.repos = m.repos.filter((r) => r.id !== id);
    return { value: null, changed: true };
  });
  let branchDeleted = false;
  let branchError: string | null = null;
  if (opts.deleteBranch && repo.branch) {
    try {
      await hub.git.deleteBranch(baseDir, repo.branch, { force: opts.force ?? false });
      branchDeleted = true;
    } catch (err) {
      // typically: not merged (git branch -d); the worktree itself is gone either way
      branchError = (err as Error).message;
    }
  }
  return { repo, archivedTo, removedFromDisk: onDisk, branchDeleted, branchError };
}
