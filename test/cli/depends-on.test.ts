// `depends_on` through the built CLI: lint names the file and the chain, `car ticket new --depends-on`
// writes the key (and refuses a target that does not exist or a cycle, writing nothing), and list,
// show, flow status and describe report the dependencies.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, test } from 'node:test';
import { type BuiltCarRepo, json, makeBuiltCarRepo } from '../helpers/built-car.ts';
import { snapshot, TICKETS_DIR, tid } from '../helpers/cli.ts';

const cleanups: (() => void)[] = [];
afterEach(() => {
  for (const fn of cleanups.splice(0)) fn();
});

async function repo(): Promise<BuiltCarRepo> {
  const r = await makeBuiltCarRepo();
  cleanups.push(r.cleanup);
  return r;
}

/** Writes ticket `n` (`TICKET-<nnn>[-slug].md`) with `depends_on` as written, if given. */
function ticket(r: BuiltCarRepo, n: number, opts: { depends?: string; done?: boolean; slug?: string } = {}) {
  const lines = ['---', `ticket_id: ${tid(n)}`, 'agent: codex', `done: ${opts.done ?? false}`];
  if (opts.depends !== undefined) lines.push(`depends_on: ${opts.depends}`);
  const name = `TICKET-${String(n).padStart(3, '0')}${opts.slug ? `-${opts.slug}` : ''}.md`;
  r.write(`${TICKETS_DIR}/${name}`, `${lines.join('\n')}\n---\n\nTicket ${n}.\n`);
  return `${TICKETS_DIR}/${name}`;
}

const read = (r: BuiltCarRepo, rel: string) => readFileSync(join(r.dir, rel), 'utf8');

interface Issue {
  file: string;
  line?: number;
  field?: string;
  message: string;
  code: string;
  severity: string;
}

test('car ticket lint: unknown targets and cycles are errors naming the file and the chain', async () => {
  const r = await repo();
  ticket(r, 10, { depends: '[TICKET-030]' });
  ticket(r, 20, { depends: '[20]' });
  ticket(r, 30, { depends: '[10, TICKET-099]' });
  ticket(r, 40, { depends: '[0x10]' });
  ticket(r, 50, { depends: '[10]', done: true });

  const res = await r.run(['ticket', 'lint']);
  assert.equal(res.code, 1, res.stderr);
  assert.equal(
    res.stdout,
    [
      `${TICKETS_DIR}/TICKET-030.md:5: error: depends_on: unknown ticket TICKET-099: no ticket has that number, file name or ticket_id`,
      `${TICKETS_DIR}/TICKET-010.md:5: error: depends_on: cycle TICKET-010 -> TICKET-030 -> TICKET-010`,
      `${TICKETS_DIR}/TICKET-020.md:5: error: depends_on: cycle TICKET-020 -> TICKET-020`,
      `${TICKETS_DIR}/TICKET-040.md:5: error: depends_on[0]: frontmatter.depends_on[0] must be a ticket number (decimal digits), a ticket name (TICKET-010), a file name or a ticket_id.`,
      '4 error(s) in 5 ticket(s).',
      '',
    ].join('\n'),
  );
  const asJson = json<{ ok: boolean; issues: Issue[] }>(await r.run(['ticket', 'lint', '--json']));
  assert.equal(asJson.ok, false);
  assert.deepEqual(
    asJson.issues.map((i) => i.code),
    ['depends-on-unknown', 'depends-on-cycle', 'depends-on-cycle', 'depends-on-invalid'],
  );
});

test('car ticket new --depends-on writes the key; a target that names no ticket or a cycle writes nothing', async () => {
  const r = await repo();
  const ten = ticket(r, 10);
  ticket(r, 20, { slug: 'api' });
  const created = await r.run(['ticket', 'new', 'Third', '--depends-on', `10, TICKET-020-api.md,${tid(20)}`]);
  assert.equal(created.code, 0, created.stderr);
  assert.equal(created.stdout, `created ${TICKETS_DIR}/TICKET-021-third.md\n`);
  const text = read(r, `${TICKETS_DIR}/TICKET-021-third.md`);
  assert.match(
    text,
    new RegExp(
      `\\ntitle: Third\\ndepends_on:\\n- TICKET-010\\n- TICKET-020-api\\.md\\n- ${tid(20)}\\n---\\n`,
    ),
  );
  assert.equal((await r.run(['ticket', 'lint'])).code, 0, 'it lints clean');

  const before = snapshot(r.dir);
  const unknown = await r.run(['ticket', 'new', 'Fourth', '--depends-on', '10,77']);
  assert.equal(unknown.code, 2);
  assert.equal(
    unknown.stderr,
    'car: TICKET-022-fourth.md not created: depends_on: unknown ticket TICKET-077: no ticket has that number, file name or ticket_id\n',
  );
  // ticket 10 waits for number 30, which does not exist yet: creating it depending on 10 closes a cycle
  r.write(ten, read(r, ten).replace('done: false', 'done: false\ndepends_on: [30]'));
  const cycleBefore = snapshot(r.dir);
  const cycle = await r.run(['ticket', 'new', 'Loop', '--at', '30', '--depends-on', '10']);
  assert.equal(cycle.code, 2);
  assert.match(
    cycle.stderr,
    /TICKET-030-loop\.md not created: depends_on: cycle TICKET-010 -> TICKET-030 -> TICKET-010/,
  );
  assert.deepEqual(snapshot(r.dir), cycleBefore);
  assert.notDeepEqual(cycleBefore, before, 'only the hand edit changed the repo');
});

test('list, show, flow status and describe report dependencies; car edits keep depends_on bytes', async () => {
  const r = await repo();
  // a diamond 10 -> {20, 30} -> 40, written the ways depends_on takes a ticket
  const odd = 'depends_on: [ 20 ,  TICKET-030 ]   # both halves';
  r.write(
    `${TICKETS_DIR}/TICKET-040.md`,
    `---\nticket_id: ${tid(40)}\nagent: codex\ndone: false\n${odd}\n---\n`,
  );
  ticket(r, 10);
  ticket(r, 20, { depends: `[${tid(10)}]` });
  ticket(r, 30, { depends: '\n  - TICKET-010.md' });

  interface Listed {
    index: number;
    depends_on: string[];
    blocked_by: string[];
  }
  const list = async () =>
    json<{ tickets: Listed[]; next: string | null }>(await r.run(['ticket', 'list', '--json']));
  const path = (n: number) => `${TICKETS_DIR}/TICKET-${String(n).padStart(3, '0')}.md`;
  let listed = await list();
  assert.deepEqual(
    listed.tickets.map((t) => [t.index, t.depends_on, t.blocked_by]),
    [
      [10, [], []],
      [20, [path(10)], [path(10)]],
      [30, [path(10)], [path(10)]],
      [40, [path(20), path(30)], [path(20), path(30)]],
    ],
  );
  assert.equal(listed.next, path(10));

  // car's own edit of the ticket leaves the depends_on line as written
  assert.equal((await r.run(['ticket', 'done', '10'])).code, 0);
  listed = await list();
  assert.deepEqual(listed.tickets[3]?.blocked_by, [path(20), path(30)]);
  assert.deepEqual(listed.tickets[1]?.blocked_by, []);
  assert.equal(listed.next, path(20));
  assert.equal((await r.run(['ticket', 'done', 'TICKET-040'])).code, 0, 'a TICKET-<n> ref names the ticket');
  assert.match(read(r, path(40)), new RegExp(`\\ndone: true\\n${odd.replace(/[[\]]/g, '\\$&')}\\n`));
  assert.equal((await r.run(['ticket', 'reopen', '40'])).code, 0);

  const text = await r.run(['ticket', 'list']);
  assert.match(text.stdout, /^020\s+open\*\s/m);
  assert.match(text.stdout, /^040\s+blocked\s/m);
  assert.match(text.stdout, /4 tickets: 1 done, 3 open, 0 invalid, 1 blocked \(\* = next: TICKET-020\.md\)/);

  const shown = json<Listed>(await r.run(['ticket', 'show', '40', '--json']));
  assert.deepEqual(shown.depends_on, [path(20), path(30)]);

  const status = json<{
    tickets: { total: number; done: number; next: string | null; blocked: number; invalid: unknown[] };
  }>(await r.run(['flow', 'status', '--json']));
  assert.deepEqual(status.tickets, { total: 4, done: 1, next: path(20), blocked: 1, invalid: [] });

  const described = json<{
    tickets: { frontmatter_schema: { properties: Record<string, { description: string }> } };
  }>(await r.run(['describe', '--json']));
  assert.match(
    described.tickets.frontmatter_schema.properties.depends_on?.description ?? '',
    /dependencies_blocked/,
  );
});
