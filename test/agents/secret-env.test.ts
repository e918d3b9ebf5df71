// car's own secrets (the chat bot tokens, the API tokens) never reach the processes it starts for other
// people's code: agents of every backend, the commands they run, verify commands, git hooks of car's and
// the agents' commits, a hub's worktree set-up commands. `security.pass_secret_env` passes one on
// purpose, and everything else in car's environment passes through. Real processes throughout: the
// built CLI for the command and demo backends, verify, hooks and set-up; the resolver for ACP and the
// real codex app-server, whose environment is read from /proc.
import assert from 'node:assert/strict';
import { chmodSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import type { CodexAgentSession } from '../../src/agents/codex/adapter.ts';
import { createAgentResolver } from '../../src/agents/resolver.ts';
import type { AgentEvent, AgentSession } from '../../src/core/agent.ts';
import { CarConfigSchema } from '../../src/core/config/schema.ts';
import { readManifest, renderManifest } from '../../src/core/hub/manifest.ts';
import { liveGroupMembers } from '../../src/core/proc/group.ts';
import {
  execCommandReply,
  FakeResponsesApi,
  messageReply,
  writeFakeCodexConfig,
} from '../fakes/responses-api.ts';
import { NODE_BIN, runCar } from '../helpers/built-car.ts';
import { type GitRepo, makeGitRepo } from '../helpers/git-repo.ts';
import { waitFor } from '../helpers/wait.ts';

const DUMP = fileURLToPath(new URL('../fakes/env-dump.mjs', import.meta.url));
const ACP_FAKE = fileURLToPath(new URL('../fakes/acp-agent.mjs', import.meta.url));
const CODEX = join(NODE_BIN, 'codex');
const NODE = process.execPath;

/** car's secrets as a user has them set when car runs (default names). */
const SECRETS = {
  CAR_TELEGRAM_BOT_TOKEN: 'telegram-secret-123',
  CAR_DISCORD_BOT_TOKEN: 'discord-secret-456',
  CAR_WEB_TOKEN: 'web-secret-789',
} as const;
type SecretName = keyof typeof SECRETS;

const cleanups: Array<() => void | Promise<void>> = [];
after(async () => {
  for (const fn of cleanups.splice(0).reverse()) await fn();
});

function tempDir(prefix: string): string {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

function gitRepo(): GitRepo {
  const repo = makeGitRepo();
  cleanups.push(() => repo.cleanup());
  return repo;
}

/** car's environment in these tests: a temp HOME, PATH, an ordinary variable, and car's secrets. */
function carEnv(extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
  return {
    PATH: process.env.PATH ?? '/usr/bin:/bin',
    HOME: tempDir('car-env-home-'),
    NO_COLOR: '1',
    MY_VAR: 'ordinary',
    ...SECRETS,
    ...extra,
  };
}

/** A child saw none of car's secrets except `passed` (with its value), and the ordinary variable. */
function assertScrubbed(
  env: Record<string, string | undefined>,
  passed: readonly SecretName[],
  what: string,
) {
  for (const [name, value] of Object.entries(SECRETS) as [SecretName, string][]) {
    if (passed.includes(name)) {
      assert.equal(env[name], value, `${what} sees ${name}, which security.pass_secret_env passes`);
    } else {
      assert.equal(env[name], undefined, `${what} must not see ${name}`);
      const holders = Object.keys(env).filter((k) => env[k]?.includes(value));
      assert.deepEqual(holders, [], `${what}: no variable holds the value of ${name}`);
    }
  }
  assert.equal(env.MY_VAR, 'ordinary', `${what} sees an ordinary variable of car's environment`);
}

function readDump(file: string): Record<string, string> {
  return JSON.parse(readFileSync(file, 'utf8')) as Record<string, string>;
}

/** The environment a process was started with. */
function procEnv(pid: number): Record<string, string> {
  const out: Record<string, string> = {};
  for (const entry of readFileSync(`/proc/${pid}/environ`, 'utf8').split('\0')) {
    const eq = entry.indexOf('=');
    if (eq > 0) out[entry.slice(0, eq)] = entry.slice(eq + 1);
  }
  return out;
}

const quoted = (args: string[]) => args.map((a) => JSON.stringify(a)).join(' ');
const TICKET_10 = '.codex-autorunner/tickets/TICKET-010.md';

/**
 * `car run` (built CLI) on two tickets: a command-backend agent that writes its env and marks its
 * ticket done (a ticket `verify:` command writes its env too, and car commits with auto_commit), then
 * the demo agent committing its work. A pre-commit hook writes the env of every commit.
 */
async function runThroughCar(passed: SecretName[]): Promise<string> {
  const out = tempDir('car-env-out-');
  const repo = gitRepo();
  const env = carEnv();
  const init = await runCar(['init'], { cwd: repo.dir, env });
  assert.equal(init.code, 0, init.stderr);
  repo.write(
    '.codex-autorunner/config.yml',
    [
      'version: 2',
      'mode: repo',
      'git: {auto_commit: true}',
      'agents:',
      '  demo: {backend: demo}',
      '  dump:',
      '    backend: command',
      '    format: claude-stream-json',
      `    command: ${JSON.stringify([NODE, DUMP, join(out, 'agent.json'), TICKET_10])}`,
      `security: {pass_secret_env: ${JSON.stringify(passed)}}`,
      '',
    ].join('\n'),
  );
  const verify = quoted([NODE, DUMP, join(out, 'verify.json')]);
  repo.write(
    TICKET_10,
    `---\nticket_id: tkt_${'0'.repeat(31)}1\nagent: dump\ndone: false\ntitle: dump the env\nverify: ['${verify}']\n---\n`,
  );
  repo.write(
    '.codex-autorunner/tickets/TICKET-020.md',
    `---\nticket_id: tkt_${'0'.repeat(31)}2\nagent: demo\ndone: false\ntitle: demo commit\n---\n\n` +
      '```car-demo\nwrite notes/demo.txt hello\ndone\ncommit demo work\n```\n',
  );
  repo.commitAll('plan');
  const hooks = tempDir('car-env-hooks-');
  writeFileSync(join(hooks, 'pre-commit'), `#!/bin/sh\nexec ${quoted([NODE, DUMP])} "${out}/hook-$$.json"\n`);
  chmodSync(join(hooks, 'pre-commit'), 0o755);
  repo.git(['config', 'core.hooksPath', hooks]);

  const run = await runCar(['run'], { cwd: repo.dir, env });
  assert.equal(run.code, 0, `${run.stdout}\n${run.stderr}`);
  assert.equal(repo.git(['log', '-1', '--format=%s']).trim(), 'demo work');
  return out;
}

for (const passed of [[], ['CAR_DISCORD_BOT_TOKEN']] as SecretName[][]) {
  test(`car run: command and demo agents, verify commands and commit hooks (pass_secret_env: [${passed}])`, async () => {
    const out = await runThroughCar(passed);
    assertScrubbed(readDump(join(out, 'agent.json')), passed, 'a command-backend agent');
    assertScrubbed(readDump(join(out, 'verify.json')), passed, 'a verify command');
    const hooks = readdirSync(out).filter((f) => f.startsWith('hook-'));
    // car's auto-commit of ticket 10, and the demo agent's own `git commit` for ticket 20
    assert.ok(hooks.length >= 2, `pre-commit ran for each commit: ${hooks.join(', ')}`);
    for (const f of hooks) assertScrubbed(readDump(join(out, f)), passed, `the pre-commit hook (${f})`);
  });
}

test('car worktree new: the set-up commands do not get car secrets', async () => {
  const env = carEnv();
  const hub = tempDir('car-env-hub-');
  assert.equal((await runCar(['init', '--mode', 'hub'], { cwd: hub, env })).code, 0);
  const app = makeGitRepo();
  cleanups.push(() => app.cleanup());
  assert.equal((await runCar(['hub', 'add', app.dir, '--id', 'app'], { cwd: hub, env })).code, 0);
  const out = tempDir('car-env-out-');
  const manifestFile = join(hub, '.codex-autorunner/manifest.yml');
  const manifest = readManifest(manifestFile);
  manifest.repos[0]!.worktree_setup_commands = [quoted([NODE, DUMP, join(out, 'setup.json')])];
  writeFileSync(manifestFile, renderManifest(manifest));
  const made = await runCar(['worktree', 'new', 'app', 'feat'], { cwd: hub, env });
  assert.equal(made.code, 0, made.stderr);
  assertScrubbed(readDump(join(out, 'setup.json')), [], 'a worktree set-up command');
});

function config(agents: Record<string, unknown>, passed: SecretName[]) {
  return CarConfigSchema.parse({ agents, security: { pass_secret_env: passed } });
}

/** The resolver of the last session opened: closing it stops the agent's process. */
let resolver: ReturnType<typeof createAgentResolver> | null = null;

async function openSession(agent: string, cfg: ReturnType<typeof config>, env: NodeJS.ProcessEnv) {
  const repo = gitRepo();
  repo.write(TICKET_10, '---\nagent: x\ndone: false\n---\n');
  const agents = createAgentResolver(cfg, { env });
  resolver = agents;
  cleanups.push(() => agents.close());
  const session = await agents(agent).startSession({
    cwd: repo.dir,
    ticketPath: TICKET_10,
    ticketId: 'tkt_env',
    runId: 'run-env',
  });
  cleanups.push(() => session.close());
  return session;
}

for (const passed of [[], ['CAR_TELEGRAM_BOT_TOKEN']] as SecretName[][]) {
  test(`an ACP agent starts without car's secrets (pass_secret_env: [${passed}])`, async () => {
    const cfg = config(
      { fake: { backend: 'acp', command: [NODE, ACP_FAKE], env: { OWN_VAR: 'from the agent entry' } } },
      passed,
    );
    const session = (await openSession('fake', cfg, carEnv())) as AgentSession & { pid: number };
    const env = procEnv(session.pid);
    assertScrubbed(env, passed, 'an ACP agent');
    assert.equal(env.OWN_VAR, 'from the agent entry');
    await session.close();
  });
}

test("an agent entry's own env: may set a secret's name; the user chose it", async () => {
  const cfg = config(
    { fake: { backend: 'acp', command: [NODE, ACP_FAKE], env: { CAR_WEB_TOKEN: 'chosen in config' } } },
    [],
  );
  const session = (await openSession('fake', cfg, carEnv())) as AgentSession & { pid: number };
  const env = procEnv(session.pid);
  assert.equal(env.CAR_WEB_TOKEN, 'chosen in config');
  assert.equal(env.CAR_TELEGRAM_BOT_TOKEN, undefined);
  await session.close();
});

/** True once no live process is left in the group (codex leaves zombies the container does not reap). */
function groupGone(pgid: number): boolean {
  try {
    process.kill(-pgid, 0);
  } catch {
    return true;
  }
  return liveGroupMembers(pgid).length === 0;
}

for (const passed of [[], ['CAR_DISCORD_BOT_TOKEN']] as SecretName[][]) {
  test(`codex app-server and the commands it runs lack car's secrets (pass_secret_env: [${passed}])`, async () => {
    const fake = await FakeResponsesApi.start();
    cleanups.push(() => fake.close());
    const codexHome = tempDir('car-env-codex-home-');
    writeFakeCodexConfig(codexHome, fake.baseUrl);
    const out = tempDir('car-env-out-');
    fake.enqueue(
      execCommandReply(quoted([NODE, DUMP, join(out, 'tool.json')]), 'call_env'),
      messageReply('env written'),
    );
    const cfg = config(
      { codex: { backend: 'codex', command: [CODEX, 'app-server'], env: { OWN_VAR: 'entry' } } },
      passed,
    );
    const session = (await openSession('codex', cfg, carEnv({ CODEX_HOME: codexHome }))) as CodexAgentSession;
    const pid = session.pid;
    assert.ok(pid);
    // what car handed the app-server
    const serverEnv = procEnv(pid);
    assertScrubbed(serverEnv, passed, 'codex app-server');
    assert.equal(serverEnv.OWN_VAR, 'entry');

    const events: AgentEvent[] = [];
    const result = await session.runTurn({
      prompt: 'Write your environment down.',
      signal: new AbortController().signal,
      onEvent: (e) => events.push(e),
    });
    assert.equal(result.status, 'completed', JSON.stringify(result.error));
    assert.ok(events.some((e) => e.type === 'command_output' && e.exitCode === 0));
    // and what the commands it runs for the model see
    assertScrubbed(readDump(join(out, 'tool.json')), passed, 'a command codex ran');
    await session.close();
    await resolver?.close();
    await waitFor('the codex process group to end', () => groupGone(pid), 10_000);
  });
}
