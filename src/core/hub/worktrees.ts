// `car worktree new|list|remove`: git worktrees of a registered base repo, under `hub.worktrees_root`,
// registered in the manifest as `kind: worktree`. Hygiene for agent worktrees: they share the base's
// object store (git worktree), get `gc.auto 0` in their own config so an automatic gc cannot race
// another checkout's commit, get car's files seeded fresh (never copied from the base), and can link
// heavy git-ignored folders (node_modules) from the base instead of rebuilding them.
import { cpSync, existsSync, lstatSync, mkdirSync, symlinkSync, unlinkSync } from 'node:fs';
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
  let startSha: string | null = null;
  if (opts.startPoint !== undefined) {
    startSha = await hub.git.resolveCommit(baseDir, opts.startPoint);
    if (!startSha)
      throw new HubError('invalid', `start point ${opts.startPoint} is not a commit in ${baseId}`);
  }
  if (branchSha && startSha && branchSha !== startSha) {
    throw new HubError(
      'conflict',
      `branch ${branch} already exists at ${branchSha.slice(0, 12)}, not at ${opts.startPoint} (${startSha.slice(0, 12)})`,
    );
  }
  mkdirSync(hub.paths.worktreesRoot, { recursive: true });
  await hub.git.addWorktree(baseDir, {
    path: dir,
    branch,
    create: branchSha === null,
    ...(branchSha === null && opts.startPoint !== undefined ? { startPoint: opts.startPoint } : {}),
  });

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
  if (onDisk) {
    const lock = readLock(repoPaths(dir).lockFile);
    if (lock && !lock.stale && !opts.force) {
      throw new HubError(
        'busy',
        `${id} has a live flow worker (pid ${lock.holder?.pid ?? '?'}); stop it first`,
      );
    }
    const links = setupLinks(hub);
    const dirty = (await hub.git.dirtyPaths(dir)).filter(
      (p) => !p.startsWith(`${STATE_DIR}/`) && !links.some((l) => p === l || p.startsWith(`${l}/`)),
    );
    if (dirty.length > 0 && !opts.force) {
      throw new HubError(
        'conflict',
        `${id} has uncommitted changes (${dirty.slice(0, 5).join(', ')}${dirty.length > 5 ? ', ...' : ''}); commit them or use --force`,
      );
    }
    if (existsSync(join(dir, STATE_DIR))) {
      archivedTo = join(hub.paths.stateDir, 'archive', 'worktrees', `${id}-${Date.now()}`);
      cpSync(join(dir, STATE_DIR), archivedTo, {
        recursive: true,
        filter: (src) => !src.endsWith('flow.lock'),
      });
    }
    for (const rel of links) if (isSymlink(join(dir, rel))) unlinkSync(join(dir, rel));
    // car's own state is untracked in a fresh worktree; it is archived above
    await hub.git.removeWorktree(baseDir, dir, { force: true });
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
