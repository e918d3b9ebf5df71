import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { FileChange } from '../flow/ports.ts';
import {
  addedSkips,
  findTampering,
  isTestFile,
  patchLines,
  scriptsNamed,
  type TamperInput,
  ticketVerifyFinding,
} from './tamper.ts';

const TICKETS = '.codex-autorunner/tickets';
const ME = `${TICKETS}/TICKET-002-api.md`;

function change(path: string, patch: string, over: Partial<FileChange> = {}): FileChange {
  return {
    path,
    oldPath: null,
    status: 'modified',
    untracked: false,
    binary: false,
    patch,
    patchTruncated: false,
    ...over,
  };
}

/** A unified diff with one hunk: `-` lines then `+` lines. */
function hunk(removed: string[], added: string[], context: string[] = ['  // context']): string {
  return [
    'diff --git a/x b/x',
    '--- a/x',
    '+++ b/x',
    `@@ -1,${removed.length + context.length} +1,${added.length + context.length} @@`,
    ...context.map((l) => ` ${l}`),
    ...removed.map((l) => `-${l}`),
    ...added.map((l) => `+${l}`),
    '',
  ].join('\n');
}

function input(files: FileChange[], over: Partial<TamperInput> = {}): TamperInput {
  return {
    files,
    ticketPath: ME,
    ticketsDir: TICKETS,
    verifyCommands: [],
    oldText: async () => null,
    newText: async () => null,
    ...over,
  };
}

const kinds = async (i: TamperInput) => (await findTampering(i)).map((f) => [f.kind, f.file]);

test('isTestFile: by name or as code in a test folder, never fixtures', () => {
  for (const p of [
    'src/a.test.ts',
    'web/b.spec.jsx',
    'tests/test_api.py',
    'pkg/api_test.go',
    'test/helpers/x.ts',
    'src/__tests__/y.js',
    'spec/models/user_spec.rb',
    'app/src/test/java/FooTest.java',
  ])
    assert.ok(isTestFile(p), p);
  for (const p of [
    'src/a.ts',
    'test/fixtures/input.ts',
    'test/data.json',
    'README.md',
    'src/testing.ts',
    'contest/x.ts',
  ])
    assert.ok(!isTestFile(p), p);
});

test('patchLines ignores headers, including a removed line that looks like one', () => {
  const patch =
    'diff --git a/f b/f\n--- a/f\n+++ b/f\n@@ -1,2 +1,2 @@\n keep\n--- removed dashes\n+++ added pluses\n';
  assert.deepEqual(patchLines(patch), { added: ['++ added pluses'], removed: ['-- removed dashes'] });
});

test('deleted test file, test file renamed out of the runner, deleted test cases', async () => {
  const files = [
    change('test/api.test.ts', hunk(["test('a', () => {", '  assert.ok(true);', '});'], []), {
      status: 'deleted',
    }),
    change('attic/old.ts', '', { status: 'renamed', oldPath: 'test/old.test.ts' }),
    change('tests/test_db.py', hunk(['def test_insert():', '    assert db.insert(1)'], [])),
    change(
      'src/b.test.js',
      hunk(
        ["it('x', () => {", '  expect(a).toBe(1);', '});'],
        ["it('x', () => {", '  expect(a).toBe(1);', '});'],
      ),
    ),
  ];
  const found = await findTampering(input(files));
  assert.deepEqual(
    found.filter((f) => f.kind === 'test_deleted').map((f) => [f.file, f.detail]),
    [
      ['test/api.test.ts', 'test file deleted'],
      ['test/old.test.ts', 'test file renamed to attic/old.ts, which no test runner picks up'],
      ['tests/test_db.py', '1 test case(s) removed'],
    ],
  );
  assert.ok(!found.some((f) => f.file === 'src/b.test.js'), 'an edit that keeps the test is fine');
});

test('added skips are found in every common spelling; moving one is not adding one', async () => {
  const spellings = [
    "it.skip('works', () => {",
    "test.skip('works', () => {",
    "describe.skip('suite', () => {",
    "xit('works', () => {",
    "test.only('this one', () => {",
    "test('works', { skip: true }, () => {",
    "test('works', { todo: 'later' }, () => {",
    '  t.skip();',
    '@pytest.mark.skip(reason="flaky")',
    '    pytest.skip("no")',
    '@unittest.skip("later")',
    '    t.Skip("broken")',
    '#[ignore]',
  ];
  for (const line of spellings) {
    const path = line.includes('pytest') || line.includes('unittest') ? 'tests/test_a.py' : 'src/a.test.ts';
    assert.equal(addedSkips(path, [line], []).length, 1, line);
  }
  assert.equal(addedSkips('src/lib.rs', ['#[ignore]'], []).length, 1, 'Rust tests live next to the code');
  assert.equal(addedSkips('src/lib.ts', ['const opts = { skip: true };'], []).length, 0, 'not a test file');
  assert.equal(addedSkips('README.md', ['use it.skip( to skip'], []).length, 0);
  assert.equal(addedSkips('src/a.test.ts', ["it.skip('a', f);"], ["it.skip('a', g);"]).length, 0, 'moved');

  const found = await findTampering(
    input([change('src/a.test.ts', hunk(["it('works', () => {"], ["it.skip('works', () => {"]))]),
  );
  assert.deepEqual(
    found.map((f) => [f.kind, f.file]),
    [['test_skipped', 'src/a.test.ts']],
  );
  assert.match(found[0]!.detail, /1 skip\/only marker\(s\) added: it\.skip\('works'/);
});

test('weakened assertions: fewer assertion lines than before in a changed test file', async () => {
  const weakened = change(
    'test/math.test.ts',
    hunk(
      ['  assert.equal(add(1, 2), 3);', '  assert.equal(add(2, 2), 4);', '  expect(sub(3, 1)).toBe(2);'],
      ['  assert.ok(add(1, 2));'],
    ),
  );
  const rewritten = change(
    'test/other.test.ts',
    hunk(['  assert.equal(x, 1);', "import assert from 'node:assert';"], ['  assert.deepEqual(x, 1);']),
  );
  const found = await findTampering(input([weakened, rewritten]));
  assert.deepEqual(
    found.map((f) => [f.kind, f.file, f.detail]),
    [['assertion_weakened', 'test/math.test.ts', '3 assertion line(s) removed, 1 added']],
  );
});

test('other tickets: frontmatter edits, deletions and renames count; new tickets and bodies do not', async () => {
  const other = `${TICKETS}/TICKET-003-next.md`;
  const oldText: Record<string, string> = {
    [other]: '---\nagent: codex\ndone: false\ntitle: Next\n---\nbody\n',
    [`${TICKETS}/TICKET-004.md`]: '---\nagent: codex\ndone: false\n---\nold body\n',
  };
  const newText: Record<string, string> = {
    [other]: '---\nagent: codex\ndone: true\ntitle: Next\n---\nbody\n',
    [`${TICKETS}/TICKET-004.md`]: '---\nagent: codex\ndone: false\n---\nnew body\n',
    [ME]: '---\nagent: codex\ndone: true\n---\n',
  };
  const files = [
    change(other, hunk(['done: false'], ['done: true'])),
    change(`${TICKETS}/TICKET-004.md`, hunk(['old body'], ['new body'])),
    change(`${TICKETS}/TICKET-005.md`, '', { status: 'deleted' }),
    change(`${TICKETS}/TICKET-009-split.md`, hunk([], ['---', 'agent: codex', 'done: false', '---']), {
      status: 'added',
      untracked: true,
    }),
    change(ME, hunk(['done: false'], ['done: true'])),
  ];
  const found = await findTampering(
    input(files, {
      oldText: async (p) => oldText[p] ?? null,
      newText: async (p) => newText[p] ?? null,
    }),
  );
  assert.deepEqual(
    found.map((f) => [f.kind, f.file, f.detail]),
    [
      ['other_ticket_edit', other, 'frontmatter changed: done'],
      ['other_ticket_edit', `${TICKETS}/TICKET-005.md`, 'ticket file deleted'],
    ],
  );
});

test('CI config, package.json test scripts and the scripts a verify command runs', async () => {
  const pkgOld = JSON.stringify({ scripts: { test: 'node --test', check: 'tsc', dev: 'vite' } });
  const pkgNew = JSON.stringify({ scripts: { test: 'exit 0', check: 'tsc', dev: 'vite --open' } });
  const files = [
    change('.github/workflows/ci.yml', hunk(['  run: npm test'], ['  run: true'])),
    change('.ci/run.sh', hunk(['npm test'], ['true'])),
    change('package.json', hunk(['x'], ['y'])),
    change('scripts/check.js', hunk(['process.exit(1)'], ['process.exit(0)'])),
    change('src/app.ts', hunk(['a'], ['b'])),
    change('work/out.txt', hunk(['a'], ['b'])), // data a command reads is the work, not the check
  ];
  const found = await findTampering(
    input(files, {
      verifyCommands: ['npm run check', 'node scripts/check.js', 'test -f work/out.txt'],
      oldText: async (p) => (p === 'package.json' ? pkgOld : null),
      newText: async (p) => (p === 'package.json' ? pkgNew : null),
    }),
  );
  assert.deepEqual(
    found.map((f) => [f.kind, f.file, f.detail]),
    [
      ['ci_edit', '.github/workflows/ci.yml', 'CI config changed'],
      ['ci_edit', '.ci/run.sh', 'CI config changed'],
      ['ci_edit', 'package.json', 'scripts changed: scripts.test'],
      ['verify_script_edit', 'scripts/check.js', 'a verify command runs it (scripts/check.js)'],
    ],
  );
  assert.deepEqual(scriptsNamed(['npm test', 'pnpm run lint', 'yarn build', 'npm ci']), [
    'build',
    'lint',
    'test',
  ]);
});

test('verify commands: config `verify:` edits and the ticket value vs its selection-time value', async () => {
  const cfg = '.codex-autorunner/config.yml';
  const before = 'version: 2\nverify:\n  commands: [npm test]\n';
  const found = await findTampering(
    input(
      [
        change(cfg, hunk(['  commands: [npm test]'], ['  commands: []'])),
        change('codex-autorunner.yml', 'x'),
      ],
      {
        oldText: async (p) => (p === cfg ? before : 'git:\n  auto_commit: false\n'),
        newText: async (p) =>
          p === cfg ? 'version: 2\nverify:\n  commands: []\n' : 'git:\n  auto_commit: true\n',
      },
    ),
  );
  assert.deepEqual(
    found.map((f) => [f.kind, f.file]),
    [['verify_edit', cfg]],
    'only the file whose verify section changed',
  );

  assert.equal(ticketVerifyFinding(ME, ['npm test'], ['npm test']), null);
  assert.equal(ticketVerifyFinding(ME, null, undefined), null);
  assert.deepEqual(ticketVerifyFinding(ME, 'npm test', 'true'), {
    kind: 'verify_edit',
    file: ME,
    detail: 'ticket `verify:` changed from "npm test" to "true"',
  });
  assert.equal(ticketVerifyFinding(ME, ['a'], null)?.kind, 'verify_edit', 'removing it counts');
});

test('an honest diff has no findings', async () => {
  const files = [
    change('src/api.ts', hunk(['export const items = [];'], ['export const items = [1, 2];'])),
    change(
      'test/api.test.ts',
      hunk([], ["test('items', () => {", '  assert.equal(items.length, 2);', '});']),
    ),
    change(ME, hunk(['done: false'], ['done: true'])),
  ];
  assert.deepEqual(await kinds(input(files, { verifyCommands: ['npm test'] })), []);
});
