// Byte-exact edits on files as they come: every byte outside the edited value is kept, whatever the
// line endings, BOM, tabs or invalid UTF-8 around it (test/helpers/ticket-bytes.ts makes the files).
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { spliceBytes, ticketBytes } from '../../../test/helpers/ticket-bytes.ts';
import { type ScalarValue, setFrontmatterFieldBytes, setTicketFileField, TicketEditError } from './edit.ts';
import { parseTicketBytes } from './ticket.ts';

const VARIANTS = 500;
const NEW_TITLE = 'New title ✓';

/** Each edit of one generated file, with the byte range it may change and the bytes it puts there. */
function edits(t: ReturnType<typeof ticketBytes>): Array<[string, ScalarValue, [number, number], string]> {
  return [
    ['done', true, t.done, 'true'],
    ['done', false, t.done, 'false'],
    ['title', NEW_TITLE, t.title, NEW_TITLE],
    ['owner', 'alice', [t.close, t.close], `owner: alice${t.eol}`],
  ];
}

const opts = { path: '/r/TICKET-001.md', relPath: 'TICKET-001.md', agents: new Set(['codex']) };

describe('setFrontmatterFieldBytes', () => {
  test(`changes only the edited value's bytes in ${VARIANTS} generated files`, () => {
    const shapes = new Set<string>();
    for (let seed = 1; seed <= VARIANTS; seed++) {
      const t = ticketBytes(seed);
      shapes.add(t.label.replace(/^seed \d+: /, ''));
      for (const [key, value, range, insert] of edits(t)) {
        const out = setFrontmatterFieldBytes(t.bytes, key, value, 'TICKET-001.md');
        assert.deepEqual(out, spliceBytes(t.bytes, range, insert), `${t.label}: ${key}`);
        // CAR reads no frontmatter behind a BOM (lint says so); the edit still lands in the frontmatter
        const bom = t.label.includes(', BOM');
        const read = parseTicketBytes(bom ? out.subarray(3) : out, opts);
        assert.deepEqual(read.frontmatter?.[key], value, `${t.label}: ${key} reads back`);
        if (bom)
          assert.ok(
            parseTicketBytes(out, opts).issues.some((i) => i.code === 'bom'),
            t.label,
          );
      }
    }
    // The generator covers every combination of line endings, BOM, invalid bytes and final newline.
    assert.equal(shapes.size, 3 * 2 * 2 * 2 * 2);
  });

  test('keeps invalid UTF-8 right next to the edited value', () => {
    const bytes = Buffer.concat([
      Buffer.from('---\r\ntitle: a'),
      Buffer.from([0xff, 0xc3]),
      Buffer.from('\r\ndone: false\r\n---\r\n'),
      Buffer.from([0xe2, 0x82]),
    ]);
    const out = setFrontmatterFieldBytes(bytes, 'done', true);
    assert.deepEqual(out, Buffer.from(bytes.toString('latin1').replace('false', 'true'), 'latin1'));
  });

  test('refuses, naming the file, what it cannot edit safely', () => {
    const bytes = Buffer.concat([Buffer.from('no frontmatter '), Buffer.from([0xff])]);
    assert.throws(
      () => setFrontmatterFieldBytes(bytes, 'done', true, 'TICKET-002.md'),
      (err: unknown) =>
        err instanceof TicketEditError && /^TICKET-002\.md: has no valid frontmatter/.test(err.message),
    );
  });
});

describe('setTicketFileField', () => {
  const dir = mkdtempSync(join(tmpdir(), 'car-edit-bytes-'));
  after(() => rmSync(dir, { recursive: true, force: true }));

  test('edits the file in place, every other byte kept, and leaves no temp file', () => {
    const path = join(dir, 'TICKET-001.md');
    for (let seed = 1; seed <= 50; seed++) {
      const t = ticketBytes(seed);
      writeFileSync(path, t.bytes);
      setTicketFileField(path, 'done', false);
      assert.deepEqual(readFileSync(path), spliceBytes(t.bytes, t.done, 'false'), t.label);
    }
    assert.deepEqual(readdirSync(dir), ['TICKET-001.md']);
  });

  test('refuses a file it cannot edit and leaves it as it was', () => {
    const path = join(dir, 'TICKET-002.md');
    writeFileSync(path, '---\ndone: [unclosed\n---\n');
    assert.throws(
      () => setTicketFileField(path, 'done', true, 'TICKET-002.md'),
      /^TicketEditError: TICKET-002\.md: /,
    );
    assert.equal(readFileSync(path, 'utf8'), '---\ndone: [unclosed\n---\n');
  });
});
