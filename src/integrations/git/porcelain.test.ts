import assert from 'node:assert/strict';
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { makeGitRepo } from '../../../test/helpers/git-repo.ts';
import { formatStatusLine, parsePorcelainV2 } from './porcelain.ts';
import { runGit } from './run-git.ts';

const H = 'e69de29bb2d1d6434b8b29ae775ad8c2e48c5391';

test('parses every record type from crafted -z bytes', () => {
  const out = Buffer.from(
    [
      '# branch.oid (initial)',
      `1 .M N... 100644 100644 100644 ${H} ${H} dir/with space.txt`,
      `2 R. N... 100644 100644 100644 ${H} ${H} R100 new\nname.txt`,
      'old name.txt',
      `2 C. N... 100644 100644 100644 ${H} ${H} C75 copy.txt`,
      'orig.txt',
      `u UU N... 100644 100644 100644 100644 ${H} ${H} ${H} conflict file.txt`,
      '? untracked dir/a b.txt',
      '! build/out.log',
      '',
    ].join('\0'),
  );
  assert.deepEqual(parsePorcelainV2(out), [
    { kind: 'ordinary', xy: '.M', path: 'dir/with space.txt' },
    { kind: 'renamed', xy: 'R.', path: 'new\nname.txt', origPath: 'old name.txt', score: 'R100' },
    { kind: 'renamed', xy: 'C.', path: 'copy.txt', origPath: 'orig.txt', score: 'C75' },
    { kind: 'unmerged', xy: 'UU', path: 'conflict file.txt' },
    { kind: 'untracked', xy: '??', path: 'untracked dir/a b.txt' },
    { kind: 'ignored', xy: '!!', path: 'build/out.log' },
  ]);
});

test('empty output is no entries; malformed records throw', () => {
  assert.deepEqual(parsePorcelainV2(Buffer.alloc(0)), []);
  assert.throws(() => parsePorcelainV2('1 .M N...\0'), /truncated/);
  assert.throws(
    () => parsePorcelainV2(`2 R. N... 100644 100644 100644 ${H} ${H} R100 new.txt\0`),
    /original path/,
  );
  assert.throws(() => parsePorcelainV2('Z what\0'), /unexpected/);
});

test('formats short-status lines', () => {
  assert.equal(formatStatusLine({ kind: 'ordinary', xy: '.M', path: 'a b.txt' }), ' M a b.txt');
  assert.equal(formatStatusLine({ kind: 'ordinary', xy: 'A.', path: 'x' }), 'A  x');
  assert.equal(
    formatStatusLine({ kind: 'renamed', xy: 'R.', path: 'new', origPath: 'old', score: 'R100' }),
    'R  old -> new',
  );
  assert.equal(formatStatusLine({ kind: 'untracked', xy: '??', path: 'u' }), '?? u');
});

test('parses what real git prints for a rename, a newline in a name and an ignored file', async (t) => {
  const repo = makeGitRepo();
  t.after(() => repo.cleanup());
  repo.write('old name.txt', 'same content\n');
  repo.write('.gitignore', '*.log\n');
  repo.commitAll('add files');
  repo.git(['mv', 'old name.txt', 'new name.txt']);
  repo.write('line\nbreak.txt', 'x\n');
  repo.write('debug.log', 'noise\n');
  repo.write('README.md', 'changed\n');
  rmSync(join(repo.dir, '.gitignore'));
  repo.write('.git/info/exclude', 'debug.log\n');

  const out = await runGit(['status', '--porcelain=v2', '-z', '--untracked-files=all', '--ignored'], {
    cwd: repo.dir,
  });
  assert.deepEqual(
    parsePorcelainV2(out).map((e) => [e.kind, e.xy, e.path, e.kind === 'renamed' ? e.origPath : undefined]),
    [
      ['ordinary', '.D', '.gitignore', undefined],
      ['ordinary', '.M', 'README.md', undefined],
      ['renamed', 'R.', 'new name.txt', 'old name.txt'],
      ['untracked', '??', 'line\nbreak.txt', undefined],
      ['ignored', '!!', 'debug.log', undefined],
    ],
  );
});
