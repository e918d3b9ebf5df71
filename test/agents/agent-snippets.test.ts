// docs/AGENTS.md cannot rot: every snippet in docs/agents/ loads through car's config loader and
// resolves to the backend and program the guide says; the guide shows each snippet file as it is and
// the capability table as the code has it; what `car init` writes for an agent is its snippet; the
// README's first screen links the guide. (guide-agents-through-car.test.ts runs the real programs.)
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { parse } from 'yaml';
import { resolveAcpPreset } from '../../src/agents/acp/adapter.ts';
import { capabilityTableMarkdown } from '../../src/agents/capabilities.ts';
import { KNOWN_AGENTS } from '../../src/agents/catalog.ts';
import { reportAgents } from '../../src/agents/report.ts';
import { agentLaunch, createAgentResolver } from '../../src/agents/resolver.ts';
import type { AgentEvent } from '../../src/core/agent.ts';
import { DEFAULT_CONFIG, loadConfig } from '../../src/core/config/index.ts';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const GUIDE = readFileSync(join(ROOT, 'docs/AGENTS.md'), 'utf8');
const SNIPPETS = readdirSync(join(ROOT, 'docs/agents')).filter((f) => f.endsWith('.yml'));

const base = mkdtempSync(join(tmpdir(), 'car-snippets-'));
after(() => rmSync(base, { recursive: true, force: true }));

/** The config a repo gets with `text` as its codex-autorunner.yml, through the real loader. */
function loadWith(text: string, env: NodeJS.ProcessEnv = {}) {
  const dir = mkdtempSync(join(base, 'repo-'));
  writeFileSync(join(dir, 'codex-autorunner.yml'), text);
  return { dir, loaded: loadConfig(dir, env) };
}

/** Per snippet: its agent id, the backend it resolves to, and the program car starts. */
const EXPECTED: Record<string, [string, string, string]> = {
  'codex.yml': ['codex', 'codex', 'codex'],
  'codex-exec.yml': ['codex-exec', 'command:codex-exec-json', 'codex'],
  'claude.yml': ['claude', 'acp', 'claude-agent-acp'],
  'claude-code.yml': ['claude-code', 'command:claude-stream-json', 'claude'],
  'opencode.yml': ['opencode', 'acp', 'opencode'],
  'opencode-run.yml': ['opencode-run', 'command:opencode-json', 'opencode'],
  'gemini.yml': ['gemini', 'acp', 'gemini'],
  'gemini-cli.yml': ['gemini-cli', 'command:gemini-stream-json', 'gemini'],
  'hermes.yml': ['hermes', 'acp', 'hermes'],
  'any-cli.yml': ['aider', 'command:text', 'aider'],
};

describe('docs/agents/*.yml', () => {
  test('every snippet is in the table of this test', () => {
    assert.deepEqual([...SNIPPETS].sort(), Object.keys(EXPECTED).sort());
  });

  for (const file of SNIPPETS) {
    test(`${file} loads and resolves to what the guide says`, () => {
      const text = readFileSync(join(ROOT, 'docs/agents', file), 'utf8');
      const [id, backend, program] = EXPECTED[file] ?? ['?', '?', '?'];
      assert.deepEqual(
        Object.keys((parse(text) as { agents: object }).agents),
        [id],
        'one agent per snippet',
      );
      const { loaded } = loadWith(text);
      const agent = createAgentResolver(loaded.config)(id);
      assert.equal(agent.id, id);
      const report = reportAgents(loaded, { PATH: '' }).find((a) => a.id === id);
      assert.equal(report?.error, null);
      assert.equal(report?.backend, backend);
      assert.equal(report?.binary, program);
      assert.ok(report?.sources.includes('codex-autorunner.yml'), `${report?.sources}`);
    });
  }
});

describe('docs/AGENTS.md', () => {
  test('shows every snippet file exactly, once', () => {
    const shown = [...GUIDE.matchAll(/<!-- snippet: (docs\/agents\/[\w.-]+) -->\n```yaml\n([\s\S]*?)```\n/g)];
    assert.deepEqual(shown.map((m) => m[1]).sort(), SNIPPETS.map((f) => `docs/agents/${f}`).sort());
    for (const [, file, block] of shown) {
      assert.equal(
        block,
        readFileSync(join(ROOT, file!), 'utf8'),
        `${file} differs from its copy in the guide`,
      );
    }
  });

  test('has the capability table of the code', () => {
    const table = /<!-- capabilities -->\n([\s\S]*?)<!-- \/capabilities -->/.exec(GUIDE)?.[1];
    assert.equal(
      table,
      capabilityTableMarkdown(),
      `paste this into docs/AGENTS.md:\n${capabilityTableMarkdown()}`,
    );
  });

  test("is linked from the README's first screen", () => {
    const firstScreen = readFileSync(join(ROOT, 'README.md'), 'utf8').split('\n').slice(0, 30).join('\n');
    assert.match(firstScreen, /\]\(docs\/AGENTS\.md\)/);
  });
});

test('car init writes for each agent it knows what the guide shows', () => {
  for (const known of KNOWN_AGENTS) {
    const snippet = parse(readFileSync(join(ROOT, known.snippet), 'utf8')) as {
      agents: Record<string, unknown>;
    };
    const expected = known.entry ?? DEFAULT_CONFIG.agents[known.id];
    assert.deepEqual(snippet.agents[known.id], expected, known.snippet);
    const { loaded } = loadWith(readFileSync(join(ROOT, known.snippet), 'utf8'));
    const launch = agentLaunch(known.id, loaded.config.agents[known.id]!, loaded.config);
    assert.equal(launch.command?.[0], known.binary, `${known.id} runs ${known.binary}`);
  }
});

describe('resolver', () => {
  test("an entry's model and reasoning reach a command agent's argv; a ticket's win", async () => {
    const cli = fileURLToPath(new URL('../fakes/jsonl-cli.mjs', import.meta.url));
    const fixture = join(ROOT, 'src/agents/command/fixtures/opencode-run.jsonl');
    const argvFile = join(base, 'argv');
    const { dir, loaded } = loadWith(
      [
        'agents:',
        '  fake:',
        '    backend: command',
        '    format: opencode-json',
        `    command: [${JSON.stringify(process.execPath)}, ${JSON.stringify(cli)}, run]`,
        '    model: fake/small',
        '    reasoning: high',
        `    env: {FAKE_FIXTURE: ${JSON.stringify(fixture)}, FAKE_ARGV_FILE: ${JSON.stringify(argvFile)}}`,
        '',
      ].join('\n'),
    );
    const session = await createAgentResolver(loaded.config)('fake').startSession({
      cwd: dir,
      ticketPath: 't',
      ticketId: 't',
      runId: 'r',
    });
    const turn = (over: { model?: string }) =>
      session.runTurn({
        prompt: 'go',
        signal: new AbortController().signal,
        onEvent: (_: AgentEvent) => {},
        ...over,
      });
    assert.equal((await turn({})).status, 'completed');
    assert.equal((await turn({ model: 'fake/big' })).status, 'completed');
    await session.close();
    const argvs = readFileSync(argvFile, 'utf8')
      .trim()
      .split('\n')
      .map((l) => (JSON.parse(l) as string[]).slice(1));
    assert.deepEqual(argvs[0], ['-m', 'fake/small', '--variant', 'high', 'go']);
    assert.deepEqual(argvs[1], [
      '-m',
      'fake/big',
      '--variant',
      'high',
      '--session',
      'ses_494719016ffe85dkDMj0FPRbHK',
      'go',
    ]);
  });

  test("an ACP agent under another id gets its program's preset; binary keeps the preset's arguments", () => {
    const { loaded } = loadWith(
      'agents:\n  claude-acp: {backend: acp, command: [claude-agent-acp]}\n  hermes: {binary: /opt/hermes/bin/hermes}\n',
    );
    const claude = agentLaunch('claude-acp', loaded.config.agents['claude-acp']!, loaded.config);
    assert.deepEqual(claude.env, resolveAcpPreset('claude')?.env);
    const hermes = agentLaunch('hermes', loaded.config.agents.hermes!, loaded.config);
    assert.deepEqual(hermes.command, ['/opt/hermes/bin/hermes', 'acp']);
  });
});
