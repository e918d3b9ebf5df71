// A seeded generator of block YAML for src/core/yaml-fast.test.ts: config- and manifest-like documents mixing
// what people, CAR (PyYAML's safe_dump) and car (the `yaml` package's stringify) write with forms that
// tell two readers apart (odd indentation, folding, chomping, quoting, escapes, odd characters, keys
// that are not strings, duplicates, anchors, tags, markers, CRLF). Not imported by car itself.

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

export class Rng {
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

const KEYS = [
  'version',
  'mode',
  'repos',
  'id',
  'path',
  'enabled',
  'auto_run',
  'kind',
  'display_name',
  'worktree_setup_commands',
  'agents',
  'codex',
  'binary',
  'args',
  'model',
  'ticket_flow',
  'max_total_turns',
  'a b',
  'x.y',
  'with-dash',
  'ünïcode',
  'ключ',
  '日本',
  'k1',
  '_private',
  'path/to',
  'constructor',
  'toString',
  '(x)',
  '+plus',
  '~tilde',
];
const ODD_KEYS = [
  '"quoted key"',
  "'single'",
  '"n"',
  "'yes'",
  '"a: b"',
  '"it\'s"',
  "'it''s'",
  '"\\ttab"',
  'yes',
  'no',
  'y',
  'on',
  'null',
  '~',
  '1',
  '010',
  '1.5',
  '1e3',
  '2024-01-01',
  '<<',
  '__proto__',
  '"__proto__"',
  '? complex',
  '-dash',
  '=',
  '@at',
  'a  b',
  'trailing ',
  'key:colon',
  '[a]',
  '{a: 1}',
  '&anchor k',
  '!tag k',
  '*alias',
  '"unclosed',
];
const WORDS = [
  'codex',
  'Fix the login page',
  'héllo wörld',
  '日本語',
  'emoji 🚀',
  'a#b',
  'C# and F#',
  'x = y',
  'path/to/file.md',
  '50% done',
  'http://example.com:8080/x',
  'npm ci && npm run build',
  'it’s',
  'a, b',
  'a [b] {c}',
  '-flag',
  '--yolo',
  '.hidden',
  'a  two  spaces',
  'x = "y"',
  "it's",
  'a:b',
  'a#b#c',
  'x ',
];
/** Words that cannot be plain scalars as they are, or only in some places. */
const RISKY_WORDS = [
  'trailing:',
  'a: b',
  'a #comment',
  '- x',
  '...',
  '---',
  '|pipe',
  '>gt',
  '@at',
  '`tick',
  '%pct',
  '!bang',
  '&amp',
  '*star',
  '?q',
  ':colon',
  ',comma',
  '[open',
  '{open',
  '"dq',
  "'sq",
  '  lead',
];
const SCALARS = [
  'true',
  'True',
  'TRUE',
  'false',
  'yes',
  'No',
  'on',
  'OFF',
  'y',
  'n',
  'Y',
  '~',
  'null',
  'Null',
  'NULL',
  '1',
  '0',
  '-7',
  '+3',
  '010',
  '0o10',
  '08',
  '0x1F',
  '0b101',
  '1_000',
  '1:30',
  '1:30.5',
  '1.5',
  '1.',
  '.5',
  '1e3',
  '1.0e+3',
  '6.02e23',
  '.inf',
  '-.Inf',
  '.NaN',
  '-0',
  '-0.0',
  '99999999999999999999',
  '2024-01-01',
  '2024-1-2',
  '2024-01-01 12:30:00',
  '2024-01-01T12:30:00Z',
  '2001-12-14t21:59:43.10-05:00',
  '2024-02-30',
  '=',
  '<<',
];
const ESCAPES = [
  '\\n',
  '\\t',
  '\\x41',
  '\\u00e9',
  '\\U0001F600',
  '\\"',
  '\\\\',
  '\\/',
  '\\ ',
  '\\N',
  '\\_',
  '\\0',
];
const BAD_ESCAPES = ['\\q', '\\x4', '\\uD800', '\\U00110000'];
const ODD_CHARS = [
  '\t',
  '\x07',
  '\x7f',
  '\x85',
  '\xa0',
  '\u2028',
  '\ufeff',
  '\u200b',
  '\r',
  '\x00',
  '\ue000',
];

export interface GenOptions {
  /** Chance that one part takes a form that tends to break a reader. */
  risk: number;
}

class Gen {
  readonly rng: Rng;
  readonly risk: number;
  constructor(rng: Rng, opts: GenOptions) {
    this.rng = rng;
    this.risk = opts.risk;
  }

  word(): string {
    return this.rng.chance(this.risk) ? this.rng.pick(RISKY_WORDS) : this.rng.pick(WORDS);
  }

  key(): string {
    return this.rng.chance(this.risk) ? this.rng.pick(ODD_KEYS) : this.rng.pick(KEYS);
  }

  /** A scalar as the text after `key: ` or `- `; `ind` is the column continuation lines start past. */
  scalar(ind: number): string {
    const { rng } = this;
    const pad = ' '.repeat(ind + 1 + rng.int(3));
    const w = this.word();
    if (rng.chance(this.risk / 3)) {
      const odd = rng.pick(ODD_CHARS);
      return rng.pick([`${w}${odd}x`, `"${w}${odd}x"`, `'${w}${odd}x'`, `${w}${odd}`]);
    }
    switch (rng.int(16)) {
      case 0:
      case 1:
        return rng.pick(SCALARS);
      case 2:
        return `'${w.replaceAll("'", "''")}'`;
      case 3:
        return `"${w.replaceAll('\\', '\\\\').replaceAll('"', '\\"')}${rng.pick(rng.chance(this.risk) ? BAD_ESCAPES : ESCAPES)}"`;
      case 4:
        // multi-line plain (PyYAML folds long strings so)
        return `${w}\n${pad}${this.word()}${rng.chance(0.3) ? `\n${rng.pick(['', ' ', pad])}\n${pad}${this.word()}` : ''}`;
      case 5:
        return `'${w.replaceAll("'", "''")}\n${pad}${this.word().replaceAll("'", "''")}${rng.pick(['', ' ', '\n', `\n${pad}`, `\n\n${pad}x`])}'`;
      case 6: {
        const chomp = rng.chance(this.risk)
          ? rng.pick(['2', '>', '> ', '-2', '>-'])
          : rng.pick(['', '-', '+']);
        const lines = Array.from({ length: 1 + rng.int(3) }, () => `${pad}${this.word()}`);
        if (rng.chance(0.3)) lines.splice(1, 0, rng.pick(['', pad, `${pad}  `, ' ']));
        if (rng.chance(0.3)) lines.push(rng.pick(['', '', pad]));
        if (rng.chance(0.2)) lines.splice(1, 0, `${pad}  more indented`);
        if (rng.chance(0.1)) lines.splice(0, 0, '');
        return `${chomp.startsWith('>') ? chomp : `|${chomp}`}${rng.pick(['', '', ' # c'])}\n${lines.join('\n')}`;
      }
      case 7:
        return `${rng.pick(SCALARS)} # comment`;
      case 8:
        return this.flow(0);
      case 9:
        return rng.pick(['[]', '{}', '[ ]', '{ }', "''", '""', "' '", '"\\t"']);
      case 10:
        return rng.chance(this.risk) ? `"${w}\n${pad}next"` : `"${w}"`;
      case 11:
        return rng.chance(this.risk)
          ? rng.pick(['&a x', '*a', '!!str 1', '!x y', '? x', '- x', '-', '@x', '%x'])
          : w;
      default:
        return w;
    }
  }

  flow(depth: number): string {
    const { rng } = this;
    const items = Array.from({ length: rng.int(4) }, () => {
      if (depth < 3 && rng.chance(0.25)) return this.flow(depth + 1);
      return rng.pick([
        ...SCALARS.slice(0, 20),
        'a',
        'b c',
        "'q, x'",
        '"d\\"q"',
        'x-y',
        ...(rng.chance(this.risk) ? ['a:b', 'a #b', '', '- a', 'a: 1', 'a#b', '*x'] : []),
      ]);
    });
    if (rng.chance(0.5)) {
      const pairs = items.map(
        (v, i) => `${rng.chance(0.2) ? `"k${i}"` : rng.pick(['k', 'a', 'b', 'c']) + i}: ${v}`,
      );
      if (rng.chance(this.risk)) pairs.push(rng.pick(['lonely', 'x:', 'y: ', 'k0: dup']));
      return `{${pairs.join(rng.pick([', ', ',', ' , ']))}${rng.chance(0.1) ? ',' : ''}}`;
    }
    return `[${items.join(rng.pick([', ', ',', ' , ']))}${rng.chance(0.1) ? ',' : ''}]`;
  }

  /** Lines of a block mapping at column `ind`. */
  map(ind: number, depth: number): string[] {
    const { rng } = this;
    const pad = ' '.repeat(ind);
    const out: string[] = [];
    const n = 1 + rng.int(depth === 0 ? 8 : 4);
    const used = new Set<string>();
    for (let i = 0; i < n; i++) {
      let key = this.key();
      if (used.has(key) && !rng.chance(this.risk)) key = `${key}_${i}`;
      used.add(key);
      if (rng.chance(0.1))
        out.push(rng.pick(['', `${pad}# comment`, '# at column 0', '   ', `${pad}    # deeper`]));
      const sep = rng.chance(this.risk / 2) ? rng.pick([':', ' :', ':  ', ':\t']) : ':';
      const r = rng.next();
      if (depth < 4 && r < 0.2) {
        out.push(`${pad}${key}:${rng.chance(0.1) ? ' # c' : ''}`);
        out.push(...this.map(ind + rng.pick([2, 2, 4, 1]), depth + 1));
      } else if (depth < 4 && r < 0.4) {
        out.push(`${pad}${key}:`);
        out.push(...this.seq(ind + rng.pick([0, 2, 2, 4]), depth + 1));
      } else {
        const v = this.scalar(ind);
        out.push(...`${pad}${key}${sep} ${v}`.split('\n'));
      }
    }
    if (rng.chance(this.risk / 2)) {
      const i = rng.int(out.length);
      out[i] = rng.pick([' ', '  ', '\t']) + out[i];
    }
    return out;
  }

  seq(ind: number, depth: number): string[] {
    const { rng } = this;
    const pad = ' '.repeat(ind);
    const out: string[] = [];
    const n = 1 + rng.int(4);
    for (let i = 0; i < n; i++) {
      if (rng.chance(0.1)) out.push(rng.pick(['', `${pad}# comment`, '  ']));
      const r = rng.next();
      const space = rng.pick([' ', ' ', ' ', '   ']);
      if (depth < 4 && r < 0.35) {
        // `- key: value` and more keys below
        const m = this.map(ind + 1 + space.length, depth + 1);
        const first = m.findIndex((l) => l.trim() !== '' && !l.trim().startsWith('#'));
        if (first === -1) continue;
        m[first] = `${pad}-${space}${m[first]!.slice(ind + 1 + space.length)}`;
        out.push(...m.slice(first));
      } else if (depth < 4 && r < 0.45) {
        out.push(`${pad}-`);
        out.push(...this.map(ind + 2, depth + 1));
      } else if (depth < 4 && r < 0.5 && rng.chance(this.risk)) {
        out.push(`${pad}- - ${this.word()}`);
      } else {
        out.push(...`${pad}-${space}${this.scalar(ind)}`.split('\n'));
      }
    }
    return out;
  }

  document(): string {
    const { rng } = this;
    const lines: string[] = [];
    if (rng.chance(0.2)) lines.push('# GENERATED by CAR - DO NOT EDIT');
    if (rng.chance(this.risk / 3)) lines.push(rng.pick(['---', '%YAML 1.1', '...', '--- # x']));
    lines.push(...this.map(0, 0));
    const eol = rng.chance(0.1) ? '\r\n' : '\n';
    let text = lines.join(eol);
    if (!rng.chance(0.1)) text += eol;
    if (rng.chance(0.05)) text += rng.pick(['\n\n', '  \n', '# end\n']);
    return text;
  }
}

/** `count` documents for the seed: the same seed gives the same texts. */
export function generateBlockYaml(seed: number, count: number, opts: GenOptions = { risk: 0.15 }): string[] {
  const gen = new Gen(new Rng(seed), opts);
  return Array.from({ length: count }, () => gen.document());
}

/**
 * A manifest the way CAR's PyYAML (`safe_dump`, width 80: long strings folded, odd ones quoted) or
 * car (`stringify`, `indentSeq: false`) writes one, with `repos` entries.
 */
export function manifestText(repos: number, seed = 1): string {
  const rng = new Rng(seed);
  const lines = ['# GENERATED by CAR - DO NOT EDIT', 'version: 3', 'repos:'];
  for (let i = 0; i < repos; i++) {
    const wt = i % 3 === 2;
    lines.push(`- id: ${wt ? `project-${i}--feature-${i}` : `project-${i}`}`);
    lines.push(`  path: ${wt ? `worktrees/project-${i}--feature-${i}` : `repos/project-${i}`}`);
    lines.push('  enabled: true', `  auto_run: ${rng.chance(0.5)}`, `  kind: ${wt ? 'worktree' : 'base'}`);
    if (wt) lines.push(`  worktree_of: project-${i - 1}`, `  branch: feature/${i}`);
    else if (rng.chance(0.5)) lines.push(`  display_name: Project number ${i}`);
    const r = rng.next();
    if (r < 0.2) {
      lines.push('  worktree_setup_commands:');
      lines.push('  - npm ci');
      // a command PyYAML folded at 80 columns, and one it quoted
      lines.push(
        '  - npm run build && npm run generate-fixtures -- --all --force && npm run lint --',
        '    --fix',
      );
      lines.push('  - \'echo "setup: done"\'');
    } else if (r < 0.25) lines.push('  worktree_setup_commands: []');
    if (rng.chance(0.1)) lines.push('  archived: true');
    if (rng.chance(0.1)) lines.push('  destination:', '    kind: docker', '    image: node:20');
  }
  return `${lines.join('\n')}\n`;
}
