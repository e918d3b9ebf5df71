import { existsSync, statSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';

/** The state folder CAR and car share inside a repo or worktree. */
export const STATE_DIR = '.codex-autorunner';

/** Every path car reads or writes in a repo, absolute. */
export interface RepoPaths {
  root: string;
  stateDir: string;
  ticketsDir: string;
  contextspaceDir: string;
  runsDir: string;
  configFile: string;
  dbFile: string;
  lockFile: string;
  /** The worker's live agent process groups (agents/group-ledger.ts). */
  agentGroupsFile: string;
}

export function repoPaths(root: string): RepoPaths {
  const stateDir = join(root, STATE_DIR);
  return {
    root,
    stateDir,
    ticketsDir: join(stateDir, 'tickets'),
    contextspaceDir: join(stateDir, 'contextspace'),
    runsDir: join(stateDir, 'runs'),
    configFile: join(stateDir, 'config.yml'),
    dbFile: join(stateDir, 'car.db'),
    lockFile: join(stateDir, 'flow.lock'),
    agentGroupsFile: join(stateDir, 'runs', 'agent-groups.json'),
  };
}

/**
 * car's own runtime files, repo-relative. They never count as repo changes (loop guard, commit barrier)
 * and are never committed, even in a repo whose .gitignore does not list them.
 */
export const RUNTIME_PATHS: readonly string[] = [
  `${STATE_DIR}/runs`,
  `${STATE_DIR}/flows`,
  `${STATE_DIR}/logs`,
  `${STATE_DIR}/car.db`,
  `${STATE_DIR}/car.db-wal`,
  `${STATE_DIR}/car.db-shm`,
  `${STATE_DIR}/car.db-journal`,
  `${STATE_DIR}/flow.lock`,
  // lanes' worktrees (ticket_flow.lanes): their own checkouts, never part of the repo's tree
  `${STATE_DIR}/lanes`,
];

/** Contextspace documents in prompt order, as CAR catalogues them. */
export const CONTEXTSPACE_DOCS = [
  { kind: 'active_context', file: 'active_context.md', label: 'Short-lived working context' },
  { kind: 'decisions', file: 'decisions.md', label: 'Durable architectural and product decisions' },
  { kind: 'spec', file: 'spec.md', label: 'Source-of-truth requirements for ticket generation' },
] as const;

export interface FoundRepo {
  root: string;
  /** `.codex-autorunner/` exists at the root. */
  initialized: boolean;
  /** `.git` (folder, or file for a worktree) exists at the root. */
  git: boolean;
}

function isDir(path: string): boolean {
  try {
    return statSync(path).isDirectory();
  } catch {
    return false;
  }
}

/**
 * Walks up from `start` to the first folder holding `.codex-autorunner/` or `.git`, so every command
 * works from any subfolder of the repo. Returns null when neither is found up to the filesystem root.
 */
export function findRepoRoot(start: string): FoundRepo | null {
  let dir = resolve(start);
  for (;;) {
    const initialized = isDir(join(dir, STATE_DIR));
    const git = existsSync(join(dir, '.git'));
    if (initialized || git) return { root: dir, initialized, git };
    const parent = dirname(dir);
    if (parent === dir) return null;
    dir = parent;
  }
}
