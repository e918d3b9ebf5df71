// Acceptance, through the built CLI: hostile or broken files on disk (alias bombs, deep nesting,
// oversized files) are refused with the file, the line and the limit named (core/input-limits.ts);
// lint reports them like any lint error (exit 1), commands that would act on them exit 3 and change
// nothing (the sha256 of every file in the repo, .git included, is the same after).
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { runCar } from '../helpers/built-car.ts';
import { snapshot } from '../helpers/cli.ts';
import { type GitRepo, makeGitRepo } from '../helpers/git-repo.ts';
import { carDefaultConfig, RICH_FRONTMATTER } from '../helpers/realistic.ts';

const TICKETS = '.codex-autorunner/tickets';
const CONFIG = '.codex-autorunner/config.yml';

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

const head = (n: number) =>
  `---\nticket_id: tkt_limits_cli_${String(n).padStart(4, '0')}\nagent: demo\ndone: false\n`;
const ticket = (n: number, yaml: string, body = '\n## Tasks\n- x\n') => `${head(n)}${yaml}---\n${body}`;
const BIG_BODY = '- a line of the ticket body, repeated to make it big\n';

interface Repo {
  repo: GitRepo;
  run(args: string[]): ReturnType<typeof runCar>;
}

async function carRepo(t: { after(fn: () => void): void }): Promise<Repo> {
  const repo = makeGitRepo();
  const home = mkdtempSync(join(tmpdir(), 'car-limits-home-'));
  t.after(() => {
    repo.cleanup();
    rmSync(home, { recursive: true, force: true });
  });
  const env = { PATH: process.env.PATH, HOME: home, NO_COLOR: '1' };
  const run = (args: string[]) => runCar(args, { cwd: repo.dir, env });
  const init = await run(['init']);
  assert.equal(init.code, 0, init.stderr);
  return { repo, run };
}

async function assertRefused(r: Repo, args: string[], stderr: RegExp[]): Promise<void> {
  const before = snapshot(r.repo.dir);
  const res = await r.run(args);
  assert.equal(res.code, 3, `car ${args.join(' ')}: ${res.stdout}\n${res.stderr}`);
  for (const re of stderr) assert.match(res.stderr, re, `car ${args.join(' ')}`);
  assert.doesNotMatch(res.stderr, /internal error|\n\s+at /, 'no stack trace');
  assert.deepEqual(snapshot(r.repo.dir), before, `car ${args.join(' ')} changed files`);
}

/** Like assertRefused, for refusals that are usage errors (exit 2). */
async function assertRefused2(r: Repo, args: string[], stderr: RegExp): Promise<void> {
  const before = snapshot(r.repo.dir);
  const res = await r.run(args);
  assert.equal(res.code, 2, `car ${args.slice(0, 3).join(' ')}: ${res.stdout}\n${res.stderr}`);
  assert.match(res.stderr, stderr);
  assert.deepEqual(snapshot(r.repo.dir), before, `car ${args.slice(0, 3).join(' ')} changed files`);
}

test('tickets over a limit are lint errors naming file, line and limit; done/edit on them exit 3 and change nothing', async (t) => {
  const r = await carRepo(t);
  r.repo.write(`${TICKETS}/TICKET-001-bomb.md`, ticket(1, laughs()));
  r.repo.write(
    `${TICKETS}/TICKET-002-deep.md`,
    ticket(2, `deep: ${'['.repeat(10_000)}${']'.repeat(10_000)}\n`),
  );
  r.repo.write(`${TICKETS}/TICKET-003-huge.md`, ticket(3, '', BIG_BODY.repeat(200_000))); // ~10 MB
  const keys = Array.from({ length: 100_000 }, (_, i) => `key_${i}: value ${i}\n`).join('');
  r.repo.write(`${TICKETS}/TICKET-004-keys.md`, ticket(4, keys));
  r.repo.write(`${TICKETS}/TICKET-005-ok.md`, ticket(5, 'title: fine\n'));
  r.repo.commitAll('plan');

  const lint = await r.run(['ticket', 'lint']);
  assert.equal(lint.code, 1, lint.stderr);
  const out = lint.stdout;
  assert.match(out, /TICKET-001-bomb\.md:9: error: YAML aliases expand to more than 10000 nodes \(the limit/);
  assert.match(out, /TICKET-002-deep\.md:5: error: YAML nests deeper than 64 levels \(the limit\)/);
  assert.match(
    out,
    /TICKET-003-huge\.md:1: error: file is 10\.\d MiB, over the 8 MiB limit for a ticket file/,
  );
  assert.match(out, /TICKET-004-keys\.md:1: error: frontmatter is 2\.\d MiB, over the 32 KiB limit/);
  assert.match(out, /4 error\(s\) in 5 ticket\(s\)/);

  const json = await r.run(['ticket', 'lint', '--json']);
  const issues = (JSON.parse(json.stdout) as { issues: { code: string; file: string; line: number }[] })
    .issues;
  assert.deepEqual(issues.map((i) => [i.code, i.line]).sort(), [
    ['limit-file-size', 1],
    ['limit-frontmatter-size', 1],
    ['limit-yaml-depth', 5],
    ['limit-yaml-expansion', 9],
  ]);

  const list = await r.run(['ticket', 'list', '--json']);
  assert.equal(list.code, 0, list.stderr);
  const summary = (JSON.parse(list.stdout) as { summary: { total: number; invalid: number; open: number } })
    .summary;
  assert.deepEqual(summary, { total: 5, done: 0, open: 1, invalid: 4 });

  const bomb = /TICKET-001-bomb\.md:9: YAML aliases expand to more than 10000 nodes/;
  await assertRefused(r, ['ticket', 'done', '1'], [/refusing to edit/, bomb]);
  await assertRefused(r, ['ticket', 'edit-field', '1', 'title', 'x'], [bomb]);
  await assertRefused(
    r,
    ['ticket', 'done', '3'],
    [/TICKET-003-huge\.md:1: file is 10\.\d MiB, over the 8 MiB limit/],
  );
  await assertRefused(r, ['ticket', 'reopen', '4'], [/TICKET-004-keys\.md:1: frontmatter is/]);
  await assertRefused(r, ['ticket', 'done', '2'], [/TICKET-002-deep\.md:5: YAML nests deeper/]);

  // nor is a ticket created that could not be read back
  await assertRefused2(
    r,
    ['ticket', 'new', 'Big goal', '--goal', 'g'.repeat(40 * 1024)],
    /TICKET-006-big-goal\.md not created: frontmatter is 40\.\d KiB, over the 32 KiB limit/,
  );

  // the good ticket beside them still works
  const done = await r.run(['ticket', 'done', '5']);
  assert.equal(done.code, 0, done.stdout + done.stderr);
});

test('a 5 MB ticket body lists and lints (only the frontmatter is parsed)', async (t) => {
  const r = await carRepo(t);
  r.repo.write(`${TICKETS}/TICKET-001.md`, ticket(1, 'title: long body\n', BIG_BODY.repeat(100_000)));
  const lint = await r.run(['ticket', 'lint']);
  assert.equal(lint.code, 0, lint.stdout + lint.stderr);
  const list = await r.run(['ticket', 'list', '--json']);
  const tickets = (JSON.parse(list.stdout) as { tickets: { state: string; title: string }[] }).tickets;
  assert.deepEqual(
    tickets.map((x) => [x.state, x.title]),
    [['open', 'long body']],
  );
});

test("YAML over the token budget: a ticket is a lint error that done refuses, a config exits 3; a rich ticket with a 100 KB body and CAR's whole default config are fine", async (t) => {
  const r = await carRepo(t);
  const dense = Array.from({ length: 300 }, (_, i) => `k${i}: {a: [1, 2], b: c}`).join('\n');
  r.repo.write(`${TICKETS}/TICKET-001-dense.md`, ticket(1, `${dense}\n`));
  r.repo.write(`${TICKETS}/TICKET-002-rich.md`, ticket(2, RICH_FRONTMATTER, BIG_BODY.repeat(2000)));
  r.repo.write('codex-autorunner.yml', carDefaultConfig());
  r.repo.commitAll('plan');

  const lint = await r.run(['ticket', 'lint', '--json']);
  assert.equal(lint.code, 1, lint.stderr);
  const issues = (JSON.parse(lint.stdout) as { issues: { code: string; file: string; line: number }[] })
    .issues;
  assert.deepEqual(
    issues.map((i) => [i.code, i.file]),
    [['limit-yaml-tokens', `${TICKETS}/TICKET-001-dense.md`]],
  );
  await assertRefused(
    r,
    ['ticket', 'done', '1'],
    [
      /TICKET-001-dense\.md:\d+: YAML has more than 1000 tokens \(the limit for frontmatter\); it was not parsed/,
    ],
  );
  const done = await r.run(['ticket', 'done', '2']);
  assert.equal(done.code, 0, done.stdout + done.stderr);

  const denseConfig = Array.from({ length: 400 }, (_, i) => `x_k${i}: {a: [1, 2], b: {c: d}}`).join('\n');
  r.repo.write('codex-autorunner.yml', `version: 2\nx_anchor: &a 1\n${denseConfig}\n`);
  await assertRefused(
    r,
    ['run'],
    [
      /^car: codex-autorunner\.yml:2:1: YAML has more than 2000 tokens \(the limit for a config file unless it is plain block YAML, and this line is not: an anchor\); it was not parsed$/m,
    ],
  );
});

test('car run with an alias-bomb config exits 3 naming the file and line, and writes nothing', async (t) => {
  const r = await carRepo(t);
  r.repo.write(`${TICKETS}/TICKET-001.md`, ticket(1, 'title: work\n'));
  r.repo.write(CONFIG, `version: 2\nmode: repo\n${laughs()}`);
  r.repo.commitAll('plan');
  const where = /^car: \.codex-autorunner\/config\.yml:7:\d+: YAML aliases expand to more than 10000 nodes/m;
  await assertRefused(r, ['run'], [where]);
  await assertRefused(r, ['flow', 'start'], [where]);
  await assertRefused(r, ['ticket', 'list'], [where]);
});

test('an oversized or deeply nested config file: exit 3 naming it, nothing written', async (t) => {
  const r = await carRepo(t);
  r.repo.write(`${TICKETS}/TICKET-001.md`, ticket(1, 'title: work\n'));
  r.repo.commitAll('plan');
  r.repo.write('codex-autorunner.yml', `version: 2\nx: ${'['.repeat(10_000)}${']'.repeat(10_000)}\n`);
  await assertRefused(r, ['run'], [/^car: codex-autorunner\.yml:2:\d+: YAML nests deeper than 64 levels/m]);
  r.repo.write('codex-autorunner.yml', `version: 2\n# ${'x'.repeat(50 * 1024 * 1024)}\n`);
  await assertRefused(
    r,
    ['run'],
    [/^car: codex-autorunner\.yml: file is 50\.0 MiB, over the 40 KiB limit for a config file/m],
  );
});

test('car flow reply refuses a reply over 1 MiB before writing anything (exit 2)', async (t) => {
  const r = await carRepo(t);
  const big = join(r.repo.dir, '..', `reply-${process.pid}.txt`);
  writeFileSync(big, 'x'.repeat(2 * 1024 * 1024));
  t.after(() => rmSync(big, { force: true }));
  const before = snapshot(r.repo.dir);
  const res = await r.run(['flow', 'reply', '--file', big]);
  assert.equal(res.code, 2, res.stderr);
  assert.match(res.stderr, /cannot read --file .*: file is 2 MiB, over the 1 MiB limit for a reply/);
  assert.deepEqual(snapshot(r.repo.dir), before);
});
