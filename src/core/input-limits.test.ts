import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { parseDocument } from 'yaml';
import { cpuTimeMs } from '../../test/helpers/cpu.ts';
import {
  checkTextSize,
  formatBytes,
  INPUT_LIMITS,
  InputLimitError,
  readFileBounded,
} from './input-limits.ts';
import { checkYamlDocument, parseDocumentWithinLimits, parseYamlWithinLimits } from './yaml-limits.ts';

const L = INPUT_LIMITS;

function laughs(levels = 9, fan = 9): string {
  const lines = [`a0: &a0 [${Array(fan).fill('lol').join(', ')}]`];
  for (let i = 1; i < levels; i++)
    lines.push(
      `a${i}: &a${i} [${Array(fan)
        .fill(`*a${i - 1}`)
        .join(', ')}]`,
    );
  return `${lines.join('\n')}\n`;
}

/** One `keys`-key mapping, aliased `copies` times. */
function fanOut(keys: number, copies: number): string {
  const big = Array.from({ length: keys }, (_, i) => `k${i}: ${i}`).join(', ');
  return `big: &big {${big}}\ncopies: [${Array(copies).fill('*big').join(', ')}]\n`;
}

function withTemp(fn: (dir: string) => void): void {
  const dir = mkdtempSync(join(tmpdir(), 'car-limits-'));
  try {
    fn(dir);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

function expectLimit(fn: () => unknown, code: string, message: RegExp): void {
  assert.throws(fn, (err: unknown) => {
    assert.ok(err instanceof InputLimitError, String(err));
    assert.equal(err.code, code);
    assert.match(err.message, message);
    return true;
  });
}

test('formatBytes', () => {
  assert.equal(formatBytes(812), '812 bytes');
  assert.equal(formatBytes(64 * 1024), '64 KiB');
  assert.equal(formatBytes(1536), '1.5 KiB');
  assert.equal(formatBytes(5 * 1024 * 1024 + 1), '5.0 MiB');
  assert.equal(formatBytes(8 * 1024 * 1024), '8 MiB');
});

test('readFileBounded reads a file at the limit and refuses one byte more, naming size and limit', () => {
  withTemp((dir) => {
    const file = join(dir, 'f');
    writeFileSync(file, 'x'.repeat(1000));
    assert.equal(readFileBounded(file, 1000, 'a test file').length, 1000);
    expectLimit(
      () => readFileBounded(file, 999, 'a test file'),
      'limit-file-size',
      /1000 bytes, over the 999 bytes limit for a test file/,
    );
  });
});

test('readFileBounded refuses what is not a regular file, without blocking on it', () => {
  withTemp((dir) => {
    const link = join(dir, 'config.yml');
    symlinkSync('/dev/zero', link);
    expectLimit(() => readFileBounded(link, 1024, 'a config file'), 'limit-not-a-file', /not a regular file/);
    expectLimit(() => readFileBounded(dir, 1024, 'a config file'), 'limit-not-a-file', /not a regular file/);
    // a FIFO with no writer: opening it must not wait for one
    const fifo = join(dir, 'TICKET-001.md');
    if (spawnSync('mkfifo', [fifo]).status === 0) {
      expectLimit(
        () => readFileBounded(fifo, 1024, 'a ticket file'),
        'limit-not-a-file',
        /not a regular file/,
      );
    }
    assert.throws(() => readFileBounded(join(dir, 'missing'), 1024, 'x'), { code: 'ENOENT' });
  });
});

test('checkTextSize counts UTF-8 bytes, not characters', () => {
  assert.equal(checkTextSize('é'.repeat(50), 100, 'frontmatter'), null);
  const err = checkTextSize('é'.repeat(51), 100, 'frontmatter');
  assert.equal(err?.code, 'limit-frontmatter-size');
  assert.match(err?.message ?? '', /^frontmatter is 102 bytes, over the 100 bytes limit/);
  assert.equal(checkTextSize('x'.repeat(101), 100, 'a ticket file')?.code, 'limit-file-size');
});

test('flow nesting past the limit is refused as it is lexed, before the parser sees it', () => {
  // the mapping and 63 sequences: 64 levels
  const ok = `k: ${'['.repeat(L.yamlDepth - 1)}${']'.repeat(L.yamlDepth - 1)}\n`;
  assert.equal(parseDocumentWithinLimits(ok).limit, null);
  assert.equal(parseDocumentWithinLimits(`k: [${ok.slice(3)}`).limit?.code, 'limit-yaml-depth');
  const deep = `k: ${'['.repeat(100_000)}${']'.repeat(100_000)}\n`;
  const { doc, limit } = parseDocumentWithinLimits(deep);
  assert.equal(doc, null);
  assert.equal(limit?.code, 'limit-yaml-depth');
  assert.equal(limit?.offset, 3 + L.yamlDepth, 'the offset of the first bracket too deep');
});

test('brackets in quotes, comments and block scalars are not nesting', () => {
  const many = '['.repeat(200);
  const text = `a: "${many}"\nb: '${many}'\nc: x${many}\n# ${many}\nd: |\n  ${many}\n`;
  const { doc, limit } = parseDocumentWithinLimits(text);
  assert.equal(limit, null);
  assert.equal(doc?.errors.length, 0);
});

test('parseDocumentWithinLimits gives what parseDocument gives, errors with positions included', () => {
  for (const text of ['a: 1\nb: [x, {y: 2}]\n', 'a: [1\n', 'a: 1\n---\nb: 2\n', "a: 'x\n", '- a\nb: 1\n']) {
    const mine = parseDocumentWithinLimits(text, { version: '1.1' }).doc!;
    const theirs = parseDocument(text, { version: '1.1' });
    assert.deepEqual(mine.toJS(), theirs.toJS(), text);
    assert.deepEqual(
      mine.errors.map((e) => [e.code, e.linePos?.[0], e.message.split('\n')[0]]),
      theirs.errors.map((e) => [e.code, e.linePos?.[0], e.message.split('\n')[0]?.replace(/:$/, '')]),
      text,
    );
  }
});

test('yaml maxAliasCount (what the package bounds): a per-anchor heuristic, not the expansion', () => {
  // The classic bomb: refused.
  assert.throws(() => parseDocument(laughs()).toJS(), /Excessive alias count/);
  // 99 uses of one 2000-key mapping pass (count 100 x 1), though anything walking the value sees
  // 198k keys: toJS shares one object, JSON writes it 99 times.
  const fan = parseDocument(fanOut(2000, 99)).toJS() as { copies: unknown[] };
  assert.ok(JSON.stringify(fan).length > 99 * 2000 * 5);
  // A thousand anchors used once each pass: no bound on the number of aliases.
  const many = Array.from({ length: 1000 }, (_, i) => `a${i}: &x${i} v\nb${i}: *x${i}`).join('\n');
  assert.doesNotThrow(() => parseDocument(many).toJS());
  // While 100 uses of one scalar, which expand to 100 nodes, are refused.
  const scalar = `a: &s x\nb: [${Array(100).fill('*s').join(', ')}]\n`;
  assert.throws(() => parseDocument(scalar).toJS(), /Excessive alias count/);
});

test('checkYamlDocument bounds the alias count', () => {
  const ok = `a: &s x\nb: [${Array(L.yamlAliases).fill('*s').join(', ')}]\n`;
  assert.equal(checkYamlDocument(parseDocument(ok)), null);
  const text = `a: &s x\nb: [${Array(L.yamlAliases + 1)
    .fill('*s')
    .join(', ')}]\n`;
  const problem = checkYamlDocument(parseDocument(text));
  assert.equal(problem?.code, 'limit-yaml-aliases');
  assert.match(problem?.message ?? '', /more than 100 aliases/);
});

test('checkYamlDocument bounds what aliases expand to: billion laughs, fan-out, an alias inside its anchor', () => {
  for (const text of [laughs(), fanOut(2000, 99), fanOut(200, 51)]) {
    const problem = checkYamlDocument(parseDocument(text));
    assert.equal(problem?.code, 'limit-yaml-expansion', text.slice(0, 40));
    assert.match(problem?.message ?? '', /expand to more than 10000 nodes/);
  }
  assert.equal(checkYamlDocument(parseDocument(fanOut(100, 40))), null, '40 x 201 nodes is within');
  const selfRef = checkYamlDocument(parseDocument('a: &a {b: *a}\n'));
  assert.equal(selfRef?.code, 'limit-yaml-expansion');
  assert.match(selfRef?.message ?? '', /\*a is inside the node it names/);
});

test('checkYamlDocument bounds nesting, aliases expanded, and points at the node', () => {
  const nest = (n: number) => `${'['.repeat(n)}x${']'.repeat(n)}`;
  assert.equal(checkYamlDocument(parseDocument(`k: ${nest(L.yamlDepth - 1)}\n`)), null);
  const deep = checkYamlDocument(parseDocument(`k: ${nest(L.yamlDepth)}\n`));
  assert.equal(deep?.code, 'limit-yaml-depth');
  // 40 levels, used at 30 levels deep: 69 when expanded
  const text = `a: &d ${nest(40)}\nb: ${'['.repeat(30)}*d${']'.repeat(30)}\n`;
  const viaAlias = checkYamlDocument(parseDocument(text));
  assert.equal(viaAlias?.code, 'limit-yaml-depth');
  assert.equal(viaAlias?.offset, text.indexOf('*d'));
});

test('checkYamlDocument with uniqueKeys reports duplicate keys as yaml does, in linear time', () => {
  const doc = parseDocument('a: 1\nb: 2\na: 3\n<<: {x: 1}\n<<: {y: 2}\n', { uniqueKeys: false, merge: true });
  assert.equal(checkYamlDocument(doc, { uniqueKeys: true, text: 'a: 1\nb: 2\na: 3\n' }), null);
  assert.deepEqual(
    doc.errors.map((e) => [e.code, e.message, e.linePos?.[0]]),
    [['DUPLICATE_KEY', 'Map keys must be unique', { line: 3, col: 1 }]],
  );
  const keys = Array.from({ length: 20_000 }, (_, i) => `k${i}: ${i}`).join('\n');
  const big = parseDocument(`${keys}\nk7: again\n`, { uniqueKeys: false });
  checkYamlDocument(big, { uniqueKeys: true });
  assert.equal(big.errors.length, 1);
});

test('block nesting the parser sees past the limit is refused as it is parsed, never a stack overflow', () => {
  // Each `a: b:` line nests one level deeper in the yaml package's parser, which unwinds them
  // recursively at the next line less indented: a RangeError from parseDocument alone.
  const text = `a:\n${'  a: b:\n'.repeat(3000)}x\n`;
  assert.throws(() => parseDocument(text), RangeError);
  const { doc, limit } = parseDocumentWithinLimits(text);
  assert.equal(doc, null);
  assert.equal(limit?.code, 'limit-yaml-depth');
  // Real nesting at the limit is still read.
  const nested = Array.from({ length: L.yamlDepth }, (_, i) => `${' '.repeat(i)}k${i}:`).join('\n');
  assert.equal(parseDocumentWithinLimits(`${nested} v\n`).limit, null);
});

test('a collection as a key raises no Node process warning, which reached the terminal (fuzz finding)', async () => {
  const warnings: string[] = [];
  const onWarning = (warning: Error) => warnings.push(warning.message);
  process.on('warning', onWarning);
  try {
    assert.deepEqual(parseYamlWithinLimits('{a: 1}: x\n').value, { '{ a: 1 }': 'x' });
    // process.emitWarning reports on the next tick.
    await new Promise((resolve) => setImmediate(resolve));
  } finally {
    process.off('warning', onWarning);
  }
  assert.deepEqual(warnings, []);
});

test('thousands of duplicate keys cost linear time and at most 20 errors (fuzz finding)', () => {
  // Each duplicate's line was found by scanning the text from its start: 20k keys in a 100 KB file
  // took seconds.
  const start = cpuTimeMs();
  const { problems } = parseYamlWithinLimits('k: 1\n'.repeat(20_000), {}, { tokens: 1e6, what: 'x' });
  assert.ok(cpuTimeMs() - start < 1000, `${Math.round(cpuTimeMs() - start)} ms of CPU`);
  assert.equal(problems?.length, 20);
  assert.deepEqual(problems?.[0], { message: 'Map keys must be unique', line: 2, col: 1 });
  assert.deepEqual(problems?.[19], { message: 'Map keys must be unique', line: 21, col: 1 });
});

test('parseYamlWithinLimits: a value, or problems with line and column, a limit hit with its code', () => {
  assert.deepEqual(parseYamlWithinLimits('a: [1, 2]\n'), { value: { a: [1, 2] }, problems: null });
  const bomb = parseYamlWithinLimits(`x: 1\n${laughs()}`);
  assert.equal(bomb.value, null);
  assert.equal(bomb.problems?.[0]?.code, 'limit-yaml-expansion');
  // a0..a3 expand to 8289 nodes; a4's first alias passes 10000
  assert.equal(bomb.problems?.[0]?.line, 6, 'the alias where the expansion passed the limit');
  const deep = parseYamlWithinLimits(`x: 1\ny: ${'{a: '.repeat(100)}`);
  assert.deepEqual(
    [deep.problems?.[0]?.code, deep.problems?.[0]?.line, deep.problems?.[0]?.col],
    ['limit-yaml-depth', 2, 4 + 4 * 64],
  );
  const syntax = parseYamlWithinLimits('a: [1\n');
  assert.equal(syntax.problems?.[0]?.code, undefined);
  assert.doesNotMatch(syntax.problems?.[0]?.message ?? '', /at line/);
  const dup = parseYamlWithinLimits('a: 1\na: 2\n');
  assert.deepEqual(dup.problems, [{ message: 'Map keys must be unique', line: 2, col: 1 }]);
  assert.equal(parseYamlWithinLimits('a: 1\na: 2\n', { uniqueKeys: false }).problems, null);
  const unresolved = parseYamlWithinLimits('a: *nope\n');
  assert.match(unresolved.problems?.[0]?.message ?? '', /nope/);
});
