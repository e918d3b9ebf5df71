import assert from 'node:assert/strict';
import { test } from 'node:test';
import { cpuTimeMs } from '../../../test/helpers/cpu.ts';
import { pyDigitsValue, pyJoinLines, pyStrip } from './python-str.ts';

test('pyStrip strips what Python’s str.strip() strips', () => {
  assert.equal(pyStrip(' \t\x1c\x1f\x85\xa0\u2028\u3000 x y \n\v\f\r'), 'x y');
  // U+FEFF and U+200B are not whitespace to Python (JavaScript's trim() takes U+FEFF).
  assert.equal(pyStrip('\ufeffx\u200b'), '\ufeffx\u200b');
  assert.equal(pyStrip('   '), '');
  const spaces = ' '.repeat(200_000);
  const start = cpuTimeMs();
  assert.equal(pyStrip(`${spaces}x${spaces}y${spaces}`), `x${spaces}y`);
  assert.ok(cpuTimeMs() - start < 1000, 'linear in the length');
});

test('pyJoinLines is "\\n".join(text.splitlines())', () => {
  assert.equal(
    pyJoinLines('a\r\nb\rc\nd\ve\ff\x1cg\x1dh\x1ei\x85j\u2028k\u2029l\n'),
    'a\nb\nc\nd\ne\nf\ng\nh\ni\nj\nk\nl',
  );
  assert.equal(pyJoinLines('a\n\n'), 'a\n');
  assert.equal(pyJoinLines('a\x1fb'), 'a\x1fb');
});

test('pyDigitsValue reads any Unicode decimal digits as int() does', () => {
  assert.equal(pyDigitsValue('0042'), 42);
  assert.equal(pyDigitsValue('١٢٣'), 123);
  assert.equal(pyDigitsValue('００７'), 7);
  assert.equal(pyDigitsValue('๙'), 9);
  // U+1D7CE-U+1D7FF: five runs of mathematical digits back to back.
  assert.equal(pyDigitsValue('\u{1d7d9}\u{1d7ec}\u{1d7ff}'), 109);
});
