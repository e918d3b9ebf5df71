import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, unlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { cpuTimeMs } from '../../../test/helpers/cpu.ts';
import { makeGitRepo } from '../../../test/helpers/git-repo.ts';
import { createRepoState, gitTopLevel, isGitRepo, splitRawPatch } from './repo-state.ts';

const RUNS = '.codex-autorunner/runs/';

function setup(t: { after(fn: () => void): void }, opts?: Parameters<typeof makeGitRepo>[0]) {
  const repo = makeGitRepo(opts);
  t.after(() => repo.cleanup());
  return { repo, state: createRepoState(repo.dir) };
}

test('fingerprint follows every content change and nothing else', async (t) => {
  const { repo, state } = setup(t);
  const fp = () => state.fingerprint([RUNS]);
  const seen = new Set<string>();
  const expectNew = async (what: string) => {
    const value = await fp();
    assert.match(value, /^[0-9a-f]{64}$/);
    assert.ok(!seen.has(value), `fingerprint should change: ${what}`);
    seen.add(value);
    assert.equal(await fp(), value, `fingerprint should be stable after: ${what}`);
  };

  await expectNew('baseline');
  repo.write('README.md', '# edited\n');
  await expectNew('tracked file edited');
  repo.write('README.md', '# edited again\n'); // status is still ` M README.md`
  await expectNew('tracked file edited again');
  repo.git(['add', 'README.md']);
  await expectNew('staged');
  repo.write('notes.txt', 'aaaa\n');
  await expectNew('untracked file created');
  repo.write('notes.txt', 'bbbb\n'); // same size, same status
  await expectNew('untracked file content changed');
  repo.commitAll('commit everything');
  await expectNew('commit');

  const before = await fp();
  repo.write(`${RUNS}run-1/DISPATCH.md`, 'hello\n');
  assert.equal(await fp(), before, 'new file under an excluded path');
  repo.write(`${RUNS}run-1/DISPATCH.md`, 'changed\n');
  assert.equal(await fp(), before, 'edit under an excluded path');
  assert.notEqual(await state.fingerprint(), before, 'without excludes the same file counts');
});

test('fingerprint ignores edits to tracked files under an excluded path, not elsewhere', async (t) => {
  const { repo, state } = setup(t);
  repo.write('.codex-autorunner/runs/state.json', '{}\n');
  repo.write('.codex-autorunner/runs-other.txt', 'not excluded\n');
  repo.commitAll('track control files');
  const before = await state.fingerprint([RUNS]);
  repo.write('.codex-autorunner/runs/state.json', '{"a":1}\n');
  repo.git(['add', '-A']);
  assert.equal(await state.fingerprint([RUNS]), before);
  repo.write('.codex-autorunner/runs-other.txt', 'edited\n');
  assert.notEqual(await state.fingerprint([RUNS]), before, 'a sibling sharing the name prefix still counts');
});

test('fingerprint streams large untracked files and sees a change in their last byte', async (t) => {
  const { repo, state } = setup(t);
  const big = Buffer.alloc(5 * 1024 * 1024 + 123, 'x');
  repo.write('big.bin', big);
  const before = await state.fingerprint();
  big[big.length - 1] = 'y'.charCodeAt(0);
  repo.write('big.bin', big);
  assert.notEqual(await state.fingerprint(), before);
});

test('fingerprint sees an untracked symlink retargeted', async (t) => {
  const { repo, state } = setup(t);
  symlinkSync('README.md', join(repo.dir, 'link'));
  const before = await state.fingerprint();
  unlinkSync(join(repo.dir, 'link'));
  symlinkSync('nowhere', join(repo.dir, 'link'));
  assert.notEqual(await state.fingerprint(), before);
});

test('fingerprint is fast on a small repo', async (t) => {
  const { repo, state } = setup(t);
  for (let i = 0; i < 20; i++) repo.write(`src/file-${i}.ts`, `export const n = ${i};\n`);
  repo.commitAll('files');
  repo.write('src/file-1.ts', 'edited\n');
  repo.write('src/new.ts', 'new\n');
  await state.fingerprint([RUNS]); // warm up
  const runs = 5;
  // the cost is CPU time (car's and its git children's): wall-clock time on a busy machine is mostly
  // waiting for a core
  const started = performance.now();
  const cpuStarted = cpuTimeMs();
  for (let i = 0; i < runs; i++) await state.fingerprint([RUNS]);
  const perCall = (cpuTimeMs() - cpuStarted) / runs;
  const wallPerCall = (performance.now() - started) / runs;
  t.diagnostic(`fingerprint: ${perCall.toFixed(1)} ms CPU (${wallPerCall.toFixed(1)} ms wall) per call`);
  assert.ok(perCall < 250, `fingerprint took ${perCall} ms of CPU`);
});

test('an unborn branch works end to end', async (t) => {
  const { repo, state } = setup(t, { initialCommit: false });
  assert.equal(await state.head(), null);
  const empty = await state.fingerprint();
  assert.equal(await state.isDirty(), false);
  repo.write('a.txt', 'one\ntwo\n');
  assert.notEqual(await state.fingerprint(), empty);
  assert.deepEqual(await state.statusLines(), ['?? a.txt']);
  repo.git(['add', 'a.txt']);
  assert.deepEqual(await state.statusLines(), ['A  a.txt']);
  assert.deepEqual(await state.diffStat(null), { filesChanged: 1, insertions: 2, deletions: 0 });
  const sha = await state.commitAll('first');
  assert.match(sha ?? '', /^[0-9a-f]{40}$/);
  assert.equal(await state.head(), sha);
});

test('isDirty and statusLines honour excludes and .gitignore', async (t) => {
  const { repo, state } = setup(t);
  repo.write('.gitignore', 'node_modules/\n*.log\n');
  repo.write('old name.txt', 'content\n');
  repo.commitAll('ignore rules');
  assert.equal(await state.isDirty(), false);
  assert.deepEqual(await state.statusLines(), []);

  repo.write('node_modules/pkg/index.js', 'x\n');
  repo.write('debug.log', 'x\n');
  repo.write(`${RUNS}r/DISPATCH.md`, 'x\n');
  assert.equal(await state.isDirty([RUNS]), false);
  assert.deepEqual(await state.statusLines([RUNS]), []);
  assert.equal(await state.isDirty(), true);
  assert.deepEqual(await state.statusLines(), [`?? ${RUNS}r/DISPATCH.md`]);

  repo.write('README.md', 'changed\n');
  repo.write('dir/new file.txt', 'x\n');
  repo.git(['mv', 'old name.txt', 'new name.txt']);
  assert.equal(await state.isDirty([RUNS]), true);
  assert.deepEqual(await state.statusLines([RUNS]), [
    ' M README.md',
    'R  old name.txt -> new name.txt',
    '?? dir/new file.txt',
  ]);
});

test('diffStat counts tracked changes since a sha plus untracked files', async (t) => {
  const { repo, state } = setup(t);
  repo.write('keep.txt', 'a\nb\nc\n');
  repo.write('gone.txt', '1\n2\n3\n4\n');
  const from = repo.commitAll('base');
  assert.deepEqual(await state.diffStat(from), { filesChanged: 0, insertions: 0, deletions: 0 });

  repo.write('keep.txt', 'a\nB\nc\nd\n'); // +2 -1
  repo.commitAll('committed after from'); // still counted: the diff is against `from`
  rmSync(join(repo.dir, 'gone.txt')); // -4
  repo.write('new.txt', 'x\ny\nno newline at end'); // untracked, 3 lines
  repo.write('empty.txt', '');
  repo.write('image.bin', Buffer.from([0x89, 0x50, 0x00, 0x0a, 0x0a])); // binary: a file, no lines
  repo.write(`${RUNS}r/out.txt`, 'excluded\n');
  assert.deepEqual(await state.diffStat(from, [RUNS]), { filesChanged: 5, insertions: 5, deletions: 5 });
  assert.deepEqual(await state.diffStat(from), { filesChanged: 6, insertions: 6, deletions: 5 });
});

test('diffStat and diffFiles take the untracked files from a snapshot of the tree when given one', async (t) => {
  const { repo, state } = setup(t);
  const from = repo.git(['rev-parse', 'HEAD']).trim();
  repo.write('README.md', 'changed\n');
  repo.write('new.txt', 'a\nb\n');
  repo.write(`${RUNS}r/out.txt`, 'excluded\n');
  const look = await state.snapshot([RUNS]);
  assert.deepEqual(look.untracked, ['new.txt']);
  assert.deepEqual(await state.diffStat(from, [RUNS], look), await state.diffStat(from, [RUNS]));
  assert.deepEqual(await state.diffFiles(from, [RUNS], look), await state.diffFiles(from, [RUNS]));
  // the snapshot's list is what counts (no second look at the tree)
  const stale = { ...look, untracked: [] };
  assert.deepEqual(await state.diffStat(from, [RUNS], stale), {
    filesChanged: 1,
    insertions: 1,
    deletions: 1,
  });
  assert.deepEqual(
    (await state.diffFiles(from, [RUNS], stale)).map((f) => f.path),
    ['README.md'],
  );
});

test('one `git diff --raw -z -p` splits into what --name-status -z and -p write apart', (t) => {
  const { repo } = setup(t);
  repo.write('keep.txt', 'a\nb\n');
  repo.write('move me.txt', 'moved\n'.repeat(20));
  repo.write('gone.txt', 'bye\n');
  repo.write('tool.sh', 'echo\n');
  repo.write('we ird "nâme".txt', 'q\n');
  const base = repo.commitAll('base');
  repo.write('keep.txt', 'a\nB\nc\n');
  mkdirSync(join(repo.dir, 'moved'));
  repo.git(['mv', 'move me.txt', 'moved/here.txt']);
  rmSync(join(repo.dir, 'gone.txt'));
  repo.git(['update-index', '--chmod=+x', 'tool.sh']);
  repo.write('we ird "nâme".txt', 'q2\n');
  repo.write('bin.dat', Buffer.from([0, 1, 2]));
  repo.git(['add', 'bin.dat']);
  const args = ['-M', '--no-ext-diff', '--no-color', base];
  const both = Buffer.from(repo.git(['diff', '--raw', '-z', '-p', ...args]), 'utf8');
  const { names, patch } = splitRawPatch(both);
  assert.equal(names.toString('utf8'), repo.git(['diff', '--name-status', '-z', ...args]));
  assert.equal(patch.toString('utf8'), repo.git(['diff', ...args]));
  assert.deepEqual(splitRawPatch(Buffer.alloc(0)), { names: Buffer.alloc(0), patch: Buffer.alloc(0) });
});

test('diffStat counts a tracked binary change as a file with no lines and follows renames', async (t) => {
  const { repo, state } = setup(t);
  repo.write('logo.bin', Buffer.from([0, 1, 2]));
  repo.write('long.txt', 'line\n'.repeat(50));
  const from = repo.commitAll('base');
  repo.write('logo.bin', Buffer.from([0, 1, 3]));
  repo.git(['mv', 'long.txt', 'moved.txt']);
  assert.deepEqual(await state.diffStat(from), { filesChanged: 2, insertions: 0, deletions: 0 });
});

test('commitAll commits everything outside excludes and returns the new sha', async (t) => {
  const { repo, state } = setup(t);
  const before = repo.git(['rev-parse', 'HEAD']).trim();
  assert.equal(await state.commitAll('nothing', [RUNS]), null, 'clean tree');

  repo.write(`${RUNS}r/DISPATCH.md`, 'control file\n');
  assert.equal(await state.commitAll('only excluded', [RUNS]), null, 'only excluded changes');
  assert.equal(repo.git(['rev-parse', 'HEAD']).trim(), before);

  repo.write('README.md', 'changed\n');
  repo.write('src/new file.ts', 'x\n');
  const sha = await state.commitAll('CAR checkpoint: run=r turn=1', [RUNS]);
  assert.equal(sha, repo.git(['rev-parse', 'HEAD']).trim());
  assert.notEqual(sha, before);
  assert.equal(
    repo.git(['log', '-1', '--format=%s%n%an <%ae>']),
    'CAR checkpoint: run=r turn=1\nTest User <test@example.com>\n',
  );
  assert.deepEqual(repo.git(['show', '--name-only', '--format=', 'HEAD']).trim().split('\n'), [
    'README.md',
    'src/new file.ts',
  ]);
  assert.equal(repo.git(['status', '--porcelain', '--untracked-files=all']), `?? ${RUNS}r/DISPATCH.md\n`);
  assert.equal(await state.isDirty([RUNS]), false);
});

test('commitAll works when excluded paths are also gitignored, and unstages excluded ones that are not', async (t) => {
  const { repo, state } = setup(t);
  repo.write('.gitignore', '.codex-autorunner/car.db\n.codex-autorunner/runs/\n');
  repo.write('.codex-autorunner/car.db', 'db');
  repo.write('.codex-autorunner/runs/r1/DISPATCH.md', 'x');
  repo.write('.codex-autorunner/flow.lock', '{}');
  repo.write('work.txt', 'work');
  const sha = await state.commitAll('work', [
    '.codex-autorunner/car.db',
    '.codex-autorunner/runs',
    '.codex-autorunner/flow.lock',
  ]);
  assert.ok(sha);
  const files = repo.git(['show', '--name-only', '--format=', 'HEAD']).trim().split('\n').sort();
  assert.deepEqual(files, ['.gitignore', 'work.txt']);
  assert.equal(repo.git(['diff', '--cached', '--name-only']).trim(), '', 'nothing excluded left staged');
});

test('commitAll commits deletions too', async (t) => {
  const { repo, state } = setup(t);
  rmSync(join(repo.dir, 'README.md'));
  assert.ok(await state.commitAll('delete readme'));
  assert.equal(repo.git(['ls-files']), '');
});

test('commitAll falls back to the car identity when git has none', async (t) => {
  const { repo, state } = setup(t, { identity: false });
  // Hide the developer's global identity, and stop git from guessing one from the host name.
  const names = ['GIT_CONFIG_GLOBAL', 'GIT_CONFIG_NOSYSTEM', 'EMAIL'].concat(
    ['AUTHOR', 'COMMITTER'].flatMap((who) => [`GIT_${who}_NAME`, `GIT_${who}_EMAIL`]),
  );
  const saved = new Map(names.map((n) => [n, process.env[n]]));
  t.after(() => {
    for (const [k, v] of saved) {
      if (v === undefined) delete process.env[k];
      else process.env[k] = v;
    }
  });
  for (const n of names) delete process.env[n];
  process.env.GIT_CONFIG_GLOBAL = '/dev/null';
  process.env.GIT_CONFIG_NOSYSTEM = '1';
  repo.git(['config', 'user.useConfigOnly', 'true']);
  repo.git(['config', 'user.email', 'only-email@example.com']);

  repo.write('a.txt', 'a\n');
  const sha = await state.commitAll('no identity');
  assert.ok(sha);
  // The configured email is kept; only the missing name falls back.
  assert.equal(
    repo.git(['log', '-1', '--format=%an <%ae>|%cn <%ce>']),
    'car <only-email@example.com>|car <only-email@example.com>\n',
  );

  repo.git(['config', '--unset', 'user.email']);
  repo.write('b.txt', 'b\n');
  assert.ok(await state.commitAll('no identity at all'));
  assert.equal(repo.git(['log', '-1', '--format=%an <%ae>']), 'car <car@localhost>\n');
});

test('a subdirectory of a repo can be the root: pathspecs and untracked reads are relative to it', async (t) => {
  const repo = makeGitRepo();
  t.after(() => repo.cleanup());
  repo.write('app/src/a.txt', 'a\n');
  repo.commitAll('app');
  const state = createRepoState(join(repo.dir, 'app'));
  const before = await state.fingerprint([RUNS]);
  repo.write('outside.txt', 'not in app\n');
  assert.equal(await state.fingerprint([RUNS]), before, 'changes outside the root do not count');
  repo.write(`app/${RUNS}x.md`, 'x\n');
  assert.equal(await state.fingerprint([RUNS]), before, 'excludes are relative to the root');
  repo.write('app/notes.txt', 'one\n');
  const withNotes = await state.fingerprint([RUNS]);
  assert.notEqual(withNotes, before);
  repo.write('app/notes.txt', 'two\n');
  assert.notEqual(await state.fingerprint([RUNS]), withNotes);
  assert.deepEqual(await state.statusLines([RUNS]), ['?? app/notes.txt']);
  repo.write('app/src/a.txt', 'b\n');
  const head = (await state.head())!;
  assert.deepEqual(
    (await state.diffFiles(head, [RUNS])).map((f) => [f.path, f.status]).sort(),
    [
      ['notes.txt', 'added'],
      ['src/a.txt', 'modified'],
    ],
    'diffFiles paths are relative to the root',
  );
  assert.equal(await state.fileAt(head, 'src/a.txt'), 'a\n');
});

test('isGitRepo and gitTopLevel', async (t) => {
  const { repo } = setup(t);
  const plain = mkdtempSync(join(tmpdir(), 'car-nogit-'));
  t.after(() => rmSync(plain, { recursive: true, force: true }));
  mkdirSync(join(repo.dir, 'sub'));
  assert.equal(await isGitRepo(repo.dir), true);
  assert.equal(await isGitRepo(join(repo.dir, 'sub')), true);
  assert.equal(await isGitRepo(plain), false);
  assert.equal(await isGitRepo(join(plain, 'missing')), false);
  assert.equal(await gitTopLevel(join(repo.dir, 'sub')), repo.git(['rev-parse', '--show-toplevel']).trim());
  assert.equal(await gitTopLevel(plain), null);
});

test('diffFiles: status and unified diff per file since a commit, untracked files as all-added', async (t) => {
  const { repo, state } = setup(t);
  repo.write('src/keep.ts', 'export const a = 1;\n');
  repo.write('src/gone.ts', 'export const gone = true;\n');
  repo.write('src/old-name.ts', 'one\ntwo\nthree\nfour\nfive\nsix\n');
  repo.write('img.bin', Buffer.from([0, 1, 2, 3]));
  const base = repo.commitAll('base');

  repo.write('src/keep.ts', 'export const a = 2;\n');
  repo.git(['rm', '-q', 'src/gone.ts']);
  repo.git(['mv', 'src/old-name.ts', 'src/new-name.ts']);
  repo.write('img.bin', Buffer.from([0, 9, 9, 9]));
  repo.write('staged-new.txt', 'staged\n');
  repo.git(['add', 'staged-new.txt']);
  repo.commitAll('agent commit'); // committed changes count too: the diff is from `base`
  repo.write('notes/new file.md', 'hello\nworld\n');
  repo.write(`${RUNS}run-1/DISPATCH.md`, 'excluded\n');

  const files = await state.diffFiles(base, [RUNS]);
  const by = new Map(files.map((f) => [f.path, f]));
  assert.deepEqual([...by.keys()].sort(), [
    'img.bin',
    'notes/new file.md',
    'src/gone.ts',
    'src/keep.ts',
    'src/new-name.ts',
    'staged-new.txt',
  ]);
  assert.equal(by.get('src/keep.ts')?.status, 'modified');
  assert.match(by.get('src/keep.ts')!.patch, /^-export const a = 1;$/m);
  assert.match(by.get('src/keep.ts')!.patch, /^\+export const a = 2;$/m);
  assert.equal(by.get('src/gone.ts')?.status, 'deleted');
  assert.match(by.get('src/gone.ts')!.patch, /^-export const gone = true;$/m);
  assert.equal(by.get('src/new-name.ts')?.status, 'renamed');
  assert.equal(by.get('src/new-name.ts')?.oldPath, 'src/old-name.ts');
  assert.equal(by.get('img.bin')?.binary, true);
  assert.equal(by.get('img.bin')?.patch, '');
  assert.equal(by.get('staged-new.txt')?.status, 'added');
  assert.equal(by.get('staged-new.txt')?.untracked, false);
  const untracked = by.get('notes/new file.md')!;
  assert.deepEqual(
    { status: untracked.status, untracked: untracked.untracked, patch: untracked.patch },
    { status: 'added', untracked: true, patch: '@@ -0,0 +1,2 @@\n+hello\n+world\n' },
  );

  assert.equal(await state.fileAt(base, 'src/gone.ts'), 'export const gone = true;\n');
  assert.equal(await state.fileAt(base, 'src/new-name.ts'), null);
  assert.deepEqual(await state.diffFiles(await state.head(), [RUNS, 'notes']), []);
});

test('diffFiles from an unborn branch diffs against the empty tree', async (t) => {
  const { repo, state } = setup(t, { initialCommit: false });
  repo.write('a.txt', 'a\n');
  const files = await state.diffFiles(null);
  assert.deepEqual(
    files.map((f) => [f.path, f.status, f.untracked]),
    [['a.txt', 'added', true]],
  );
});
