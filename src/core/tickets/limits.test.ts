// Tickets over the input limits (core/input-limits.ts): refused with a lint issue naming the file, the
// line and the limit, before the expensive step; a big body is not a problem.
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { RICH_FRONTMATTER } from '../../../test/helpers/realistic.ts';
import { INPUT_LIMITS } from '../input-limits.ts';
import { setFrontmatterField, TicketEditError } from './edit.ts';
import { loadTicketQueue } from './queue.ts';
import { parseTicket } from './ticket.ts';
import type { LintIssue } from './types.ts';

const tmp = mkdtempSync(join(tmpdir(), 'car-ticket-limits-'));
after(() => rmSync(tmp, { recursive: true, force: true }));

const REL = '.codex-autorunner/tickets/TICKET-001.md';
const HEAD = '---\nticket_id: tkt_limits_test_01\nagent: codex\ndone: false\n';
const ticket = (yaml: string, body = '\nbody\n') => `${HEAD}${yaml}---\n${body}`;
const parse = (text: string) => parseTicket(text, { path: join(tmp, REL), relPath: REL });

function laughs(): string {
  const lines = ['a0: &a0 [lol, lol, lol, lol, lol, lol, lol, lol, lol]'];
  for (let i = 1; i < 9; i++)
    lines.push(
      `a${i}: &a${i} [${Array(9)
        .fill(`*a${i - 1}`)
        .join(', ')}]`,
    );
  return `${lines.join('\n')}\n`;
}

function only(issues: LintIssue[]): LintIssue {
  const errors = issues.filter((i) => i.severity === 'error');
  assert.equal(errors.length, 1, JSON.stringify(issues));
  return errors[0]!;
}

test('an alias bomb in the frontmatter is a lint error on the line where the expansion passes the limit', () => {
  const t = parse(ticket(laughs()));
  const issue = only(t.issues);
  assert.equal(issue.code, 'limit-yaml-expansion');
  assert.equal(issue.file, REL);
  // HEAD is 4 lines: a0 is on line 5, a4 (where 10000 is passed) on line 9
  assert.equal(issue.line, 9);
  assert.match(issue.message, /aliases expand to more than 10000 nodes \(the limit/);
  assert.equal(t.valid, false);
  assert.equal(t.frontmatter, null);
});

test('more than 100 aliases, or nesting past 64 levels, are lint errors with their line', () => {
  const aliases = parse(ticket(`s: &s x\nl: [${Array(101).fill('*s').join(', ')}]\n`));
  assert.deepEqual([only(aliases.issues).code, only(aliases.issues).line], ['limit-yaml-aliases', 6]);
  const deep = parse(ticket(`x: 1\ndeep: ${'['.repeat(10_000)}${']'.repeat(10_000)}\n`));
  assert.deepEqual([only(deep.issues).code, only(deep.issues).line], ['limit-yaml-depth', 6]);
  assert.match(only(deep.issues).message, /deeper than 64 levels/);
});

test('lines the YAML parser nests ever deeper are a depth error, not a stack overflow (fuzz finding)', () => {
  // 24 KB of `  a: b:` lines: the yaml package's parser nested one level per line and unwound them
  // recursively at the last line, a RangeError that `car ticket lint` printed as an internal error.
  const t = parse(ticket(`a:\n${'  a: b:\n'.repeat(3000)}x: 1\n`));
  assert.equal(only(t.issues).code, 'limit-yaml-depth');
  assert.equal(only(t.issues).file, REL);
});

test('frontmatter over 32 KiB is refused unparsed, on the fence line', () => {
  const keys = Array.from({ length: 10_000 }, (_, i) => `key_${i}: value ${i}`).join('\n');
  const t = parse(ticket(`${keys}\n`));
  const issue = only(t.issues);
  assert.equal(issue.code, 'limit-frontmatter-size');
  assert.equal(issue.line, 1);
  assert.match(issue.message, /^frontmatter is \d+\.\d KiB, over the 32 KiB limit; it was not parsed$/);
  // just under the limit is read
  const fits = 'k: x\n'.repeat(Math.floor((INPUT_LIMITS.frontmatterBytes - HEAD.length) / 5) - 1);
  assert.equal(parse(ticket(fits)).valid, true);
});

test('frontmatter over the YAML token budget is refused where it ran out; a rich real one is far below', () => {
  // dense flow collections: ~13 tokens a line, each costing the `yaml` parser ~25 µs in a cold process
  const dense = Array.from({ length: 300 }, (_, i) => `k${i}: {a: [1, 2], b: c}`).join('\n');
  const t = parse(ticket(`${dense}\n`));
  const issue = only(t.issues);
  assert.equal(issue.code, 'limit-yaml-tokens');
  assert.equal(issue.file, REL);
  assert.equal(
    issue.message,
    'YAML has more than 1000 tokens (the limit for frontmatter); it was not parsed',
  );
  assert.ok(issue.line !== undefined && issue.line > 5 && issue.line < 100, `line ${issue.line}`);
  assert.equal(t.frontmatter, null);
  // the same lines within the budget are read
  assert.equal(parse(ticket(`${dense.split('\n').slice(0, 25).join('\n')}\n`)).valid, true);
  // a rich real frontmatter (~300 tokens) and a 100 KB body (not YAML) are fine
  const rich = parse(ticket(RICH_FRONTMATTER, `\n${'Plain words of the ticket body.\n'.repeat(3300)}`));
  assert.deepEqual(rich.issues, []);
  assert.equal((rich.frontmatter?.context as unknown[] | undefined)?.length, 12);
});

test('a ticket file over 8 MiB is not read; a 5 MB body is fine (only the frontmatter is parsed)', () => {
  const dir = join(tmp, 'queue', '.codex-autorunner', 'tickets');
  mkdirSync(dir, { recursive: true });
  const body = '- a line of the body, long enough to add up quickly\n'.repeat(110_000);
  writeFileSync(join(dir, 'TICKET-001.md'), ticket('title: big body\n', body));
  writeFileSync(join(dir, 'TICKET-002.md'), ticket('title: too big\n', body.repeat(2)));
  const q = loadTicketQueue(dir, { repoRoot: join(tmp, 'queue') });
  const [big, tooBig] = q.tickets;
  assert.equal(big?.valid, true);
  assert.equal(big?.title, 'big body');
  assert.ok((big?.raw.length ?? 0) > 5_000_000);
  const issue = only(tooBig!.issues);
  assert.equal(issue.code, 'limit-file-size');
  assert.equal(issue.file, '.codex-autorunner/tickets/TICKET-002.md');
  assert.equal(issue.line, 1);
  assert.match(
    issue.message,
    /^file is 1\d\.\d MiB, over the 8 MiB limit for a ticket file; it was not read$/,
  );
  assert.equal(tooBig?.raw, '', 'nothing was read');
  assert.equal(tooBig?.isDone, false);
  assert.equal(tooBig?.index, 2);
  // text that was read some other way (the engine, the HTTP API) is refused the same way
  assert.equal(only(parse(ticket('', body.repeat(2))).issues).code, 'limit-file-size');
});

test('setFrontmatterField refuses a ticket over a limit, naming the line and the limit', () => {
  assert.throws(
    () => setFrontmatterField(ticket(laughs()), 'done', true, REL),
    (err: unknown) =>
      err instanceof TicketEditError &&
      /^\.codex-autorunner\/tickets\/TICKET-001\.md: line 9: YAML aliases expand to more than 10000/.test(
        err.message,
      ),
  );
  const keys = Array.from({ length: 10_000 }, (_, i) => `key_${i}: value ${i}`).join('\n');
  assert.throws(() => setFrontmatterField(ticket(`${keys}\n`), 'done', true), /over the 32 KiB limit/);
});
