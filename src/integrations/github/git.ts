// ScmGit over the git binary: the branch checked out, its push to the PR remote, and the commits it adds.
import { ScmError, type ScmGit } from '../../core/scm/ports.ts';
import { GitError, runGitText } from '../git/run-git.ts';

/** `unsetEnv`: car's secrets, kept from git's hooks and credential helpers' environment. */
export function createScmGit(unsetEnv: readonly string[] = []): ScmGit {
  const text = (cwd: string, args: string[], timeoutMs?: number) =>
    runGitText(args, { cwd, unsetEnv, ...(timeoutMs ? { timeoutMs } : {}) });
  const maybe = async (cwd: string, args: string[]): Promise<string | null> => {
    try {
      return await text(cwd, args);
    } catch (err) {
      if (err instanceof GitError && err.exitCode !== null) return null;
      throw err;
    }
  };
  return {
    async currentBranch(cwd) {
      return (await maybe(cwd, ['symbolic-ref', '--quiet', '--short', 'HEAD'])) || null;
    },
    async resolve(cwd, ref) {
      return (await maybe(cwd, ['rev-parse', '--verify', '--quiet', `${ref}^{commit}`])) || null;
    },
    async remoteUrl(cwd, remote) {
      return (await maybe(cwd, ['remote', 'get-url', remote])) || null;
    },
    async push(cwd, remote, branch) {
      try {
        await text(
          cwd,
          ['push', '--porcelain', '--set-upstream', remote, `refs/heads/${branch}:refs/heads/${branch}`],
          300_000,
        );
      } catch (err) {
        if (!(err instanceof GitError)) throw err;
        const said = err.stderr.trim().split('\n').slice(-6).join('\n');
        throw new ScmError(
          'push',
          `git push ${remote} ${branch} failed (nothing was opened or recorded)${said ? `:\n${said}` : ''}`,
        );
      }
    },
    async commitsBetween(cwd, base, head) {
      const out = await text(cwd, ['rev-list', head, '--not', base]);
      return out ? out.split('\n') : [];
    },
    async fetch(cwd, remote, branch) {
      try {
        await text(
          cwd,
          ['fetch', '--quiet', remote, `+refs/heads/${branch}:refs/remotes/${remote}/${branch}`],
          300_000,
        );
        return true;
      } catch (err) {
        if (err instanceof GitError && err.exitCode !== null) return false;
        throw err;
      }
    },
  };
}
