// A queue worker's checkout of a hub repo (`car worker --hub-queue`): cloned from the repo's git remote on
// first use, fetched afterwards, and set to what was pushed last: the result branch when it exists (work a
// previous worker pushed, ticket by ticket), else the base branch. Local commits no push carried are
// dropped: the remote is the truth a takeover resumes from. Ignored files (car's run store, installed
// dependencies) are kept. Results go back to the result branch by a plain push, never forced: a push the
// remote rejects means another worker has moved the branch since, so this worker no longer owns the job.
import { existsSync, mkdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { GitError, isGitExit, runGitText } from './run-git.ts';

export interface RemoteCheckout {
  dir: string;
  remoteUrl: string;
  resultBranch: string;
  /** Kept from git's environment (car's secrets). */
  unsetEnv?: readonly string[];
}

/**
 * Clones or fetches, then checks out the result branch at its remote tip (or the base branch's, or the
 * base commit: a hub ticket job starts from the integration commit its coordinator queued it at).
 */
export async function prepareCheckout(
  co: RemoteCheckout,
  base: string | { commit: string },
): Promise<{ head: string; resumed: boolean }> {
  const opts = { cwd: co.dir, unsetEnv: co.unsetEnv ?? [], timeoutMs: 300_000 };
  if (!existsSync(join(co.dir, '.git'))) {
    mkdirSync(dirname(co.dir), { recursive: true });
    await runGitText(['clone', '-q', '--no-checkout', '--', co.remoteUrl, co.dir], {
      ...opts,
      cwd: dirname(co.dir),
    });
  } else {
    await runGitText(['remote', 'set-url', 'origin', co.remoteUrl], opts);
    await runGitText(['fetch', '-q', '--prune', 'origin'], opts);
  }
  const result = `refs/remotes/origin/${co.resultBranch}`;
  const resumed = await runGitText(['rev-parse', '-q', '--verify', `${result}^{commit}`], opts).then(
    () => true,
    (err: unknown) => {
      if (isGitExit(err, 1)) return false;
      throw err;
    },
  );
  const start = resumed ? result : typeof base === 'string' ? `refs/remotes/origin/${base}` : base.commit;
  await runGitText(['checkout', '-q', '-f', '-B', co.resultBranch, start], opts);
  await runGitText(['reset', '-q', '--hard', start], opts);
  await runGitText(['clean', '-q', '-f', '-d'], opts);
  const head = (await runGitText(['rev-parse', 'HEAD'], opts)).trim();
  return { head, resumed };
}

export class PushRejectedError extends Error {
  override name = 'PushRejectedError';
}

/** Pushes HEAD to the result branch (fast-forward only); PushRejectedError when the remote moved on. */
export async function pushResult(co: RemoteCheckout): Promise<string> {
  const opts = { cwd: co.dir, unsetEnv: co.unsetEnv ?? [], timeoutMs: 120_000 };
  const head = (await runGitText(['rev-parse', 'HEAD'], opts)).trim();
  try {
    await runGitText(['push', '-q', 'origin', `${head}:refs/heads/${co.resultBranch}`], opts);
  } catch (err) {
    if (err instanceof GitError && /\[rejected\]|non-fast-forward|fetch first/.test(err.stderr))
      throw new PushRejectedError(`the remote's ${co.resultBranch} moved on: ${err.stderr.trim()}`);
    throw err;
  }
  return head;
}
