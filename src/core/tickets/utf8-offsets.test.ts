import assert from 'node:assert/strict';
import { test } from 'node:test';
import { seededRandom } from '../../../test/helpers/ticket-bytes.ts';
import { decodeWithOffsets } from './utf8-offsets.ts';

/** Code point boundaries of `text` (never inside a surrogate pair), its end included. */
function boundaries(text: string): number[] {
  const out = [0];
  for (const ch of text) out.push(out.at(-1)! + ch.length);
  return out;
}

test('well-formed text decodes as usual, offsets counting UTF-8 bytes', () => {
  const bytes = Buffer.from('\uFEFFa é ✓ 🙂\r\n', 'utf8');
  const { text, byteOffset } = decodeWithOffsets(bytes);
  assert.equal(text, '\uFEFFa é ✓ 🙂\r\n');
  assert.deepEqual(boundaries(text).map(byteOffset), [0, 3, 4, 5, 7, 8, 11, 12, 16, 17, 18]);
});

test('each invalid byte is one U+FFFD standing for exactly that byte', () => {
  // lone continuation, truncated 3-byte, overlong, surrogate, 0xff, truncated 4-byte at the end
  const bytes = Buffer.from([
    0x41, 0x80, 0xe2, 0x82, 0x42, 0xc0, 0xaf, 0xed, 0xa0, 0x80, 0xff, 0xf0, 0x9f, 0x98,
  ]);
  const { text, byteOffset } = decodeWithOffsets(bytes);
  assert.equal(text, `A\uFFFD\uFFFD\uFFFDB${'\uFFFD'.repeat(9)}`);
  assert.deepEqual(
    boundaries(text).map(byteOffset),
    Array.from({ length: bytes.length + 1 }, (_, i) => i),
  );
});

test('on random bytes, the bytes before any boundary decode to the text before it', () => {
  const rand = seededRandom(24);
  const alphabet = [
    0x41, 0x0a, 0x0d, 0x80, 0xbf, 0xc3, 0xa9, 0xe2, 0x9c, 0x93, 0xed, 0xf0, 0x9f, 0x99, 0x82, 0xff,
  ];
  for (let round = 0; round < 300; round++) {
    const bytes = Buffer.from(
      Array.from({ length: Math.floor(rand() * 40) }, () => alphabet[Math.floor(rand() * alphabet.length)]!),
    );
    const { text, byteOffset } = decodeWithOffsets(bytes);
    assert.equal(byteOffset(text.length), bytes.length);
    for (const i of boundaries(text)) {
      assert.equal(
        decodeWithOffsets(bytes.subarray(0, byteOffset(i))).text,
        text.slice(0, i),
        `${bytes.toString('hex')} @${i}`,
      );
    }
  }
});
