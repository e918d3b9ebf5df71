// Text for editing bytes that may not be valid UTF-8. A file decoded with replacement characters and
// encoded again loses every invalid byte; an edit instead works out where its change lies in the text
// and splices the original bytes, so the bytes around the change are kept exactly, invalid or not.

export interface DecodedBytes {
  /** The bytes as text; each byte that is not part of a well-formed UTF-8 sequence is one U+FFFD. */
  text: string;
  /** The byte offset of text offset `index` (a code point boundary). */
  byteOffset(index: number): number;
}

/** Length of the well-formed UTF-8 sequence at `i` (Unicode Table 3-7), or 0 when the byte starts none. */
function sequenceLength(bytes: Uint8Array, i: number): number {
  const b = bytes[i]!;
  if (b < 0x80) return 1;
  const cont = (k: number, lo = 0x80, hi = 0xbf) => {
    const c = bytes[i + k];
    return c !== undefined && c >= lo && c <= hi;
  };
  if (b >= 0xc2 && b <= 0xdf) return cont(1) ? 2 : 0;
  if (b >= 0xe0 && b <= 0xef) {
    const [lo, hi] = b === 0xe0 ? [0xa0, 0xbf] : b === 0xed ? [0x80, 0x9f] : [0x80, 0xbf];
    return cont(1, lo, hi) && cont(2) ? 3 : 0;
  }
  if (b >= 0xf0 && b <= 0xf4) {
    const [lo, hi] = b === 0xf0 ? [0x90, 0xbf] : b === 0xf4 ? [0x80, 0x8f] : [0x80, 0xbf];
    return cont(1, lo, hi) && cont(2) && cont(3) ? 4 : 0;
  }
  return 0;
}

interface Run {
  /** Text offset where the run starts. */
  index: number;
  byte: number;
  /** Decoded text of a well-formed run; null for an invalid byte (one U+FFFD). */
  text: string | null;
}

const strict = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });
const lenient = new TextDecoder('utf-8', { ignoreBOM: true });

/** Runs of well-formed text and single invalid bytes, in order. */
function decodeRuns(bytes: Uint8Array): { text: string; runs: Run[] } {
  try {
    // The usual case, one native pass: the whole file is well-formed.
    const text = strict.decode(bytes);
    return { text, runs: [{ index: 0, byte: 0, text }] };
  } catch {
    // Walk it byte by byte below.
  }
  const runs: Run[] = [];
  let text = '';
  let start = 0;
  const flush = (end: number) => {
    if (end === start) return;
    const part = lenient.decode(bytes.subarray(start, end));
    runs.push({ index: text.length, byte: start, text: part });
    text += part;
  };
  for (let i = 0; i < bytes.length; ) {
    const n = sequenceLength(bytes, i);
    if (n > 0) {
      i += n;
      continue;
    }
    flush(i);
    runs.push({ index: text.length, byte: i, text: null });
    text += '\uFFFD';
    start = ++i;
  }
  flush(bytes.length);
  return { text, runs };
}

export function decodeWithOffsets(bytes: Uint8Array): DecodedBytes {
  const { text, runs } = decodeRuns(bytes);
  return {
    text,
    byteOffset(index) {
      let lo = 0;
      let hi = runs.length - 1;
      // The last run starting at or before `index`.
      while (lo < hi) {
        const mid = (lo + hi + 1) >> 1;
        if (runs[mid]!.index <= index) lo = mid;
        else hi = mid - 1;
      }
      const run = runs[lo];
      if (!run) return 0;
      if (run.text === null) return run.byte + Math.min(index - run.index, 1);
      return run.byte + Buffer.byteLength(run.text.slice(0, index - run.index), 'utf8');
    },
  };
}
