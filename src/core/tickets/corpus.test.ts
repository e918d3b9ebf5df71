// The acceptance corpus: every frontmatter shape, its exact lint issues, and byte-exact edits.
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { isDeepStrictEqual } from 'node:util';
import { isMap, isScalar } from 'yaml';
import { setFrontmatterField } from './edit.ts';
import { splitFrontmatter } from './frontmatter.ts';
import { autoTicketId, parseTicket } from './ticket.ts';
import type { Ticket } from './types.ts';
import { findPair, parseYamlDocument } from './yaml.ts';

const FIXTURES = join(import.meta.dirname, '../../../test/fixtures/tickets');
const CORPUS = join(FIXTURES, 'corpus');
const AGENTS = new Set(['codex', 'opencode', 'hermes', 'user']);

interface Expected {
  fields?: Record<string, unknown>;
  issues: Array<Record<string, unknown>>;
}
const expected: Record<string, Expected> = JSON.parse(readFileSync(join(FIXTURES, 'expected.json'), 'utf8'));
const names = readdirSync(CORPUS).sort();

function load(name: string): Ticket {
  const path = join(CORPUS, name);
  return parseTicket(readFileSync(path, 'utf8'), { path, relPath: `corpus/${name}`, agents: AGENTS });
}

function knownFields(t: Ticket): Record<string, unknown> {
  const { agent, done, title, goal, model, reasoning, profile, context, extra, isDone } = t;
  const ticketId = t.ticketIdIsAuto ? 'auto' : t.ticketId;
  return { ticketId, agent, done, title, goal, model, reasoning, profile, context, extra, isDone };
}

/**
 * Checks that `after` differs from `before` only inside the value of top-level `key`: between the
 * colon and the end of the value node. An absent key must be one inserted line before the closing fence.
 */
function assertOnlyValueChanged(before: string, after: string, key: string, label: string): void {
  const split = splitFrontmatter(before);
  const doc = parseYamlDocument(split.yaml!);
  const pair = isMap(doc.contents) ? findPair(doc.contents, key) : undefined;
  if (!pair) {
    const at = split.closeOffset;
    const inserted = after.slice(at, at + after.length - before.length);
    assert.match(inserted, new RegExp(`^ *${key}: [^\\r\\n]+${split.eol}$`), label);
    assert.equal(after, before.slice(0, at) + inserted + before.slice(at), label);
    return;
  }
  let prefix = 0;
  while (prefix < before.length && before[prefix] === after[prefix]) prefix++;
  let suffix = 0;
  while (
    suffix < before.length - prefix &&
    before[before.length - 1 - suffix] === after[after.length - 1 - suffix]
  ) {
    suffix++;
  }
  if (prefix === before.length && before.length === after.length) return; // unchanged
  const keyEnd = split.yamlOffset + (isScalar(pair.key) ? pair.key.range![1] : 0);
  const colon = before.indexOf(':', keyEnd);
  const valueEnd = split.yamlOffset + ((pair.value as { range?: number[] } | null)?.range?.[1] ?? colon + 1);
  assert.ok(prefix >= colon + 1, `${label}: changed before the value of ${key}`);
  assert.ok(
    before.length - suffix <= Math.max(valueEnd, colon + 1),
    `${label}: changed after the value of ${key}`,
  );
}

describe('ticket corpus', () => {
  test('covers at least 30 files and expected.json names every one', () => {
    assert.ok(names.length >= 30);
    assert.deepEqual(Object.keys(expected).sort(), names);
  });

  for (const name of names) {
    test(name, () => {
      const want = expected[name]!;
      const ticket = load(name);
      assert.deepEqual(
        ticket.issues.map(({ file, ...rest }) => rest),
        want.issues,
      );
      for (const issue of ticket.issues) assert.equal(issue.file, `corpus/${name}`);
      assert.equal(ticket.frontmatter === null, want.fields === undefined, 'frontmatter presence');
      if (want.fields) assert.deepEqual(knownFields(ticket), want.fields);
      if (ticket.ticketIdIsAuto) assert.equal(ticket.ticketId, autoTicketId(ticket.path));
      assert.equal(ticket.valid, !want.issues.some((i) => i.severity === 'error'));
      assert.equal(ticket.index, Number(/^TICKET-(\d+)/.exec(name)![1]));
    });
  }
});

describe('surgical edits over the corpus', () => {
  const flow = new Set(['TICKET-021-flow-map.md', 'TICKET-045-empty-mapping.md']);
  const editable = names.filter((name) => load(name).frontmatter !== null && !flow.has(name));
  const title = 'Edited: "quotes" & more';

  test('every file with a frontmatter mapping is edited in place', () => {
    assert.ok(editable.length >= 30, `${editable.length} editable files`);
    for (const name of editable) {
      const raw = readFileSync(join(CORPUS, name), 'utf8');
      const before = load(name).frontmatter!;
      const done = setFrontmatterField(raw, 'done', true, name);
      assertOnlyValueChanged(raw, done, 'done', name);
      const titled = setFrontmatterField(done, 'title', title, name);
      assertOnlyValueChanged(done, titled, 'title', name);
      const after = parseTicket(titled, { path: join(CORPUS, name), relPath: name }).frontmatter;
      assert.ok(isDeepStrictEqual(after, { ...before, done: true, title }), `${name}: values read back`);
    }
  });

  test('golden outputs in roundtrip/', () => {
    const goldens = readdirSync(join(FIXTURES, 'roundtrip')).sort();
    assert.ok(goldens.length >= 6);
    for (const name of goldens) {
      const raw = readFileSync(join(CORPUS, name), 'utf8');
      const out = setFrontmatterField(setFrontmatterField(raw, 'done', true), 'title', title);
      assert.equal(out, readFileSync(join(FIXTURES, 'roundtrip', name), 'utf8'), name);
    }
  });

  test('a flow-style frontmatter edits existing keys but refuses to add lines', () => {
    const raw = readFileSync(join(CORPUS, 'TICKET-021-flow-map.md'), 'utf8');
    const out = setFrontmatterField(raw, 'done', true);
    assertOnlyValueChanged(raw, out, 'done', 'flow');
    assert.throws(() => setFrontmatterField(raw, 'goal', 'x', 'TICKET-021-flow-map.md'), {
      name: 'TicketEditError',
      message: /^TICKET-021-flow-map\.md: cannot add 'goal'/,
    });
    const empty = readFileSync(join(CORPUS, 'TICKET-045-empty-mapping.md'), 'utf8');
    assert.throws(() => setFrontmatterField(empty, 'done', true), { name: 'TicketEditError' });
  });

  test('a 1 MB body is kept byte for byte', () => {
    const body = `\n${'## Notes\n- a line of progress notes with ünïcode ✓\n'.repeat(25_000)}`;
    const raw = `---\r\nticket_id: tkt_huge_body_0001\r\nagent: codex\r\ndone: false\r\n---\r\n${body}`;
    assert.ok(raw.length >= 1_000_000);
    const ticket = parseTicket(raw, { path: '/r/TICKET-001.md', relPath: 'TICKET-001.md', agents: AGENTS });
    assert.equal(ticket.valid, true);
    assert.equal(ticket.body, body);
    const out = setFrontmatterField(raw, 'done', true);
    assert.equal(out, raw.replace('done: false', 'done: true'));
  });
});
