// `car ticket done / reopen / edit-field` on files as they come (CRLF, mixed endings, a BOM, invalid UTF-8
// in the body and in another field, tabs, trailing spaces, no final newline): every byte outside the
// edited value is kept, or the edit is refused with exit 3 and nothing written.
import assert from 'node:assert/strict';
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { makeCarRepo, TICKETS_DIR } from '../helpers/cli.ts';
import { spliceBytes, ticketBytes } from '../helpers/ticket-bytes.ts';

const r = await makeCarRepo();
after(() => r.cleanup());
const dir = join(r.dir, TICKETS_DIR);
const VARIANTS = 48;

test(`ticket done, reopen and edit-field keep every byte outside the value in ${VARIANTS} generated tickets`, async () => {
  // One ticket at a time: each command reads the whole queue.
  const path = join(dir, 'TICKET-001.md');
  for (let seed = 1000; seed < 1000 + VARIANTS; seed++) {
    const t = ticketBytes(seed);
    const cases: Array<[string[], [number, number], string]> = [
      [['ticket', 'done', '1'], t.done, 'true'],
      [['ticket', 'reopen', '1'], t.done, 'false'],
      [['ticket', 'edit-field', '--string', '1', 'title', 'Retitled ✓'], t.title, 'Retitled ✓'],
      [['ticket', 'edit-field', '1', 'owner', 'alice'], [t.close, t.close], `owner: alice${t.eol}`],
    ];
    for (const [argv, range, insert] of cases) {
      writeFileSync(path, t.bytes);
      const res = await r.run(argv);
      const what = `${t.label}: car ${argv.join(' ')}`;
      assert.equal(res.code, 0, `${what}: ${res.stderr}`);
      assert.deepEqual(readFileSync(path), spliceBytes(t.bytes, range, insert), what);
    }
  }
  assert.deepEqual(
    readdirSync(dir).filter((name) => name.startsWith('.')),
    [],
    'no temp file left',
  );
});

test('a ticket that cannot be edited safely is refused: exit 3 naming the file, no byte written', async () => {
  const path = join(dir, 'TICKET-001.md');
  // Invalid UTF-8 and CRLF around a frontmatter the YAML parser refuses.
  const bytes = Buffer.concat([
    Buffer.from('---\r\nagent: codex\r\ndone: [false\r\ntitle: caf'),
    Buffer.from([0xe9, 0xff]),
    Buffer.from('\r\n---\r\nbody '),
    Buffer.from([0xc3]),
  ]);
  writeFileSync(path, bytes);
  for (const argv of [
    ['ticket', 'done', '1'],
    ['ticket', 'edit-field', '1', 'title', 'x'],
  ]) {
    const res = await r.run(argv);
    assert.equal(res.code, 3, res.stderr);
    assert.match(
      res.stderr,
      /^car: \.codex-autorunner\/tickets\/TICKET-001\.md: frontmatter is not valid YAML: /,
    );
    assert.deepEqual(readFileSync(path), bytes);
  }
});

test('ticket new --body-file refuses a file that is not UTF-8 (exit 2) and creates nothing', async () => {
  const body = join(r.dir, 'body.md');
  writeFileSync(
    body,
    Buffer.concat([Buffer.from('## Tasks\n- caf'), Buffer.from([0xe9]), Buffer.from('\n')]),
  );
  const before = readdirSync(dir).sort();
  const res = await r.run(['ticket', 'new', 'From a file', '--body-file', body]);
  assert.equal(res.code, 2);
  assert.equal(res.stderr, `car: cannot read --body-file ${body}: it is not valid UTF-8\n`);
  assert.deepEqual(readdirSync(dir).sort(), before);
});
