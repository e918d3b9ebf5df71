// A seeded generator of ticket files, DISPATCH.md and USER_REPLY.md files for the differential test against CAR's
// rules (car_rules.py): the same seed gives the same bytes. It mixes what real files hold with what
// tends to tell two YAML readers apart: booleans in every YAML 1.1 spelling, quoting styles, block
// scalars, numbers and dates, BOMs, CRLF and lone CR, tabs, control characters, Unicode line
// separators, invalid UTF-8, duplicate keys, odd fences, empty or missing frontmatter, odd file names.

export interface GeneratedCase {
  kind: 'ticket' | 'dispatch' | 'reply';
  /** The file name (tickets); `DISPATCH.md` for dispatches, `USER_REPLY.md` for replies. */
  name: string;
  bytes: Buffer;
}

/** mulberry32: a small, fast, seedable PRNG. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

class Rng {
  readonly next: () => number;
  constructor(seed: number) {
    this.next = prng(seed);
  }
  chance(p: number): boolean {
    return this.next() < p;
  }
  int(n: number): number {
    return Math.floor(this.next() * n);
  }
  pick<T>(items: readonly T[]): T {
    return items[this.int(items.length)]!;
  }
}

const BOOLS = ['yes', 'Yes', 'YES', 'no', 'No', 'NO', 'true', 'True', 'TRUE', 'false', 'False', 'FALSE'];
const BOOLS_ON_OFF = ['on', 'On', 'ON', 'off', 'Off', 'OFF'];
const NOT_BOOLS = ['y', 'Y', 'n', 'N', 'yEs', 'tRue', 'oN', 'fALSE', '1', '0', '"true"', "'yes'", '"no"'];
const NULLS = ['', '~', 'null', 'Null', 'NULL', 'nULL', '# a comment'];
const TAGGED = [
  '!!bool yes',
  '!!str true',
  '!!str 010',
  "!!int '7'",
  "!!float '1'",
  '!!null ""',
  '!!timestamp 2024-01-01',
];
const BAD_TAGGED = ['!foo x', "!!int 'x'", '!!bool maybe', '!!python/object:os.system x'];
const NUMBERS = [
  '1',
  '42',
  '010',
  '0o10',
  '0x1F',
  '0b101',
  '08',
  '1_000',
  '-7',
  '+3',
  '1:30',
  '1.5',
  '1.',
  '.5',
  '1e3',
  '1.0e+3',
  '6.02e23',
  '.inf',
  '-.Inf',
  '.NaN',
  '99999999999999999999',
];
const DATES = [
  '2024-01-01',
  '2024-1-2',
  '2024-01-01 12:30:00',
  '2024-01-01T12:30:00Z',
  '2001-12-14t21:59:43.10-05:00',
];
/** Dates PyYAML cannot construct (CAR's safe_load raises ValueError). */
const BAD_DATES = ['2024-02-30', '2024-13-01'];
const WORDS = [
  'codex',
  'Fix the login page',
  'héllo wörld',
  '日本語のタイトル',
  'emoji 🚀 launch',
  'שלום עולם',
  'Ünïcödé',
  'a#b',
  'C# and F#',
  'x = y',
  'path/to/file.md',
  '50% done',
  'tkt_0123456789abcdef',
  'it’s',
  'ﬁle ligature',
  'İstanbul',
  'ΣΊΣΥΦΟΣ',
  'zero\u200bwidth',
];
/** Raw characters between two words of a plain or quoted value. */
const RAW_CHARS = [
  '\x07',
  '\x7f',
  '\x00',
  '\x1b',
  '\x0b',
  '\x0c',
  '\x1c',
  '\x1f',
  '\x85',
  '\xa0',
  '\u2028',
  '\u2029',
  '\ufeff',
  '\u200b',
  '\t',
  '\ud7ff',
  '\ue000',
  '\ufffe',
  '\ufffd',
  '\u{1f600}',
  '\u{10ffff}',
];
/** Escapes inside a double-quoted value. */
const ESCAPES = [
  '\\n',
  '\\t',
  '\\x07',
  '\\x7f',
  '\\u00e9',
  '\\U0001F600',
  '\\N',
  '\\_',
  '\\L',
  '\\P',
  '\\e',
  '\\0',
  '\\a',
  '\\"',
  '\\\\',
  '\\/',
  '\\ ',
];

/** The chance that one part of a risky file takes a breaking form. */
const RISK = 0.25;

function word(rng: Rng): string {
  return rng.pick(WORDS);
}

/** Escapes PyYAML refuses in double quotes. */
const BAD_ESCAPES = ['\\q', '\\x4', '\\uD800'];

/**
 * A string value in some YAML style, as the text after `key: `, possibly spanning lines. With chance
 * `risk` a style that tends to break a reader: raw control characters or line separators, a tab,
 * an indicator as the first character, a `: ` inside a plain scalar, a bad escape.
 */
function stringValue(rng: Rng, indent: string, risk: number): string {
  const w = word(rng);
  if (rng.chance(risk)) {
    switch (rng.int(7)) {
      case 0:
        return `${w}${rng.pick(RAW_CHARS)}${word(rng)}`;
      case 1:
        return `"${w}${rng.pick(RAW_CHARS)}end"`;
      case 2:
        return `'${w}${rng.pick(RAW_CHARS)}end'`;
      case 3:
        return `${w}${rng.pick(['\t', ' \t'])}`;
      case 4:
        return `${rng.pick(['@', '`', '%', '&', '*', '!', '|', '>', '?', '-', ':', ',', '[', '{', '#'])}${w}`;
      case 5:
        return `${w}: more`;
      default:
        return `"${w}${rng.pick(BAD_ESCAPES)}"`;
    }
  }
  switch (rng.int(13)) {
    case 0:
      return `'${w.replaceAll("'", "''")}'`;
    case 1:
      return `"${w}${rng.pick(ESCAPES)}${word(rng)}"`;
    case 2:
      return `${rng.pick(['|', '|-', '|+', '>', '>-', '>+', '|2'])}\n${indent}  ${w}\n${indent}  ${word(rng)}${rng.pick(['', '\n', `\n${indent}`, '\n\n'])}`;
    case 3:
      return `${w}\n${indent}  continued ${word(rng)}`;
    case 4:
      return `${w} # trailing comment`;
    case 5:
      return `${w}${rng.pick([' ', '  '])}`;
    case 6:
      return `"  ${w}  "`;
    case 7:
      return `'multi\n${indent}  line ${w}'`;
    case 8:
      return `"${w}\n${rng.pick(['', indent, `${indent}  `])}next line"`;
    case 9:
      return rng.pick(["''", '""', "' '", '"\\t"', '" \\n "']);
    default:
      return w;
  }
}

/** Any value, as the text after `key: `. */
function anyValue(rng: Rng, indent: string, risk: number): string {
  switch (rng.int(10)) {
    case 0:
      return rng.pick([...BOOLS, ...BOOLS_ON_OFF]);
    case 1:
      return rng.pick(NOT_BOOLS);
    case 2:
      return rng.pick(NULLS);
    case 3:
      return rng.pick(NUMBERS);
    case 4:
      return rng.chance(risk) ? rng.pick(BAD_DATES) : rng.pick(DATES);
    case 5:
      return rng.chance(risk) ? rng.pick(BAD_TAGGED) : rng.pick(TAGGED);
    case 6:
      return rng.pick([
        '[a, b]',
        '[]',
        '{}',
        '{a: 1, b: [x, y]}',
        '[a, [b, {c: d}]]',
        '[1, 2,]',
        '[a: 1]',
        '!!set {a, b}',
        '!!binary aGVsbG8=',
        '!!omap [a: 1, b: 2]',
        '!!pairs [a: 1, a: 2]',
        ...(rng.chance(risk) ? ['{a}', '[', '{a: [}', '!!omap [a, b]'] : []),
      ]);
    case 7:
      return `\n${indent}  - ${word(rng)}\n${indent}  - ${rng.pick(NUMBERS)}`;
    case 8:
      return `\n${indent}  nested: ${word(rng)}\n${indent}  other: ${rng.pick(BOOLS)}`;
    default:
      return stringValue(rng, indent, risk);
  }
}

/** How a file is written: `valid` draws every known field from spellings CAR accepts. */
interface Style {
  /** The chance that one part takes a form that tends to break a reader. */
  risk: number;
  valid: boolean;
}

function doneValue(rng: Rng, { risk, valid }: Style): string {
  if (valid) return rng.pick([...BOOLS, ...BOOLS_ON_OFF, '!!bool yes', 'true # done']);
  const r = rng.next();
  if (r < 0.65) return rng.pick(BOOLS);
  if (r < 0.82) return rng.pick(BOOLS_ON_OFF);
  if (r < 0.92) return rng.pick(NOT_BOOLS);
  if (r < 0.96) return rng.pick(NULLS);
  if (rng.chance(risk)) return rng.pick(['true\x07', 'true\t', ...BAD_TAGGED]);
  return rng.pick([...TAGGED, ...NUMBERS.slice(0, 3), 'true # done', '[true]', '"true"']);
}

const VALID_AGENTS = [
  'Codex',
  'CODEX',
  ' codex ',
  '"codex "',
  "'OpenCode'",
  'hermes-m4',
  'Hermes_Pro',
  'omp',
];

function agentValue(rng: Rng, { risk, valid }: Style): string {
  if (valid)
    return rng.pick([
      'codex',
      'opencode',
      'hermes',
      'user',
      ...VALID_AGENTS,
      '"\\u00a0codex"',
      '"\\x1fcodex"',
    ]);
  const r = rng.next();
  if (r < 0.6) return rng.pick(['codex', 'opencode', 'hermes', 'user']);
  if (r < 0.85) {
    return rng.pick([
      'Codex',
      'CODEX',
      ' codex ',
      '"codex "',
      "'OpenCode'",
      'User',
      'USER',
      '" user"',
      'hermes-m4',
      'Hermes_Pro',
      'hermes-',
      'hermes- ',
      'omp',
      '"hermes-M4-pma"',
      '"codex\\t"',
      '"\\x1fcodex"',
      '"codex\\x85"',
      '"\\ufeffcodex"',
      '"\\u00a0codex"',
    ]);
  }
  if (r < 0.93) return rng.pick(['claude', 'gpt', '', '""', "' '", '~']);
  return anyValue(rng, '', risk);
}

function ticketIdValue(rng: Rng, { valid }: Style): string {
  if (valid || rng.chance(0.6)) {
    return rng.pick([
      'tkt_0123456789abcdef0123456789abcdef',
      '"tkt_quoted_123"',
      'tkt.with-dots_and-dash',
      '0123456',
      ' tkt_spaces_123 ',
      '"\\u00a0tkt_nbsp_1"',
      `${'y'.repeat(128)}`,
    ]);
  }
  return rng.pick([
    ' tkt_spaces_123 ',
    'abc',
    'tkt.with-dots_and-dash',
    'tkt with space',
    'tkt_ünïcode_1',
    '123456',
    '0123456',
    '1234567890123',
    '"\\x1ftkt_ctrl_1"',
    '"\\u00a0tkt_nbsp_1"',
    '"\\ufefftkt_bom_12"',
    `"${'x'.repeat(129)}"`,
    `${'y'.repeat(128)}`,
    '',
    '~',
    'true',
    '[a]',
  ]);
}

const VALID_PATHS = ['docs/spec.md', 'src/app.ts', '"docs/ü.md"', './a.md', 'a//b.md', "' docs/b.md '"];

function contextValue(rng: Rng, indent: string, { risk, valid }: Style): string {
  if (!valid && rng.chance(0.15)) return rng.pick(['[]', 'docs/a.md', '{path: a.md}', '~', '[a.md]']);
  const entries: string[] = [];
  // Items indented under the key or not (both are YAML); mixed only when taking risks.
  const itemIndent = rng.chance(0.7) ? '  ' : '';
  const n = 1 + rng.int(3);
  for (let i = 0; i < n; i++) {
    const path = valid
      ? rng.pick(VALID_PATHS)
      : rng.pick([
          ...VALID_PATHS,
          '/etc/passwd',
          '../secret',
          'a/../b',
          'a\\b',
          '"docs/ü.md"',
          '" "',
          '~',
          '42',
          './a.md',
          'a//b.md',
          '..',
        ]);
    const lines = [`- path: ${path}`];
    const maxBytes = valid
      ? ['100', '0x10', '1_000', '010', 'true', '~']
      : ['100', '0', '-1', '1.5', '"100"', '1:30'];
    if (rng.chance(0.4)) lines.push(`  max_bytes: ${rng.pick(maxBytes)}`);
    const required = valid ? ['true', 'yes', 'no', 'On', 'FALSE'] : ['true', '"true"', '1', '~'];
    if (rng.chance(0.4)) lines.push(`  required: ${rng.pick(required)}`);
    if (!valid && rng.chance(0.1))
      lines.splice(0, lines.length, `- ${rng.pick(['just-a-path.md', '[a]', '~'])}`);
    const pad = rng.chance(risk) ? rng.pick(['  ', '', '   ']) : itemIndent;
    entries.push(...lines.map((l) => `${indent}${pad}${l}`));
  }
  return `\n${entries.join('\n')}`;
}

const EXTRA_KEYS = [
  'verify',
  'depends_on',
  'pr_url',
  'ticket_kind',
  'notes',
  'ключ',
  '"quoted key"',
  "'single key'",
  'yes',
  'on',
  '7',
  '2024-01-01',
  '1.5',
  'a b',
  'x-y_z',
  '<<',
  '"done"',
  'done ',
  'Done',
  'AGENT',
];

/** One `key: value` entry (possibly several lines) of ticket frontmatter. */
function ticketEntry(rng: Rng, key: string, style: Style): string {
  const { risk, valid } = style;
  const sep = rng.chance(risk) ? rng.pick([':\t', ':', ': \t']) : rng.pick([': ', ': ', ': ', ':  ', ' : ']);
  const indent = '';
  let value: string;
  switch (key) {
    case 'done':
      value = doneValue(rng, style);
      break;
    case 'agent':
      value = agentValue(rng, style);
      break;
    case 'ticket_id':
      value = ticketIdValue(rng, style);
      break;
    case 'context':
      value = contextValue(rng, indent, style);
      break;
    case 'profile':
      value =
        valid || rng.chance(0.6)
          ? rng.pick(['m4', 'Fast', ' pro ', 'PMA-1', '"Ünï"'])
          : anyValue(rng, indent, risk);
      break;
    case '<<':
      value = rng.pick(['{extra_merged: 1}', '*base', '[{a: 1}, {b: 2}]']);
      break;
    default:
      value =
        key === 'title' || key === 'goal' ? stringValue(rng, indent, risk) : anyValue(rng, indent, risk);
  }
  if (value.startsWith('\n') && sep !== ':') return `${key}:${value}`;
  return `${key}${sep}${value}`;
}

function frontmatterLines(rng: Rng, style: Style): string[] {
  const { risk, valid } = style;
  const keys: string[] = [];
  if (rng.chance(0.8)) keys.push('ticket_id');
  if (valid || rng.chance(0.92)) keys.push('agent');
  if (valid || rng.chance(0.92)) keys.push('done');
  for (const k of ['title', 'goal', 'model', 'reasoning', 'profile', 'context']) {
    if (rng.chance(k === 'title' ? 0.7 : 0.2)) keys.push(k);
  }
  const extras = rng.int(3);
  for (let i = 0; i < extras; i++) keys.push(rng.chance(risk) ? '? complex' : rng.pick(EXTRA_KEYS));
  // A duplicate key: the last one counts.
  if (rng.chance(0.1)) keys.push(rng.pick(['done', 'agent', 'title', 'ticket_id']));
  // CAR's order, or shuffled.
  if (rng.chance(0.3)) {
    for (let i = keys.length - 1; i > 0; i--) {
      const j = rng.int(i + 1);
      [keys[i], keys[j]] = [keys[j]!, keys[i]!];
    }
  }
  const lines: string[] = [];
  if (keys.includes('<<') && rng.chance(0.5)) lines.push('base: &base {extra_base: 1, title: Merged}');
  for (const key of keys) {
    if (rng.chance(0.08))
      lines.push(rng.pick(['# a comment', '', '   ', '#', '# tab\tinside', '  # indented comment']));
    lines.push(...ticketEntry(rng, key, style).split('\n'));
  }
  // Damage that tells parsers apart: a tab or space indent, a stray line.
  if (rng.chance(risk) && lines.length > 0) {
    const i = rng.int(lines.length);
    lines[i] = rng.pick(['\t', ' ', '  ']) + lines[i];
  }
  if (rng.chance(risk / 2)) {
    lines.push(rng.pick(['just text', '- item', '[', 'key: "unterminated', '%YAML 1.1', '---', '\t']));
  }
  return lines;
}

const OPENERS = [
  '---',
  '---',
  '---',
  '---',
  '--- ',
  '---\t',
  '---\xa0',
  '---\x1f',
  '---\u200b',
  '----',
  ' ---',
  '--- # c',
  '---\ufeff',
  '---\u3000',
];
const CLOSERS = [
  '---',
  '---',
  '---',
  '---',
  '...',
  '--- ',
  '...\t',
  '---\x1f',
  '----',
  ' ---',
  '---\u2028',
  '---\x85',
];
const EOLS = ['\n', '\n', '\n', '\r\n', '\r\n', '\r'];
/** A line break CAR's splitlines() honours but a YAML parser may not. */
const ODD_BREAKS = ['\x0b', '\x0c', '\x1c', '\x1d', '\x1e', '\x85', '\u2028', '\u2029'];

function body(rng: Rng): string {
  return rng.pick([
    '',
    '\n',
    '\n## Tasks\n- one\n- two\n',
    '## Goal\nDo it.\n',
    '\n\n  \nText after blank lines.  \n\n',
    '\n---\nA rule inside the body\n...\n',
    '\nBody with ünïcode ✓ and a tab\there\n',
    `\nline one${rng.pick(ODD_BREAKS)}line two\n`,
    '   \n\t\nindented start\n',
  ]);
}

/** Joins lines with `eol`, now and then using a different break between two lines. */
function join(rng: Rng, lines: string[], eol: string): string {
  let out = '';
  lines.forEach((line, i) => {
    if (i > 0) out += rng.chance(0.02) ? rng.pick([...EOLS, ...ODD_BREAKS]) : eol;
    out += line;
  });
  return out;
}

/** Frontmatter document around `lines`, with odd fences, line ends, BOM and bytes now and then. */
function document(rng: Rng, lines: string[] | null, bodyText: string): Buffer {
  const eol = rng.pick(EOLS);
  let text: string;
  if (lines === null) text = bodyText.replace(/^\n/, '');
  else {
    const opener = rng.chance(0.9) ? '---' : rng.pick(OPENERS);
    const closer = rng.chance(0.9) ? '---' : rng.pick(CLOSERS);
    const unclosed = rng.chance(0.03);
    const parts = [opener, ...lines];
    if (!unclosed) parts.push(closer);
    text = join(rng, parts, eol) + (unclosed ? eol : eol + bodyText.replaceAll('\n', eol));
  }
  if (rng.chance(0.05)) text = text.replace(/[\r\n]+$/, '');
  if (rng.chance(0.04)) text = rng.pick(['\ufeff', ' ', '\n', '\r\n', '\t']) + text;
  let bytes = Buffer.from(text, 'utf8');
  if (rng.chance(0.03)) {
    // Invalid UTF-8: a lone continuation or lead byte, an encoded surrogate, an overlong form.
    const bad = rng.pick([
      [0xff],
      [0x80],
      [0xc3],
      [0xed, 0xa0, 0x80],
      [0xc0, 0xaf],
      [0xf4, 0x90, 0x80, 0x80],
    ]);
    const at = rng.int(bytes.length + 1);
    bytes = Buffer.concat([bytes.subarray(0, at), Buffer.from(bad), bytes.subarray(at)]);
  }
  return bytes;
}

/** Whole files that are mostly not frontmatter at all. */
const DEGENERATE = [
  '',
  '\ufeff',
  '\n',
  '   ',
  '---',
  '---\n',
  '---\n---',
  '---\n---\n',
  '---\n...\n',
  '---\r\n---\r\n',
  '---\n# just a comment\n---\n',
  '---\n~\n---\n',
  '---\n{}\n---\n',
  '---\n[]\n---\n',
  '---\n- a\n- b\n---\n',
  '---\njust a string\n---\n',
  '---\nagent: codex\ndone: false\n',
  '# No frontmatter\n\nagent: codex\ndone: false\n',
  '\n---\nagent: codex\ndone: false\n---\n',
  '---\nagent: codex\ndone: false\n---',
  '---\ragent: codex\rdone: false\r---\rbody',
  '---\u2028agent: codex\u2028done: false\u2028---\u2028',
  '---\x0cagent: codex\x0cdone: true\x0c---\x0c',
  '---\nagent: codex\ndone: false\ntitle: |\n  keep\n---\n',
  '---\nagent: codex\ndone: false\ntitle: |+\n  keep\n\n---\n',
  '---\nagent: codex\ndone: false\ntitle: >\n  fold\n  ed\n---\n',
  '---\nagent: codex\ndone: false\n--- \n',
  '---\nagent: codex\ndone: false\n---x\nstill yaml: 1\n---\n',
];

const TICKET_NAMES = [
  'ticket-001.md',
  'TICKET-001.MD',
  'Ticket-001-mixed.Md',
  'TICKET-01.md',
  'TICKET-1.md',
  'TICKET-001.md\n',
  'TICKET-001.md\n\n',
  'TICKET-001.md\n.md\n',
  'TICKET-١٢٣.md',
  'TICKET-００１.md',
  'TICKET-๐๐๑-thai.md',
  'TIC\u212aET-001-kelvin.md',
  'T\u0130CKET-001.md',
  'T\u0131CKET-001.md',
  'TICKET-001.md.bak',
  'TICKET-001.txt',
  'TICKET-001 copy.md',
  'TICKET-001-ünïcode.md',
  'TICKET-0001.md',
  'TICKET-001-.md',
  'TICKET-001.md.md',
  'TICKET-.md',
  'TICKET-abc.md',
  'TICKET-001\t.md',
  ' TICKET-001.md',
  'TICKET-001-a:b.md',
  'TICKET-1000000000000000000000.md',
  'TICKET-001..md',
  'TICKET-001',
  'TICKET_001.md',
  'TICKET-001-\u2028.md',
  'TICKET-001.m\u0064',
  'TICKET-001.ｍｄ',
];

function ticketName(rng: Rng, i: number): string {
  if (rng.chance(0.12)) return rng.pick(TICKET_NAMES);
  const slug = rng.chance(0.5)
    ? `-${rng.pick(['fix-login', 'a', 'ünïcode', 'with space', 'x.y', '_under'])}`
    : '';
  return `TICKET-${String(i + 1).padStart(3 + rng.int(2), '0')}${slug}.md`;
}

function ticketCase(rng: Rng, i: number): GeneratedCase {
  const name = ticketName(rng, i);
  if (rng.chance(0.04)) return { kind: 'ticket', name, bytes: Buffer.from(rng.pick(DEGENERATE), 'utf8') };
  // Two in five files hold only field values CAR accepts, a quarter take risks (RISK per part).
  const r = rng.next();
  const style = { risk: r < 0.25 ? RISK : 0, valid: r > 0.6 };
  const bytes = document(rng, rng.chance(0.03) ? null : frontmatterLines(rng, style), body(rng));
  return { kind: 'ticket', name, bytes };
}

const MODES = [
  'notify',
  'pause',
  'turn_summary',
  'Pause',
  'PAUSE',
  ' pause ',
  '"pause "',
  "'Notify'",
  '"\\tpause"',
  '"\\x85pause"',
  '"\\ufeffpause"',
  'stop',
  '""',
  '~',
  '',
  'yes',
  '1',
  '[pause]',
  '{a: 1}',
  '2024-01-01',
  'pause # ask',
];

function dispatchCase(rng: Rng): GeneratedCase {
  if (rng.chance(0.05))
    return { kind: 'dispatch', name: 'DISPATCH.md', bytes: Buffer.from(rng.pick(DEGENERATE), 'utf8') };
  const text = rng.pick([
    'Need a decision on the API shape.',
    'Which database?\n\nOption A or B.',
    '## Summary\n\nDone with ünïcode ✓',
    '',
  ]);
  const bodyText = `${rng.pick(['\n', '\n\n', '\n  \n', '', '\n\t\n'])}${text}${rng.pick(['\n', '\n\n', '  \n', ''])}`;
  if (rng.chance(0.2)) return { kind: 'dispatch', name: 'DISPATCH.md', bytes: document(rng, null, bodyText) };
  const risk = rng.chance(1 / 3) ? RISK : 0;
  const lines: string[] = [];
  if (rng.chance(0.85)) lines.push(`mode: ${rng.pick(MODES)}`);
  const title = rng.chance(0.7) ? stringValue(rng, '', risk) : anyValue(rng, '', risk);
  if (rng.chance(0.7)) lines.push(...`title: ${title}`.split('\n'));
  if (rng.chance(0.15)) {
    lines.push(
      `options: ${rng.pick(['[Yes, No]', '[A, B, C]', '[1, 2]', '[]', '[" "]', 'yes', '[a, b, c, d, e, f, g, h, i]', '[[a]]'])}`,
    );
  }
  // Any key but a merge key (`<<`), which takes only a mapping or mappings.
  const key = rng.pick(EXTRA_KEYS.filter((k) => k !== '<<'));
  if (rng.chance(0.3)) lines.push(`${key}: ${anyValue(rng, '', risk).split('\n')[0]}`);
  if (rng.chance(0.08)) lines.push(`mode: ${rng.pick(MODES)}`);
  if (rng.chance(risk)) lines.push(rng.pick(['just text', '- item', 'key: "unterminated', '\tindented: 1']));
  return { kind: 'dispatch', name: 'DISPATCH.md', bytes: document(rng, lines, bodyText) };
}

const REPLY_TEXTS = [
  'Go with option B.',
  'Yes.\n\nAnd keep the old endpoint until Friday.',
  '## Decision\n\nPostgres: it is what ops knows.',
  '- use the staging keys\n- not the prod ones',
  '',
];

/** A USER_REPLY.md as a person, `car flow reply` or a chat bot writes it, or a broken one. */
function replyCase(rng: Rng): GeneratedCase {
  const name = 'USER_REPLY.md';
  if (rng.chance(0.05)) return { kind: 'reply', name, bytes: Buffer.from(rng.pick(DEGENERATE), 'utf8') };
  const text = rng.pick(REPLY_TEXTS);
  const bodyText = `${rng.pick(['\n', '\n\n', '', '\n  \n'])}${text}${rng.pick(['\n', '\n\n', '  \n', ''])}`;
  // most replies have no frontmatter (`car flow reply` writes one only with a title)
  if (rng.chance(0.35)) return { kind: 'reply', name, bytes: document(rng, null, bodyText) };
  const risk = rng.chance(1 / 3) ? RISK : 0;
  const lines: string[] = [];
  const title = rng.chance(0.75) ? stringValue(rng, '', risk) : anyValue(rng, '', risk);
  if (rng.chance(0.85)) lines.push(...`title: ${title}`.split('\n'));
  const key = rng.pick(EXTRA_KEYS.filter((k) => k !== '<<'));
  if (rng.chance(0.3)) lines.push(`${key}: ${anyValue(rng, '', risk).split('\n')[0]}`);
  if (rng.chance(0.1)) lines.push(`title: ${stringValue(rng, '', 0)}`);
  if (rng.chance(risk)) {
    lines.push(rng.pick(['just text', '- item', 'key: "unterminated', '\tindented: 1', 'title: a: b']));
  }
  return { kind: 'reply', name, bytes: document(rng, lines, bodyText) };
}

/**
 * `tickets` ticket files, `dispatches` DISPATCH.md files and `replies` USER_REPLY.md files, the same
 * for the same seed (replies are drawn after the others, so adding them left the rest unchanged).
 */
export function generateCases(
  seed: number,
  tickets: number,
  dispatches: number,
  replies = 0,
): GeneratedCase[] {
  const rng = new Rng(seed);
  const cases: GeneratedCase[] = [];
  for (let i = 0; i < tickets; i++) cases.push(ticketCase(rng, i));
  for (let i = 0; i < dispatches; i++) cases.push(dispatchCase(rng));
  for (let i = 0; i < replies; i++) cases.push(replyCase(rng));
  return cases;
}
