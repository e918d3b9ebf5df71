// A private CODEX_HOME per car workspace, seeded from the user's, as CAR does: `auth.json` is a symlink to
// the user's (so a login or token refresh is shared), `config.toml` is a copy (so car's codex runs see the
// user's providers and settings, while sessions, logs and trust entries codex writes stay out of ~/.codex).
import { createHash } from 'node:crypto';
import {
  copyFileSync,
  lstatSync,
  mkdirSync,
  readlinkSync,
  type Stats,
  statSync,
  symlinkSync,
  unlinkSync,
} from 'node:fs';
import { homedir } from 'node:os';
import { basename, join, resolve } from 'node:path';

export interface SeedCodexHomeOptions {
  /** The private home to create or update. */
  target: string;
  /** The user's codex home. Default: `$CODEX_HOME`, else `~/.codex`. */
  source?: string;
  env?: NodeJS.ProcessEnv;
}

export interface SeedCodexHomeResult {
  codexHome: string;
  source: string;
  /** What happened to `auth.json`: linked now, already linked, a private file left alone, or no source. */
  auth: 'linked' | 'already-linked' | 'kept-private' | 'no-source';
  /** What happened to `config.toml`: copied (missing or the user's is newer), up to date, or no source. */
  config: 'copied' | 'up-to-date' | 'no-source';
}

/** The user's codex home: `$CODEX_HOME` when set, else `~/.codex`. */
export function userCodexHome(env: NodeJS.ProcessEnv = process.env): string {
  const fromEnv = env.CODEX_HOME;
  return fromEnv && fromEnv.trim() !== '' ? resolve(fromEnv) : join(env.HOME ?? homedir(), '.codex');
}

/**
 * Where car keeps the private codex home of a workspace:
 * `<global root>/workspaces/<name>-<hash>/codex_home`, the global root being `$CAR_GLOBAL_STATE_ROOT` or
 * `~/.codex-autorunner` (CAR's layout; the folder name is car's: repo folder name plus a short hash of
 * its absolute path, so two checkouts with the same name do not share a home).
 */
export function workspaceCodexHome(workspaceRoot: string, env: NodeJS.ProcessEnv = process.env): string {
  const root = resolve(workspaceRoot);
  const globalRoot = env.CAR_GLOBAL_STATE_ROOT?.trim()
    ? resolve(env.CAR_GLOBAL_STATE_ROOT)
    : join(env.HOME ?? homedir(), '.codex-autorunner');
  const hash = createHash('sha256').update(root).digest('hex').slice(0, 12);
  const name = basename(root).replace(/[^A-Za-z0-9._-]/g, '_') || 'root';
  return join(globalRoot, 'workspaces', `${name}-${hash}`, 'codex_home');
}

function lstatOrNull(path: string): Stats | null {
  try {
    return lstatSync(path);
  } catch {
    return null;
  }
}

function statOrNull(path: string): Stats | null {
  try {
    return statSync(path);
  } catch {
    return null;
  }
}

/** Creates (or refreshes) a private codex home. Idempotent; safe to call before every session. */
export function seedCodexHome(opts: SeedCodexHomeOptions): SeedCodexHomeResult {
  const codexHome = resolve(opts.target);
  const source = resolve(opts.source ?? userCodexHome(opts.env));
  mkdirSync(codexHome, { recursive: true, mode: 0o700 });
  if (source === codexHome) return { codexHome, source, auth: 'kept-private', config: 'up-to-date' };

  let auth: SeedCodexHomeResult['auth'] = 'no-source';
  const authSource = join(source, 'auth.json');
  const authTarget = join(codexHome, 'auth.json');
  if (statOrNull(authSource)?.isFile()) {
    const existing = lstatOrNull(authTarget);
    if (existing === null) {
      symlinkSync(authSource, authTarget);
      auth = 'linked';
    } else if (existing.isSymbolicLink()) {
      if (resolve(codexHome, readlinkSync(authTarget)) === authSource) {
        auth = 'already-linked';
      } else {
        unlinkSync(authTarget);
        symlinkSync(authSource, authTarget);
        auth = 'linked';
      }
    } else {
      // someone logged in inside the private home: their choice wins
      auth = 'kept-private';
    }
  }

  let config: SeedCodexHomeResult['config'] = 'no-source';
  const configSource = join(source, 'config.toml');
  const configTarget = join(codexHome, 'config.toml');
  const sourceStat = statOrNull(configSource);
  if (sourceStat?.isFile()) {
    const targetStat = statOrNull(configTarget);
    if (targetStat === null || sourceStat.mtimeMs > targetStat.mtimeMs) {
      copyFileSync(configSource, configTarget);
      config = 'copied';
    } else {
      config = 'up-to-date';
    }
  }
  return { codexHome, source, auth, config };
}
