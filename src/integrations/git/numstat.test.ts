import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseNumstat } from './numstat.ts';

test('parses plain, binary and renamed -z numstat records', () => {
  const out = ['3\t1\tsrc/a b.ts', '-\t-\timg.png', '0\t0\t', 'old\nname.txt', 'new name.txt', ''].join('\0');
  assert.deepEqual(parseNumstat(out), [
    { path: 'src/a b.ts', insertions: 3, deletions: 1 },
    { path: 'img.png', insertions: null, deletions: null },
    { path: 'new name.txt', origPath: 'old\nname.txt', insertions: 0, deletions: 0 },
  ]);
});

test('empty output is no entries; malformed records throw', () => {
  assert.deepEqual(parseNumstat(Buffer.alloc(0)), []);
  assert.throws(() => parseNumstat('x\ty\tz\0'), /unexpected/);
  assert.throws(() => parseNumstat('1\t2\t\0only-orig\0'), /truncated/);
});
