// A commit needs an identity; a fresh machine (CI, a container) often has none configured.
import { isGitExit, type RunGitOptions, runGit, runGitText } from './run-git.ts';

const FALLBACK_IDENTITY = { 'user.name': 'car', 'user.email': 'car@localhost' } as const;

/** `-c` arguments supplying car's identity for whatever git cannot work out by itself; [] when it can. */
export async function identityOverrides(read: RunGitOptions): Promise<string[]> {
  const known = await Promise.all(
    ['GIT_AUTHOR_IDENT', 'GIT_COMMITTER_IDENT'].map((v) =>
      runGit(['var', v], read).then(
        () => true,
        () => false,
      ),
    ),
  );
  if (known.every(Boolean)) return [];
  const args: string[] = [];
  for (const [key, fallback] of Object.entries(FALLBACK_IDENTITY)) {
    const value = await runGitText(['config', '--get', key], read).catch((err: unknown) => {
      if (isGitExit(err, 1)) return ''; // not set
      throw err;
    });
    if (value.trim() === '') args.push('-c', `${key}=${fallback}`);
  }
  return args;
}
