import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { describe, test } from 'node:test';
import { isDeepStrictEqual } from 'node:util';
import { isMap, isScalar } from 'yaml';
import { isIntNode, parseBoundedYamlValues, parseYaml, parseYamlDocument } from './yaml.ts';

// Scalars and documents where YAML 1.2, YAML 1.1 and PyYAML tend to disagree.
const SCALARS = [
  '010',
  '0o10',
  '0x1F',
  '0x_1',
  '0b101',
  '08',
  '09.5',
  '00',
  '0_',
  '1_000',
  '1__0',
  '_1',
  '+12',
  '-0',
  '1e3',
  '1.0e3',
  '1.0e+3',
  '3.14e-2',
  '1.',
  '.5',
  '-.5',
  '+.5',
  '0.0',
  '1_0.0_1',
  '1.5_0',
  '1:30',
  '-1:30',
  '1:30.5',
  '12:30:45',
  '1:60',
  '190:20:30.15',
  '.inf',
  '-.Inf',
  '+.INF',
  'y',
  'n',
  'Y',
  'N',
  'yes',
  'Yes',
  'YES',
  'yEs',
  'no',
  'No',
  'NO',
  'on',
  'On',
  'ON',
  'oN',
  'off',
  'Off',
  'OFF',
  'true',
  'True',
  'TRUE',
  'tRue',
  'false',
  'False',
  'FALSE',
  '~',
  'null',
  'Null',
  'NULL',
  'nUll',
  '',
  '2026-01-02',
  '2026-1-2',
  '1,000',
  '0b',
  '0x',
  'x #c',
  'x#c',
  '"010"',
  "'yes'",
  '"\\e\\N\\_"',
  '"\\x41\\u00e9"',
  '=',
  '!!str 010',
  "!!int '010'",
  "!!float '1'",
  '!!bool yes',
  '!foo x',
  '2026-13-45',
  '2026-02-30',
  '- x',
  '@x',
  '`x',
  '%x',
  'b: c',
  '[1, 2,]',
  '{b}',
  "'multi\n\n  line'",
  'x\n  y',
  '  x   ',
];

const DOCUMENTS = [
  'a: 1\n\tb: 2',
  'a:\n- 1\n- 2',
  '{a: 1, b: [x, y]}',
  'a: |\n  x\n\n',
  'a: >\n  x\n  y\n\n  z\n',
  'a: |-\n  x\n  y\n',
  '"a"  : 1',
  'a: &a 1\nb: *a',
  'a: *nope',
  'a: 1\na: 2',
  'b: &x {c: 1, d: 1}\ne:\n  <<: *x\n  c: 2',
  '- a: 1\n  b: 2\n- c',
  'a:\n  b:\n    c: 1',
  '# only a comment\n',
  '',
  'just a string',
  '- 1\n- two\n- 3.0',
  'ticket_id: "tkt_1"\nagent: codex # the agent\ndone: no\ntitle: Fix: the thing',
  'title: Fix: the thing',
  'title: "unterminated',
  'context:\n  - path: a.md\n    max_bytes: 10\n    required: yes\n  - path: b.md',
  'title: héllo wörld ✓\ngoal: 日本語',
  'a: 1\r\nb: [x,\r\n  y]\r\n',
  'a: b\n  c: d',
  '? a\n: 1',
  'a: !!binary aGVsbG8=',
  '%YAML 1.1\n---\na: 1',
  'a: [a, b]: c',
  'a:\tb',
  'a: b\t# c',
  "a: 'x\ty' #\tc",
  'a: &x.y 1',
  'a: &x-y_1 1\nb: *x-y_1',
  'a: "x\ny"',
  "a:\n  b: 'x\n\n  y'",
  'a: |\n  x\n  y',
  'a: >+\n  x',
  'a: !!omap [x: 1, y: 2]',
  'a: !!pairs [x: 1, x: 2]',
  '? [a]\n: 1',
  'a: 1\n? x\n- item',
  'a: "\x07"',
];

const PYTHON = `
import json, sys, datetime, math
try:
    import yaml
except ImportError:
    print("NO_PYYAML"); sys.exit(0)
def conv(v):
    if isinstance(v, dict): return {str(k).lower() if isinstance(k, bool) else str(k): conv(x) for k, x in v.items()}
    if isinstance(v, list): return [conv(x) for x in v]
    if isinstance(v, (datetime.date, datetime.datetime)): return v.isoformat()
    if isinstance(v, bytes): return {"bytes": list(v)}
    if isinstance(v, float) and (math.isinf(v) or math.isnan(v)): return repr(v)
    return v
out = []
for doc in json.load(sys.stdin):
    try: out.append({"value": conv(yaml.safe_load(doc))})
    except Exception as e: out.append({"error": type(e).__name__})
print(json.dumps(out))
`;

function conv(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(conv);
  if (v instanceof Uint8Array) return { bytes: [...v] };
  if (v && typeof v === 'object') return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, conv(x)]));
  if (typeof v === 'number' && !Number.isFinite(v)) return Number.isNaN(v) ? 'nan' : v > 0 ? 'inf' : '-inf';
  return v;
}

function pythonLoad(docs: string[]): Array<{ value?: unknown; error?: string }> | string {
  const run = spawnSync('python3', ['-c', PYTHON], { input: JSON.stringify(docs), encoding: 'utf8' });
  if (run.error || run.status !== 0) return 'python3 is not available';
  if (run.stdout.trim() === 'NO_PYYAML') return 'PyYAML is not installed for python3';
  return JSON.parse(run.stdout);
}

describe('parseYaml matches PyYAML safe_load', () => {
  const docs = [...SCALARS.map((s) => `a: ${s}`), ...DOCUMENTS];
  const expected = pythonLoad(docs);
  test('differential against python3 -c yaml.safe_load', {
    skip: typeof expected === 'string' && expected,
  }, () => {
    assert.ok(Array.isArray(expected));
    const mismatches: string[] = [];
    docs.forEach((doc, i) => {
      const py = expected[i]!;
      const ours = parseYaml(doc);
      const label = JSON.stringify(doc);
      if (py.error !== undefined) {
        if (ours.errors.length === 0) mismatches.push(`${label}: PyYAML fails (${py.error}), we parsed it`);
      } else if (ours.errors.length > 0) {
        mismatches.push(`${label}: we fail (${ours.errors[0]?.message}), PyYAML parsed it`);
      } else if (!isDeepStrictEqual(conv(ours.value), py.value)) {
        mismatches.push(`${label}: ${JSON.stringify(conv(ours.value))} != ${JSON.stringify(py.value)}`);
      }
    });
    assert.deepEqual(mismatches, []);
  });
});

describe('parseYaml', () => {
  test('bools are exactly PyYAML words', () => {
    assert.deepEqual(parseYaml('a: yes\nb: y\nc: Off\nd: oN').value, { a: true, b: 'y', c: false, d: 'oN' });
  });

  test('YAML 1.1 numbers', () => {
    assert.deepEqual(parseYaml('a: 010\nb: 0x1F\nc: 1_000\nd: 1e3\ne: 08\nf: 1:30').value, {
      a: 8,
      b: 31,
      c: 1000,
      d: '1e3',
      e: '08',
      f: 90,
    });
  });

  test('timestamps keep their text', () => {
    assert.deepEqual(parseYaml('d: 2026-01-02\nt: 2026-01-02T10:00:00Z').value, {
      d: '2026-01-02',
      t: '2026-01-02T10:00:00Z',
    });
  });

  test('ints and floats are told apart on the node', () => {
    const doc = parseYamlDocument('a: 1\nb: 1.0\nc: "1"\nd: !!int "7"');
    assert.ok(isMap(doc.contents));
    const [a, b, c, d] = doc.contents.items.map((p) => p.value);
    assert.equal(isIntNode(a), true);
    assert.equal(isIntNode(b), false);
    assert.ok(isScalar(b) && b.tag === 'tag:yaml.org,2002:float');
    assert.equal(isIntNode(c), false);
    assert.equal(isIntNode(d), true);
  });

  test('problems carry 1-based line and column', () => {
    const { value, errors } = parseYaml('a: 1\nb: [1, 2\n');
    assert.equal(value, null);
    assert.equal(errors.length > 0, true);
    // where the bracket opens, not where the parser gave up (the line after)
    assert.equal(errors[0]!.line, 2);
    assert.equal(errors[0]!.col, 4);
    assert.doesNotMatch(errors[0]!.message, /at line/);
  });

  test('an unclosed quote is reported on the line it opens', () => {
    const { errors } = parseYaml('a: 1\nb: "two\nc: 3\n');
    assert.match(errors[0]!.message, /Missing closing "quote/);
    assert.deepEqual([errors[0]!.line, errors[0]!.col], [2, 4]);
    assert.equal(parseYaml("a: 1\nb: [x, {y: 'z\n").errors[0]!.line, 2);
  });

  test('unknown explicit tags are errors, as in safe_load', () => {
    assert.equal(parseYaml('a: !foo x').errors[0]?.line, 1);
  });

  test('empty and comment-only documents are null', () => {
    assert.deepEqual(parseYaml(''), { value: null, errors: [] });
    assert.deepEqual(parseYaml('# x\n'), { value: null, errors: [] });
  });

  test('what PyYAML refuses and the yaml package reads is an error (pyyaml-compat.ts)', () => {
    const refused: Array<[string, RegExp]> = [
      ['a: 1 # \x07', /unacceptable character #x0007/],
      ['a: x\x7fy', /unacceptable character #x007f/],
      ['a:\tb', /found character '\\t'/],
      ['a: b\t', /found character '\\t'/],
      ['a: b\tc', /found character '\\t'/],
      ['a:\n\t- b', /found character '\\t'/],
      ['a: |\n\tb', /found character '\\t'/],
      ['a: &x.y 1', /while scanning an anchor/],
      ['? {a: 1}\n: 2', /unhashable key/],
      ['[a, b]: c', /unhashable key/],
      ['a: [x, y]: c', /mapping values are not allowed here/],
      ['a: 1\n? x\n- item', /expected <block end>/],
    ];
    for (const [text, message] of refused) {
      assert.match(parseYaml(text).errors[0]?.message ?? 'parsed', message, JSON.stringify(text));
    }
    // Tabs inside quotes, comments and block scalar content are fine.
    assert.deepEqual(parseYaml("a: 'x\ty' #\tc\nb: |\n  p\tq\n").value, { a: 'x\ty', b: 'p\tq\n' });
  });

  test('PyYAML’s values where the yaml package’s differ', () => {
    // A block scalar that ends the text has no final line break (CAR's frontmatter never ends with one).
    assert.deepEqual(parseYaml('a: |\n  x\n  y').value, { a: 'x\ny' });
    assert.deepEqual(parseYaml('a: >\n  x\n  y').value, { a: 'x y' });
    assert.deepEqual(parseYaml('a: |\n  x\n').value, { a: 'x\n' });
    // !!omap and !!pairs are lists of pairs, in order, duplicates kept (not a Map, which JSON loses).
    assert.deepEqual(parseYaml('a: !!omap [x: 1, y: 2]\nb: !!pairs [x: 1, x: 2]').value, {
      a: [
        ['x', 1],
        ['y', 2],
      ],
      b: [
        ['x', 1],
        ['x', 2],
      ],
    });
    assert.match(parseYaml('a: !!omap [x, y]').errors[0]?.message ?? '', /expected a mapping of length 1/);
  });

  test('parseBoundedYamlValues joins a quoted value continued on lines without indentation', () => {
    const text = 'a: "x\ny"\nb:\n  c: \'p\n\nq\'\nd: 1';
    assert.ok(parseYamlDocument(text).errors.length > 0, 'the yaml package alone refuses it');
    assert.deepEqual(parseYaml(text).value, { a: 'x y', b: { c: 'p\nq' }, d: 1 });
    const { doc, text: parsed } = parseBoundedYamlValues(text);
    assert.deepEqual(doc?.toJS(), { a: 'x y', b: { c: 'p\nq' }, d: 1 });
    assert.equal(parsed.split('\n').length, text.split('\n').length, 'lines stay where they were');
    // A document marker inside the value is refused by PyYAML too.
    assert.ok((parseBoundedYamlValues('a: "x\n---\ny"').doc?.errors.length ?? 0) > 0);
  });
});
