// `car ticket import <folder>` and `car flow bootstrap --from` through the built CLI. Import: a pack
// appended after the queue, renumbered with its depends_on, refused whole when it would not lint.
// Bootstrap: the spec lands in contextspace, a planning ticket after the queue, and the run works it
// with a command agent that writes the tickets it planned, then works those.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdirSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, test } from 'node:test';
import { type BuiltCarRepo, json, makeBuiltCarRepo } from '../helpers/built-car.ts';

const TICKETS = '.codex-autorunner/tickets';
const cleanups: (() => void)[] = [];
afterEach(() => {
  for (const fn of cleanups.splice(0)) fn();
});

async function repo(): Promise<BuiltCarRepo> {
  const r = await makeBuiltCarRepo();
  cleanups.push(r.cleanup);
  return r;
}

const names = (r: BuiltCarRepo) =>
  readdirSync(join(r.dir, TICKETS))
    .filter((n) => n.startsWith('TICKET-'))
    .sort();
const read = (r: BuiltCarRepo, name: string) => readFileSync(join(r.dir, TICKETS, name), 'utf8');

let packs = 0;
function pack(r: BuiltCarRepo, files: Record<string, string>): string {
  const dir = join(r.dir, '..', `${r.dir.split('/').pop()}-pack-${++packs}`);
  mkdirSync(dir, { recursive: true });
  cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
  for (const [name, text] of Object.entries(files)) writeFileSync(join(dir, name), text);
  return dir;
}

const t = (extra = '') => `---\nagent: user\ndone: false\n${extra}---\nbody\n`;

test('car ticket import appends a pack after the queue, renumbering it and its depends_on', async () => {
  const r = await repo();
  r.write(`${TICKETS}/TICKET-007-first.md`, t());
  const dir = pack(r, {
    'TICKET-010-model.md': t('title: Model\n'),
    'TICKET-020-api.md': t('depends_on: [10]\n'),
    'TICKET-030-ui.md': t('depends_on:\n  - TICKET-020-api\n  - "10"   # both before\n'),
  });
  const res = await r.run(['ticket', 'import', dir, '--json']);
  assert.equal(res.code, 0, res.stderr);
  assert.deepEqual(
    json<{ imported: { from: string; to: string }[] }>(res).imported.map((x) => x.to),
    [`${TICKETS}/TICKET-008-model.md`, `${TICKETS}/TICKET-009-api.md`, `${TICKETS}/TICKET-010-ui.md`],
  );
  assert.deepEqual(names(r), [
    'TICKET-007-first.md',
    'TICKET-008-model.md',
    'TICKET-009-api.md',
    'TICKET-010-ui.md',
  ]);
  assert.equal(read(r, 'TICKET-009-api.md'), t('depends_on: [TICKET-008]\n'));
  // only the entries' bytes change: the quoting style goes, the comment stays
  assert.equal(
    read(r, 'TICKET-010-ui.md'),
    t('depends_on:\n  - TICKET-009\n  - TICKET-008   # both before\n'),
  );
  assert.equal((await r.run(['ticket', 'lint'])).code, 0);
});

test('a pack that would not lint, or holds anything but tickets, is refused whole', async () => {
  const r = await repo();
  r.write(`${TICKETS}/TICKET-001.md`, '---\nticket_id: tkt_taken_id_1\nagent: user\ndone: false\n---\nx\n');
  const cases: [Record<string, string>, RegExp][] = [
    [
      { 'TICKET-001-a.md': t(), 'TICKET-002-b.md': '---\ndone: false\n---\nno agent\n' },
      /TICKET-003-b\.md.*agent is required/,
    ],
    [{ 'TICKET-001-a.md': t('depends_on: [9]\n') }, /TICKET-002-a\.md.*depends_on/],
    [
      { 'TICKET-001-a.md': '---\nticket_id: tkt_taken_id_1\nagent: user\ndone: false\n---\n' },
      /tkt_taken_id_1/,
    ],
    [
      { 'TICKET-001-a.md': t(), 'notes.txt': 'hi' },
      /a pack holds only TICKET-<number>\*\.md files; found notes\.txt/,
    ],
  ];
  for (const [files, message] of cases) {
    const res = await r.run(['ticket', 'import', pack(r, files)]);
    assert.equal(res.code, 3, res.stderr);
    assert.match(res.stderr, message);
    assert.deepEqual(names(r), ['TICKET-001.md'], 'nothing written');
    cleanups.pop()!();
  }
  const linked = pack(r, { 'TICKET-001-a.md': t() });
  symlinkSync('/etc/hostname', join(linked, 'TICKET-002-link.md'));
  const link = await r.run(['ticket', 'import', linked]);
  assert.equal(link.code, 3);
  assert.match(link.stderr, /TICKET-002-link\.md \(a symbolic link\)/);
  const zip = await r.run(['ticket', 'import', join(r.dir, 'README.md')]);
  assert.equal(zip.code, 2);
  assert.match(zip.stderr, /not a folder/);
  const none = await r.run(['ticket', 'import', join(r.dir, 'no-such-pack.zip')]);
  assert.equal(none.code, 2);
  assert.match(none.stderr, /no such folder/);
  assert.deepEqual(names(r), ['TICKET-001.md']);
});

test('a zip pack: at its top or in one folder; names that leave the pack, links and bombs are refused', async () => {
  const r = await repo();
  const zipOf = (dir: string, args: string[]) => {
    const out = `${dir}.zip`;
    execFileSync('zip', ['-q', '-r', '-y', out, ...args], { cwd: dir });
    cleanups.push(() => rmSync(out, { force: true }));
    return out;
  };
  // a zipped pack folder (tickets one level down), deflated
  const dir = pack(r, {});
  mkdirSync(join(dir, 'my-pack'));
  writeFileSync(join(dir, 'my-pack/TICKET-001-one.md'), t());
  writeFileSync(join(dir, 'my-pack/TICKET-002-two.md'), t('depends_on: [1]\n'));
  writeFileSync(join(dir, 'my-pack/.DS_Store'), 'x');
  const good = zipOf(dir, ['my-pack']);
  const res = await r.run(['ticket', 'import', good]);
  assert.equal(res.code, 0, res.stderr);
  assert.deepEqual(names(r), ['TICKET-001-one.md', 'TICKET-002-two.md']);
  assert.equal(read(r, 'TICKET-002-two.md'), t('depends_on: [TICKET-001]\n'));

  const hostile: [string, (d: string) => string, RegExp][] = [
    [
      'traversal',
      (d) => {
        // zip(1) will not store such a name; Python's zipfile writes what it is given
        const out = `${d}.zip`;
        const py =
          'import sys, zipfile\nwith zipfile.ZipFile(sys.argv[1], "w") as z: z.writestr("../TICKET-001-a.md", sys.argv[2])';
        execFileSync('python3', ['-c', py, out, t()]);
        cleanups.push(() => rmSync(out, { force: true }));
        return out;
      },
      /would leave the pack/,
    ],
    [
      'link',
      (d) => {
        writeFileSync(join(d, 'TICKET-001-a.md'), t());
        symlinkSync('/etc/hostname', join(d, 'TICKET-002-b.md'));
        return zipOf(d, ['TICKET-001-a.md', 'TICKET-002-b.md']);
      },
      /TICKET-002-b\.md \(a symbolic link\)/,
    ],
    [
      'bomb',
      (d) => {
        writeFileSync(join(d, 'TICKET-001-a.md'), `${t()}${'0'.repeat(9 * 1024 * 1024)}`);
        return zipOf(d, ['TICKET-001-a.md']);
      },
      /TICKET-001-a\.md: \d+ bytes \(at most 8388608\)/,
    ],
    [
      'not a zip',
      (d) => {
        writeFileSync(`${d}.zip`, 'PK but not really');
        cleanups.push(() => rmSync(`${d}.zip`, { force: true }));
        return `${d}.zip`;
      },
      /not a zip archive/,
    ],
  ];
  for (const [what, make, message] of hostile) {
    const out = make(pack(r, {}));
    const refused = await r.run(['ticket', 'import', out]);
    assert.equal(refused.code, 3, `${what}: ${refused.stderr}`);
    assert.match(refused.stderr, message, what);
    assert.deepEqual(names(r), ['TICKET-001-one.md', 'TICKET-002-two.md'], `${what}: nothing written`);
  }
});

/** A command agent: plans two tickets when given the planning ticket, else marks its ticket done. */
const PLANNER = [
  `f=$(printf '%s\\n' "$1" | sed -n 's/^Current ticket file: //p' | head -1)`,
  'test -f "$f" || { echo "no ticket file in the prompt" >&2; exit 1; }',
  'd=$(dirname "$f")',
  'case "$f" in',
  '  *-plan.md)',
  `    grep -q 'contextspace/spec.md' "$f" || exit 1`,
  `    printf -- '---\\nagent: codex\\ndone: false\\ntitle: Build it\\n---\\nper spec\\n' > "$d/TICKET-002-build.md"`,
  `    printf -- '---\\nagent: codex\\ndone: false\\ntitle: Test it\\ndepends_on: [2]\\n---\\nper spec\\n' > "$d/TICKET-003-test.md"`,
  '    ;;',
  '  *) echo "$(basename "$f")" >> worked.txt ;;',
  'esac',
  `sed -i 's/^done: false$/done: true/' "$f"`,
  'git add -A && git commit -qm "work on $(basename "$f")"',
  'echo ok',
  '',
].join('\n');

test('car flow bootstrap --from: the spec into contextspace, a planning ticket, and the run that works it', async () => {
  const r = await repo();
  const script = `${r.dir}-planner.sh`;
  writeFileSync(script, PLANNER);
  cleanups.push(() => rmSync(script, { force: true }));
  r.write(
    '.codex-autorunner/repo.override.yml',
    `agents:\n  codex:\n    backend: command\n    format: text\n    command: [sh, ${JSON.stringify(script)}]\n`,
  );
  r.write('SPEC.md', '# Health endpoint\n\nGET /health answers ok.\n');
  r.commitAll('spec');

  const unknown = await r.run(['flow', 'bootstrap', '--from', join(r.dir, 'README.md'), '--agent', 'nobody']);
  assert.equal(unknown.code, 2);
  assert.match(unknown.stderr, /unknown agent "nobody"/);
  assert.deepEqual(names(r), []);
  assert.equal(
    readFileSync(join(r.dir, '.codex-autorunner/contextspace/spec.md'), 'utf8').trim(),
    '',
    'spec.md untouched',
  );

  const res = await r.run(['flow', 'bootstrap', '--from', 'SPEC.md', '--agent', 'codex', '--foreground']);
  assert.equal(res.code, 0, `${res.stdout}\n${res.stderr}`);
  assert.match(
    res.stdout,
    /wrote \.codex-autorunner\/contextspace\/spec\.md and \.codex-autorunner\/tickets\/TICKET-001-plan\.md/,
  );
  assert.equal(
    readFileSync(join(r.dir, '.codex-autorunner/contextspace/spec.md'), 'utf8'),
    '# Health endpoint\n\nGET /health answers ok.\n',
  );
  assert.deepEqual(names(r), ['TICKET-001-plan.md', 'TICKET-002-build.md', 'TICKET-003-test.md']);
  assert.equal(readFileSync(join(r.dir, 'worked.txt'), 'utf8'), 'TICKET-002-build.md\nTICKET-003-test.md\n');
  const status = json<{ run: { status: string } }>(await r.run(['flow', 'status', '--json']));
  assert.equal(status.run.status, 'completed');

  // a different spec is not overwritten without --replace-spec
  const other = await r.run(['flow', 'bootstrap', '--from', 'README.md', '--no-start']);
  assert.equal(other.code, 2);
  assert.match(other.stderr, /already holds a different spec; replace it with --replace-spec/);
  assert.equal(names(r).length, 3);
});
