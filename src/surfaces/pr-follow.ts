// Following a repo's open pull requests beside another long-running command (`car serve`, `car hub run`)
// when `github.watch` is on: the same polling loop as `car pr watch`, on a store connection of its own,
// until stopped. A repo without a token is skipped with a line saying why.
import { defaultAgentId, knownAgentIds, secretEnvToRemove } from '../core/config/index.ts';
import type { CarConfig } from '../core/config/schema.ts';
import type { RepoPaths } from '../core/paths.ts';
import { watchOpenPrs } from '../core/scm/watch.ts';
import { openRunStore } from '../core/store/run-store.ts';
import { CAR_VERSION } from './version.ts';

export interface PrFollower {
  stop(): Promise<void>;
}

export async function followPullRequests(
  paths: RepoPaths,
  config: CarConfig,
  env: NodeJS.ProcessEnv,
  log: (line: string) => void,
): Promise<PrFollower | null> {
  const gh = config.github;
  if (!gh.enabled || !gh.watch) return null;
  const { githubPorts } = await import('../integrations/github/index.ts');
  let host: Awaited<ReturnType<typeof githubPorts>>['host'];
  try {
    ({ host } = await githubPorts(paths.root, config, env, {
      userAgent: `car/${CAR_VERSION}`,
      unsetEnv: secretEnvToRemove(config),
    }));
  } catch (err) {
    log(`not following pull requests of ${paths.root}: ${(err as Error).message}`);
    return null;
  }
  const store = openRunStore(paths.dbFile);
  const abort = new AbortController();
  const loop = watchOpenPrs(
    {
      paths,
      settings: gh,
      host,
      prs: store.prs(),
      store,
      knownAgents: knownAgentIds(config),
      defaultAgent: defaultAgentId(config),
    },
    {
      intervalMs: gh.poll_interval_seconds * 1000,
      signal: abort.signal,
      onRound: (round) => {
        for (const n of round.notices) log(`${host.slug}: ${n.text}`);
        for (const e of round.errors) log(`${host.slug}: ${e}`);
      },
    },
  ).catch((err: Error) => log(`following pull requests of ${paths.root} stopped: ${err.message}`));
  log(`following the open pull requests of ${host.slug} every ${gh.poll_interval_seconds} s`);
  return {
    async stop() {
      abort.abort();
      await loop;
      store.close();
    },
  };
}
