import assert from 'node:assert/strict';
import { chmodSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, test } from 'node:test';
import type { Command } from 'commander';
import { EXIT } from '../../src/surfaces/cli/errors.ts';
import { buildProgram } from '../../src/surfaces/cli/program.ts';
import { car, json, makeCarRepo, makeTempDir, ticketText, tid } from '../helpers/cli.ts';

const cleanups: (() => void)[] = [];
afterEach(() => {
  for (const fn of cleanups.splice(0)) fn();
});

interface DescribedCommand {
  command: string;
  aliases: string[];
  description: string;
  arguments: { name: string; required: boolean; variadic: boolean }[];
  options: { flags: string; name: string; takes_value: boolean; default?: unknown; choices?: string[] }[];
}

interface Description {
  car_version: string;
  repo_root: string | null;
  initialized: boolean;
  commands: DescribedCommand[];
  exit_codes: Record<string, string>;
  tickets: {
    filename_pattern: string;
    required_fields: string[];
    frontmatter_schema: { type: string; required: string[]; properties: Record<string, { type?: string }> };
  };
  agents: Record<
    string,
    {
      backend: string | null;
      binary: string | null;
      on_path: boolean | null;
      command: string[] | null;
      sources: string[];
      default: boolean;
      capabilities: Record<string, string> | null;
    }
  >;
  agent_backends: Record<string, Record<string, { support: string; how: string }>>;
}

/** The command tree as the test sees it, walked independently of describe's own walker. */
function expectedTree(): Map<string, { flags: string[]; args: string[]; aliases: string[] }> {
  const program = buildProgram({ cwd: '/', env: {}, stdout: () => {}, stderr: () => {}, isTTY: false });
  const out = new Map<string, { flags: string[]; args: string[]; aliases: string[] }>();
  const visit = (cmd: Command, prefix: string) => {
    const path = prefix ? `${prefix} ${cmd.name()}` : cmd.name();
    out.set(path, {
      flags: cmd.options.map((o) => o.flags).sort(),
      args: cmd.registeredArguments.map((a) => a.name()),
      aliases: cmd.aliases(),
    });
    for (const sub of cmd.commands) visit(sub, path);
  };
  visit(program, '');
  return out;
}

/** A folder for PATH holding executable stand-ins for the named binaries. */
function fakeBin(...names: string[]): string {
  const d = makeTempDir('car-bin-');
  cleanups.push(d.cleanup);
  for (const name of names) {
    const file = join(d.dir, name);
    writeFileSync(file, '#!/bin/sh\nexit 0\n');
    chmodSync(file, 0o755);
  }
  return d.dir;
}

async function repoWith(tickets: Record<string, string>) {
  const r = await makeCarRepo();
  cleanups.push(r.cleanup);
  for (const [name, text] of Object.entries(tickets)) r.ticket(name, text);
  return r;
}

describe('car describe --json', () => {
  test('lists every command and every option flag of the real tree', async () => {
    const r = await repoWith({});
    const res = await r.run(['describe', '--json']);
    assert.equal(res.code, 0, res.stderr);
    const d = json<Description>(res);
    const expected = expectedTree();
    const described = new Map(d.commands.map((c) => [c.command, c]));
    assert.deepEqual([...described.keys()].sort(), [...expected.keys()].sort());
    for (const [path, want] of expected) {
      const got = described.get(path);
      assert.ok(got, path);
      assert.deepEqual(got.options.map((o) => o.flags).sort(), want.flags, `${path} flags`);
      assert.deepEqual(
        got.arguments.map((a) => a.name),
        want.args,
        `${path} arguments`,
      );
      assert.deepEqual(got.aliases, want.aliases, `${path} aliases`);
      assert.ok(got.description.length > 0, `${path} has a description`);
    }
    // spot checks that the tree is the one the README documents
    for (const path of [
      'car init',
      'car ticket new',
      'car ticket list',
      'car ticket show',
      'car ticket lint',
      'car ticket done',
      'car ticket reopen',
      'car ticket edit-field',
      'car describe',
      'car doctor',
    ]) {
      assert.ok(described.has(path), path);
    }
    assert.deepEqual(described.get('car ticket')?.aliases, ['tickets']);
    const flags = (path: string) => described.get(path)?.options.map((o) => o.flags) ?? [];
    assert.ok(flags('car').includes('--repo <path>'));
    assert.ok(flags('car ticket lint').includes('--fix-ticket-ids'));
    assert.ok(flags('car ticket new').includes('--at <number>'));
    assert.ok(flags('car init').includes('--git-init'));
    const agentOpt = described.get('car ticket new')?.options.find((o) => o.name === 'agent');
    // no fixed default: ticket_flow.default_agent decides
    assert.deepEqual(
      { takes_value: agentOpt?.takes_value, default: agentOpt?.default },
      { takes_value: true, default: undefined },
    );
    const mode = described.get('car init')?.options.find((o) => o.name === 'mode');
    assert.deepEqual(mode?.choices, ['auto', 'repo', 'hub']);
    const show = described.get('car ticket show')?.arguments[0];
    assert.deepEqual({ name: show?.name, required: show?.required }, { name: 'ticket', required: true });
  });

  test('exit codes, ticket schema and repo facts', async () => {
    const r = await repoWith({});
    const d = json<Description>(await r.run(['describe', '--json']));
    assert.deepEqual(Object.keys(d.exit_codes).sort(), Object.values(EXIT).map(String).sort());
    for (const text of Object.values(d.exit_codes)) assert.ok(text.length > 5);
    assert.match(d.exit_codes['3'] ?? '', /invalid input/);
    const schema = d.tickets.frontmatter_schema;
    assert.equal(schema.type, 'object');
    for (const field of ['ticket_id', 'agent', 'done']) assert.ok(field in schema.properties, field);
    assert.equal(schema.properties.done?.type, 'boolean');
    assert.deepEqual([...schema.required].sort(), ['agent', 'done']);
    assert.deepEqual(d.tickets.required_fields, ['agent', 'done']);
    assert.ok(new RegExp(d.tickets.filename_pattern.split(' ')[0] ?? '', 'i').test('TICKET-010-x.md'));
    assert.equal(d.initialized, true);
    assert.ok(d.repo_root?.endsWith(r.dir.split('/').at(-1) ?? '?'));
    assert.match(d.car_version, /^\d+\.\d+\.\d+/);
  });

  test('agents report whether their binary is on PATH', async () => {
    const r = await repoWith({});
    const bin = fakeBin('codex');
    const d = json<Description>(await r.run(['describe', '--json'], { env: { PATH: bin } }));
    const pick = (a: Description['agents'][string] | undefined) => ({
      backend: a?.backend,
      binary: a?.binary,
      on_path: a?.on_path,
      command: a?.command,
    });
    assert.deepEqual(pick(d.agents.codex), {
      backend: 'codex',
      binary: 'codex',
      on_path: true,
      command: ['codex', 'app-server'],
    });
    assert.equal(d.agents.hermes?.on_path, false);
    assert.deepEqual(d.agents.hermes?.command, ['hermes', 'acp']);
    assert.equal(d.agents.opencode?.on_path, false);
    assert.deepEqual(pick(d.agents.demo), { backend: 'demo', binary: null, on_path: null, command: null });
    // capabilities as in the table of docs/AGENTS.md, per agent and per backend
    assert.equal(d.agents.codex?.capabilities?.token_usage, 'yes');
    assert.equal(d.agents.opencode?.capabilities?.resume, 'partial');
    assert.deepEqual(d.agents.codex?.sources, ['built_in_defaults']);
    assert.equal(d.agent_backends['command:text']?.resume?.support, 'no');
    assert.equal(d.agent_backends.codex?.approvals?.support, 'yes');
    const none = json<Description>(await r.run(['describe', '--json'], { env: { PATH: '' } }));
    assert.equal(none.agents.codex?.on_path, false);
  });

  test('works outside any repo', async () => {
    const outside = makeTempDir();
    cleanups.push(outside.cleanup);
    const res = await car(['describe', '--json'], { cwd: outside.dir });
    assert.equal(res.code, 0, res.stderr);
    const d = json<Description>(res);
    assert.equal(d.initialized, false);
    assert.equal(d.repo_root, null);
    assert.deepEqual(d.agents, {});
    assert.equal(d.commands.length, expectedTree().size);
    const text = await car(['describe'], { cwd: outside.dir });
    assert.equal(text.code, 0);
    assert.match(text.stdout, /initialized=false/);
    assert.match(text.stdout, /car ticket edit-field/);
  });
});

interface Doctor {
  ok: boolean;
  checks: { id: string; status: 'ok' | 'warning' | 'error'; message: string; fix?: string }[];
}

const check = (d: Doctor, id: string) => d.checks.find((c) => c.id === id);

describe('car doctor --json', () => {
  test('an open ticket whose agent binary is missing from PATH fails the agent check', async () => {
    const r = await repoWith({ 'TICKET-001.md': ticketText({ id: tid(1), agent: 'codex' }) });
    const res = await r.run(['doctor', '--json'], { env: { PATH: fakeBin() } });
    assert.equal(res.code, EXIT.failed);
    assert.equal(res.stderr, '');
    const d = json<Doctor>(res);
    assert.equal(d.ok, false);
    const codex = check(d, 'agent:codex');
    assert.equal(codex?.status, 'error');
    assert.match(codex?.message ?? '', /not found on PATH/);
    assert.match(codex?.fix ?? '', /agents\.codex\.binary/);
    // agents no open ticket uses only warn
    assert.equal(check(d, 'agent:hermes')?.status, 'warning');
    assert.equal(check(d, 'tickets')?.status, 'ok');
    assert.equal(check(d, 'config')?.status, 'ok');

    // the same repo passes once the binary is on PATH
    const withCodex = await r.run(['doctor', '--json'], { env: { PATH: fakeBin('codex') } });
    assert.equal(withCodex.code, 0, withCodex.stdout);
    const ok = json<Doctor>(withCodex);
    assert.equal(ok.ok, true);
    assert.equal(check(ok, 'agent:codex')?.status, 'ok');
  });

  test('a done ticket does not need its agent', async () => {
    const r = await repoWith({
      'TICKET-001.md': ticketText({ id: tid(1), agent: 'codex', done: true }),
      'TICKET-002.md': ticketText({ id: tid(2), agent: 'demo' }),
    });
    const res = await r.run(['doctor', '--json'], { env: { PATH: fakeBin() } });
    assert.equal(res.code, 0, res.stdout);
    const d = json<Doctor>(res);
    assert.equal(d.ok, true);
    assert.equal(check(d, 'agent:codex')?.status, 'warning');
  });

  test('demo-agent tickets: ok true, exit 0, without any agent on PATH', async () => {
    const r = await repoWith({
      'TICKET-001.md': ticketText({ id: tid(1), agent: 'demo' }),
      'TICKET-002.md': ticketText({ id: tid(2), agent: 'demo' }),
    });
    const res = await r.run(['doctor', '--json'], { env: { PATH: fakeBin() } });
    assert.equal(res.code, 0, res.stdout);
    const d = json<Doctor>(res);
    assert.equal(d.ok, true);
    assert.equal(check(d, 'agent:demo')?.status, 'ok');
    assert.match(check(d, 'tickets')?.message ?? '', /2 tickets, 2 open, 0 lint error/);
    for (const id of ['node', 'git', 'repo', 'state_dir', 'config', 'tickets', 'agents_running']) {
      assert.equal(check(d, id)?.status, 'ok', id);
    }
  });

  test('a quota_fallback naming no configured agent is an error', async () => {
    const r = await repoWith({ 'TICKET-001.md': ticketText({ id: tid(1), agent: 'demo' }) });
    r.write('.codex-autorunner/repo.override.yml', 'agents:\n  demo:\n    quota_fallback: nobody\n');
    const res = await r.run(['doctor', '--json'], { env: { PATH: fakeBin() } });
    assert.equal(res.code, EXIT.failed, res.stdout);
    const bad = check(json<Doctor>(res), 'agent:demo:quota_fallback');
    assert.equal(bad?.status, 'error');
    assert.match(bad?.message ?? '', /agents\.demo\.quota_fallback is "nobody", which is not configured/);
  });

  test('config keys accepted for CAR compatibility but ignored are warnings, naming key and file', async () => {
    const r = await repoWith({ 'TICKET-001.md': ticketText({ id: tid(1), agent: 'demo' }) });
    r.write(
      '.codex-autorunner/repo.override.yml',
      'ticket_flow:\n  auto_resume: true\n  include_previous_ticket_context: true\n  loop_guard_turns: 3\n',
    );
    const res = await r.run(['doctor', '--json'], { env: { PATH: fakeBin() } });
    assert.equal(res.code, 0, res.stdout);
    const d = json<Doctor>(res);
    assert.deepEqual(
      d.checks.filter((c) => c.id.startsWith('config:ignored:')).map((c) => [c.status, c.message]),
      [
        [
          'warning',
          "accepted for CAR compatibility but ignored: ticket_flow.auto_resume (set by .codex-autorunner/repo.override.yml): car's chat bots resume a run whenever a reply answers its dispatch",
        ],
      ],
    );
    const text = await r.run(['doctor'], { env: { PATH: fakeBin() } });
    assert.match(text.stdout, /^WARN: accepted for CAR compatibility but ignored: ticket_flow\.auto_resume/m);
  });

  test('text output: exit 1 with ERROR lines and a summary on stderr', async () => {
    const r = await repoWith({ 'TICKET-001.md': ticketText({ id: tid(1), agent: 'codex' }) });
    const res = await r.run(['doctor'], { env: { PATH: fakeBin() } });
    assert.equal(res.code, 1);
    assert.match(res.stdout, /^ERROR: codex: `codex` not found on PATH \(open tickets use it\)/m);
    assert.match(res.stdout, /^OK: demo: built in/m);
    assert.match(res.stderr, /doctor found errors/);
  });

  test('lint errors and unconfigured agents in open tickets are errors', async () => {
    const r = await repoWith({
      'TICKET-001.md': ticketText({ id: tid(1), agent: 'ghost' }),
      'TICKET-002.md': ticketText({ id: tid(2), agent: 'demo', done: '"yes"' }),
    });
    const d = json<Doctor>(await r.run(['doctor', '--json'], { env: { PATH: fakeBin('codex') } }));
    assert.equal(d.ok, false);
    assert.equal(check(d, 'tickets')?.status, 'error');
    assert.equal(check(d, 'tickets')?.fix, 'car ticket lint');
    assert.equal(check(d, 'agent:ghost')?.status, 'error');
    assert.match(check(d, 'agent:ghost')?.message ?? '', /not configured/);
  });

  test('not initialized and outside a repo: ok false, exit 1', async () => {
    const outside = makeTempDir();
    cleanups.push(outside.cleanup);
    const res = await car(['doctor', '--json'], { cwd: outside.dir });
    assert.equal(res.code, 1);
    const d = json<Doctor>(res);
    assert.equal(d.ok, false);
    assert.equal(check(d, 'repo')?.status, 'error');

    const git = makeTempDir();
    cleanups.push(git.cleanup);
    assert.equal((await car(['init', '--git-init'], { cwd: git.dir })).code, 0);
    rmSync(join(git.dir, '.codex-autorunner'), { recursive: true });
    const notInit = json<Doctor>(await car(['doctor', '--json'], { cwd: git.dir }));
    assert.equal(notInit.ok, false);
    assert.equal(check(notInit, 'init')?.status, 'error');
    assert.equal(check(notInit, 'init')?.fix, 'car init');
  });
});
