import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { after, test } from 'node:test';
import { parse } from 'yaml';
import { knownAgentIds } from './agents.ts';
import { ConfigError } from './errors.ts';
import { CONFIG_PRECEDENCE, loadConfig } from './load.ts';
import { configJsonSchema, DEFAULT_CONFIG } from './schema.ts';
import { initialRepoConfigYaml } from './template.ts';

const base = mkdtempSync(join(tmpdir(), 'car-config-'));
after(() => rmSync(base, { recursive: true, force: true }));
let n = 0;

const ROOT_YML = 'codex-autorunner.yml';
const ROOT_OVERRIDE = 'codex-autorunner.override.yml';
const REPO_CONFIG = '.codex-autorunner/config.yml';
const REPO_OVERRIDE = '.codex-autorunner/repo.override.yml';

/** A fresh repo root holding the given files (repo-relative path → content). */
function repo(files: Record<string, string> = {}): string {
  const root = join(base, `repo-${++n}`);
  mkdirSync(join(root, '.codex-autorunner'), { recursive: true });
  for (const [rel, content] of Object.entries(files)) {
    mkdirSync(dirname(join(root, rel)), { recursive: true });
    writeFileSync(join(root, rel), content);
  }
  return root;
}

function loadError(root: string, env: NodeJS.ProcessEnv = {}): ConfigError {
  try {
    loadConfig(root, env);
  } catch (err) {
    assert.ok(err instanceof ConfigError, `expected ConfigError, got ${err}`);
    return err;
  }
  assert.fail('expected loadConfig to throw');
}

test('no files: built-in defaults, and every source reported', () => {
  const root = repo();
  const { config, sources } = loadConfig(root, {});
  assert.deepEqual(config, DEFAULT_CONFIG);
  assert.equal(config.ticket_flow.max_total_turns, null);
  assert.equal(config.ticket_flow.loop_guard_turns, 2);
  assert.deepEqual(config.app_server.command, ['codex', 'app-server']);
  assert.equal(config.server.port, 4173);
  assert.equal(config.git.commit_message_template, '[codex] run #{run_id}');
  assert.equal(config.storage.durable_writes, false, "CAR's default: no fsync per record");
  assert.deepEqual(config.agents.opencode, {
    backend: 'acp',
    binary: 'opencode',
    command: ['opencode', 'acp'],
  });
  assert.deepEqual(
    sources.map((s) => s.layer),
    [...CONFIG_PRECEDENCE],
  );
  assert.deepEqual(
    sources.map((s) => s.present),
    [true, false, false, false, false, false, false],
  );
  assert.equal(sources[4]?.file, join(root, REPO_CONFIG));
});

test('each layer overrides the one below it', () => {
  const files = {
    [ROOT_YML]:
      'ticket_flow: {max_total_turns: 10, loop_guard_turns: 3, max_lint_retries: 4, max_commit_retries: 5}\n',
    [ROOT_OVERRIDE]: 'ticket_flow: {max_total_turns: 20, loop_guard_turns: 6, max_lint_retries: 7}\n',
    [REPO_CONFIG]: 'ticket_flow: {max_total_turns: 30, loop_guard_turns: 8}\n',
    [REPO_OVERRIDE]: 'ticket_flow: {max_total_turns: 40}\n',
  };
  const root = repo(files);
  const tf = loadConfig(root, {}).config.ticket_flow;
  assert.deepEqual(
    [
      tf.max_total_turns,
      tf.loop_guard_turns,
      tf.max_lint_retries,
      tf.max_commit_retries,
      tf.max_network_retries,
    ],
    [40, 8, 7, 5, 5],
  );
  const withEnv = loadConfig(root, { CAR__TICKET_FLOW__MAX_TOTAL_TURNS: '80' }).config.ticket_flow;
  assert.equal(withEnv.max_total_turns, 80);
  assert.equal(withEnv.loop_guard_turns, 8);
});

test('lists replace instead of merging; mappings merge', () => {
  const root = repo({
    [ROOT_YML]: 'server: {allowed_hosts: [a, b, c]}\nagents: {codex: {args: [--one, --two]}}\n',
    [REPO_CONFIG]:
      'server: {allowed_hosts: [z]}\nagents: {codex: {args: [--three]}, mine: {backend: command, command: [./run.sh]}}\n',
  });
  const { config } = loadConfig(root, {});
  assert.deepEqual(config.server.allowed_hosts, ['z']);
  assert.deepEqual(config.agents.codex, { backend: 'codex', binary: 'codex', args: ['--three'] });
  assert.deepEqual(config.agents.mine, { backend: 'command', command: ['./run.sh'] });
  assert.deepEqual([...knownAgentIds(config)].sort(), [
    'codex',
    'demo',
    'hermes',
    'mine',
    'omp',
    'opencode',
    'user',
  ]);
});

test('unknown CAR sections and unknown keys in known sections load and are kept', () => {
  const root = repo({
    [ROOT_YML]: [
      'version: 2',
      'mode: hub',
      'voice: {enabled: true, provider: local_whisper}',
      'pma: {enabled: true, max_repos: 25}',
      'github: {automation: {polling: {enabled: false}}}',
      'ticket_flow: {restart_max_attempts: 2, approval_mode: safe}',
      'agents: {opencode: {subagent_models: {car-read-explore: zai/glm}}}',
      'telegram_bot: {enabled: true, mode: polling}',
      '',
    ].join('\n'),
  });
  const { config } = loadConfig(root, {});
  assert.equal(config.mode, 'hub');
  assert.deepEqual(config.voice, { enabled: true, provider: 'local_whisper' });
  assert.equal(config.ticket_flow.restart_max_attempts, 2);
  assert.equal(config.ticket_flow.approval_mode, 'review', 'safe is an alias of review');
  assert.deepEqual(config.agents.opencode?.subagent_models, { 'car-read-explore': 'zai/glm' });
  assert.equal(config.telegram_bot.enabled, true);
  assert.equal(config.telegram_bot.mode, 'polling');
});

// One bad value per layer: the error names that layer's file and the key path.
const badValueCases: { label: string; files: Record<string, string>; keyPath: string; message: RegExp }[] = [
  {
    label: ROOT_YML,
    files: { [ROOT_YML]: 'server:\n  port: 99999\n' },
    keyPath: 'server.port',
    message: /^codex-autorunner\.yml: server\.port must be an integer port \(1-65535\) \(got 99999\)$/,
  },
  {
    label: ROOT_OVERRIDE,
    files: { [ROOT_YML]: 'git: {auto_commit: true}\n', [ROOT_OVERRIDE]: 'git: {auto_commit: sometimes}\n' },
    keyPath: 'git.auto_commit',
    message: /^codex-autorunner\.override\.yml: git\.auto_commit must be boolean .*\(got "sometimes"\)$/,
  },
  {
    label: REPO_CONFIG,
    files: { [REPO_CONFIG]: 'ticket_flow:\n  max_total_turns: ten\n' },
    keyPath: 'ticket_flow.max_total_turns',
    message:
      /^\.codex-autorunner\/config\.yml: ticket_flow\.max_total_turns must be a positive integer or null \(got "ten"\)$/,
  },
  {
    label: REPO_OVERRIDE,
    files: {
      [REPO_CONFIG]: 'app_server: {command: [codex, app-server]}\n',
      [REPO_OVERRIDE]: 'app_server: {command: [codex, 7]}\n',
    },
    keyPath: 'app_server.command[1]',
    message: /^\.codex-autorunner\/repo\.override\.yml: app_server\.command\[1\] must be a string \(got 7\)$/,
  },
];

for (const c of badValueCases) {
  test(`a bad value in ${c.label} names that file and the key path`, () => {
    const err = loadError(repo(c.files));
    assert.equal(err.file, c.label);
    assert.equal(err.keyPath, c.keyPath);
    assert.match(err.message, c.message);
    assert.equal(err.problems.length, 1);
  });
}

test('a bad value from the environment names the variable', () => {
  const root = repo({ [REPO_CONFIG]: 'ticket_flow: {max_total_turns: 30}\n' });
  const err = loadError(root, { CAR__TICKET_FLOW__MAX_TOTAL_TURNS: '-1' });
  assert.equal(err.file, 'CAR__TICKET_FLOW__MAX_TOTAL_TURNS');
  assert.equal(err.keyPath, 'ticket_flow.max_total_turns');
  assert.match(
    err.message,
    /^CAR__TICKET_FLOW__MAX_TOTAL_TURNS: ticket_flow\.max_total_turns must be .* \(got -1\)$/,
  );

  const argv = loadError(root, { CAR_CODEX_APP_SERVER_COMMAND: 'codex "app-server' });
  assert.equal(argv.file, 'CAR_CODEX_APP_SERVER_COMMAND');
  assert.equal(argv.keyPath, 'app_server.command');
  assert.match(argv.message, /unterminated " quote/);

  const json = loadError(root, { CAR_APP_SERVER_COMMAND: '["codex", 1]' });
  assert.match(json.message, /^CAR_APP_SERVER_COMMAND: app_server\.command must be a JSON array of strings$/);
});

test('every problem is reported, each with its own file', () => {
  const root = repo({
    [ROOT_YML]: 'server: {port: http}\n',
    [REPO_CONFIG]: 'ticket_flow: {approval_mode: maybe}\nagents: {Bad_Agent: {}}\n',
  });
  const err = loadError(root, { CAR__STORE__MAX_EVENT_BYTES: '0' });
  const got = err.problems.map((p) => `${p.file} ${p.keyPath}`).sort();
  assert.deepEqual(got, [
    '.codex-autorunner/config.yml agents.Bad_Agent',
    '.codex-autorunner/config.yml ticket_flow.approval_mode',
    'CAR__STORE__MAX_EVENT_BYTES store.max_event_bytes',
    'codex-autorunner.yml server.port',
  ]);
  assert.equal(err.message.split('\n').length, 4);
  assert.match(err.message, /agents\.Bad_Agent is not a valid agent id .*\(got "Bad_Agent"\)/);
});

test('invalid YAML names the file, line and column', () => {
  const root = repo({ [REPO_CONFIG]: 'version: 2\nticket_flow:\n  max_total_turns: [1, 2\n' });
  const err = loadError(root);
  assert.equal(err.file, REPO_CONFIG);
  const first = err.problems[0];
  assert.ok(first?.line !== undefined && first.line >= 3, `line should point into the file: ${first?.line}`);
  assert.match(err.message, /^\.codex-autorunner\/config\.yml:\d+:\d+: invalid YAML: /);

  const dup = loadError(repo({ [ROOT_YML]: 'mode: repo\nmode: hub\n' }));
  assert.equal(dup.file, ROOT_YML);
  assert.equal(dup.problems[0]?.line, 2);
});

test('a file that is not a mapping is rejected; an empty or comment-only file is {}', () => {
  const err = loadError(repo({ [ROOT_OVERRIDE]: '- a\n- b\n' }));
  assert.equal(err.message, 'codex-autorunner.override.yml: config must be a mapping');
  assert.equal(
    loadError(repo({ [REPO_CONFIG]: 'just text\n' })).message,
    '.codex-autorunner/config.yml: config must be a mapping',
  );
  const { config, sources } = loadConfig(repo({ [ROOT_YML]: '', [REPO_CONFIG]: '# nothing yet\n' }), {});
  assert.deepEqual(config, DEFAULT_CONFIG);
  assert.deepEqual(
    sources.map((s) => s.present),
    [true, false, true, false, true, false, false],
  );
});

test('repo.override.yml may not set mode or version', () => {
  const err = loadError(repo({ [REPO_OVERRIDE]: 'mode: hub\n' }));
  assert.equal(err.file, REPO_OVERRIDE);
  assert.equal(err.keyPath, 'mode');
});

test('provenance: sibling keys from two layers are blamed on the right file', () => {
  const files = {
    [ROOT_YML]: 'app_server: {turn_timeout_seconds: 100}\n',
    [REPO_CONFIG]: 'app_server: {turn_stall_timeout_seconds: 5}\n',
  };
  const lower = loadError(repo({ ...files, [ROOT_YML]: 'app_server: {turn_timeout_seconds: soon}\n' }));
  assert.equal(lower.file, ROOT_YML);
  assert.equal(lower.keyPath, 'app_server.turn_timeout_seconds');
  const upper = loadError(
    repo({ ...files, [REPO_CONFIG]: 'app_server: {turn_stall_timeout_seconds: -5}\n' }),
  );
  assert.equal(upper.file, REPO_CONFIG);
  assert.equal(upper.keyPath, 'app_server.turn_stall_timeout_seconds');
});

test('provenance: a list replaced by a higher layer is blamed on that layer, element by element', () => {
  const root = repo({
    [ROOT_YML]: 'server: {allowed_origins: [1, 2]}\n',
    [REPO_CONFIG]: 'server: {allowed_origins: [ok, 3]}\n',
  });
  const err = loadError(root);
  assert.deepEqual(
    err.problems.map((p) => [p.file, p.keyPath]),
    [[REPO_CONFIG, 'server.allowed_origins[1]']],
  );
});

test('provenance: a section replaced wholesale by a scalar is blamed on the replacing layer', () => {
  const root = repo({
    [ROOT_YML]: 'ticket_flow: {max_total_turns: 10}\n',
    [ROOT_OVERRIDE]: 'ticket_flow: off\n',
  });
  const err = loadError(root);
  assert.equal(err.file, ROOT_OVERRIDE);
  assert.equal(err.keyPath, 'ticket_flow');
  assert.match(err.message, /ticket_flow must be a mapping \(got false\)/);
});

test('named env vars set app_server.command and agent binaries; the CODEX one wins', () => {
  const root = repo({ [REPO_CONFIG]: 'app_server: {command: [from-file]}\n' });
  const { config, sources } = loadConfig(root, {
    CAR_APP_SERVER_COMMAND: 'generic app-server',
    CAR_CODEX_APP_SERVER_COMMAND: `/opt/codex/bin/codex --flag "a b" 'c d' app-server`,
    CODEX_BIN: '/opt/codex/bin/codex',
    OPENCODE_BIN: '/opt/oc',
    CAR_OPENCODE_COMMAND: '["/opt/oc", "acp", "--x y"]',
    CAR__APP_SERVER__COMMAND: '[from-generic]',
    UNRELATED: 'x',
  });
  assert.deepEqual(config.app_server.command, ['/opt/codex/bin/codex', '--flag', 'a b', 'c d', 'app-server']);
  assert.equal(config.agents.codex?.binary, '/opt/codex/bin/codex');
  assert.equal(config.agents.opencode?.binary, '/opt/oc');
  assert.deepEqual(config.agents.opencode?.command, ['/opt/oc', 'acp', '--x y']);
  const envSource = sources.at(-1);
  assert.equal(envSource?.present, true);
  assert.deepEqual(envSource?.variables, [
    'CAR__APP_SERVER__COMMAND',
    'CAR_APP_SERVER_COMMAND',
    'CAR_CODEX_APP_SERVER_COMMAND',
    'CODEX_BIN',
    'OPENCODE_BIN',
    'CAR_OPENCODE_COMMAND',
  ]);
  // Empty named variables count as unset.
  assert.deepEqual(loadConfig(root, { CAR_CODEX_APP_SERVER_COMMAND: '  ' }).config.app_server.command, [
    'from-file',
  ]);
});

test('generic CAR__ variables: case-insensitive keys, YAML values, nested paths, bad names', () => {
  const root = repo();
  const { config } = loadConfig(root, {
    car__server__Allowed_Hosts: 'ignored: prefix is case-sensitive',
    CAR__Server__Allowed_Hosts: '[a.example, b.example]',
    CAR__AGENTS__CODEX__MODEL: 'gpt-5',
    CAR__TICKET_FLOW__REQUIRE_COMMIT: 'no',
  });
  assert.deepEqual(config.server.allowed_hosts, ['a.example', 'b.example']);
  assert.equal(config.agents.codex?.model, 'gpt-5');
  assert.equal(config.agents.codex?.binary, 'codex');
  assert.equal(config.ticket_flow.require_commit, false);

  const bad = loadError(root, { CAR__TICKET_FLOW____X: '1' });
  assert.equal(bad.file, 'CAR__TICKET_FLOW____X');
  const badYaml = loadError(root, { CAR__SERVER__ALLOWED_HOSTS: '[a, b' });
  assert.equal(badYaml.keyPath, 'server.allowed_hosts');
  assert.match(
    badYaml.message,
    /^CAR__SERVER__ALLOWED_HOSTS: server\.allowed_hosts is not a valid YAML value/,
  );
});

function snapshot(dir: string): Map<string, string> {
  const out = new Map<string, string>();
  const walk = (d: string) => {
    for (const entry of readdirSync(d, { withFileTypes: true })) {
      const p = join(d, entry.name);
      if (entry.isDirectory()) {
        out.set(`${p}/`, String(statSync(p).mtimeMs));
        walk(p);
      } else
        out.set(p, `${createHash('sha256').update(readFileSync(p)).digest('hex')} ${statSync(p).mtimeMs}`);
    }
  };
  walk(dir);
  return out;
}

test('loading writes nothing, whether it succeeds or fails', () => {
  const root = repo({
    [ROOT_YML]: 'ticket_flow: {max_total_turns: 10}\n',
    [ROOT_OVERRIDE]: 'server: {port: 5000}\n',
    [REPO_CONFIG]: initialRepoConfigYaml(),
    [REPO_OVERRIDE]: 'git: {auto_commit: true}\n',
  });
  const before = snapshot(root);
  loadConfig(root, { CAR__STORE__MAX_EVENT_BYTES: '1024' });
  assert.deepEqual(snapshot(root), before);
  writeFileSync(join(root, ROOT_YML), 'ticket_flow: {max_total_turns: many}\n');
  const bad = snapshot(root);
  loadError(root);
  assert.deepEqual(snapshot(root), bad);
});

test('the loaded config is a fresh copy: mutating it leaves the defaults alone', () => {
  const { config } = loadConfig(repo(), {});
  config.app_server.command.push('--extra');
  config.ticket_flow.max_total_turns = 3;
  assert.deepEqual(DEFAULT_CONFIG.app_server.command, ['codex', 'app-server']);
  assert.equal(DEFAULT_CONFIG.ticket_flow.max_total_turns, null);
  assert.deepEqual(loadConfig(repo(), {}).config, DEFAULT_CONFIG);
});

test('initialRepoConfigYaml is valid, sets version 2 / mode repo, and loads to the defaults', () => {
  const text = initialRepoConfigYaml();
  assert.deepEqual(parse(text), { version: 2, mode: 'repo' });
  assert.match(text, /# ticket_flow:/);
  assert.deepEqual(loadConfig(repo({ [REPO_CONFIG]: text }), {}).config, DEFAULT_CONFIG);
});

test('configJsonSchema describes the known sections with defaults and allows unknown keys', () => {
  const schema = configJsonSchema() as {
    properties: Record<string, { properties?: Record<string, { default?: unknown }> }>;
    additionalProperties: unknown;
  };
  assert.deepEqual(schema.additionalProperties, {});
  assert.equal(schema.properties.ticket_flow?.properties?.loop_guard_turns?.default, 2);
  assert.deepEqual(schema.properties.app_server?.properties?.command?.default, ['codex', 'app-server']);
  assert.ok(schema.properties.agents);
});

test('keys accepted for CAR but ignored are listed when a layer sets them to something not the default', () => {
  const root = repo({
    [REPO_CONFIG]: [
      // include_previous_ticket_context is acted on (the prompt's previous-ticket section): not listed
      'ticket_flow: {auto_resume: false, include_previous_ticket_context: true}',
      'server: {base_path: /car}',
      'agents:',
      '  hermes: {default_profile: m4}',
      '  mybot: {backend: command, command: [mybot], profiles: {fast: {model: small}}}',
    ].join('\n'),
  });
  const { ignored } = loadConfig(root, { CAR__TICKET_FLOW__AUTO_RESUME: 'true' });
  assert.ok(
    ignored.every((s) => s.why.length > 0),
    'each says why',
  );
  assert.deepEqual(
    ignored.map(({ key, source }) => ({ key, source })),
    [
      { key: 'ticket_flow.auto_resume', source: 'CAR__TICKET_FLOW__AUTO_RESUME' },
      { key: 'server.base_path', source: REPO_CONFIG },
      { key: 'agents.hermes.default_profile', source: REPO_CONFIG },
      { key: 'agents.mybot.profiles', source: REPO_CONFIG },
    ],
  );
  // defaults, set or not, are what car does anyway
  assert.deepEqual(
    loadConfig(repo({ [REPO_CONFIG]: 'ticket_flow: {auto_resume: false}\n' }), {}).ignored,
    [],
  );
});

test("CAR's sections car lacks are listed with the reason, unless switched off or at CAR's default", () => {
  const root = repo({
    'codex-autorunner.yml': [
      'review: {enabled: true, agent: opencode}',
      'voice: {enabled: false, provider: local_whisper}',
      'runner: {sleep_seconds: 5, no_progress_threshold: 5, stop_after_runs: 3}',
      'docs: {spec: .codex-autorunner/contextspace/spec.md}',
      'pma: {enabled: true}',
      'notifications: {events: [run_finished, paused]}',
    ].join('\n'),
  });
  const { ignored, config } = loadConfig(root, {});
  assert.deepEqual(
    ignored.map((s) => `${s.key} (${s.source})`),
    [
      'review (codex-autorunner.yml)',
      'runner.no_progress_threshold (codex-autorunner.yml)',
      'notifications.events (codex-autorunner.yml)',
    ],
    'voice is off, sleep_seconds and docs are at CAR default, stop_after_runs is acted on',
  );
  assert.match(ignored.find((s) => s.key === 'review')!.why, /no review flow/);
  assert.deepEqual(config.notifications.events, ['paused'], "CAR's event names are dropped");
});

test("notifications.events: CAR's names load; `all` is every notice, a list of only CAR's names keeps the default", () => {
  const events = (list: string) =>
    loadConfig(repo({ [REPO_CONFIG]: `notifications: {events: ${list}}\n` }), {}).config.notifications.events;
  assert.deepEqual(events('[run_finished, run_error, tui_idle]'), DEFAULT_CONFIG.notifications.events);
  assert.deepEqual(events('[all]'), DEFAULT_CONFIG.notifications.events);
  assert.deepEqual(events('[failed, run_error]'), ['failed']);
  assert.deepEqual(events('[]'), [], 'an empty list still means no notices');
  assert.throws(
    () => events('[sometimes]'),
    /notifications\.events\[0\] must be one of: paused, .* \(or CAR's run_finished, .*all\)/,
  );
});
