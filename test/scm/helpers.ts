// The setup of the PR lifecycle tests: a car repo whose remote is a local bare repository, the local
// fake of GitHub's REST API, and a ticket closed by car's verify gate on a feature branch.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type FakeGithub, startFakeGithub } from '../fakes/github-api.ts';
import { type BuiltCarRepo, makeBuiltCarRepo, runCar } from '../helpers/built-car.ts';
import { tid } from '../helpers/cli.ts';

export const TOKEN = 'ghp_secret_token_for_the_fake_0123456789';
export const TICKETS = '.codex-autorunner/tickets';

export interface PrRepo {
  repo: BuiltCarRepo;
  bare: string;
  gh: FakeGithub;
  env: NodeJS.ProcessEnv;
  car(args: readonly string[], env?: NodeJS.ProcessEnv): ReturnType<BuiltCarRepo['run']>;
  cleanup(): Promise<void>;
}

/**
 * A car repo on branch `feature` whose remote `origin` is a bare repository, with TICKET-001 (demo
 * agent, two verify commands) worked and closed by `car run`, and TICKET-002 the open_pr ticket.
 */
export async function prRepo(
  config: string[] = [],
  opts: { openPrAgent?: string; runWithToken?: boolean; runExit?: number } = {},
): Promise<PrRepo> {
  const repo = await makeBuiltCarRepo();
  const bare = mkdtempSync(join(tmpdir(), 'car-remote-'));
  execFileSync('git', ['init', '-q', '--bare', '-b', 'main', bare]);
  const gh = await startFakeGithub({ token: TOKEN, bareRepo: bare });
  repo.write(
    '.codex-autorunner/repo.override.yml',
    [
      'github:',
      ...(config.some((l) => l.startsWith('api_url:')) ? [] : [`  api_url: ${gh.url}`]),
      '  repo: acme/widgets',
      '  labels: [car]',
      ...config.map((l) => `  ${l}`),
      '',
    ].join('\n'),
  );
  repo.commitAll('car init');
  repo.git(['remote', 'add', 'origin', bare]);
  repo.git(['push', '-q', 'origin', 'main']);
  repo.git(['checkout', '-q', '-b', 'feature']);
  repo.write(
    `${TICKETS}/TICKET-001.md`,
    `---\nticket_id: ${tid(1)}\nagent: demo\ndone: false\ntitle: Write the note\nverify: ["test -f demo/TICKET-001.txt", "grep -q note demo/TICKET-001.txt"]\n---\n\n## Tasks\n- write it\n`,
  );
  repo.write(
    `${TICKETS}/TICKET-002.md`,
    `---\nticket_id: ${tid(2)}\nagent: ${opts.openPrAgent ?? 'user'}\ndone: false\ntitle: Open the PR\nticket_kind: open_pr\n---\n\nOpen the pull request.\n`,
  );
  repo.commitAll('tickets');
  const env = { ...repo.env, GITHUB_TOKEN: TOKEN };
  const run = await runCar(['run'], {
    cwd: repo.dir,
    env: opts.runWithToken ? env : repo.env,
    timeoutMs: 120_000,
  });
  if (run.code !== (opts.runExit ?? 5)) {
    await gh.close();
    repo.cleanup();
    rmSync(bare, { recursive: true, force: true });
    assert.fail(`the run ended ${run.code}: ${run.stdout}${run.stderr}`);
  }
  return {
    repo,
    bare,
    gh,
    env,
    car: (args, e = env) => runCar(args, { cwd: repo.dir, env: e, timeoutMs: 120_000 }),
    async cleanup() {
      await gh.close();
      repo.cleanup();
      rmSync(bare, { recursive: true, force: true });
    },
  };
}
