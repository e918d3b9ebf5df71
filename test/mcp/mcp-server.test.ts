// `car mcp`, the BUILT CLI, driven by the MCP SDK's own client over stdio: every tool, the resources, the
// errors (the CLI's messages and exit codes), and confinement to the repo or hub it serves.
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import { type BuiltCarRepo, CAR_JS, makeBuiltCarRepo, runCar } from '../helpers/built-car.ts';
import { waitFor } from '../helpers/wait.ts';
import { makeHub, type TestHub } from '../hub/helpers.ts';

interface ToolAnswer {
  isError: boolean;
  text: string;
  json: () => Record<string, unknown>;
}

async function connect(cwd: string, env: NodeJS.ProcessEnv, args: string[] = []): Promise<Client> {
  const client = new Client({ name: 'car-test', version: '1.0.0' });
  const transport = new StdioClientTransport({
    command: process.execPath,
    args: [CAR_JS, 'mcp', ...args],
    cwd,
    env: env as Record<string, string>,
    stderr: 'pipe',
  });
  await client.connect(transport);
  return client;
}

async function call(client: Client, name: string, args: Record<string, unknown> = {}): Promise<ToolAnswer> {
  const res = (await client.callTool({ name, arguments: args })) as {
    isError?: boolean;
    content: Array<{ type: string; text?: string }>;
  };
  const text = res.content.map((c) => c.text ?? '').join('');
  return {
    isError: res.isError === true,
    text,
    json: () => {
      try {
        return JSON.parse(text) as Record<string, unknown>;
      } catch {
        throw new Error(`${name}: not JSON:\n${text}`);
      }
    },
  };
}

async function ok(client: Client, name: string, args: Record<string, unknown> = {}) {
  const answer = await call(client, name, args);
  assert.equal(answer.isError, false, `${name} failed:\n${answer.text}`);
  return answer.json();
}

const FIRST = 'TICKET-001-mcp.md';
let repo: BuiltCarRepo;
let client: Client;

before(async () => {
  repo = await makeBuiltCarRepo();
  client = await connect(repo.dir, repo.env);
});
after(async () => {
  await client?.close();
  repo?.cleanup();
});

const TOOLS = [
  'contextspace_read',
  'contextspace_write',
  'flow_events',
  'flow_pause',
  'flow_reply',
  'flow_resume',
  'flow_runs',
  'flow_start',
  'flow_status',
  'flow_stop',
  'ticket_create',
  'ticket_done',
  'ticket_edit_field',
  'ticket_lint',
  'ticket_list',
  'ticket_reopen',
  'ticket_show',
];

test('a repo server lists its tools, each with a described input schema', async () => {
  const { tools } = await client.listTools();
  assert.deepEqual(tools.map((t) => t.name).sort(), TOOLS);
  const create = tools.find((t) => t.name === 'ticket_create')!;
  assert.deepEqual(create.inputSchema.required, ['title']);
  assert.ok(create.description && create.description.length > 20);
});

test('ticket tools create, show, edit, close, reopen, list and lint through the CLI', async () => {
  const created = await ok(client, 'ticket_create', {
    title: '--looks like a flag',
    agent: 'demo',
    goal: 'prove the MCP path',
    body: '## Tasks\n- nothing\n',
    slug: 'mcp',
  });
  assert.equal(created.name, FIRST);
  const file = join(repo.dir, '.codex-autorunner/tickets', FIRST);
  assert.match(readFileSync(file, 'utf8'), /^title: "?--looks like a flag"?$/m);
  // the CLI sees exactly what the tool wrote
  const lint = await runCar(['ticket', 'lint'], { cwd: repo.dir, env: repo.env });
  assert.equal(lint.code, 0, lint.stdout + lint.stderr);

  const shown = await ok(client, 'ticket_show', { ticket: '1' });
  assert.equal(shown.goal, 'prove the MCP path');
  assert.match(String(shown.raw), /## Tasks/);

  const edited = await ok(client, 'ticket_edit_field', { ticket: FIRST, key: 'title', value: 'true' });
  assert.equal(edited.title, 'true', 'a string value stays a string');
  assert.match(readFileSync(file, 'utf8'), /^title: "true"$/m);
  assert.equal((await ok(client, 'ticket_done', { ticket: '1' })).done, true);
  assert.equal((await ok(client, 'ticket_reopen', { ticket: '1' })).done, false);
  const edited2 = await ok(client, 'ticket_edit_field', { ticket: '1', key: 'done', value: true });
  assert.equal(edited2.done, true);
  await ok(client, 'ticket_reopen', { ticket: '1' });

  const list = await ok(client, 'ticket_list');
  assert.deepEqual(
    (list.tickets as Array<{ name: string }>).map((t) => t.name),
    [FIRST],
  );
  assert.equal((list.summary as { open: number }).open, 1);
  assert.deepEqual((await ok(client, 'ticket_list', { done: true })).tickets, []);
  assert.deepEqual((await ok(client, 'ticket_lint')).ok, true);
});

test("refusals are the CLI's messages and exit codes, and change nothing", async () => {
  const before = readFileSync(join(repo.dir, '.codex-autorunner/tickets', FIRST));
  const missing = await call(client, 'ticket_show', { ticket: '99' });
  assert.equal(missing.isError, true);
  assert.match(missing.text, /car: no ticket matches "99"/);
  assert.match(missing.text, /exit code 2/);

  const badAgent = await call(client, 'ticket_edit_field', { ticket: '1', key: 'agent', value: 'nobody' });
  assert.equal(badAgent.isError, true);
  assert.match(badAgent.text, /agent/);
  assert.match(badAgent.text, /exit code 3/);
  const badKey = await call(client, 'ticket_edit_field', { ticket: '1', key: '--x', value: 1 });
  assert.match(badKey.text, /invalid frontmatter key: "--x"/);
  assert.deepEqual(readFileSync(join(repo.dir, '.codex-autorunner/tickets', FIRST)), before);

  // a name that reaches out of the tickets folder matches no ticket
  const outside = await call(client, 'ticket_show', { ticket: '../../README.md' });
  assert.equal(outside.isError, true);
  assert.match(outside.text, /no ticket matches/);

  const noRun = await call(client, 'flow_pause');
  assert.equal(noRun.isError, true);
  assert.match(noRun.text, /exit code 2/);

  // bad arguments are refused by the schema before anything runs
  const badArgs = await call(client, 'ticket_create', { title: 7 });
  assert.equal(badArgs.isError, true);
  assert.match(badArgs.text, /title/);
});

test('contextspace tools read and write with the hash guard; resources list tickets and docs', async () => {
  const read = await ok(client, 'contextspace_read', { kind: 'decisions' });
  const written = await ok(client, 'contextspace_write', {
    kind: 'decisions',
    content: '# Decisions\n\n- MCP first\n',
    base_hash: read.hash,
  });
  assert.notEqual(written.hash, read.hash);
  assert.equal(
    readFileSync(join(repo.dir, '.codex-autorunner/contextspace/decisions.md'), 'utf8'),
    '# Decisions\n\n- MCP first\n',
  );
  const stale = await call(client, 'contextspace_write', {
    kind: 'decisions',
    content: 'lost update',
    base_hash: read.hash,
  });
  assert.equal(stale.isError, true);
  assert.match(stale.text, /hash_mismatch/);
  const unknown = await call(client, 'contextspace_read', { kind: '../config' });
  assert.equal(unknown.isError, true);

  const { resources } = await client.listResources();
  const uris = resources.map((r) => r.uri);
  assert.ok(uris.includes(`car://tickets/${FIRST}`), uris.join('\n'));
  assert.ok(uris.includes('car://contextspace/decisions'), uris.join('\n'));
  const ticket = await client.readResource({ uri: `car://tickets/${FIRST}` });
  assert.match(String((ticket.contents[0] as { text?: string }).text), /^---\n/);
  const doc = await client.readResource({ uri: 'car://contextspace/decisions' });
  assert.equal((doc.contents[0] as { text?: string }).text, '# Decisions\n\n- MCP first\n');
});

test('flow tools start a run in a background worker, reply, resume, pause, stop, list runs and events', async () => {
  // a user ticket: the run pauses on it at once and waits for a person
  await ok(client, 'ticket_create', { title: 'Approve the plan', agent: 'user' });
  const started = await ok(client, 'flow_start', { new: true });
  assert.equal(typeof started.run_id, 'string');
  const runId = String(started.run_id);
  const status = async () => (await ok(client, 'flow_status')).run as { status: string; reason_code: string };
  await waitFor('the run to pause on the user ticket', async () => (await status()).status === 'paused');

  const replied = await ok(client, 'flow_reply', { text: 'Approved.', title: 'ok' });
  assert.equal(replied.run_id, runId);
  assert.ok(existsSync(join(repo.dir, String(replied.reply_file))), String(replied.reply_file));

  const resumed = await ok(client, 'flow_resume', { force: true });
  assert.equal(resumed.run_id, runId);
  await waitFor('the run to pause again', async () => (await status()).status === 'paused');
  const paused = await call(client, 'flow_pause');
  assert.equal(paused.isError, true, paused.text); // nothing to pause: the CLI's wrong-state refusal
  assert.match(paused.text, /exit code 4/);
  const stopped = await ok(client, 'flow_stop', { run: runId });
  assert.equal(stopped.status, 'stopped');

  const runs = await ok(client, 'flow_runs', { limit: 5 });
  assert.deepEqual(
    (runs.runs as Array<{ run_id: string }>).map((r) => r.run_id),
    [runId],
  );
  const events = (await ok(client, 'flow_events', { tail: 200 })).events as Array<{ type: string }>;
  assert.ok(
    events.some((e) => e.type === 'flow_paused'),
    JSON.stringify(events.map((e) => e.type)),
  );
  const filtered = (await ok(client, 'flow_events', { run: runId, types: ['flow_stopped'] }))
    .events as Array<{
    type: string;
  }>;
  assert.deepEqual(
    filtered.map((e) => e.type),
    ['flow_stopped'],
  );
});

test('a hub server names each repo by id, reports hub status, and refuses ids it does not have', async () => {
  let hub: TestHub | null = null;
  let hubClient: Client | null = null;
  try {
    hub = await makeHub();
    const dir = hub.gitRepo('alpha');
    assert.equal((await hub.run(['hub', 'add', dir])).code, 0);
    hubClient = await connect(hub.root, repo.env);
    const { tools } = await hubClient.listTools();
    assert.ok(tools.some((t) => t.name === 'hub_status'));
    assert.deepEqual(tools.find((t) => t.name === 'ticket_create')!.inputSchema.required?.sort(), [
      'repo',
      'title',
    ]);
    const status = await ok(hubClient, 'hub_status');
    assert.deepEqual(
      (status.repos as Array<{ id: string }>).map((r) => r.id),
      ['alpha'],
    );
    const created = await ok(hubClient, 'ticket_create', { repo: 'alpha', title: 'In alpha', agent: 'demo' });
    assert.ok(existsSync(join(dir, '.codex-autorunner/tickets', String(created.name))));
    const unknown = await call(hubClient, 'ticket_list', { repo: 'nope' });
    assert.equal(unknown.isError, true);
    assert.match(unknown.text, /no repo nope in the hub manifest/);
    const { resources } = await hubClient.listResources();
    assert.ok(resources.some((r) => r.uri === `car://repos/alpha/tickets/${created.name}`));
  } finally {
    await hubClient?.close();
    hub?.cleanup();
  }
});
