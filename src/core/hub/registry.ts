// Registering repos and worktrees in the hub manifest: add, remove, scan. Every change is a
// read-modify-write of manifest.yml under a short lock, written atomically, keeping entries and keys
// car does not understand.
import { existsSync, mkdirSync, readdirSync, realpathSync, statSync } from 'node:fs';
import { basename, dirname, isAbsolute, join, relative, resolve } from 'node:path';
import { writeFileAtomic } from '../fs/atomic.ts';
import { initRepo } from '../init.ts';
import { acquireLock, LockHeldError } from '../lock.ts';
import { STATE_DIR } from '../paths.ts';
import type { HubSettings } from './config.ts';
import { readHubState } from './init.ts';
import {
  findByDir,
  findById,
  type Manifest,
  type ManifestRepo,
  manifestPath,
  REPO_ID_RE,
  readManifest,
  repoDir,
  sanitizeRepoId,
  uniqueRepoId,
  worktreeId,
  writeManifest,
} from './manifest.ts';
import { type HubPaths, hubPaths } from './paths.ts';
import type { HubGit } from './ports.ts';

/** A refusal about hub registration; `code` is stable for scripts. */
export class HubError extends Error {
  readonly code: 'not_found' | 'conflict' | 'invalid' | 'busy';
  constructor(code: HubError['code'], message: string) {
    super(message);
    this.name = 'HubError';
    this.code = code;
  }
}

export interface Hub {
  root: string;
  paths: HubPaths;
  settings: HubSettings;
  git: HubGit;
}

export function openHub(root: string, settings: HubSettings, git: HubGit): Hub {
  const real = realpathSync(root);
  return { root: real, paths: hubPaths(real, settings), settings, git };
}

function real(path: string): string {
  try {
    return realpathSync(path);
  } catch {
    return resolve(path);
  }
}

const MANIFEST_LOCK_WAIT_MS = 10_000;

/** Runs `fn` on the current manifest under the manifest lock and writes it back if `fn` says so. */
export async function updateManifest<T>(
  hub: Hub,
  fn: (manifest: Manifest) => Promise<{ value: T; changed: boolean }>,
): Promise<T> {
  const lockFile = `${hub.paths.manifestFile}.lock`;
  const deadline = Date.now() + MANIFEST_LOCK_WAIT_MS;
  let handle: ReturnType<typeof acquireLock>;
  for (;;) {
    try {
      handle = acquireLock(lockFile, { purpose: 'car hub manifest update' });
      break;
    } catch (err) {
      if (!(err instanceof LockHeldError) || Date.now() > deadline) {
        if (err instanceof LockHeldError) throw new HubError('busy', err.message);
        throw err;
      }
      await new Promise((r) => setTimeout(r, 20));
    }
  }
  try {
    const manifest = readManifest(hub.paths.manifestFile);
    const { value, changed } = await fn(manifest);
    if (changed) writeManifest(hub.paths.manifestFile, manifest);
    return value;
  } finally {
    handle.release();
  }
}

/**
 * Seeds car's files a repo lacks. A `.codex-autorunner/` holding only tickets still gets its `.gitignore`
 * (without it an agent's `git add -A` commits car.db, flow.lock and runs/) and its config; what exists
 * is kept.
 */
function initIfMissing(hub: Hub, dir: string, initialized: string[]): void {
  if (!hub.settings.auto_init_missing) return;
  if (initRepo(dir).created.length > 0) initialized.push(dir);
}

export interface AddResult {
  repo: ManifestRepo;
  added: boolean;
  /** Also registered: the base of a worktree that was added. */
  base?: ManifestRepo;
  initialized: string[];
}

interface Registration {
  manifest: Manifest;
  added: ManifestRepo[];
  initialized: string[];
}

/**
 * Registers the checkout at `dir` (a repo, or a linked worktree whose base gets registered too).
 * Returns the entry; an already registered folder is returned as it is.
 */
async function register(
  hub: Hub,
  reg: Registration,
  dir: string,
  opts: { id?: string; displayName?: string } = {},
): Promise<ManifestRepo> {
  const existing = findByDir(hub.root, reg.manifest, dir);
  if (existing) return existing;
  const info = await hub.git.inspect(dir);
  if (!info) throw new HubError('invalid', `${dir} is not a git repo`);
  if (real(info.topLevel) !== real(dir)) {
    throw new HubError('invalid', `${dir} is inside the git repo ${info.topLevel}; add that folder instead`);
  }
  let base: ManifestRepo | undefined;
  if (info.linked) {
    // the base checkout is the one whose git dir is the common dir
    const baseDir = basename(info.commonDir) === '.git' ? dirname(info.commonDir) : null;
    if (!baseDir || !existsSync(baseDir)) {
      throw new HubError(
        'invalid',
        `${dir} is a worktree of ${info.commonDir}, which has no checkout to register`,
      );
    }
    base = await register(hub, reg, baseDir);
  }
  const taken = new Set(reg.manifest.repos.map((r) => r.id));
  let id: string;
  if (opts.id !== undefined) {
    if (!REPO_ID_RE.test(opts.id))
      throw new HubError('invalid', `invalid id ${JSON.stringify(opts.id)} (letters, digits, . _ -)`);
    if (taken.has(opts.id)) throw new HubError('conflict', `id ${opts.id} is already registered`);
    id = opts.id;
  } else if (base) {
    id = uniqueRepoId(worktreeId(base.id, info.branch ?? basename(dir)), taken);
  } else {
    id = uniqueRepoId(sanitizeRepoId(basename(dir)), taken);
  }
  const repo: ManifestRepo = {
    id,
    path: manifestPath(hub.root, dir),
    enabled: true,
    auto_run: false,
    kind: base ? 'worktree' : 'base',
    display_name: opts.displayName ?? id,
    extra: {},
  };
  if (base) repo.worktree_of = base.id;
  if (info.branch) repo.branch = info.branch;
  reg.manifest.repos.push(repo);
  reg.added.push(repo);
  initIfMissing(hub, dir, reg.initialized);
  return repo;
}

/** `car hub add <path> [--id]`. */
export async function addRepo(
  hub: Hub,
  path: string,
  opts: { id?: string; displayName?: string } = {},
): Promise<AddResult> {
  const dir = resolve(path);
  if (!existsSync(dir) || !statSync(dir).isDirectory())
    throw new HubError('invalid', `no such folder: ${dir}`);
  return updateManifest(hub, async (manifest) => {
    const reg: Registration = { manifest, added: [], initialized: [] };
    const repo = await register(hub, reg, dir, opts);
    const added = reg.added.includes(repo);
    const base = reg.added.find((r) => r !== repo);
    const value: AddResult = { repo, added, initialized: reg.initialized, ...(base ? { base } : {}) };
    return { value, changed: reg.added.length > 0 };
  });
}

/**
 * Where `hub create|clone` put a repo: `<repos_root>/<id>`, or `repoPath` relative to repos_root. It must
 * stay inside the hub, and an existing non-empty folder is only used with `force`.
 */
function newRepoDir(hub: Hub, id: string, opts: { repoPath?: string; force?: boolean }): string {
  if (!REPO_ID_RE.test(id))
    throw new HubError('invalid', `invalid id ${JSON.stringify(id)} (letters, digits, . _ -)`);
  const dir = resolve(hub.paths.reposRoot, opts.repoPath ?? id);
  const rel = relative(hub.root, dir);
  if (rel === '' || rel.startsWith('..') || isAbsolute(rel))
    throw new HubError('invalid', `${dir} is not inside the hub ${hub.root}`);
  if (existsSync(dir) && readdirSync(dir).length > 0 && !opts.force)
    throw new HubError('conflict', `${dir} already exists and is not empty (--force uses it)`);
  return dir;
}

function refuseTakenId(hub: Hub, id: string): void {
  if (findById(readManifest(hub.paths.manifestFile), id))
    throw new HubError('conflict', `id ${id} is already registered`);
}

/** `car hub create <id>`: a new folder in the hub, `git init` (unless told not to), car's files, registered. */
export async function createRepo(
  hub: Hub,
  id: string,
  opts: { repoPath?: string; force?: boolean; gitInit?: boolean } = {},
): Promise<AddResult> {
  refuseTakenId(hub, id);
  const dir = newRepoDir(hub, id, opts);
  mkdirSync(dir, { recursive: true });
  if (opts.gitInit !== false && !existsSync(join(dir, '.git'))) await hub.git.init(dir);
  return addRepo(hub, dir, { id });
}

/** The id `hub clone` gives a URL: its last path segment without `.git`. */
export function repoIdFromUrl(url: string): string {
  const last =
    url
      .replace(/[/\\]+$/, '')
      .split(/[/\\:]/)
      .pop() ?? '';
  return sanitizeRepoId(last.replace(/\.git$/i, '')) || 'repo';
}

/** `car hub clone --git-url <url>`: clones into the hub, then initializes and registers it. */
export async function cloneRepo(
  hub: Hub,
  url: string,
  opts: { id?: string; repoPath?: string; force?: boolean } = {},
): Promise<AddResult> {
  const id = opts.id ?? repoIdFromUrl(url);
  refuseTakenId(hub, id);
  const dir = newRepoDir(hub, id, opts);
  mkdirSync(dirname(dir), { recursive: true });
  try {
    await hub.git.clone(url, dir);
  } catch (err) {
    throw new HubError('invalid', `cannot clone ${url}: ${(err as Error).message}`);
  }
  return addRepo(hub, dir, { id });
}

/** `car hub remove <id>`: drops the entry (files stay). A base with registered worktrees is refused. */
export async function removeRepo(hub: Hub, id: string): Promise<ManifestRepo> {
  return updateManifest(hub, async (manifest) => {
    const repo = findById(manifest, id);
    if (!repo) throw new HubError('not_found', `no repo ${id} in the hub manifest`);
    const children = manifest.repos.filter((r) => r.kind === 'worktree' && r.worktree_of === id);
    if (children.length > 0) {
      throw new HubError(
        'conflict',
        `${id} has registered worktrees (${children.map((c) => c.id).join(', ')}); remove them first`,
      );
    }
    manifest.repos = manifest.repos.filter((r) => r !== repo);
    return { value: repo, changed: true };
  });
}

/** Folders holding a `.git` under `root`, at most `depth` levels down; never inside a repo. */
function discoverGitDirs(root: string, depth: number): string[] {
  const out: string[] = [];
  const walk = (dir: string, level: number) => {
    let entries: import('node:fs').Dirent[];
    try {
      entries = readdirSync(dir, { withFileTypes: true });
    } catch {
      return;
    }
    for (const entry of entries) {
      if (!entry.isDirectory() || entry.name.startsWith('.') || entry.name === 'node_modules') continue;
      const child = join(dir, entry.name);
      if (existsSync(join(child, '.git'))) out.push(child);
      else if (level < depth) walk(child, level + 1);
    }
  };
  walk(root, 1);
  return out.sort();
}

export interface ScanResult {
  added: ManifestRepo[];
  /** Absolute folders that got `.codex-autorunner/`. */
  initialized: string[];
  /** Registered entries whose folder is gone. */
  missing: string[];
  /** Problems that did not stop the scan (a folder that is not a usable repo, ...). */
  warnings: string[];
  repos: ManifestRepo[];
}

/**
 * `car hub scan`: registers git repos under `hub.repos_root` and `hub.worktrees_root` (to
 * `hub.discover_depth`) and every worktree git knows of for a registered repo, wherever it lives,
 * including ones created with plain `git worktree add` (CAR#534/#493: those were invisible). Missing
 * `.codex-autorunner/` folders are created when `hub.auto_init_missing`. Updates hub_state.json.
 */
export async function scanHub(hub: Hub): Promise<ScanResult> {
  const result = await updateManifest(hub, async (manifest) => {
    const reg: Registration = { manifest, added: [], initialized: [] };
    const warnings: string[] = [];
    const tryRegister = async (dir: string) => {
      try {
        await register(hub, reg, dir);
      } catch (err) {
        if (err instanceof HubError) warnings.push(err.message);
        else throw err;
      }
    };
    const found = [
      ...discoverGitDirs(hub.paths.reposRoot, hub.settings.discover_depth),
      ...discoverGitDirs(hub.paths.worktreesRoot, hub.settings.discover_depth),
    ];
    // plain repos first, so a worktree finds its base already registered under its usual id
    const linked = found.filter((d) => !statSync(join(d, '.git')).isDirectory());
    for (const dir of found.filter((d) => !linked.includes(d))) await tryRegister(dir);
    for (const dir of linked) await tryRegister(dir);
    // worktrees created outside car: ask git about every registered base repo
    for (const base of manifest.repos.filter((r) => r.kind === 'base')) {
      const dir = repoDir(hub.root, base);
      if (!existsSync(dir)) continue;
      let worktrees: Awaited<ReturnType<HubGit['listWorktrees']>>;
      try {
        worktrees = await hub.git.listWorktrees(dir);
      } catch (err) {
        warnings.push(`${base.id}: git worktree list failed: ${(err as Error).message}`);
        continue;
      }
      for (const wt of worktrees) {
        if (wt.bare || wt.prunable || !existsSync(wt.path)) continue;
        if (real(wt.path) === real(dir)) continue;
        await tryRegister(wt.path);
      }
    }
    for (const repo of manifest.repos) {
      const dir = repoDir(hub.root, repo);
      if (existsSync(dir)) initIfMissing(hub, dir, reg.initialized);
    }
    const missing = manifest.repos.filter((r) => !existsSync(repoDir(hub.root, r))).map((r) => r.id);
    const value: ScanResult = {
      added: reg.added,
      initialized: [...new Set(reg.initialized)],
      missing,
      warnings,
      repos: manifest.repos,
    };
    return { value, changed: reg.added.length > 0 };
  });
  writeHubState(hub, result.repos);
  return result;
}

/** hub_state.json as CAR keeps it: last scan time, what scan saw per repo, pinned parents kept. */
function writeHubState(hub: Hub, repos: readonly ManifestRepo[]): void {
  const previous = readHubState(hub.paths.hubStateFile);
  const state = {
    ...previous,
    last_scan_at: new Date().toISOString(),
    repos: repos.map((r) => {
      const dir = repoDir(hub.root, r);
      const exists = existsSync(dir);
      const initialized = exists && existsSync(join(dir, STATE_DIR));
      return {
        id: r.id,
        path: r.path,
        display_name: r.display_name ?? r.id,
        enabled: r.enabled,
        auto_run: r.auto_run,
        kind: r.kind,
        worktree_of: r.worktree_of ?? null,
        branch: r.branch ?? null,
        exists_on_disk: exists,
        initialized,
        has_car_state: initialized,
        archived: r.archived ?? false,
      };
    }),
    pinned_parent_repo_ids: Array.isArray(previous.pinned_parent_repo_ids)
      ? previous.pinned_parent_repo_ids
      : [],
  };
  writeFileAtomic(hub.paths.hubStateFile, `${JSON.stringify(state, null, 2)}\n`, { createDirs: true });
}
