import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { renderNewTicket, renderScalar, setFrontmatterField, TicketEditError } from './edit.ts';
import { parseTicket } from './ticket.ts';
import { parseYaml } from './yaml.ts';

describe('renderScalar', () => {
  test('plain only when PyYAML reads the same string back', () => {
    for (const s of ['Fix the login', 'gpt-5.5', 'docs/a.md', 'héllo ✓', 'x#y', 'https://x.test/a']) {
      assert.equal(renderScalar(s), s);
    }
    const quoted: Array<[string, string]> = [
      ['yes', '"yes"'],
      ['Off', '"Off"'],
      ['010', '"010"'],
      ['1.5', '"1.5"'],
      ['null', '"null"'],
      ['~', '"~"'],
      ['', '""'],
      ['2026-01-02', '"2026-01-02"'],
      ['a: b', '"a: b"'],
      ['a #b', '"a #b"'],
      [' lead', '" lead"'],
      ['trail ', '"trail "'],
      ['- item', '"- item"'],
      ['[x]', '"[x]"'],
      ['say "hi"\n\\', '"say \\"hi\\"\\n\\\\"'],
      ['tab\there', '"tab\\there"'],
      ['bell\u0007 sep\u2028 bom\uFEFF', '"bell\\u0007 sep\\u2028 bom\\ufeff"'],
    ];
    for (const [s, want] of quoted) assert.equal(renderScalar(s), want, s);
  });

  test('every rendering reads back as the same value', () => {
    const values = [
      'yes',
      'y',
      '0x1F',
      '1e3',
      'a: b',
      'é\u0085x',
      '"',
      "'",
      '\\',
      0,
      -3,
      1.5,
      1e21,
      1e-7,
      true,
      false,
      null,
    ];
    for (const v of values) assert.deepEqual(parseYaml(`k: ${renderScalar(v)}`).value, { k: v }, String(v));
  });

  test('numbers use PyYAML spellings', () => {
    assert.equal(renderScalar(1e21), '1.0e+21');
    assert.equal(renderScalar(Number.POSITIVE_INFINITY), '.inf');
    assert.equal(renderScalar(Number.NaN), '.nan');
  });
});

describe('setFrontmatterField', () => {
  test('changes only the value bytes, keeping comments, quoting and spacing', () => {
    const text =
      '---\nticket_id: "tkt_000001" # id\ndone:    false   # flip me\ntitle: \'Keep\'\n---\nbody\n';
    assert.equal(
      setFrontmatterField(text, 'done', true),
      '---\nticket_id: "tkt_000001" # id\ndone:    true   # flip me\ntitle: \'Keep\'\n---\nbody\n',
    );
  });

  test('adds an absent key before the closing fence with the file’s line ending and indent', () => {
    assert.equal(
      setFrontmatterField('---\r\na: 1\r\n---\r\n', 'done', false),
      '---\r\na: 1\r\ndone: false\r\n---\r\n',
    );
    assert.equal(setFrontmatterField('---\n  a: 1\n...\n', 'b', 'x'), '---\n  a: 1\n  b: x\n...\n');
    assert.equal(
      setFrontmatterField('---\n# just a comment\n---\n', 'done', true),
      '---\n# just a comment\ndone: true\n---\n',
    );
  });

  test('replaces empty, tagged, anchored, block and collection values', () => {
    assert.equal(
      setFrontmatterField('---\ndone:\nx: 1\n---\n', 'done', true),
      '---\ndone: true\nx: 1\n---\n',
    );
    assert.equal(setFrontmatterField('---\ndone: !!bool no\n---\n', 'done', true), '---\ndone: true\n---\n');
    assert.equal(setFrontmatterField('---\ndone: &d no\n---\n', 'done', true), '---\ndone: true\n---\n');
    assert.equal(
      setFrontmatterField('---\ngoal: |\n  a\n  b\nx: 1\n---\n', 'goal', 'g'),
      '---\ngoal: g\nx: 1\n---\n',
    );
    assert.equal(
      setFrontmatterField('---\ntitle:\n  - a\n  - b\nx: 1\n---\n', 'title', 't'),
      '---\ntitle: t\nx: 1\n---\n',
    );
  });

  test('edits the last of duplicate keys, the one PyYAML reads', () => {
    assert.equal(
      setFrontmatterField('---\ndone: true\ndone: false\n---\n', 'done', true),
      '---\ndone: true\ndone: true\n---\n',
    );
  });

  test('refuses edits that would change other values', () => {
    // Replacing the anchored value would break the alias that points at it.
    assert.throws(() => setFrontmatterField('---\na: &x 1\nb: *x\n---\n', 'a', 2), TicketEditError);
  });

  test('throws TicketEditError naming the file for unusable frontmatter', () => {
    const cases = ['no frontmatter\n', '---\nunclosed: 1\n', '---\n- a\n---\n', '---\na: [1\n---\n', ''];
    for (const text of cases) {
      assert.throws(
        () => setFrontmatterField(text, 'done', true, 'TICKET-009.md'),
        (error: unknown) => {
          assert.ok(error instanceof TicketEditError);
          assert.match(error.message, /^TICKET-009\.md: /);
          return true;
        },
      );
    }
  });
});

describe('renderNewTicket', () => {
  test('writes CAR’s layout and reads back as the same fields', () => {
    const text = renderNewTicket(
      {
        ticket_id: 'tkt_0123456789abcdef',
        agent: 'codex',
        done: false,
        title: 'Fix: login',
        goal: 'yes',
        context: [{ path: 'docs/a.md', max_bytes: 100, required: true }, { path: 'b.md' }],
        depends_on: ['TICKET-001'],
      },
      '\n\n## Tasks\n- one\n\n\n',
    );
    assert.equal(
      text,
      '---\nticket_id: tkt_0123456789abcdef\nagent: codex\ndone: false\ntitle: "Fix: login"\ngoal: "yes"\n' +
        'context:\n- path: docs/a.md\n  max_bytes: 100\n  required: true\n- path: b.md\ndepends_on:\n- TICKET-001\n' +
        '---\n\n## Tasks\n- one\n',
    );
    const t = parseTicket(text, {
      path: '/r/TICKET-001.md',
      relPath: 'TICKET-001.md',
      agents: new Set(['codex']),
    });
    assert.equal(t.valid, true);
    assert.equal(t.goal, 'yes');
    assert.deepEqual(t.context, [
      { path: 'docs/a.md', maxBytes: 100, required: true },
      { path: 'b.md', maxBytes: null, required: false },
    ]);
    assert.deepEqual(t.extra, { depends_on: ['TICKET-001'] });
  });

  test('generates a ticket_id first and omits an empty body section', () => {
    const text = renderNewTicket({ agent: 'user', done: false }, '  \n');
    assert.match(text, /^---\nticket_id: tkt_[0-9a-f]{32}\nagent: user\ndone: false\n---\n$/);
  });
});
