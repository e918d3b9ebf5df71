import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { dependencyGraph, readiness, ticketResolver } from './dag.ts';
import { loadTicketQueue } from './queue.ts';
import { parseTicket } from './ticket.ts';
import type { Ticket } from './types.ts';

const DIR = '.codex-autorunner/tickets';

interface Spec {
  depends?: string;
  done?: boolean;
  id?: string;
  slug?: string;
  agent?: string;
}

function ticket(n: number, spec: Spec = {}): Ticket {
  const name = `TICKET-${String(n).padStart(3, '0')}${spec.slug ? `-${spec.slug}` : ''}.md`;
  const lines = ['---'];
  if (spec.id) lines.push(`ticket_id: ${spec.id}`);
  lines.push(`agent: ${spec.agent ?? 'codex'}`, `done: ${spec.done ?? false}`);
  if (spec.depends !== undefined) lines.push(`depends_on: ${spec.depends}`);
  lines.push('---', '', `Ticket ${n}.`, '');
  return parseTicket(lines.join('\n'), { path: `/r/${DIR}/${name}`, relPath: `${DIR}/${name}` });
}

const paths = (tickets: readonly Ticket[]) => tickets.map((t) => t.name);
const issueText = (tickets: Ticket[]) =>
  dependencyGraph(tickets).issues.map(
    (i) => `${i.file.split('/').pop()}:${i.line}: ${i.field}: ${i.message} [${i.code}]`,
  );

describe('depends_on in the frontmatter', () => {
  test('a list or one entry; numbers keep their decimal digits (PyYAML would read 010 as octal 8)', () => {
    assert.deepEqual(ticket(1, { depends: '[10, 010, TICKET-020, tkt_abcdef]' }).dependsOn, [
      { ref: '10', line: 4 },
      { ref: '010', line: 4 },
      { ref: 'TICKET-020', line: 4 },
      { ref: 'tkt_abcdef', line: 4 },
    ]);
    assert.deepEqual(ticket(1, { depends: '\n  - 7\n  - TICKET-008-x.md' }).dependsOn, [
      { ref: '7', line: 5 },
      { ref: 'TICKET-008-x.md', line: 6 },
    ]);
    assert.deepEqual(ticket(1, { depends: 'TICKET-003' }).dependsOn, [{ ref: 'TICKET-003', line: 4 }]);
    assert.deepEqual(ticket(1, { depends: '[]' }).dependsOn, []);
    const t = ticket(1, { depends: '[TICKET-002]' });
    assert.equal(t.valid, true);
    assert.deepEqual(t.extra, { depends_on: ['TICKET-002'] }, 'still kept as CAR keeps an unknown key');
  });

  test('entries that are not a number in decimal digits or a name are lint errors naming the entry', () => {
    const t = ticket(1, { depends: '[0x10, 2.5, true, "", {a: 1}, TICKET-002]' });
    assert.equal(t.valid, false);
    assert.deepEqual(
      t.issues.map((i) => [i.line, i.field, i.code]),
      [0, 1, 2, 3, 4].map((i) => [4, `depends_on[${i}]`, 'depends-on-invalid']),
    );
    assert.match(t.issues[0]!.message, /^frontmatter\.depends_on\[0\] must be a ticket number/);
    assert.deepEqual(t.dependsOn, [{ ref: 'TICKET-002', line: 4 }]);
    assert.equal(ticket(1, { depends: '{a: 1}' }).issues[0]?.field, 'depends_on');
  });
});

describe('dependencyGraph', () => {
  test('resolves a number, a TICKET-<n> name, a file name with or without .md, and a ticket_id', () => {
    const tickets = [
      ticket(1, { depends: '[10, TICKET-20, TICKET-030-api.md, ticket-040-docs, tkt_fifty_50]' }),
      ticket(10),
      ticket(20, { slug: 'ui' }),
      ticket(30, { slug: 'api' }),
      ticket(40, { slug: 'docs' }),
      ticket(50, { id: 'tkt_fifty_50' }),
    ];
    const graph = dependencyGraph(tickets);
    assert.deepEqual(graph.issues, []);
    assert.deepEqual(
      graph.edges.get(tickets[0]!.relPath)?.map((p) => p.split('/').pop()),
      ['TICKET-010.md', 'TICKET-020-ui.md', 'TICKET-030-api.md', 'TICKET-040-docs.md', 'TICKET-050.md'],
    );
    assert.equal(graph.edges.size, 1);
    // the same rules name a ticket on the command line
    const resolve = ticketResolver(tickets);
    assert.deepEqual(paths(resolve('0010')), ['TICKET-010.md']);
    assert.deepEqual(paths(resolve(tickets[3]!.relPath)), ['TICKET-030-api.md']);
    assert.deepEqual(paths(resolve(tickets[4]!.ticketId)), ['TICKET-040-docs.md'], 'an auto id too');
    assert.deepEqual(resolve('TICKET-99'), []);
  });

  test('a target that names no ticket is an error on the entry’s line; the ticket waits for it', () => {
    const tickets = [ticket(10, { depends: '[TICKET-099, 20]' }), ticket(20, { done: true })];
    assert.deepEqual(issueText(tickets), [
      'TICKET-010.md:4: depends_on: unknown ticket TICKET-099: no ticket has that number, file name or ticket_id [depends-on-unknown]',
    ]);
    const graph = dependencyGraph(tickets);
    assert.deepEqual(graph.unknown.get(tickets[0]!.relPath), ['TICKET-099']);
    const { ready, blocked } = readiness(tickets, graph);
    assert.deepEqual(ready, []);
    assert.deepEqual(
      blocked.map((b) => [b.ticket.name, paths(b.waitsFor), b.unknown]),
      [['TICKET-010.md', [], ['TICKET-099']]],
    );
  });

  test('a cycle is one error on its first ticket, with the chain; a self-dependency is a cycle', () => {
    const tickets = [
      ticket(5, { depends: '[30]' }),
      ticket(10, { depends: '\n  - 20\n  - 30' }),
      ticket(20, { depends: '[20]' }),
      ticket(30, { depends: '[40]' }),
      ticket(40, { depends: '[TICKET-010]' }),
    ];
    // the walk from 5 enters the cycle at 30; the chain still starts at 10, on the line naming 30
    assert.deepEqual(issueText(tickets), [
      'TICKET-020.md:4: depends_on: cycle TICKET-020 -> TICKET-020 [depends-on-cycle]',
      'TICKET-010.md:6: depends_on: cycle TICKET-010 -> TICKET-030 -> TICKET-040 -> TICKET-010 [depends-on-cycle]',
    ]);
    const { ready, blocked } = readiness(tickets, dependencyGraph(tickets));
    assert.deepEqual(ready, []);
    assert.deepEqual(
      blocked.map((b) => [b.ticket.name, paths(b.waitsFor)]),
      [
        ['TICKET-005.md', ['TICKET-030.md']],
        ['TICKET-010.md', ['TICKET-020.md', 'TICKET-030.md']],
        ['TICKET-020.md', ['TICKET-020.md']],
        ['TICKET-030.md', ['TICKET-040.md']],
        ['TICKET-040.md', ['TICKET-010.md']],
      ],
    );
  });

  test('a diamond is no cycle; a chain of 5000 tickets does not overflow the stack', () => {
    const diamond = [
      ticket(10),
      ticket(20, { depends: '[10]' }),
      ticket(30, { depends: '[10]' }),
      ticket(40, { depends: '[20, 30]' }),
    ];
    assert.deepEqual(dependencyGraph(diamond).issues, []);
    const chain = Array.from({ length: 5000 }, (_, i) => ticket(i + 1, { depends: `[${i + 2}]` }));
    chain.push(ticket(5001, { depends: '[1]' }));
    const [issue, ...more] = dependencyGraph(chain).issues;
    assert.equal(more.length, 0);
    assert.match(issue!.message, /^cycle TICKET-001 -> TICKET-002 -> .* -> TICKET-5001 -> TICKET-001$/);
  });
});

describe('readiness', () => {
  const diamond = (done: number[]) => [
    ticket(10, { done: done.includes(10) }),
    ticket(20, { depends: '[10]', done: done.includes(20) }),
    ticket(30, { depends: '[10]', done: done.includes(30) }),
    ticket(40, { depends: '[20, 30]', done: done.includes(40) }),
  ];
  const ready = (tickets: Ticket[]) => paths(readiness(tickets, dependencyGraph(tickets)).ready);

  test('the ready set of a diamond as it is worked: not done, every dependency done', () => {
    assert.deepEqual(ready(diamond([])), ['TICKET-010.md']);
    assert.deepEqual(ready(diamond([10])), ['TICKET-020.md', 'TICKET-030.md']);
    assert.deepEqual(ready(diamond([10, 30])), ['TICKET-020.md']);
    assert.deepEqual(ready(diamond([10, 20, 30])), ['TICKET-040.md']);
    assert.deepEqual(ready(diamond([10, 20, 30, 40])), []);
    const tickets = diamond([10, 30]);
    const { blocked } = readiness(tickets, dependencyGraph(tickets));
    assert.deepEqual(
      blocked.map((b) => [b.ticket.name, paths(b.waitsFor)]),
      [['TICKET-040.md', ['TICKET-020.md']]],
    );
  });

  test('without depends_on every open ticket is ready, in number order', () => {
    const tickets = [ticket(1, { done: true }), ticket(2), ticket(3, { agent: '' }), ticket(4)];
    assert.deepEqual(ready(tickets), ['TICKET-002.md', 'TICKET-003.md', 'TICKET-004.md']);
  });

  test('an invalid ticket is not done: it blocks what depends on it and is ready itself', () => {
    const tickets = [ticket(10, { agent: '', done: true }), ticket(20, { depends: '[10]' })];
    assert.equal(tickets[0]!.valid, false);
    assert.deepEqual(ready(tickets), ['TICKET-010.md']);
  });
});

describe('loadTicketQueue', () => {
  const root = mkdtempSync(join(tmpdir(), 'car-dag-'));
  after(() => rmSync(root, { recursive: true, force: true }));

  test('reports unknown targets and cycles with the directory issues and keeps the graph', () => {
    const dir = join(root, DIR);
    mkdirSync(dir, { recursive: true });
    const write = (name: string, depends: string) =>
      writeFileSync(join(dir, name), `---\nagent: codex\ndone: false\ndepends_on: ${depends}\n---\n`);
    write('TICKET-010.md', '[TICKET-030]');
    write('TICKET-030.md', '[10, 77]');
    const queue = loadTicketQueue(dir, { repoRoot: root });
    assert.deepEqual(
      queue.issues.map((i) => `${i.file}:${i.line}: ${i.message}`),
      [
        `${DIR}/TICKET-030.md:4: unknown ticket 77: no ticket has that number, file name or ticket_id`,
        `${DIR}/TICKET-010.md:4: cycle TICKET-010 -> TICKET-030 -> TICKET-010`,
      ],
    );
    assert.deepEqual(queue.dependencies.edges.get(`${DIR}/TICKET-030.md`), [`${DIR}/TICKET-010.md`]);
  });
});
