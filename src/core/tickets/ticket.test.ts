import assert from 'node:assert/strict';
import { cpSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { cpuTimeMs } from '../../../test/helpers/cpu.ts';
import { loadTicketQueue, nextTicketIndex, ticketFileName } from './queue.ts';
import { autoTicketId, newTicketId, parseTicket, ticketIndexFromName } from './ticket.ts';

const FIXTURES = join(import.meta.dirname, '../../../test/fixtures/tickets');
const tmp = mkdtempSync(join(tmpdir(), 'car-tickets-'));
after(() => rmSync(tmp, { recursive: true, force: true }));

describe('ticket names and ids', () => {
  test('ticketIndexFromName follows CAR’s case-insensitive regex', () => {
    assert.equal(ticketIndexFromName('TICKET-001.md'), 1);
    assert.equal(ticketIndexFromName('TICKET-120-api-parity.md'), 120);
    assert.equal(ticketIndexFromName('ticket-0042_foo.md'), 42);
    assert.equal(ticketIndexFromName('TICKET-12.md'), null);
    assert.equal(ticketIndexFromName('TICKET-001.txt'), null);
    assert.equal(ticketIndexFromName('TICKET-001.md.bak'), null);
  });

  test('autoTicketId hashes the path from .codex-autorunner on (values from CAR)', () => {
    assert.equal(
      autoTicketId('/home/u/repo/.codex-autorunner/tickets/TICKET-001.md'),
      'tkt_auto_9c8f82fd9f33792ab45735599281f846',
    );
    assert.equal(
      autoTicketId('/elsewhere/.codex-autorunner/tickets/TICKET-001.md'),
      autoTicketId('/x/.codex-autorunner/tickets/TICKET-001.md'),
    );
    assert.equal(autoTicketId('/x/TICKET-002.md'), 'tkt_auto_713bd2f1d3fc97dbae3faa6dd8cc3a93');
  });

  test('newTicketId is tkt_ + uuid4 hex', () => {
    assert.match(newTicketId(), /^tkt_[0-9a-f]{12}4[0-9a-f]{3}[89ab][0-9a-f]{15}$/);
    assert.notEqual(newTicketId(), newTicketId());
  });

  test('ticketFileName zero-pads to three digits', () => {
    assert.equal(ticketFileName(7), 'TICKET-007.md');
    assert.equal(ticketFileName(7, 'fix-login'), 'TICKET-007-fix-login.md');
    assert.equal(ticketFileName(1234), 'TICKET-1234.md');
    assert.throws(() => ticketFileName(-1), RangeError);
    assert.throws(() => ticketFileName(1, 'a/b'), RangeError);
  });

  test('nextTicketIndex is max + 1, never filling gaps', () => {
    assert.equal(nextTicketIndex([]), 1);
    assert.equal(nextTicketIndex([{ index: 10 }, { index: 30 }, { index: 20 }]), 31);
  });
});

describe('parseTicket', () => {
  const opts = {
    path: '/r/.codex-autorunner/tickets/TICKET-005.md',
    relPath: '.codex-autorunner/tickets/TICKET-005.md',
  };

  test('agents are only checked when a set is given', () => {
    const text = '---\nagent: OMP\ndone: true\n---\n';
    const free = parseTicket(text, opts);
    assert.equal(free.valid, true);
    assert.equal(free.agent, 'omp');
    assert.equal(free.isDone, true);
    const checked = parseTicket(text, { ...opts, agents: new Set(['codex', 'user']) });
    assert.equal(checked.isDone, false);
    assert.equal(checked.issues[0]?.message, "frontmatter.agent is invalid: Unknown agent: 'OMP'");
    assert.equal(checked.issues[0]?.line, 2);
  });

  test('the auto id uses the repo-relative identity path', () => {
    const t = parseTicket('---\nagent: codex\ndone: false\n---\n', opts);
    assert.equal(t.ticketIdIsAuto, true);
    assert.equal(t.ticketId, autoTicketId(opts.path));
  });

  test('a non-ticket file name is an issue and has no index', () => {
    const t = parseTicket('---\nagent: codex\ndone: true\n---\n', {
      path: '/r/notes.md',
      relPath: 'notes.md',
    });
    assert.equal(t.index, null);
    assert.equal(t.issues[0]?.code, 'filename-invalid');
    assert.equal(t.isDone, false);
  });

  test('unknown keys are kept verbatim in extra and in frontmatter', () => {
    const t = parseTicket(
      '---\nagent: codex\ndone: false\ndepends_on: [a]\ncreated: 2026-01-02\n---\n',
      opts,
    );
    assert.deepEqual(t.extra, { depends_on: ['a'], created: '2026-01-02' });
    assert.deepEqual(t.frontmatter, {
      agent: 'codex',
      done: false,
      depends_on: ['a'],
      created: '2026-01-02',
    });
  });
});

// CAR runs on Python: where Python's str, re and dict semantics differ from JavaScript's, car follows
// Python (the full comparison is test/differential).
describe('CAR’s rules as Python applies them', () => {
  const opts = {
    path: '/r/.codex-autorunner/tickets/TICKET-005.md',
    relPath: '.codex-autorunner/tickets/TICKET-005.md',
    agents: new Set(['codex', 'hermes', 'user']),
  };
  const codes = (text: string) => parseTicket(text, opts).issues.map((i) => i.code);

  test('ticket names: `$` before a final newline, Unicode digits, Python’s case folding', () => {
    assert.equal(ticketIndexFromName('TICKET-001.md\n'), 1);
    assert.equal(ticketIndexFromName('TICKET-001.md\n\n'), null);
    assert.equal(ticketIndexFromName('TICKET-١٢٣-arabic.md'), 123);
    assert.equal(ticketIndexFromName('TICKET-００７.md'), 7);
    assert.equal(ticketIndexFromName('TIC\u212aET-002.md'), 2);
    assert.equal(ticketIndexFromName('T\u0131CKET-003.md'), 3);
    assert.equal(ticketIndexFromName('TICKET-001.ｍｄ'), null);
  });

  test('a BOM hides the frontmatter from CAR, so it is an error', () => {
    const t = parseTicket('\ufeff---\nagent: codex\ndone: true\n---\n', opts);
    assert.deepEqual(codes('\ufeff---\nagent: codex\ndone: true\n---\n'), ['bom']);
    assert.equal(t.frontmatter, null);
    assert.equal(t.isDone, false);
    assert.deepEqual(codes('\ufeff'), ['bom']);
  });

  test('only an agent of exactly `user` is the human step; others are lowercased (not their profile)', () => {
    assert.deepEqual(codes('---\nagent: User\ndone: false\n---\n'), ['agent-invalid']);
    const codex = parseTicket('---\nagent: Codex\nprofile: acceptEdits\ndone: false\n---\n', opts);
    assert.deepEqual([codex.agent, codex.profile, codex.valid], ['codex', 'acceptEdits', true]);
    const user = parseTicket('---\nagent: " user "\nprofile: Fast\ndone: false\n---\n', opts);
    assert.deepEqual([user.agent, user.profile, user.valid], ['user', 'Fast', true]);
    const alias = parseTicket('---\nagent: "Hermes-M4\\nx"\ndone: false\n---\n', opts);
    assert.deepEqual([alias.agent, alias.profile], ['hermes', 'm4\nx']);
  });

  test('str() strips Python’s whitespace; a date is no str', () => {
    const t = parseTicket(
      '---\nticket_id: "\\x1ftkt_abcdef"\nagent: codex\ndone: false\ntitle: "\\x85T\\ufeff"\n---\n',
      opts,
    );
    assert.deepEqual([t.ticketId, t.title], ['tkt_abcdef', 'T\ufeff']);
    const dated = parseTicket(
      '---\nagent: codex\ndone: false\ntitle: 2026-08-14\ngoal: "2026-08-14"\n---\n',
      opts,
    );
    assert.deepEqual([dated.title, dated.goal, dated.frontmatter?.title], [null, '2026-08-14', '2026-08-14']);
    assert.deepEqual(codes('---\nticket_id: 2026-08-14\nagent: codex\ndone: false\n---\n'), [
      'ticket-id-invalid',
    ]);
    assert.deepEqual(codes('---\nagent: codex\ndone: false\ncontext:\n  - path: 2026-08-14\n---\n'), [
      'context-path-missing',
    ]);
  });

  test('lines end where Python’s splitlines() ends them, fences included', () => {
    const t = parseTicket('---\u2028agent: codex\fdone: true\x85title: "a\u2029b"\x1c---\x1f\nbody', opts);
    assert.deepEqual([t.valid, t.done, t.title], [true, true, 'a b']);
  });
});

describe('loadTicketQueue', () => {
  test('directory rules on the dupes fixture', () => {
    const root = join(tmp, 'repo');
    const dir = join(root, '.codex-autorunner', 'tickets');
    mkdirSync(dir, { recursive: true });
    cpSync(join(FIXTURES, 'dupes'), dir, { recursive: true });
    const { tickets, issues } = loadTicketQueue(dir, { repoRoot: root, agents: new Set(['codex', 'user']) });
    assert.deepEqual(
      tickets.map((t) => [t.index, t.name]),
      [
        [1, 'TICKET-001-first.md'],
        [1, 'TICKET-001-second.md'],
        [2, 'TICKET-002.md'],
        [10, 'ticket-0010_lowercase.md'],
      ],
    );
    assert.equal(tickets[0]?.relPath, '.codex-autorunner/tickets/TICKET-001-first.md');
    assert.deepEqual(issues, [
      {
        file: '.codex-autorunner/tickets/README.txt',
        message: 'Invalid ticket filename; expected TICKET-<number>[suffix].md (e.g. TICKET-001-foo.md)',
        code: 'filename-invalid',
        severity: 'error',
      },
      {
        file: '.codex-autorunner/tickets/TICKET-12.md',
        message: 'Invalid ticket filename; expected TICKET-<number>[suffix].md (e.g. TICKET-001-foo.md)',
        code: 'filename-invalid',
        severity: 'error',
      },
      {
        file: '.codex-autorunner/tickets/TICKET-001-first.md',
        message:
          "Duplicate ticket index 001: multiple files share the same index ('TICKET-001-first.md', 'TICKET-001-second.md'). Rename or remove duplicates to ensure deterministic ordering.",
        code: 'duplicate-index',
        severity: 'error',
      },
      {
        file: '.codex-autorunner/tickets/TICKET-001-first.md',
        field: 'ticket_id',
        message:
          "Duplicate ticket_id 'tkt_shared_id_1': multiple files share the same logical ticket identity ('TICKET-001-first.md', 'TICKET-002.md'). Backfill or rewrite one of the ticket_ids so ticket-owned state remains unambiguous.",
        code: 'duplicate-ticket-id',
        severity: 'error',
      },
    ]);
    assert.equal(nextTicketIndex(tickets), 11);
  });

  test('a missing directory is an empty queue', () => {
    const { tickets, issues, dependencies } = loadTicketQueue(join(tmp, 'nope'), { repoRoot: tmp });
    assert.deepEqual(
      { tickets, issues, edges: dependencies.edges.size },
      { tickets: [], issues: [], edges: 0 },
    );
  });

  test('invalid UTF-8 is a read failure, never done', () => {
    const dir = join(tmp, 'bad-utf8');
    mkdirSync(dir);
    writeFileSync(
      join(dir, 'TICKET-001.md'),
      Buffer.from('---\nagent: codex\ndone: true\ntitle: \xff\n---\n', 'latin1'),
    );
    const [ticket] = loadTicketQueue(dir, { repoRoot: tmp }).tickets;
    assert.equal(ticket?.issues[0]?.code, 'read-failed');
    assert.equal(ticket?.isDone, false);
  });

  test('500 tickets load quickly', () => {
    const dir = join(tmp, 'many');
    mkdirSync(dir);
    for (let i = 1; i <= 500; i++) {
      const text = `---\nticket_id: tkt_${String(i).padStart(8, '0')}\nagent: codex\ndone: ${i % 2 === 0}\ntitle: "Ticket ${i}"\ncontext:\n  - path: docs/a.md\n    max_bytes: 1000\n---\n\n## Tasks\n- one\n`;
      writeFileSync(join(dir, ticketFileName(i)), text);
    }
    // CPU time, not wall-clock time: on a busy machine the latter is mostly waiting for a core
    const start = cpuTimeMs();
    const { tickets, issues } = loadTicketQueue(dir, { repoRoot: tmp });
    const ms = cpuTimeMs() - start;
    assert.equal(tickets.length, 500);
    assert.deepEqual(issues, []);
    assert.equal(tickets.filter((t) => t.isDone).length, 250);
    // A generous bound for slow machines; load.test.ts checks that this shape takes the fast path.
    assert.ok(ms < 400, `${ms.toFixed(0)} ms of CPU`);
  });
});
