// A throwaway git repository in a temp dir, for tests that need real git.
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { gitEnv } from '../../src/integrations/git/run-git.ts';

export interface MakeGitRepoOptions {
  /** Commit a README.md so HEAD exists (default true). */
  initialCommit?: boolean;
  /** Set a local user.name/user.email (default true). Without it the helper's own commits still work. */
  identity?: boolean;
}

export interface GitRepo {
  dir: string;
  /** Runs git in the repo and returns stdout; throws on a non-zero exit. */
  git(args: readonly string[]): string;
  /** Writes a file (creating folders) relative to the repo root. */
  write(relPath: string, content: string | Buffer): void;
  /** `git add -A` and commit; returns the new HEAD sha. */
  commitAll(message: string): string;
  cleanup(): void;
}

export function makeGitRepo(opts: MakeGitRepoOptions = {}): GitRepo {
  const dir = mkdtempSync(join(tmpdir(), 'car-git-'));
  const env = gitEnv();
  const git = (args: readonly string[]): string =>
    execFileSync('git', args, { cwd: dir, env, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  const write = (relPath: string, content: string | Buffer): void => {
    const abs = join(dir, relPath);
    mkdirSync(dirname(abs), { recursive: true });
    writeFileSync(abs, content);
  };
  const identity = opts.identity ?? true;
  const commitAll = (message: string): string => {
    git(['add', '-A']);
    const who = identity ? [] : ['-c', 'user.name=Test User', '-c', 'user.email=test@example.com'];
    git([...who, 'commit', '-q', '-m', message]);
    return git(['rev-parse', 'HEAD']).trim();
  };

  git(['init', '-q', '-b', 'main']);
  // Keep a developer's global signing or hooks settings out of test commits.
  git(['config', 'commit.gpgsign', 'false']);
  git(['config', 'core.hooksPath', '/dev/null']);
  if (identity) {
    git(['config', 'user.name', 'Test User']);
    git(['config', 'user.email', 'test@example.com']);
  }
  if (opts.initialCommit ?? true) {
    write('README.md', '# test repo\n');
    commitAll('initial commit');
  }
  return { dir, git, write, commitAll, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}
