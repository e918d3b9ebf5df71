import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { createInterface } from 'node:readline';
import { after, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { repoPaths } from '../paths.ts';
import { createTicket, TicketCreateError } from './create.ts';
import { loadTicketQueue } from './queue.ts';
import { ticketIndexFromName } from './ticket.ts';

const here = dirname(fileURLToPath(import.meta.url));
const tmp = mkdtempSync(join(tmpdir(), 'car-create-'));
after(() => rmSync(tmp, { recursive: true, force: true }));
const AGENTS = new Set(['codex', 'demo', 'user']);

let repos = 0;
function repo() {
  const paths = repoPaths(join(tmp, `repo-${++repos}`));
  mkdirSync(paths.ticketsDir, { recursive: true });
  return paths;
}

const files = (dir: string) => readdirSync(dir).sort();

function refusal(code: TicketCreateError['code'], pattern: RegExp) {
  return (err: unknown) => {
    assert.ok(err instanceof TicketCreateError, String(err));
    assert.equal(err.code, code);
    assert.match(err.message, pattern);
    return true;
  };
}

describe('createTicket', () => {
  test('the next number after the highest, CAR frontmatter with a fresh id, the default body', () => {
    const paths = repo();
    writeFileSync(join(paths.ticketsDir, 'TICKET-007-old.md'), '---\nagent: codex\ndone: true\n---\n');
    const t = createTicket(paths, AGENTS, {
      agent: ' Demo ',
      title: ' Add per-IP rate limiting! ',
      goal: 'g',
    });
    assert.equal(t.name, 'TICKET-008-add-per-ip-rate-limiting.md');
    assert.equal(t.relPath, `.codex-autorunner/tickets/${t.name}`);
    const text = readFileSync(t.path, 'utf8');
    assert.equal(text, t.raw);
    assert.match(
      text,
      /^---\nticket_id: tkt_[0-9a-f]{32}\nagent: demo\ndone: false\ntitle: Add per-IP rate limiting!\ngoal: g\n---\n\n## Tasks\n/,
    );
    assert.deepEqual(t.issues, []);
    const bare = createTicket(paths, AGENTS, { agent: 'user', done: true, body: 'Decide.\n' });
    assert.equal(bare.name, 'TICKET-009.md');
    assert.equal(bare.isDone, true);
    assert.notEqual(bare.ticketId, t.ticketId);
    // the numbers' claims are gone again
    assert.deepEqual(
      files(paths.runsDir).filter((f) => f.endsWith('.claim')),
      [],
    );
  });

  test('a given number: used as is, refused when a file has it, whatever its suffix', () => {
    const paths = repo();
    writeFileSync(join(paths.ticketsDir, 'TICKET-010-taken.md'), '---\nagent: codex\ndone: false\n---\n');
    assert.equal(
      createTicket(paths, AGENTS, { agent: 'codex', slug: 'Owner Q', index: 5 }).name,
      'TICKET-005-owner-q.md',
    );
    const before = files(paths.ticketsDir);
    assert.throws(
      () => createTicket(paths, AGENTS, { agent: 'codex', title: 'Other', index: 10 }),
      refusal('number_taken', /ticket number 10 is taken by TICKET-010-taken\.md/),
    );
    assert.deepEqual(files(paths.ticketsDir), before);
  });

  test('an unknown agent and a ticket over an input limit are refused before anything is written', () => {
    const paths = repo();
    assert.throws(
      () => createTicket(paths, AGENTS, { agent: 'nobody' }),
      refusal('unknown_agent', /unknown agent "nobody" \(configured: codex, demo, user\)/),
    );
    assert.throws(
      () => createTicket(paths, AGENTS, { agent: 'codex', title: 'Big', goal: 'g'.repeat(40 * 1024) }),
      refusal(
        'too_large',
        /TICKET-001-big\.md not created: frontmatter is 40\.\d KiB, over the 32 KiB limit/,
      ),
    );
    assert.deepEqual(files(paths.ticketsDir), []);
    assert.equal(existsSync(paths.runsDir), false);
  });

  test('a number another writer is creating is skipped, not shared', () => {
    const paths = repo();
    writeFileSync(join(paths.ticketsDir, 'TICKET-001.md'), '---\nagent: codex\ndone: false\n---\n');
    // another writer holds number 2 while it writes TICKET-002-<its slug>.md
    mkdirSync(paths.runsDir, { recursive: true });
    writeFileSync(join(paths.runsDir, 'ticket-2.claim'), '');
    assert.equal(createTicket(paths, AGENTS, { agent: 'codex', title: 'Mine' }).name, 'TICKET-003-mine.md');
    assert.throws(
      () => createTicket(paths, AGENTS, { agent: 'codex', index: 2 }),
      refusal('number_taken', /ticket number 2 is being created by another writer/),
    );
  });
});

// Creates TICKETS tickets as fast as it can once GO_FILE exists, each with its own slug.
const WRITER = `
const { existsSync } = await import('node:fs');
const { createTicket } = await import(process.env.CREATE_MODULE);
const { repoPaths } = await import(process.env.PATHS_MODULE);
const paths = repoPaths(process.env.ROOT);
console.log('ready');
const tick = new Int32Array(new SharedArrayBuffer(4));
while (!existsSync(process.env.GO_FILE)) Atomics.wait(tick, 0, 0, 1);
for (let i = 0; i < Number(process.env.TICKETS); i++) {
  const t = createTicket(paths, new Set(['codex']), { agent: 'codex', slug: process.env.WRITER + '-' + i });
  console.log(t.name);
}
`;

function writer(env: Record<string, string>): {
  child: ChildProcess;
  ready: Promise<void>;
  names: Promise<string[]>;
} {
  const child = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', WRITER], {
    cwd: join(here, '..', '..', '..'),
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stderr = '';
  child.stderr!.on('data', (d: Buffer) => {
    stderr += d.toString();
  });
  const lines: string[] = [];
  let ready!: () => void;
  const readyP = new Promise<void>((r) => {
    ready = r;
  });
  createInterface({ input: child.stdout! }).on('line', (line) => {
    if (line === 'ready') ready();
    else lines.push(line);
  });
  const names = new Promise<string[]>((resolve, reject) => {
    child.on('exit', (code) =>
      code === 0 ? resolve(lines) : reject(new Error(`writer exited ${code}: ${stderr}`)),
    );
  });
  return { child, ready: readyP, names };
}

test('writers in four processes at once never give two tickets one number', async () => {
  const paths = repo();
  const go = join(tmp, `go-${repos}`);
  const writers = ['a', 'b', 'c', 'd'].map((name) =>
    writer({
      CREATE_MODULE: join(here, 'create.ts'),
      PATHS_MODULE: join(here, '..', 'paths.ts'),
      ROOT: paths.root,
      GO_FILE: go,
      TICKETS: '10',
      WRITER: name,
    }),
  );
  await Promise.all(writers.map((w) => w.ready));
  writeFileSync(go, '');
  const created = (await Promise.all(writers.map((w) => w.names))).flat();
  assert.equal(created.length, 40);
  const numbers = files(paths.ticketsDir).map((name) => ticketIndexFromName(name));
  assert.deepEqual(
    numbers,
    Array.from({ length: 40 }, (_, i) => i + 1),
  );
  const queue = loadTicketQueue(paths.ticketsDir, { repoRoot: paths.root });
  assert.deepEqual(queue.issues, []);
});
