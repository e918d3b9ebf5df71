// Seeded ticket files in the shapes people and agents leave behind: CRLF, mixed line endings, a BOM,
// invalid UTF-8 in the body and in a frontmatter value, tabs, trailing spaces, no final newline. Each
// knows where its `done` and `title` values and its closing fence are, so a test can say exactly which
// bytes an edit may change.

/** mulberry32: small, fast, and the same sequence for the same seed everywhere. */
export function seededRandom(seed: number): () => number {
  // Scrambled first: mulberry32's first draws for neighbouring seeds are alike.
  let a = Math.imul((seed ^ 0x5bd1e995) >>> 0, 0x9e3779b1) >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export interface TicketBytes {
  /** What went into it, for failure messages. */
  label: string;
  bytes: Buffer;
  /** Byte range [start, end) of the `done` value. */
  done: [number, number];
  /** Byte range [start, end) of the `title` value. */
  title: [number, number];
  /** Byte offset where the closing fence line starts: an added key goes there. */
  close: number;
  /** The file's first line break, which an added line uses. */
  eol: string;
}

/** Byte sequences that are not UTF-8: a lone continuation, a truncated 2/3/4-byte char, an overlong, a surrogate, 0xff. */
const INVALID: readonly number[][] = [
  [0x80],
  [0xc3],
  [0xe2, 0x82],
  [0xf0, 0x9f, 0x98],
  [0xc0, 0xaf],
  [0xed, 0xa0, 0x80],
  [0xff],
  [0xfe, 0xfe],
];

const WORDS = ['Fix', 'the', 'login', 'héllo', '✓', 'naïve', '日本', 'x/y.z', 'a-b_c', '🙂'];

export function ticketBytes(seed: number): TicketBytes {
  const rand = seededRandom(seed);
  const pick = <T>(items: readonly T[]): T => items[Math.floor(rand() * items.length)]!;
  const chance = (p: number) => rand() < p;

  const endings = pick(['lf', 'crlf', 'mixed'] as const);
  const eolOf = () => (endings === 'lf' ? '\n' : endings === 'crlf' ? '\r\n' : pick(['\n', '\r\n']));
  const bom = chance(0.3);
  const invalidInTitle = chance(0.5);
  const invalidInBody = chance(0.5);
  const noFinalNewline = chance(0.3);
  const label = `seed ${seed}: ${endings}${bom ? ', BOM' : ''}${invalidInTitle ? ', invalid title' : ''}${invalidInBody ? ', invalid body' : ''}${noFinalNewline ? ', no final newline' : ''}`;

  const parts: Buffer[] = [];
  let size = 0;
  let firstEol: string | null = null;
  const put = (chunk: string | number[]): [number, number] => {
    const buf = typeof chunk === 'string' ? Buffer.from(chunk, 'utf8') : Buffer.from(chunk);
    parts.push(buf);
    size += buf.length;
    return [size - buf.length, size];
  };
  const trailing = () => (chance(0.3) ? ' '.repeat(1 + Math.floor(rand() * 3)) : '');
  const eol = () => {
    const e = eolOf();
    firstEol ??= e;
    put(e);
  };

  if (bom) put('\uFEFF');
  put(`---${trailing()}`);
  eol();
  const lines: Array<() => void> = [
    () => put(`ticket_id: tkt_${seed.toString(16).padStart(32, '0')}${trailing()}`),
    () => put(`agent: codex${trailing()}`),
  ];
  let done: [number, number] = [0, 0];
  let title: [number, number] = [0, 0];
  lines.push(() => {
    put(`done:${' '.repeat(1 + Math.floor(rand() * 3))}`);
    done = put(pick(['false', 'true', 'False', 'no', 'yes']));
    put(`${trailing()}${chance(0.3) ? ' # the agent flips this' : ''}`);
  });
  lines.push(() => {
    put('title: ');
    const start = size;
    put(pick(['Title', 'Ticket', 'Étape']));
    for (let i = 0, n = 1 + Math.floor(rand() * 4); i < n; i++) {
      put(' ');
      put(invalidInTitle && chance(0.5) ? pick(INVALID) : pick(WORDS));
      if (invalidInTitle && chance(0.5)) put([...pick(INVALID), 0x41]);
    }
    title = [start, size];
    put(trailing());
  });
  if (chance(0.5)) lines.push(() => put(`#\tnote with a tab${trailing()}`));
  if (chance(0.5)) lines.push(() => put(`goal: "Quoted\tgoal ✓"${trailing()}`));
  // ticket_id and agent stay first; the rest in a seeded order (Fisher-Yates).
  for (let i = lines.length - 1; i > 2; i--) {
    const j = 2 + Math.floor(rand() * (i - 1));
    [lines[i], lines[j]] = [lines[j]!, lines[i]!];
  }
  for (const line of lines) {
    line();
    eol();
  }
  const close = size;
  put(`---${trailing()}`);
  const bodyLines = Math.floor(rand() * 5);
  if (bodyLines > 0 || !noFinalNewline) eol();
  for (let i = 0; i < bodyLines; i++) {
    put(pick(['', '## Tasks', '- step\twith a tab', '\tindented', 'plain text ✓', '--- not a fence']));
    if (invalidInBody && chance(0.6)) put(pick(INVALID));
    put(trailing());
    if (i < bodyLines - 1 || !noFinalNewline) eol();
  }
  return {
    label,
    bytes: Buffer.concat(parts),
    done,
    title,
    close,
    eol: firstEol ?? '\n',
  };
}

/** `bytes` with [start, end) replaced by `insert`: what an edit of that range may produce, and nothing else. */
export function spliceBytes(bytes: Buffer, [start, end]: [number, number], insert: string): Buffer {
  return Buffer.concat([bytes.subarray(0, start), Buffer.from(insert, 'utf8'), bytes.subarray(end)]);
}
