// Where a hub keeps things, and how a command finds the hub it is in.
import { readFileSync } from 'node:fs';
import { dirname, isAbsolute, join, resolve } from 'node:path';
import { STATE_DIR } from '../paths.ts';

export interface HubPaths {
  root: string;
  stateDir: string;
  configFile: string;
  manifestFile: string;
  /** CAR's `hub_state.json`: last scan time and what scan saw per repo. */
  hubStateFile: string;
  /** What the running (or last) `car hub run` supervisor is doing. */
  supervisorFile: string;
  /** Held by the running supervisor: one per hub. */
  supervisorLock: string;
  /** The hub-wide chat service's bindings, cursors and outbox (`car chat run` in a hub). */
  chatDb: string;
  reposRoot: string;
  worktreesRoot: string;
}

const inHub = (root: string, p: string) => (isAbsolute(p) ? p : join(root, p));

/**
 * The `hub:` settings that place things (hub/config.ts validates them). Spelled out here rather than
 * taken from HubSettings: config reads the hub's layout (hub-layers.ts), so the layout must not
 * depend on config.
 */
export interface HubLayout {
  manifest: string;
  repos_root: string;
  worktrees_root: string;
}

export function hubPaths(root: string, hub: HubLayout): HubPaths {
  const stateDir = join(root, STATE_DIR);
  return {
    root,
    stateDir,
    configFile: join(stateDir, 'config.yml'),
    manifestFile: inHub(root, hub.manifest),
    hubStateFile: join(stateDir, 'hub_state.json'),
    supervisorFile: join(stateDir, 'hub_supervisor.json'),
    supervisorLock: join(stateDir, 'hub.lock'),
    chatDb: join(stateDir, 'chat.db'),
    reposRoot: inHub(root, hub.repos_root),
    worktreesRoot: inHub(root, hub.worktrees_root),
  };
}

/** True when `<dir>/.codex-autorunner/config.yml` says `mode: hub`. */
export function isHubRoot(dir: string): boolean {
  let text: string;
  try {
    text = readFileSync(join(dir, STATE_DIR, 'config.yml'), 'utf8');
  } catch {
    return false;
  }
  return /^mode:\s*["']?hub["']?\s*(#.*)?$/m.test(text);
}

/**
 * The hub around `start`: the nearest folder at or above it whose generated config says `mode: hub`,
 * else `$CAR_HUB_ROOT` (as CAR finds its hub). Null when neither.
 */
export function findHubRoot(start: string, env: NodeJS.ProcessEnv = process.env): string | null {
  let dir = resolve(start);
  for (;;) {
    if (isHubRoot(dir)) return dir;
    const parent = dirname(dir);
    if (parent === dir) break;
    dir = parent;
  }
  const fromEnv = env.CAR_HUB_ROOT;
  return fromEnv && isHubRoot(resolve(fromEnv)) ? resolve(fromEnv) : null;
}
