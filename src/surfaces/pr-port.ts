// The PullRequestPort a run's worker gets when GitHub is set up (`github.enabled` and a token in the
// env var `github.token_env` names): an `open_pr` ticket the run reaches is worked by car itself,
// core/scm's openPullRequest over the GitHub adapter. Without a token: none, and an agent works it.
import { knownAgentIds, secretEnvToRemove } from '../core/config/index.ts';
import type { CarConfig } from '../core/config/schema.ts';
import type { PullRequestPort } from '../core/flow/ports.ts';
import { repoPaths } from '../core/paths.ts';
import { openPullRequest } from '../core/scm/open-pr.ts';
import type { RunStore } from '../core/store/run-store.ts';
import { loadTicketQueue } from '../core/tickets/index.ts';
import { CAR_VERSION } from './version.ts';

export function pullRequestPort(
  root: string,
  ticketsDir: string,
  config: CarConfig,
  store: RunStore,
  env: NodeJS.ProcessEnv,
): PullRequestPort | undefined {
  if (!config.github.enabled || !env[config.github.token_env]?.trim()) return undefined;
  const agents = knownAgentIds(config);
  return {
    async open({ cwd, ticketPath }) {
      const { githubPorts } = await import('../integrations/github/index.ts');
      const { host, git } = await githubPorts(cwd, config, env, {
        userAgent: `car/${CAR_VERSION}`,
        unsetEnv: secretEnvToRemove(config),
      });
      // a lane's ticket is its worktree's copy (the one the lane's run edits and commits)
      const here = cwd === root ? ticketsDir : repoPaths(cwd).ticketsDir;
      const tickets = loadTicketQueue(here, { repoRoot: cwd, agents }).tickets;
      const ticket = tickets.find((t) => t.relPath === ticketPath) ?? null;
      const result = await openPullRequest({
        cwd,
        root,
        settings: config.github,
        host,
        git,
        store,
        prs: store.prs(),
        tickets,
        ticket,
        knownAgents: agents,
        draft: config.github.pr_draft_default,
      });
      return { number: result.record.number, url: result.record.url, created: result.created };
    },
  };
}
