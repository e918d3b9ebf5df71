// yaml-fast.ts must give exactly what the `yaml` package gives (YAML 1.1, parse + toJS), or decline:
// checked on generated block YAML, on mutations of it, on every first character a plain scalar can
// have, and on the real files it exists for (CAR's whole default config, manifests as CAR and car
// write them), which it must answer.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Lexer, parseDocument } from 'yaml';
import { generateBlockYaml, manifestText, Rng } from '../../test/helpers/block-yaml-gen.ts';
import { carDefaultConfig } from '../../test/helpers/realistic.ts';
import { emptyManifest, type ManifestRepo, renderManifest } from './hub/manifest.ts';
import { readPlainBlockYaml } from './yaml-fast.ts';
import { parseYamlWithinLimits } from './yaml-limits.ts';

const CAR_CONFIG = carDefaultConfig();

/** A value as text that tells apart what deepEqual does not: key order, -0, NaN, Dates, prototypes. */
function show(value: unknown): string {
  if (value instanceof Date) return `Date(${value.getTime()})`;
  if (typeof value === 'number') return Object.is(value, -0) ? '-0' : String(value);
  if (Array.isArray(value)) return `[${value.map(show).join(',')}]`;
  if (value && typeof value === 'object') {
    if (Object.getPrototypeOf(value) !== Object.prototype) return `<${Object.getPrototypeOf(value)}>`;
    const entries = Object.keys(value).map((k) => `${JSON.stringify(k)}:${show((value as never)[k])}`);
    return `{${entries.join(',')}}`;
  }
  return JSON.stringify(value) ?? String(value);
}

/** What yaml-fast reads, or null when it declines. */
function plain(text: string): { value: unknown } | null {
  const read = readPlainBlockYaml(text);
  return read.value ? { value: read.value } : null;
}

/** Null when yaml-fast declines or agrees with the `yaml` package; otherwise what differs. */
function disagreement(text: string): string | null {
  const fast = plain(text);
  if (!fast) return null;
  const doc = parseDocument(text, { version: '1.1', uniqueKeys: true });
  const problems = [...doc.errors, ...doc.warnings];
  if (problems.length > 0) return `answered, where yaml says: ${problems[0]!.message.split('\n')[0]}`;
  const want = show(doc.toJS({ maxAliasCount: -1 }));
  const got = show(fast.value);
  return want === got ? null : `value ${got}\n  yaml: ${want}`;
}

function check(texts: string[], minAnswered: number): void {
  const differences: string[] = [];
  let answered = 0;
  for (const text of texts) {
    if (plain(text)) answered++;
    const why = disagreement(text);
    if (why) differences.push(`${JSON.stringify(text)}\n  ${why}`);
  }
  assert.deepEqual(differences.slice(0, 5), []);
  assert.ok(answered >= minAnswered, `answered ${answered} of ${texts.length}`);
}

test('generated block YAML: the value yaml gives, or declined', () => {
  // mostly forms it reads (~45% of files answered), then mostly forms it must decline
  check(generateBlockYaml(20_261_207, 1500, { risk: 0.02 }), 500);
  check(generateBlockYaml(7, 500, { risk: 0.3 }), 10);
});

test('mutated files (a character inserted, deleted or replaced): the value yaml gives, or declined', () => {
  const rng = new Rng(4242);
  const pieces = [' ', '  ', '\n', '- ', ':', ': ', '#', ' #', "'", '"', '\\', '[', ']', '{', '}', ','];
  pieces.push('|', '>', '&a', '*a', '!', '?', '%', '@', '`', '\t', '\r', '\n  ', '---', 'x', '0', '<<: ');
  const bases = [...generateBlockYaml(99, 150, { risk: 0.02 }), manifestText(4), CAR_CONFIG].filter((t) =>
    plain(t),
  );
  const mutants: string[] = [];
  for (const base of bases) {
    for (let m = 0; m < 25; m++) {
      let t = base;
      for (let k = 1 + rng.int(2); k > 0; k--) {
        const at = rng.int(t.length + 1);
        const r = rng.next();
        const cut = r < 0.5 ? 0 : 1 + rng.int(3);
        t = t.slice(0, at) + (r < 0.5 || r > 0.8 ? rng.pick(pieces) : '') + t.slice(at + cut);
      }
      mutants.push(t);
    }
  }
  check(mutants, mutants.length / 5);
});

test('a plain scalar starting with any character resolves as yaml resolves it', () => {
  const texts: string[] = [];
  for (let c = 0x20; c < 0x7f; c++) {
    for (const rest of ['', '5', 'es', 'rue', 'ull', 'x', '1_0', '.5', 'e3', 'nf', ' word']) {
      texts.push(`k: ${String.fromCharCode(c)}${rest}\n`, `k: [${String.fromCharCode(c)}${rest}]\n`);
      texts.push(`${String.fromCharCode(c)}${rest}: v\n`);
    }
  }
  check(texts, 300);
});

test('edge cases: folding, chomping, quoting, flow, indentation', () => {
  const cases: Array<[string, unknown]> = [
    ['a: 1\nb: [x, "y", \'z\', {c: d}]\n', { a: 1, b: ['x', 'y', 'z', { c: 'd' }] }],
    ['k: long text\n  folded here\n\n  and a paragraph\n', { k: 'long text folded here\nand a paragraph' }],
    ["k: 'it''s\n  two lines '\n", { k: "it's two lines " }],
    ['k: |\n  a\n\n  b\nz: |-\n  c\nw: |+\n  d\n\n', { k: 'a\n\nb\n', z: 'c', w: 'd\n\n' }],
    [
      'repos:\n- id: a\n  path: x\n- id: b\nother:\n  - 1\n  -\n    k: v\n',
      { repos: [{ id: 'a', path: 'x' }, { id: 'b' }], other: [1, { k: 'v' }] },
    ],
    ['"n": 1\n\'yes\': 2\nn2: n\n', { n: 1, yes: 2, n2: false }],
    ['k: "\\x41\\u00e9\\U0001F600\\t"\n', { k: 'Aé😀\t' }],
    ['a: 1\r\nb: two\r\n', { a: 1, b: 'two' }],
    [
      'a: 2024-01-02\nb: 0o10\nc: 010\nd: 1:30\ne: ~\nf: .inf\n',
      { a: new Date(Date.UTC(2024, 0, 2)), b: '0o10', c: 8, d: 90, e: null, f: Infinity },
    ],
    ['constructor: 1\ntoString: x\n', { constructor: 1, toString: 'x' }],
  ];
  for (const [text, want] of cases) {
    assert.equal(show(plain(text)?.value), show(want), text);
    assert.equal(disagreement(text), null, text);
  }
  // declined: the `yaml` package reads them (or refuses them) itself
  const declined = [
    'a: &x 1\nb: *x\n',
    'a: !!str 1\n',
    'a: >\n  folded\n',
    '<<: {a: 1}\n',
    'a: 1\na: 2\n',
    '? a\n: b\n',
    '---\na: 1\n',
    '%YAML 1.1\n---\na: 1\n',
    'a:\tb\n',
    '\ufeffa: 1\n',
    'a: b\u2028c\n',
    'yes: 1\n',
    '1: a\n',
    '__proto__: 1\n',
    '- a\n',
    'a: [1,\n  2]\n',
    'a: "x\n  y"\n',
    'a: b: c\n',
    '  a: 1\n',
    'a: |\n  x',
    '',
  ];
  for (const text of declined) assert.equal(plain(text), null, JSON.stringify(text));
});

test('the real files it exists for are read by it, to the value yaml gives', () => {
  // CAR's root config with every documented key and its comments: 539 lines, ~3,100 yaml tokens
  assert.ok(plain(CAR_CONFIG));
  assert.equal(disagreement(CAR_CONFIG), null);
  // a 500-repo manifest as CAR's PyYAML writes it (long commands folded at 80 columns, odd ones quoted)
  const car = manifestText(500);
  assert.ok(plain(car));
  assert.equal(disagreement(car), null);
  // and as car writes it (multi-line strings as literal block scalars, odd ones double-quoted)
  const manifest = emptyManifest();
  for (let i = 0; i < 500; i++) {
    const repo: ManifestRepo = {
      id: `project-${i}`,
      path: `repos/project-${i}`,
      enabled: true,
      auto_run: i % 2 === 0,
      kind: 'base',
      display_name: i % 7 === 0 ? 'yes' : `Project ${i}: the #${i}`,
      worktree_setup_commands: ['npm ci', 'echo "done: ok"', 'make \\\n  all'],
      extra: {},
    };
    manifest.repos.push(repo);
  }
  const ours = renderManifest(manifest);
  assert.ok(plain(ours));
  assert.equal(disagreement(ours), null);
  // through parseYamlWithinLimits, none of them meets the yaml token budget (2,000)
  assert.equal(parseYamlWithinLimits(ours, { version: '1.1' }, { tokens: 10, what: 'x' }).problems, null);
});

test('a declined text says where and why, for the error when it is over the token budget', () => {
  const cases: Array<[string, number, string]> = [
    ['a: 1\nb: 2\na: 3\n', 3, 'a duplicate key'],
    ['a: 1\nb:\n  c: &x 1\n', 3, 'an anchor'],
    ['a: 1\r\nb: "x\ty"\r\n', 2, 'a tab'],
    ['a: 1\nb: x\u200by\n', 2, 'the character U+200B'],
    ['a: 1\n---\nb: 2\n', 2, 'a directive or document marker'],
    ['a:\n  b:\n    c: 1\n   d: 2\n', 4, 'unexpected indentation'],
    ['a: >\n  folded\n', 1, 'a folded block scalar'],
    ['repos:\n- id: a\n  id: b\n', 3, 'a duplicate key'],
  ];
  for (const [text, line, reason] of cases) {
    const { notPlain } = readPlainBlockYaml(text);
    assert.deepEqual(
      { line: notPlain?.line, reason: notPlain?.reason },
      { line, reason },
      JSON.stringify(text),
    );
  }
});

/** Lexemes of `text` (control tokens too) that start before the end of 1-based `line`. */
function lexemesThrough(text: string, line: number): number {
  let end = -1;
  for (let l = 0; l < line; l++) {
    end = text.indexOf('\n', end + 1);
    if (end === -1) {
      end = text.length;
      break;
    }
  }
  let offset = 0;
  let count = 0;
  for (const lexeme of new Lexer().lex(text)) {
    if (offset > end) break;
    count++;
    if (lexeme !== '\x02' && lexeme !== '\x1f' && lexeme !== '\x18') offset += lexeme.length;
  }
  return count;
}

test('the tokens counted before a decline are never more than the yaml lexer emits there', () => {
  // parseYamlWithinLimits refuses a file without parsing it when they are over the budget
  const texts = [...generateBlockYaml(5, 400, { risk: 0.1 }), ...generateBlockYaml(6, 200, { risk: 0.4 })];
  let checked = 0;
  for (const text of texts) {
    const { notPlain } = readPlainBlockYaml(text);
    if (!notPlain || notPlain.tokens === 0) continue;
    checked++;
    const lexed = lexemesThrough(text, notPlain.line);
    assert.ok(
      notPlain.tokens <= lexed,
      `${notPlain.tokens} > ${lexed} lexemes through line ${notPlain.line} of ${JSON.stringify(text)}`,
    );
  }
  assert.ok(checked > 100, `${checked} declined files checked`);
});
