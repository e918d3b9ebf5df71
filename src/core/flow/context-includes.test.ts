import assert from 'node:assert/strict';
import { mkdir, mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { buildContextIncludes, CONTEXT_TOTAL_MAX_BYTES } from './context-includes.ts';
import { TRUNCATION_MARKER } from './text-cut.ts';

const tmp = await mkdtemp(join(tmpdir(), 'car-context-'));
after(() => rm(tmp, { recursive: true, force: true }));
let n = 0;

async function repo(files: Record<string, string | Buffer>): Promise<string> {
  const root = join(tmp, `repo${++n}`);
  for (const [rel, content] of Object.entries(files)) {
    await mkdir(join(root, rel, '..'), { recursive: true });
    await writeFile(join(root, rel), content);
  }
  await mkdir(root, { recursive: true });
  return root;
}

const HEADER = 'Requested ticket context includes (bounded total bytes=16384):';

test('no entries gives an empty block', async () => {
  assert.deepEqual(await buildContextIncludes(await repo({}), []), {
    block: '',
    missingRequired: [],
    entries: [],
  });
});

test('renders CAR entry format for every status', async () => {
  const root = await repo({ 'docs/a.md': '\n  Hello\n\n', 'bad.bin': Buffer.from([0x61, 0xff, 0xfe]) });
  await mkdir(join(root, 'dir'));
  const out = await buildContextIncludes(root, [
    { path: 'docs/a.md', max_bytes: 100, required: true },
    { path: 'gone.md', required: true },
    { path: 'maybe.md' },
    { path: 'dir' },
    { path: 'bad.bin' },
  ]);
  assert.equal(
    out.block,
    [
      HEADER,
      '<CAR_CONTEXT_ENTRY>\n- path: docs/a.md\n- required: true\n- max_bytes: 100\n- status: included\nCONTENT:\nHello\n</CAR_CONTEXT_ENTRY>',
      '<CAR_CONTEXT_ENTRY>\n- path: gone.md\n- required: true\n- status: missing\n</CAR_CONTEXT_ENTRY>',
      '<CAR_CONTEXT_ENTRY>\n- path: maybe.md\n- required: false\n- status: missing\n</CAR_CONTEXT_ENTRY>',
      '<CAR_CONTEXT_ENTRY>\n- path: dir\n- required: false\n- status: not_a_file\n</CAR_CONTEXT_ENTRY>',
      '<CAR_CONTEXT_ENTRY>\n- path: bad.bin\n- required: false\n- status: read_error (not valid UTF-8)\n</CAR_CONTEXT_ENTRY>',
    ].join('\n\n'),
  );
  assert.deepEqual(out.missingRequired, ['gone.md']);
  assert.deepEqual(
    out.entries.map((e) => e.status),
    ['included', 'missing', 'missing', 'not_a_file', 'read_error'],
  );
});

test('paths and symlinks that leave the repo are refused, even when required', async () => {
  const outside = join(tmp, `secret${++n}.txt`);
  await writeFile(outside, 'TOP SECRET');
  const root = await repo({ 'ok.md': 'fine' });
  await symlink(outside, join(root, 'link.md'));
  await symlink(join(root, 'ok.md'), join(root, 'inner-link.md'));
  const out = await buildContextIncludes(root, [
    { path: 'link.md', required: true },
    { path: '../x.md' },
    { path: outside },
    { path: 'inner-link.md' },
  ]);
  assert.ok(!out.block.includes('TOP SECRET'));
  assert.deepEqual(
    out.entries.map((e) => [e.status, e.detail]),
    [
      ['read_error', 'outside repo'],
      ['read_error', 'outside repo'],
      ['read_error', 'outside repo'],
      ['included', undefined],
    ],
  );
  assert.match(out.block, /- path: link\.md\n- required: true\n- status: read_error \(outside repo\)/);
  assert.deepEqual(out.missingRequired, ['link.md']);
});

test('per-entry caps, byte-accurate UTF-8 truncation, and budget exhaustion', async () => {
  const euro = '€'.repeat(3000); // 9000 bytes
  const root = await repo({
    'big.md': euro,
    'b.md': 'b'.repeat(10000),
    'c.md': 'c'.repeat(10000),
    'd.md': 'd',
    'e.md': 'e',
  });
  const out = await buildContextIncludes(root, [
    { path: 'big.md', max_bytes: 100 },
    { path: 'b.md', max_bytes: 99999 },
    { path: 'c.md', max_bytes: 99999 },
    { path: 'd.md', required: true },
    { path: 'e.md' },
  ]);
  const contents = [...out.block.matchAll(/CONTENT:\n([\s\S]*?)\n<\/CAR_CONTEXT_ENTRY>/g)].map(
    (m) => m[1] ?? '',
  );
  assert.equal(contents.length, 3);
  const [big, b, c] = contents as [string, string, string];
  assert.ok(Buffer.byteLength(big) <= 100);
  assert.ok(big.endsWith(TRUNCATION_MARKER));
  assert.ok(!big.includes('\uFFFD'), 'no broken character');
  assert.equal(big.slice(0, -TRUNCATION_MARKER.length), '€'.repeat(25), '75 of the 75 usable bytes');
  assert.equal(b, 'b'.repeat(10000), 'fits under min(max_bytes, total, remaining)');
  // c gets only what is left of the 16384-byte total.
  const left = CONTEXT_TOTAL_MAX_BYTES - Buffer.byteLength(big) - Buffer.byteLength(b);
  assert.match(out.block, new RegExp(`- path: c\\.md\\n- required: false\\n- max_bytes: ${left}\\n`));
  assert.equal(Buffer.byteLength(c), left);
  assert.ok(c.endsWith(TRUNCATION_MARKER));
  assert.deepEqual(
    out.entries.map((e) => e.status),
    ['included', 'included', 'included', 'skipped_budget_exhausted', 'skipped_budget_exhausted'],
  );
  assert.match(
    out.block,
    /- path: d\.md\n- required: true\n- status: skipped_budget_exhausted\n<\/CAR_CONTEXT_ENTRY>$/m,
  );
  assert.deepEqual(out.missingRequired, [], 'a present file skipped for budget is not missing');
});

test('large files are read only up to the cap and still truncated', async () => {
  const root = await repo({ 'huge.md': `${'x'.repeat(300_000)}END` });
  const out = await buildContextIncludes(root, [{ path: 'huge.md' }]);
  assert.match(out.block, /- max_bytes: 4096\n/);
  assert.ok(out.block.includes(TRUNCATION_MARKER));
  assert.ok(!out.block.includes('END'));
});
