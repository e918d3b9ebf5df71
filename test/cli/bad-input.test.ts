// Acceptance: input that is invalid on disk blocks the command with exit 3 and changes nothing. Each
// case compares the sha256 of every file in the repo, .git included, before and after.
import assert from 'node:assert/strict';
import { afterEach, describe, test } from 'node:test';
import { type CarRepo, makeCarRepo, snapshot, TICKETS_DIR, ticketText, tid } from '../helpers/cli.ts';

const cleanups: (() => void)[] = [];
afterEach(() => {
  for (const fn of cleanups.splice(0)) fn();
});

/** A repo with car initialized, one good and two malformed tickets, everything staged in the index. */
async function repoWithBadTickets(): Promise<CarRepo> {
  const r = await makeCarRepo();
  cleanups.push(r.cleanup);
  r.ticket('TICKET-001-good.md', ticketText({ id: tid(1), title: 'Good' }));
  r.ticket('TICKET-002-no-frontmatter.md', '# Just a heading\n\ndone: false\n');
  r.ticket('TICKET-003-bad-yaml.md', '---\nticket_id: tkt_x\nagent: [codex\ndone: false\n---\nbody\n');
  r.ticket(
    'TICKET-004-unclosed.md',
    '---\nticket_id: tkt_00000000000000000000000000000004\nagent: codex\ndone: false\n',
  );
  r.git(['add', '-A']);
  return r;
}

async function assertRefused(r: CarRepo, argv: string[], stderr: RegExp[]): Promise<void> {
  const before = snapshot(r.dir);
  assert.ok(before.has('.git/index'), 'the snapshot covers the git index');
  const res = await r.run(argv);
  assert.equal(res.code, 3, `car ${argv.join(' ')}: ${res.stderr}`);
  for (const re of stderr) assert.match(res.stderr, re, `car ${argv.join(' ')}`);
  assert.deepEqual(snapshot(r.dir), before, `car ${argv.join(' ')} changed files`);
}

describe('malformed tickets', () => {
  test('ticket done / reopen / edit-field on a ticket without frontmatter: exit 3, no change', async () => {
    const r = await repoWithBadTickets();
    const file = /TICKET-002-no-frontmatter\.md/;
    await assertRefused(r, ['ticket', 'done', '2'], [file, /frontmatter/]);
    await assertRefused(r, ['ticket', 'reopen', '2'], [file]);
    await assertRefused(r, ['ticket', 'edit-field', '2', 'title', 'x'], [file]);
    await assertRefused(r, ['ticket', 'done', '2', '--json'], [file]);
  });

  test('ticket done on invalid YAML or an unclosed frontmatter: exit 3, no change', async () => {
    const r = await repoWithBadTickets();
    await assertRefused(r, ['ticket', 'done', '3'], [/TICKET-003-bad-yaml\.md/, /YAML/]);
    await assertRefused(r, ['ticket', 'done', 'TICKET-004-unclosed.md'], [/TICKET-004-unclosed\.md/]);
    await assertRefused(r, ['ticket', 'edit-field', '3', 'agent', 'demo'], [/TICKET-003-bad-yaml\.md/]);
  });

  test('the good ticket next to them can still be edited', async () => {
    const r = await repoWithBadTickets();
    const res = await r.run(['ticket', 'done', '1']);
    assert.equal(res.code, 0, res.stderr);
    assert.match(r.read(`${TICKETS_DIR}/TICKET-001-good.md`), /^done: true$/m);
  });
});

describe('a bad config file', () => {
  const BAD = 'version: 2\nticket_flow: {max_total_turns: ten}\n';
  const where = [/\.codex-autorunner\/config\.yml/, /ticket_flow\.max_total_turns/];

  async function repoWithBadConfig(): Promise<CarRepo> {
    const r = await repoWithBadTickets();
    r.write('.codex-autorunner/config.yml', BAD);
    r.git(['add', '-A']);
    return r;
  }

  test('every ticket command exits 3 naming the file and key path, and writes nothing', async () => {
    const r = await repoWithBadConfig();
    await assertRefused(r, ['ticket', 'list'], where);
    await assertRefused(r, ['ticket', 'list', '--json'], where);
    await assertRefused(r, ['ticket', 'show', '1'], where);
    await assertRefused(r, ['ticket', 'new', 'Blocked'], where);
    await assertRefused(r, ['ticket', 'done', '1'], where);
    await assertRefused(r, ['ticket', 'reopen', '1'], where);
    await assertRefused(r, ['ticket', 'edit-field', '1', 'title', 'x'], where);
    await assertRefused(r, ['ticket', 'lint', '--fix-ticket-ids'], where);
  });

  test('invalid YAML syntax in config.yml: exit 3 with the file and a line', async () => {
    const r = await repoWithBadTickets();
    r.write('.codex-autorunner/config.yml', 'version: 2\nticket_flow:\n  max_total_turns: [1\n');
    r.git(['add', '-A']);
    await assertRefused(r, ['ticket', 'list'], [/\.codex-autorunner\/config\.yml:\d+/]);
  });

  test('a bad environment override is reported by variable name', async () => {
    const r = await repoWithBadTickets();
    const before = snapshot(r.dir);
    const res = await r.run(['ticket', 'new', 'x'], { env: { CAR__TICKET_FLOW__MAX_TOTAL_TURNS: 'lots' } });
    assert.equal(res.code, 3, res.stderr);
    assert.match(res.stderr, /CAR__TICKET_FLOW__MAX_TOTAL_TURNS/);
    assert.deepEqual(snapshot(r.dir), before);
  });

  test('describe still describes, with the config error in config_error, and writes nothing', async () => {
    const r = await repoWithBadConfig();
    const before = snapshot(r.dir);
    const res = await r.run(['describe', '--json']);
    assert.equal(res.code, 0, res.stderr);
    const out = JSON.parse(res.stdout) as { config_error: string | null; commands: unknown[] };
    assert.match(out.config_error ?? '', /ticket_flow\.max_total_turns/);
    assert.ok(out.commands.length > 10);
    assert.deepEqual(snapshot(r.dir), before);
  });

  test('doctor reports it as a failed check (exit 1) and writes nothing', async () => {
    const r = await repoWithBadConfig();
    const before = snapshot(r.dir);
    const res = await r.run(['doctor', '--json']);
    assert.equal(res.code, 1);
    const out = JSON.parse(res.stdout) as {
      ok: boolean;
      checks: { id: string; status: string; message: string }[];
    };
    assert.equal(out.ok, false);
    const config = out.checks.find((c) => c.id === 'config');
    assert.equal(config?.status, 'error');
    assert.match(config?.message ?? '', /ticket_flow\.max_total_turns/);
    assert.deepEqual(snapshot(r.dir), before);
  });
});

describe('invalid edit-field values', () => {
  test('each is refused with exit 3 and no byte changes', async () => {
    const r = await repoWithBadTickets();
    await assertRefused(r, ['ticket', 'edit-field', '1', 'done', 'maybe'], [/refusing/, /done/]);
    await assertRefused(r, ['ticket', 'edit-field', '1', 'done', 'null'], [/done/]);
    await assertRefused(r, ['ticket', 'edit-field', '1', 'done', 'true', '--string'], [/done/]);
    await assertRefused(r, ['ticket', 'edit-field', '1', 'agent', 'nobody'], [/nobody/]);
    await assertRefused(r, ['ticket', 'edit-field', '1', 'agent', ''], [/agent/]);
    await assertRefused(r, ['ticket', 'edit-field', '1', 'ticket_id', 'bad id!'], [/ticket_id/]);
  });
});
