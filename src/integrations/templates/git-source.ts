// Template repos as git mirrors, where CAR keeps them (`<templates home>/templates/git/<id>.git`, a bare
// mirror of the repo's branches and tags), each pinned to the commit `car templates fetch` last resolved
// (`templates/pins.json`): listing and applying read that commit and never touch the network, so the
// same template gives the same ticket until the next fetch.
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { writeFileAtomic } from '../../core/fs/atomic.ts';
import { type SourceFile, TemplateError, type TemplateSource } from '../../core/templates/catalog.ts';
import type { TemplateRepo } from '../../core/templates/config.ts';
import { GitError, runGit, runGitText } from '../git/run-git.ts';

const FETCH_TIMEOUT_MS = 120_000;

export interface Pin {
  url: string;
  ref: string;
  commit: string;
  fetched_at: string;
}

interface PinsFile {
  version: 1;
  repos: Record<string, Pin>;
}

export interface TemplateCache {
  /** `<hub>/.codex-autorunner/templates` or `~/.codex-autorunner/templates`. */
  dir: string;
}

const mirrorDir = (cache: TemplateCache, id: string) => join(cache.dir, 'git', `${id}.git`);
const pinsFile = (cache: TemplateCache) => join(cache.dir, 'pins.json');

export function readPins(cache: TemplateCache): Record<string, Pin> {
  try {
    const parsed = JSON.parse(readFileSync(pinsFile(cache), 'utf8')) as PinsFile;
    return parsed && typeof parsed.repos === 'object' ? parsed.repos : {};
  } catch {
    return {};
  }
}

function writePin(cache: TemplateCache, id: string, pin: Pin | null): void {
  const repos = readPins(cache);
  if (pin) repos[id] = pin;
  else delete repos[id];
  mkdirSync(cache.dir, { recursive: true });
  writeFileAtomic(pinsFile(cache), `${JSON.stringify({ version: 1, repos } satisfies PinsFile, null, 2)}\n`);
}

/** The pin of `repo`, when it was fetched from the URL the config names now. */
export function pinOf(cache: TemplateCache, repo: TemplateRepo): Pin | null {
  const pin = readPins(cache)[repo.id];
  return pin && pin.url === repo.url ? pin : null;
}

/** Fetches the repo into its mirror and pins `ref` (default: its default_ref). Returns the pin. */
export async function fetchTemplateRepo(
  cache: TemplateCache,
  repo: TemplateRepo,
  ref?: string,
): Promise<Pin> {
  const dir = mirrorDir(cache, repo.id);
  if (!existsSync(join(dir, 'HEAD'))) {
    mkdirSync(dir, { recursive: true });
    await runGit(['init', '--bare', '--quiet'], { cwd: dir });
  }
  const git = (args: string[], timeoutMs?: number) =>
    runGitText(args, { cwd: dir, ...(timeoutMs ? { timeoutMs } : {}) });
  await git(['config', 'remote.origin.url', repo.url]);
  await git(['config', '--replace-all', 'remote.origin.fetch', '+refs/heads/*:refs/heads/*']);
  await git(['config', '--add', 'remote.origin.fetch', '+refs/tags/*:refs/tags/*']);
  try {
    await git(['fetch', '--prune', '--quiet', 'origin'], FETCH_TIMEOUT_MS);
  } catch (err) {
    if (err instanceof GitError)
      throw new TemplateError(
        'fetch_failed',
        `${repo.id}: fetch from ${repo.url} failed: ${err.stderr.trim() || err.message}`,
      );
    throw err;
  }
  const wanted = ref ?? repo.default_ref;
  const commit = await resolveCommit(dir, repo.id, wanted);
  const pin = { url: repo.url, ref: wanted, commit, fetched_at: new Date().toISOString() };
  writePin(cache, repo.id, pin);
  return pin;
}

/** Forgets a removed repo's pin (its mirror stays: adding the repo again fetches only what is new). */
export function forgetTemplateRepo(cache: TemplateCache, id: string): void {
  writePin(cache, id, null);
}

async function resolveCommit(dir: string, id: string, ref: string): Promise<string> {
  try {
    return await runGitText(['rev-parse', '--verify', '--quiet', '--end-of-options', `${ref}^{commit}`], {
      cwd: dir,
      readOnly: true,
    });
  } catch (err) {
    if (err instanceof GitError)
      throw new TemplateError('not_found', `${id}: no ref ${ref} (car templates fetch ${id})`);
    throw err;
  }
}

/**
 * The repo as a template source at its pinned commit, or at `ref` when given (a branch, tag or commit
 * the mirror has). A repo never fetched has commit null and no files.
 */
export async function gitSource(
  cache: TemplateCache,
  repo: TemplateRepo,
  ref: string | null = null,
): Promise<TemplateSource> {
  const dir = mirrorDir(cache, repo.id);
  const pin = pinOf(cache, repo);
  let commit = pin?.commit ?? null;
  if (ref !== null) {
    if (!pin)
      throw new TemplateError('not_fetched', `${repo.id}: not fetched yet (car templates fetch ${repo.id})`);
    commit = await resolveCommit(dir, repo.id, ref);
  }
  let listing: (SourceFile & { blob: string })[] | null = null;
  const files = async () => {
    if (commit === null) return [];
    if (listing) return listing;
    const out = await runGit(['ls-tree', '-r', '-l', '-z', '--full-tree', commit], {
      cwd: dir,
      readOnly: true,
    });
    listing = [];
    for (const entry of out.toString('utf8').split('\0')) {
      const m = /^(\d+) (\w+) ([0-9a-f]+) +(-|\d+)\t(.*)$/s.exec(entry);
      if (m?.[2] !== 'blob') continue; // submodules and empty entries
      const path = m[5]!;
      if (path.split('/').some((p) => p.startsWith('.'))) continue;
      listing.push({ path, size: m[4] === '-' ? 0 : Number(m[4]), link: m[1] === '120000', blob: m[3]! });
    }
    return listing;
  };
  return {
    id: repo.id,
    kind: 'git',
    trusted: repo.trusted,
    ref: ref ?? pin?.ref ?? null,
    commit,
    files,
    read: async (path) => {
      const entry = (await files()).find((f) => f.path === path);
      if (!entry) throw new TemplateError('not_found', `no template ${repo.id}:${path}`);
      const bytes = await runGit(['cat-file', 'blob', entry.blob], { cwd: dir, readOnly: true });
      return { bytes, blob: entry.blob };
    },
  };
}
