// A real hub in a temp folder: `car init --mode hub`, git repos under repos/, demo-agent tickets.
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, realpathSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { readLock } from '../../src/core/lock.ts';
import { repoPaths } from '../../src/core/paths.ts';
import { gitEnv } from '../../src/integrations/git/run-git.ts';
import { type CliResult, car } from '../helpers/cli.ts';

export interface TestHub {
  root: string;
  run(argv: readonly string[]): Promise<CliResult>;
  /** A git repo with one commit at `repos/<name>` (not registered). */
  gitRepo(name: string, parent?: string): string;
  cleanup(): void;
}

export function git(cwd: string, args: readonly string[]): string {
  return execFileSync('git', args, {
    cwd,
    env: gitEnv(),
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'pipe'],
  });
}

export function initGitRepo(dir: string): void {
  mkdirSync(dir, { recursive: true });
  git(dir, ['init', '-q', '-b', 'main']);
  git(dir, ['config', 'user.name', 'Test User']);
  git(dir, ['config', 'user.email', 'test@example.com']);
  git(dir, ['config', 'commit.gpgsign', 'false']);
  git(dir, ['config', 'core.hooksPath', '/dev/null']);
  writeFileSync(join(dir, 'README.md'), '# test repo\n');
  git(dir, ['add', '-A']);
  git(dir, ['commit', '-q', '-m', 'initial commit']);
}

export async function makeHub(): Promise<TestHub> {
  const root = realpathSync(mkdtempSync(join(tmpdir(), 'car-hub-')));
  // The test suite loads this 2-core machine far past what admission control tolerates; the hold itself
  // is tested on its own (supervisor.test.ts).
  const env = { CAR__HUB__ADMISSION__MAX_LOAD_PER_CORE: 'null' };
  const run = (argv: readonly string[]) => car(argv, { cwd: root, env });
  const init = await run(['init', '--mode', 'hub']);
  if (init.code !== 0) throw new Error(`car init --mode hub failed: ${init.stderr}`);
  return {
    root,
    run,
    gitRepo: (name, parent = join(root, 'repos')) => {
      const dir = join(parent, name);
      initGitRepo(dir);
      return dir;
    },
    cleanup: () => rmSync(root, { recursive: true, force: true }),
  };
}

/** A demo-agent ticket whose script sleeps, writes a file, marks itself done and commits. */
export function demoTicket(n: number, script: string[]): string {
  const id = `tkt_${n.toString(16).padStart(32, '0')}`;
  return `---\nticket_id: ${id}\nagent: demo\ndone: false\ntitle: ticket ${n}\n---\n\n\`\`\`car-demo\n${script.join('\n')}\n\`\`\`\n`;
}

export function writeTicket(repoDir: string, name: string, text: string): void {
  const dir = repoPaths(repoDir).ticketsDir;
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, name), text);
}

/** The pid of the live process holding the checkout's flow lock, or null. */
export function liveHolder(repoDir: string): number | null {
  const lock = readLock(repoPaths(repoDir).lockFile);
  return lock && !lock.stale && lock.holder ? lock.holder.pid : null;
}

/**
 * Samples every checkout's flow.lock every few ms and remembers the most live holders seen at once,
 * overall and per group, as the caps are stated (a base repo and its worktrees are one group).
 */
export function sampleLive(checkouts: { dir: string; group: string }[], everyMs = 15) {
  let maxLive = 0;
  const maxPerGroup = new Map<string, number>();
  const seenLive = new Set<string>();
  const timer = setInterval(() => {
    const perGroup = new Map<string, number>();
    let live = 0;
    for (const c of checkouts) {
      if (liveHolder(c.dir) === null) continue;
      live++;
      seenLive.add(c.dir);
      perGroup.set(c.group, (perGroup.get(c.group) ?? 0) + 1);
    }
    maxLive = Math.max(maxLive, live);
    for (const [g, n] of perGroup) maxPerGroup.set(g, Math.max(maxPerGroup.get(g) ?? 0, n));
  }, everyMs);
  return {
    stop: () => {
      clearInterval(timer);
      return { maxLive, maxPerGroup, seenLive };
    },
  };
}

/** The git identity of the hub queue's workers in tests (their checkouts commit merges and replies). */
export const WORKER_IDENTITY = {
  GIT_AUTHOR_NAME: 'Worker',
  GIT_AUTHOR_EMAIL: 'worker@example.com',
  GIT_COMMITTER_NAME: 'Worker',
  GIT_COMMITTER_EMAIL: 'worker@example.com',
};
