// A seeded mutation fuzzer for the files car reads: from a valid seed file, a broken one. The same
// seed gives the same sequence of inputs, so a failure is reproduced by its seed and iteration.

/** mulberry32: a small, fast, seedable PRNG. */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Tokens that mean something to YAML, JSON, markdown fences or text decoding. */
const TOKENS = [
  '&a ',
  '*a',
  '<<: *a\n',
  '[',
  ']',
  '{',
  '}',
  '!!',
  '!!binary ',
  '!!python/object ',
  ': ',
  '- ',
  '? ',
  '|',
  '>',
  '#',
  '"',
  "'",
  '\\',
  '\t',
  '\r',
  '\r\n',
  '\n---\n',
  '\n...\n',
  '%YAML 1.1\n',
  '\0',
  '\x07',
  '\x7f',
  '\u0085',
  '\u2028',
  '\ufeff',
  '\ud800',
  'null',
  'true',
  '~',
  '-1',
  '1e999',
  '9007199254740993',
  '0x7fffffff',
  '2024-02-30',
  ',',
  '":',
  '[]',
  '{}',
  '__proto__',
  'constructor',
];

export class Mutator {
  readonly #next: () => number;
  constructor(seed: number) {
    this.#next = prng(seed);
  }

  #int(n: number): number {
    return Math.floor(this.#next() * n);
  }

  #pick<T>(items: readonly T[]): T {
    return items[this.#int(items.length)]!;
  }

  /** One to four stacked mutations of `seed`; `limit` is the size limit car applies to this file. */
  mutate(seed: Buffer, limit: number): Buffer {
    let out = seed;
    const rounds = 1 + this.#int(4);
    for (let i = 0; i < rounds; i++) out = this.#once(out, limit);
    return out;
  }

  #once(input: Buffer, limit: number): Buffer {
    const at = this.#int(input.length + 1);
    switch (this.#int(9)) {
      case 0: {
        const out = Buffer.from(input);
        for (let i = 0, n = 1 + this.#int(8); i < n && out.length > 0; i++) {
          out[this.#int(out.length)]! ^= 1 << this.#int(8);
        }
        return out;
      }
      case 1:
        return input.subarray(0, at);
      case 2:
      case 3: {
        const lines = splitLines(input);
        const i = this.#int(lines.length);
        if (this.#int(2) === 0) lines.splice(i, 1);
        else lines.splice(i, 0, ...lines.slice(i, i + 1 + this.#int(3)));
        return Buffer.concat(lines);
      }
      case 4:
        return splice(input, at, 0, randomBytes(this.#next, 1 + this.#int(16)));
      case 5:
        return splice(input, at, 1 + this.#int(8), randomBytes(this.#next, 1 + this.#int(8)));
      case 6:
        return splice(input, at, 0, Buffer.from(this.#pick(TOKENS), 'utf8'));
      case 7: {
        // A chunk repeated: a third of the time up to the file's limit, just under or just over (those
        // parses cost the most), else to a random size below an eighth of it.
        const from = this.#int(input.length);
        const chunk = input.subarray(from, from + 1 + this.#int(40));
        if (chunk.length === 0) return input;
        const size = this.#int(3) === 0 ? limit + (this.#int(2) === 0 ? 64 : -64) : this.#int(limit / 8);
        const target = Math.max(0, size - input.length);
        const times = Math.max(1, Math.floor(target / chunk.length) - this.#int(3));
        return splice(input, at, 0, Buffer.alloc(chunk.length * times, chunk));
      }
      default: {
        // Deep nesting or many aliases: what a YAML parser pays for.
        const unit = this.#pick(['[', '{a: ', '- ', '  ', '*a, ', '&a [', '"\\u', '\\']);
        return splice(input, at, 0, Buffer.from(unit.repeat(1 + this.#int(3000)), 'utf8'));
      }
    }
  }
}

function splitLines(input: Buffer): Buffer[] {
  const lines: Buffer[] = [];
  let start = 0;
  for (let i = 0; i < input.length; i++) {
    if (input[i] === 0x0a) {
      lines.push(input.subarray(start, i + 1));
      start = i + 1;
    }
  }
  if (start < input.length || lines.length === 0) lines.push(input.subarray(start));
  return lines;
}

function splice(input: Buffer, at: number, remove: number, insert: Buffer): Buffer {
  return Buffer.concat([input.subarray(0, at), insert, input.subarray(Math.min(input.length, at + remove))]);
}

function randomBytes(next: () => number, n: number): Buffer {
  const out = Buffer.alloc(n);
  for (let i = 0; i < n; i++) out[i] = Math.floor(next() * 256);
  return out;
}
