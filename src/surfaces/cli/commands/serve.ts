// `car serve` (alias `car web`): the HTTP API for this repo, until Ctrl-C or SIGTERM.
import { isHubRoot } from '../../../core/hub/paths.ts';
import { chooseToken, envWithoutToken } from '../../http/security.ts';
import { preferSmallHeap } from '../../lean-heap.ts';
import type { CliRunner } from '../../mcp/cli-runner.ts';
import { type GlobalOptions, loadRepoConfig, resolveRepo } from '../context.ts';
import { CliError, EXIT } from '../errors.ts';
import type { CliIo } from '../io.ts';
import { onStopSignals } from '../stop-signals.ts';

export interface ServeFlags {
  host?: string;
  port?: number;
  quiet?: boolean;
}

export async function serveCommand(
  io: CliIo,
  global: GlobalOptions,
  flags: ServeFlags,
  run: CliRunner,
): Promise<void> {
  preferSmallHeap();
  const repo = resolveRepo(io, global);
  const { config } = await loadRepoConfig(io, repo.paths.root);
  const host = flags.host ?? config.server.host;
  const port = flags.port ?? config.server.port;
  const choice = chooseToken(io.env, config.server.auth_token_env, host);
  // a read-only token only means something when the API asks for one
  const viewerToken = choice.token ? io.env[config.server.viewer_token_env]?.trim() || null : null;
  const { startServer } = await import('../../http/server.ts');
  const { openPma } = await import('../../pma/open.ts');
  const root = repo.paths.root;
  // the agent (and car's MCP server it starts) never sees the API tokens
  const agentEnv = envWithoutToken(io.env, config.server.auth_token_env, config.server.viewer_token_env);
  const pma = () => openPma({ scope: { kind: isHubRoot(root) ? 'hub' : 'repo', root }, env: agentEnv, run });
  let server: Awaited<ReturnType<typeof startServer>>;
  try {
    server = await startServer({
      root: repo.paths.root,
      host,
      port,
      token: choice.token,
      viewerToken,
      env: io.env,
      pma,
      log: (line) => io.stderr(`${line}\n`),
      ...(flags.quiet ? {} : { accessLog: (line: string) => io.stdout(`${line}\n`) }),
    });
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'EADDRINUSE' || code === 'EACCES' || code === 'EADDRNOTAVAIL') {
      throw new CliError(`cannot listen on ${host}:${port}: ${code}`, EXIT.conflict);
    }
    throw err;
  }
  // handlers before anything is printed: whoever read the address may signal at once
  let stop!: () => void;
  const stopped = new Promise<void>((resolve) => {
    stop = resolve;
  });
  const signals = onStopSignals(io, 'car serve', () => stop());
  io.stdout(`car serving ${repo.paths.root} at ${server.url}/api\n`);
  if (server.webRoot) io.stdout(`web UI at ${server.url}/\n`);
  if (choice.source === 'generated') {
    io.stdout(
      `${host} is reachable from other machines, so the API needs this token (shown once; set CAR_WEB_TOKEN to choose one):\n${choice.token}\n`,
    );
  } else if (choice.token) {
    const from = choice.source === 'CAR_WEB_TOKEN' ? 'CAR_WEB_TOKEN' : config.server.auth_token_env;
    io.stdout(`the API needs the bearer token from ${from}\n`);
  } else {
    io.stdout('no API token: loopback only (set CAR_WEB_TOKEN to require one)\n');
  }
  if (viewerToken) io.stdout(`a read-only token from ${config.server.viewer_token_env} is accepted too\n`);
  try {
    const { followPullRequests } = await import('../../pr-follow.ts');
    const prs = await followPullRequests(repo.paths, config, io.env, (line) => io.stdout(`${line}\n`));
    await stopped;
    await prs?.stop();
    await server.close();
  } finally {
    signals.dispose();
  }
  io.stdout('car serve stopped\n');
}
