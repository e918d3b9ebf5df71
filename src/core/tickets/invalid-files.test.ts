import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { invalidFileLines, invalidTicketFiles } from './invalid-files.ts';
import { loadTicketQueue } from './queue.ts';

const root = mkdtempSync(join(tmpdir(), 'car-invalid-files-'));
after(() => rmSync(root, { recursive: true, force: true }));
let n = 0;

const TICKET = '---\nagent: codex\ndone: false\n---\nbody\n';

/** The invalid files of a tickets folder holding `files`. */
function invalidOf(files: Record<string, string>) {
  const repo = join(root, `r${++n}`);
  const dir = join(repo, '.codex-autorunner', 'tickets');
  mkdirSync(dir, { recursive: true });
  for (const [name, text] of Object.entries(files)) writeFileSync(join(dir, name), text);
  const queue = loadTicketQueue(dir, { repoRoot: repo, agents: new Set(['codex', 'user']) });
  return invalidTicketFiles(queue, dir, 'codex').map((f) => ({
    file: f.file.split('/').pop(),
    kind: f.kind,
    fix: f.fix,
  }));
}

test('a name car does not read as a ticket gets the name it should have', () => {
  assert.deepEqual(invalidOf({ 'TICKET-01.md': TICKET }), [
    { file: 'TICKET-01.md', kind: 'name', fix: 'rename it to TICKET-001.md' },
  ]);
  // its words are kept; a number already taken (or none) becomes the next free one
  assert.deepEqual(
    invalidOf({
      'TICKET-001.md': TICKET,
      'ticket_1_login.md': TICKET,
      'ticket-signup.md': TICKET,
      '040-notes.md': TICKET,
    }).map((f) => f.fix),
    // in name order: 040-notes, ticket-signup, ticket_1_login
    [
      'rename it to TICKET-040-notes.md',
      'rename it to TICKET-041-signup.md',
      'rename it to TICKET-042-login.md',
    ],
  );
});

test('files that do not look like tickets are left to car ticket lint', () => {
  assert.deepEqual(
    invalidOf({
      'TICKET-010.md': TICKET,
      'README.md': '# notes about the plan\n',
      'TICKET-010.md~': TICKET,
      'ticket-plan.txt': TICKET,
    }),
    [],
  );
});

test('a ticket without frontmatter, or with a field wrong, gets the fix for its first error', () => {
  const found = invalidOf({
    'TICKET-010.md': 'Just text, no frontmatter\n',
    'TICKET-020.md': '---\nagent: codex\ndone: "no"\n---\n',
    'TICKET-030.md': '---\nagent: codex\ndone: false\n',
  });
  assert.deepEqual(
    found.map((f) => [f.file, f.kind]),
    [
      ['TICKET-010.md', 'frontmatter'],
      ['TICKET-020.md', 'frontmatter'],
      ['TICKET-030.md', 'frontmatter'],
    ],
  );
  assert.match(found[0]!.fix, /frontmatter block: a line "---", "agent: codex", "done: false", then "---"/);
  assert.match(found[1]!.fix, /"done: false" \(true or false, not quoted\)/);
  assert.match(found[2]!.fix, /end the frontmatter with a line holding only "---"/);
});

test('lines name the file, the problem and the fix', () => {
  const repo = join(root, 'lines');
  const dir = join(repo, 'tickets');
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, 'TICKET-7.md'), TICKET);
  const files = invalidTicketFiles(loadTicketQueue(dir, { repoRoot: repo }), dir, 'codex');
  assert.deepEqual(invalidFileLines(files), [
    'tickets/TICKET-7.md: not a ticket name, so car skips it (TICKET-<number of at least 3 digits>[-slug].md); fix: rename it to TICKET-007.md',
  ]);
});
