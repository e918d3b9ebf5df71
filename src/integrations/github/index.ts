// The GitHub adapter for the PR lifecycle: the octokit client and git, set up from `github:` config.
import type { CarConfig } from '../../core/config/schema.ts';
import { ScmError, type ScmGit, type ScmHost } from '../../core/scm/ports.ts';
import { createGithubClient, slugFromRemoteUrl } from './client.ts';
import { createScmGit } from './git.ts';

export { createGithubClient, slugFromRemoteUrl } from './client.ts';
export { createScmGit } from './git.ts';

export interface GithubPorts {
  host: ScmHost;
  git: ScmGit;
}

/**
 * The client for this repo: the token from the env var `github.token_env` names, the repo from
 * `github.repo` or the remote's URL. Throws ScmError when either is missing.
 */
export async function githubPorts(
  cwd: string,
  config: Pick<CarConfig, 'github'>,
  env: NodeJS.ProcessEnv,
  opts: { userAgent: string; unsetEnv?: readonly string[]; maxRateWaitMs?: number },
): Promise<GithubPorts> {
  const gh = config.github;
  if (!gh.enabled) throw new ScmError('usage', 'GitHub is switched off (github.enabled: false)');
  const token = env[gh.token_env]?.trim();
  if (!token) {
    throw new ScmError('auth', `no GitHub token: set ${gh.token_env} (github.token_env names the variable)`);
  }
  const git = createScmGit(opts.unsetEnv ?? []);
  let slug = gh.repo;
  if (!slug) {
    const url = await git.remoteUrl(cwd, gh.remote);
    if (url === null) {
      throw new ScmError(
        'usage',
        `no git remote "${gh.remote}" (github.remote): add it with \`git remote add ${gh.remote} <url>\``,
      );
    }
    slug = slugFromRemoteUrl(url);
    if (!slug) {
      throw new ScmError(
        'usage',
        `cannot tell the GitHub repo from remote "${gh.remote}" (${url}): set github.repo to owner/name`,
      );
    }
  }
  const host = createGithubClient({
    token,
    tokenEnv: gh.token_env,
    apiUrl: gh.api_url,
    slug,
    userAgent: opts.userAgent,
    ...(opts.maxRateWaitMs === undefined ? {} : { maxRateWaitMs: opts.maxRateWaitMs }),
  });
  return { host, git };
}
