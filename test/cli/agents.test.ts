// `car agents list|test` and the default agent `car init` sets (issue 26 items 2 and 3), through the
// built CLI. Agents are stand-ins on a temp PATH (shell scripts), or the bundled demo agent; the real
// agent programs are driven in test/agents/guide-agents-through-car.test.ts.
import assert from 'node:assert/strict';
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, test } from 'node:test';
import { parse } from 'yaml';
import { ROOT, runCar } from '../helpers/built-car.ts';
import { snapshot } from '../helpers/cli.ts';
import { type GitRepo, makeGitRepo } from '../helpers/git-repo.ts';

const CONFIG = '.codex-autorunner/config.yml';

interface AgentJson {
  id: string;
  backend: string | null;
  command: string[] | null;
  binary: string | null;
  path: string | null;
  on_path: boolean | null;
  default: boolean;
  sources: string[];
  capabilities: Record<string, string> | null;
  install: string | null;
  error: string | null;
}

const cleanups: (() => void)[] = [];
afterEach(() => {
  for (const fn of cleanups.splice(0)) fn();
});

interface Env {
  repo: GitRepo;
  /** A folder on PATH (ahead of the system's) for stand-in agent programs. */
  bin: string;
  opts: { cwd: string; env: NodeJS.ProcessEnv };
  /** Puts an executable script named `name` on PATH. */
  program(name: string, script?: string): string;
}

function setup(extraEnv: NodeJS.ProcessEnv = {}): Env {
  const repo = makeGitRepo();
  const home = mkdtempSync(join(tmpdir(), 'car-agents-home-'));
  cleanups.push(repo.cleanup, () => rmSync(home, { recursive: true, force: true }));
  const bin = join(home, 'bin');
  mkdirSync(bin);
  const env = { PATH: `${bin}:/usr/local/bin:/usr/bin:/bin`, HOME: home, NO_COLOR: '1', ...extraEnv };
  const program = (name: string, script = 'exit 0') => {
    const file = join(bin, name);
    writeFileSync(file, `#!/bin/sh\n${script}\n`);
    chmodSync(file, 0o755);
    return file;
  };
  return { repo, bin, opts: { cwd: repo.dir, env }, program };
}

interface ConfigYaml {
  ticket_flow: { default_agent: string };
  agents?: Record<string, unknown>;
}

/** The repo's config.yml as values. */
function configOf(e: Env): ConfigYaml {
  return parse(read(e, CONFIG)) as ConfigYaml;
}

function read(e: Env, rel: string): string {
  return readFileSync(join(e.repo.dir, rel), 'utf8');
}

async function ok(args: string[], e: Env) {
  const r = await runCar(args, e.opts);
  assert.equal(r.code, 0, `car ${args.join(' ')}: exit ${r.code}\n${r.stdout}\n${r.stderr}`);
  return r;
}

async function listJson(e: Env): Promise<{ default_agent: string; agents: AgentJson[] }> {
  return JSON.parse((await ok(['agents', 'list', '--json'], e)).stdout);
}

describe('car init: the default agent for new tickets', () => {
  test('the first agent found on PATH, in the order codex, claude, opencode, gemini', async () => {
    const e = setup();
    const claude = e.program('claude');
    e.program('opencode');
    e.program('gemini');
    const init = await ok(['init'], e);
    assert.match(
      init.stdout,
      new RegExp(`^default agent for new tickets: claude-code: claude is on PATH \\(${claude}\\)$`, 'm'),
    );
    assert.match(init.stdout, /change it with car init --agent <id>/);
    const config = configOf(e);
    assert.equal(config.ticket_flow.default_agent, 'claude-code');
    assert.deepEqual(config.agents?.['claude-code'], {
      backend: 'command',
      format: 'claude-stream-json',
      command: [
        'claude',
        '-p',
        '--output-format',
        'stream-json',
        '--verbose',
        '--permission-mode',
        'bypassPermissions',
      ],
    });
    // what the guide shows is what init wrote
    assert.deepEqual(
      (parse(readFileSync(join(ROOT, 'docs/agents/claude-code.yml'), 'utf8')) as ConfigYaml).agents?.[
        'claude-code'
      ],
      config.agents?.['claude-code'],
    );
    const created = JSON.parse((await ok(['ticket', 'new', 'First', '--json'], e)).stdout) as {
      agent: string;
    };
    assert.equal(created.agent, 'claude-code');
    const listed = await listJson(e);
    assert.equal(listed.default_agent, 'claude-code');
    const entry = listed.agents.find((a) => a.id === 'claude-code');
    assert.deepEqual([entry?.path, entry?.sources, entry?.default], [claude, [CONFIG], true]);
  });

  test('a built-in agent is only named, and codex comes first', async () => {
    const e = setup();
    e.program('opencode');
    await ok(['init'], e);
    assert.equal(configOf(e).ticket_flow.default_agent, 'opencode');
    assert.equal(configOf(e).agents, undefined);

    const f = setup();
    f.program('gemini');
    f.program('codex');
    await ok(['init'], f);
    assert.equal(configOf(f).ticket_flow.default_agent, 'codex');
  });

  test('no agent on PATH: the demo agent, and how to get a real one', async () => {
    const e = setup();
    const init = await ok(['init'], e);
    assert.match(
      init.stdout,
      /default agent for new tickets: demo: no agent found on PATH \(looked for codex, claude-agent-acp, claude, opencode, gemini\)/,
    );
    assert.match(init.stdout, /install an agent \(docs\/AGENTS\.md\), then: car init --agent <id>/);
    assert.equal(configOf(e).ticket_flow.default_agent, 'demo');
  });

  test('--agent chooses, and says when its program is not installed yet', async () => {
    const e = setup();
    const init = await ok(['init', '--agent', 'gemini'], e);
    assert.match(init.stdout, /default agent for new tickets: gemini: chosen with car init --agent gemini/);
    assert.match(init.stdout, /gemini is not on PATH yet: npm install -g @google\/gemini-cli/);
    const config = configOf(e);
    assert.deepEqual(config.agents?.gemini, { backend: 'acp', command: ['gemini', '--acp'] });
    const gemini = (await listJson(e)).agents.find((a) => a.id === 'gemini');
    assert.deepEqual(
      [gemini?.backend, gemini?.on_path, gemini?.install],
      ['acp', false, 'npm install -g @google/gemini-cli'],
    );
  });

  test('--agent in an initialized repo edits config.yml, keeping the rest of it', async () => {
    const e = setup();
    await ok(['init', '--agent', 'demo'], e);
    const before = read(e, CONFIG);
    const changed = await ok(['init', '--agent', 'claude'], e);
    assert.match(changed.stdout, /changed \.codex-autorunner\/config\.yml: ticket_flow\.default_agent/);
    const after = read(e, CONFIG);
    assert.match(after, /^# car configuration for this repo/, 'comments kept');
    assert.match(after, /^# {3}max_total_turns: 50 /m);
    assert.match(after, /^# car init: chosen with car init --agent claude\.$/m, 'the note follows');
    assert.doesNotMatch(after, /--agent demo/);
    const config = parse(after) as ConfigYaml;
    assert.equal(config.ticket_flow.default_agent, 'claude');
    assert.deepEqual(config.agents?.claude, { backend: 'acp', command: ['claude-agent-acp'] });
    assert.match(after, /command: \[ claude-agent-acp \]|command: \[claude-agent-acp\]/);
    assert.notEqual(after, before);
  });

  test('--agent with an unknown id, or over a broken config, changes nothing', async () => {
    const e = setup();
    await ok(['init', '--agent', 'demo'], e);
    e.repo.commitAll('init');
    const before = snapshot(e.repo.dir);
    const unknown = await runCar(['init', '--agent', 'nobody'], e.opts);
    assert.equal(unknown.code, 2);
    assert.match(unknown.stderr, /--agent nobody: no such agent \(one of: .*claude-code.*\)/);
    assert.deepEqual(snapshot(e.repo.dir), before);

    e.repo.write('.codex-autorunner/repo.override.yml', 'ticket_flow: {max_total_turns: lots}\n');
    const broken = snapshot(e.repo.dir);
    const refused = await runCar(['init', '--agent', 'claude'], e.opts);
    assert.equal(refused.code, 3);
    assert.match(refused.stderr, /repo\.override\.yml: ticket_flow\.max_total_turns/);
    assert.deepEqual(snapshot(e.repo.dir), broken);
  });

  test('a default agent that is not configured is a config error naming file and key', async () => {
    const e = setup();
    await ok(['init', '--agent', 'demo'], e);
    e.repo.write('.codex-autorunner/repo.override.yml', 'ticket_flow: {default_agent: ghost}\n');
    const r = await runCar(['ticket', 'new', 'x'], e.opts);
    assert.equal(r.code, 3);
    assert.match(
      r.stderr,
      /\.codex-autorunner\/repo\.override\.yml: ticket_flow\.default_agent must be a configured agent \(configured: .*demo.*\)/,
    );
  });
});

describe('car agents list', () => {
  test('backend, resolved command, PATH and the config layers of every agent', async () => {
    const e = setup({ CODEX_BIN: '/opt/codex/bin/codex' });
    const acp = e.program('claude-agent-acp');
    await ok(['init', '--agent', 'demo'], e);
    e.repo.write(
      'codex-autorunner.yml',
      'agents:\n  claude:\n    backend: acp\n    command: [claude-agent-acp]\n',
    );
    e.repo.write(
      '.codex-autorunner/repo.override.yml',
      'agents:\n  codex:\n    model: gpt-5.5\n  broken:\n    backend: command\n    command: [x]\n',
    );
    const { agents } = await listJson(e);
    const byId = new Map(agents.map((a) => [a.id, a]));
    assert.deepEqual(
      agents.map((a) => a.id),
      ['broken', 'claude', 'codex', 'demo', 'hermes', 'omp', 'opencode'],
    );
    const claude = byId.get('claude');
    assert.deepEqual(
      [claude?.backend, claude?.command, claude?.path, claude?.sources],
      ['acp', ['claude-agent-acp'], acp, ['codex-autorunner.yml']],
    );
    assert.equal(claude?.capabilities?.approvals, 'yes');
    const codex = byId.get('codex');
    assert.deepEqual(codex?.command, ['/opt/codex/bin/codex', 'app-server']);
    assert.deepEqual(codex?.sources, [
      'built_in_defaults',
      '.codex-autorunner/repo.override.yml',
      'CODEX_BIN',
    ]);
    assert.deepEqual([codex?.on_path, codex?.path], [false, null]);
    assert.equal(byId.get('demo')?.default, true);
    assert.match(
      byId.get('broken')?.error ?? '',
      /agents\.broken\.format must be one of: claude-stream-json/,
    );
    assert.equal(byId.get('opencode')?.install, 'npm install -g opencode-ai');

    const text = await ok(['agents', 'list'], e);
    assert.match(text.stdout, /^ID\s+BACKEND\s+ON PATH\s+COMMAND\s+FROM$/m);
    assert.match(
      text.stdout,
      new RegExp(`^claude\\s+acp\\s+${acp}\\s+claude-agent-acp\\s+codex-autorunner\\.yml$`, 'm'),
    );
    assert.match(text.stdout, /^demo \*\s+demo\s+built in\s/m);
    assert.match(text.stdout, /^opencode: opencode is not on PATH; install: npm install -g opencode-ai$/m);
    assert.match(text.stdout, /^broken: agents\.broken\.format must be one of/m);
  });
});

describe('car agents test', () => {
  test('the demo agent works the hello ticket: one ok line, the repo untouched', async () => {
    const e = setup();
    await ok(['init', '--agent', 'demo'], e);
    e.repo.commitAll('init');
    const r = await ok(['agents', 'test', 'demo'], e);
    assert.match(
      r.stdout,
      /^ok: demo \(demo\) did the hello ticket in [\d.]+ s \(first event after [\d.]+ s\)\n$/,
    );
    assert.equal(e.repo.git(['status', '--porcelain']), '');
  });

  test('not on PATH, unknown, auth missing, timeout: each one line with the failure', async () => {
    const e = setup();
    await ok(['init', '--agent', 'demo'], e);
    e.program('hanging-agent', 'exec sleep 600');
    e.program('locked-agent', 'echo "Error: 401 Unauthorized: invalid x-api-key" >&2; exit 1');
    e.repo.write(
      'codex-autorunner.yml',
      [
        'agents:',
        '  locked: {backend: command, format: text, command: [locked-agent]}',
        '  hanging: {backend: command, format: text, command: [hanging-agent]}',
        '  claude: {backend: acp, command: [claude-agent-acp]}',
        '',
      ].join('\n'),
    );

    const missing = await runCar(['agents', 'test', 'claude'], e.opts);
    assert.equal(missing.code, 1);
    assert.equal(
      missing.stdout,
      'failed: claude (acp): not on PATH: claude-agent-acp (install: npm install -g @zed-industries/claude-agent-acp)\n',
    );

    const unknown = await runCar(['agents', 'test', 'ghost'], e.opts);
    assert.equal(unknown.code, 2);
    assert.match(unknown.stderr, /"ghost" is not a configured agent \(configured: .*locked.*\)/);

    const locked = await runCar(['agents', 'test', 'locked'], e.opts);
    assert.equal(locked.code, 1, locked.stderr);
    assert.match(
      locked.stdout,
      /^failed: locked \(command:text\): auth missing: .*401 Unauthorized: invalid x-api-key.* \((first event after [\d.]+ s|no event from the agent)\)\n$/,
    );

    const hung = await runCar(['agents', 'test', 'hanging', '--timeout', '2'], e.opts);
    assert.equal(hung.code, 1, hung.stderr);
    assert.match(
      hung.stdout,
      /^failed: hanging \(command:text\): timeout: the hello ticket was not done within 2 s \(no event from the agent\)\n$/,
    );
  });
});
