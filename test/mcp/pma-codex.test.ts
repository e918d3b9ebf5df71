// `car pma -m`, the BUILT CLI, with the REAL codex app-server (offline, against the local fake Responses
// API) given car's MCP server: the scripted model calls car's ticket_create tool, and the ticket is on
// disk and lints. A second `car pma -m` continues the same codex thread; the transcript is in car.db.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, test } from 'node:test';
import Database from 'better-sqlite3';
import { inputTexts, mcpToolCallReply, messageReply, type RecordedRequest } from '../fakes/responses-api.ts';
import { CAR_JS, runCar } from '../helpers/built-car.ts';
import { assertNothingLeft, type CodexQueue, codexQueue, TICKETS_DIR } from '../helpers/codex-queue.ts';
import { waitFor } from '../helpers/wait.ts';
import { makeHub } from '../hub/helpers.ts';

const queues: CodexQueue[] = [];
afterEach(async () => {
  for (const q of queues.splice(0)) await q.cleanup();
});

const lastOutput = (req: RecordedRequest): string => {
  const item = (req.body?.input ?? []).at(-1);
  return item?.type === 'function_call_output' ? JSON.stringify(item.output) : '';
};

test("car pma -m: the real codex calls car's MCP tool to create a ticket, which exists and lints", async () => {
  const q = await codexQueue(0);
  queues.push(q);
  q.fake.enqueue(
    mcpToolCallReply(
      'car',
      'ticket_create',
      {
        title: 'Write the README',
        agent: 'codex',
        goal: 'a README that says what the project is',
        body: '## Tasks\n- write README.md\n\n## Acceptance\n- README.md exists\n',
      },
      'call_create',
    ),
    (req) => {
      const out = lastOutput(req);
      return messageReply(
        ['Created ', out.includes('TICKET-001') ? 'TICKET-001' : `nothing: ${out}`],
        'msg_a',
      );
    },
  );
  const r = await runCar(['pma', '-m', 'Plan the README work'], {
    cwd: q.repo.dir,
    env: q.env,
    timeoutMs: 120_000,
  });
  const output = `exit ${r.code}\n${r.stdout}\n${r.stderr}`;
  assert.equal(r.code, 0, output);
  assert.equal(r.stdout, 'Created TICKET-001\n', output);
  assert.match(r.stderr, /\[car\.ticket_create\]/, 'the tool call is shown');

  const files = readdirSync(join(q.repo.dir, TICKETS_DIR)).filter((f) => f.startsWith('TICKET-'));
  assert.deepEqual(files, ['TICKET-001-write-the-readme.md']);
  const ticket = readFileSync(join(q.repo.dir, TICKETS_DIR, files[0]!), 'utf8');
  assert.match(ticket, /^title: Write the README$/m);
  assert.match(ticket, /^agent: codex$/m);
  const lint = await runCar(['ticket', 'lint'], { cwd: q.repo.dir, env: q.env });
  assert.equal(lint.code, 0, lint.stdout + lint.stderr);

  // the model saw car's tools and the PMA briefing with the user's message
  const first = q.fake.requests[0]!;
  assert.ok(
    first.body?.tools?.some((t) => t.name === 'mcp__car'),
    'codex was given car as mcp__car',
  );
  const shown = inputTexts(first, 'user').join('\n');
  assert.match(shown, /project manager agent/);
  assert.match(shown, /<car_describe>/);
  assert.match(shown, /<user_message>\nPlan the README work\n<\/user_message>/);

  // the next message continues the same thread (codex resumes it: the model sees the earlier turn)
  q.fake.enqueue(messageReply('It is queued as TICKET-001.', 'msg_b'));
  const again = await runCar(['pma', '-m', 'What did you do?'], {
    cwd: q.repo.dir,
    env: q.env,
    timeoutMs: 120_000,
  });
  assert.equal(again.code, 0, `${again.stdout}\n${again.stderr}`);
  assert.equal(again.stdout, 'It is queued as TICKET-001.\n');
  const followUp = q.fake.requests.at(-1)!;
  const seen = inputTexts(followUp, 'user');
  assert.equal(seen.at(-1), 'What did you do?', 'no second briefing on a resumed thread');
  assert.ok(
    seen.some((t) => t.includes('Plan the README work')),
    'the earlier turn is in the thread',
  );

  const db = new Database(join(q.repo.dir, '.codex-autorunner/car.db'), { readonly: true });
  try {
    const rows = db.prepare('SELECT role, text FROM pma_messages ORDER BY id').all() as Array<{
      role: string;
      text: string;
    }>;
    assert.deepEqual(rows, [
      { role: 'user', text: 'Plan the README work' },
      { role: 'assistant', text: 'Created TICKET-001' },
      { role: 'user', text: 'What did you do?' },
      { role: 'assistant', text: 'It is queued as TICKET-001.' },
    ]);
  } finally {
    db.close();
  }
  await assertNothingLeft(q.repo.dir);
});

test('car pma: a pma.agent that is not configured is exit 3 naming the key, and nothing runs', async () => {
  const q = await codexQueue(0);
  queues.push(q);
  const r = await runCar(['pma', '-m', 'hello'], {
    cwd: q.repo.dir,
    env: { ...q.env, CAR__PMA__AGENT: 'nobody' },
  });
  assert.equal(r.code, 3, r.stderr);
  assert.match(r.stderr, /pma\.agent: agent "nobody" is not configured/);
  assert.equal(q.fake.requests.length, 0);
  const demo = await runCar(['pma', '-m', 'hello'], {
    cwd: q.repo.dir,
    env: { ...q.env, CAR__PMA__AGENT: 'demo' },
  });
  assert.equal(demo.code, 3, demo.stderr);
  assert.match(demo.stderr, /cannot be given MCP servers/);
});

test('car pma in a hub: the PMA is given the hub (every repo) and makes a ticket in the repo it names', async () => {
  const q = await codexQueue(0);
  queues.push(q);
  const hub = await makeHub();
  try {
    const alpha = hub.gitRepo('alpha');
    assert.equal((await hub.run(['hub', 'add', alpha])).code, 0);
    q.fake.enqueue(
      mcpToolCallReply(
        'car',
        'ticket_create',
        { repo: 'alpha', title: 'Hub planned', agent: 'codex' },
        'call_h',
      ),
      (req) =>
        messageReply(
          lastOutput(req).includes('TICKET-001') ? 'Made it in alpha.' : `failed: ${lastOutput(req)}`,
          'msg_h',
        ),
    );
    const r = await runCar(['pma', '-m', 'Plan something in alpha'], {
      cwd: hub.root,
      env: q.env,
      timeoutMs: 120_000,
    });
    assert.equal(r.code, 0, `${r.stdout}\n${r.stderr}`);
    assert.equal(r.stdout, 'Made it in alpha.\n');
    assert.deepEqual(
      readdirSync(join(alpha, TICKETS_DIR)).filter((f) => f.startsWith('TICKET-')),
      ['TICKET-001-hub-planned.md'],
    );
    const shown = inputTexts(q.fake.requests[0]!, 'user').join('\n');
    assert.match(shown, /project manager agent \(PMA\) for the hub/);
    assert.match(shown, /<hub_state>[\s\S]*"id": "alpha"/);
    // the hub's conversations are in the hub's chat.db, not in a repo
    const db = new Database(join(hub.root, '.codex-autorunner/chat.db'), { readonly: true });
    try {
      assert.equal((db.prepare('SELECT count(*) AS n FROM pma_messages').get() as { n: number }).n, 2);
    } finally {
      db.close();
    }
    await assertNothingLeft(hub.root);
  } finally {
    hub.cleanup();
  }
});

test('car pma without -m: a terminal chat, one answer per line typed, until stdin ends', async () => {
  const q = await codexQueue(0);
  queues.push(q);
  q.fake.enqueue(messageReply('First answer.', 'msg_1'), messageReply('Second answer.', 'msg_2'));
  const child = spawn(process.execPath, [CAR_JS, 'pma'], {
    cwd: q.repo.dir,
    env: q.env,
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (c: Buffer) => (stdout += c.toString('utf8')));
  child.stderr.on('data', (c: Buffer) => (stderr += c.toString('utf8')));
  const exited = new Promise<number | null>((resolve) => child.once('close', resolve));
  child.stdin.write('hello\n');
  await waitFor('the first answer', () => stdout.includes('First answer.\n'), 120_000);
  child.stdin.write('\nand then?\n');
  await waitFor('the second answer', () => stdout.includes('Second answer.\n'), 120_000);
  child.stdin.end();
  assert.equal(await exited, 0, `${stdout}\n${stderr}`);
  assert.equal(stdout, 'First answer.\nSecond answer.\n');
  assert.match(stderr, /car pma \(codex\): type a message/);
  assert.equal(q.fake.requests.length, 2, 'an empty line asks nothing');
  await assertNothingLeft(q.repo.dir);
});
