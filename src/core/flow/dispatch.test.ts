import assert from 'node:assert/strict';
import { mkdir, mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import {
  archiveDispatch,
  DispatchFrontmatterError,
  nextDispatchSeq,
  parseDispatch,
  writeDispatch,
  writeTurnSummary,
} from './dispatch.ts';
import { ensureRunDirs, type RunPaths, runPaths } from './run-paths.ts';

const tmp = await mkdtemp(join(tmpdir(), 'car-dispatch-'));
after(() => rm(tmp, { recursive: true, force: true }));
let n = 0;

async function freshRun(): Promise<RunPaths> {
  const paths = runPaths(join(tmp, `repo${++n}`), 'run-a');
  ensureRunDirs(paths);
  return paths;
}

async function exists(path: string): Promise<boolean> {
  return stat(path).then(
    () => true,
    () => false,
  );
}

test('parseDispatch: defaults, normalisation, extra keys', () => {
  assert.deepEqual(parseDispatch('Just a note.\n'), {
    mode: 'notify',
    title: null,
    body: 'Just a note.',
    options: [],
    extra: {},
  });
  assert.deepEqual(
    parseDispatch('---\nmode: " PAUSE "\ntitle: "  Need input "\nticket: T-1\n---\n\n\nWhich DB?\n\n'),
    {
      mode: 'pause',
      title: 'Need input',
      body: 'Which DB?',
      options: [],
      extra: { ticket: 'T-1' },
    },
  );
  assert.equal(parseDispatch('---\n...\nbody').mode, 'notify');
  assert.equal(parseDispatch('---\r\nmode: pause\r\n---\r\nhi').mode, 'pause');
});

test('parseDispatch: options are ready answers, up to 8 short ones', () => {
  assert.deepEqual(
    parseDispatch('---\nmode: pause\noptions: [SQLite, " Postgres ", 3]\n---\nWhich DB?').options,
    ['SQLite', 'Postgres', '3'],
  );
  for (const bad of [
    'options: SQLite',
    'options: [a, ""]',
    `options: [${Array.from({ length: 9 }, (_, i) => `o${i}`).join(', ')}]`,
    `options: ["${'x'.repeat(81)}"]`,
    'options: [[nested]]',
  ]) {
    assert.throws(() => parseDispatch(`---\nmode: pause\n${bad}\n---\nq`), DispatchFrontmatterError, bad);
  }
});

test('parseDispatch rejects frontmatter that could hide a pause', () => {
  for (const bad of [
    '---\nmode: stop\n---\nx',
    '---\nmode: [pause]\n---\nx',
    '---\nmode: pause\ntitle: [a\n---\nx',
    '---\n- a list\n---\nx',
    '---\nmode: pause\nno closing fence',
  ]) {
    assert.throws(() => parseDispatch(bad), DispatchFrontmatterError, bad);
  }
});

test('parseDispatch reads YAML as CAR (PyYAML) does', () => {
  // A title PyYAML reads as something other than a str is no title to CAR: a number, a bool, a date.
  for (const title of ['5', 'yes', '2026-08-14', '[a]']) {
    assert.equal(parseDispatch(`---\nmode: pause\ntitle: ${title}\n---\nx`).title, null, title);
  }
  // Duplicate keys: the last wins. Python's strip() (U+001F, U+0085 are space to it).
  assert.equal(parseDispatch('---\nmode: notify\nmode: pause\n---\nx').mode, 'pause');
  assert.equal(parseDispatch('---\nmode: "\\x1fPause\\x85"\ntitle: "\\x1fT"\n---\nx').title, 'T');
  // CAR splits lines at U+2028 (and \f, \v, ...) before PyYAML sees them; a line break in a value.
  assert.equal(parseDispatch('---\u2028mode: pause\u2028title: "a\u2028b"\u2028---\u2028x').title, 'a b');
  // PyYAML refuses a control character, even in a comment: the YAML does not parse.
  assert.throws(() => parseDispatch('---\nmode: pause # \x07\n---\nx'), /unacceptable character #x0007/);
  // A BOM is skipped (CAR would see no frontmatter and lose the pause), in the body too.
  assert.deepEqual(
    parseDispatch('\ufeff---\nmode: pause\n---\nQ?'),
    parseDispatch('---\nmode: pause\n---\nQ?'),
  );
  assert.equal(parseDispatch('\ufeffJust a note.').body, 'Just a note.');
  // The body's line breaks are \n, as CAR reads the file with universal newlines.
  assert.equal(parseDispatch('---\r\nmode: pause\r\n---\r\na\r\nb\rc').body, 'a\nb\nc');
});

test('two archives get 0001 and 0002; staging is cleared', async () => {
  const paths = await freshRun();
  assert.equal(await archiveDispatch(paths, await nextDispatchSeq(paths)), null);

  await writeFile(paths.dispatchFile, '---\nmode: notify\ntitle: First\n---\nhello\n');
  const first = await archiveDispatch(paths, await nextDispatchSeq(paths));
  assert.ok(first);
  assert.equal(first.seq, 1);
  assert.equal(first.title, 'First');
  assert.equal(first.dir, join(paths.dispatchHistoryDir, '0001'));
  assert.equal(await exists(paths.dispatchFile), false);
  assert.equal(
    await readFile(join(first.dir, 'DISPATCH.md'), 'utf8'),
    '---\nmode: notify\ntitle: First\n---\nhello\n',
    'archived byte for byte',
  );

  await writeFile(paths.dispatchFile, '---\nmode: pause\n---\nsecond\n');
  const second = await archiveDispatch(paths, await nextDispatchSeq(paths));
  assert.equal(second?.seq, 2);
  assert.equal(second?.mode, 'pause');
  assert.deepEqual(await readdir(paths.dispatchHistoryDir), ['0001', '0002']);
});

test('pre-existing history folders are respected and never overwritten', async () => {
  const paths = await freshRun();
  await mkdir(join(paths.dispatchHistoryDir, '0004'));
  await writeFile(join(paths.dispatchHistoryDir, '0004', 'DISPATCH.md'), 'old');
  assert.equal(await nextDispatchSeq(paths), 5);

  await writeFile(paths.dispatchFile, 'new');
  await assert.rejects(archiveDispatch(paths, 4), { code: 'EEXIST' });
  assert.equal(await readFile(join(paths.dispatchHistoryDir, '0004', 'DISPATCH.md'), 'utf8'), 'old');
  assert.equal(await readFile(paths.dispatchFile, 'utf8'), 'new', 'staging kept after a failed archive');

  const rec = await archiveDispatch(paths, await nextDispatchSeq(paths));
  assert.equal(rec?.seq, 5);
});

test('invalid frontmatter throws a typed error and keeps the staging file', async () => {
  const paths = await freshRun();
  const text = '---\nmode: maybe\n---\nbody\n';
  await writeFile(paths.dispatchFile, text);
  await writeFile(join(paths.dispatchDir, 'log.txt'), 'x');
  await assert.rejects(archiveDispatch(paths, 1), (err: unknown) => {
    assert.ok(err instanceof DispatchFrontmatterError);
    assert.match(err.errors[0] ?? '', /mode must be/);
    return true;
  });
  assert.equal(await readFile(paths.dispatchFile, 'utf8'), text);
  assert.deepEqual(await readdir(paths.dispatchDir), ['log.txt']);
  assert.deepEqual(await readdir(paths.dispatchHistoryDir), [], 'no seq folder claimed');
});

test('a DISPATCH.md that is not UTF-8 is refused (CAR cannot read it either) and kept', async () => {
  const paths = await freshRun();
  const bytes = Buffer.concat([
    Buffer.from('---\nmode: pause\n---\nWhich '),
    Buffer.from([0xff]),
    Buffer.from('?\n'),
  ]);
  await writeFile(paths.dispatchFile, bytes);
  await assert.rejects(archiveDispatch(paths, 1), (err: unknown) => {
    assert.ok(err instanceof DispatchFrontmatterError);
    assert.equal(err.message, 'the file is not valid UTF-8');
    return true;
  });
  assert.deepEqual(await readFile(paths.dispatchFile), bytes);
  assert.deepEqual(await readdir(paths.dispatchHistoryDir), []);
});

test('attachments are copied (folders too), dot-files ignored and left in place', async () => {
  const paths = await freshRun();
  await writeFile(join(paths.dispatchDir, 'b.log'), 'log');
  await writeFile(join(paths.dispatchDir, 'a.png'), Buffer.from([0, 1, 2, 255]));
  await writeFile(join(paths.dispatchDir, '.DS_Store'), 'junk');
  await mkdir(join(paths.dispatchDir, 'shots'));
  await writeFile(join(paths.dispatchDir, 'shots', 'one.txt'), '1');
  await writeFile(paths.dispatchFile, 'see attached');

  const rec = await archiveDispatch(paths, 1);
  assert.ok(rec);
  const rel = '.codex-autorunner/runs/run-a/dispatch_history/0001';
  assert.deepEqual(rec.attachments, [`${rel}/a.png`, `${rel}/b.log`, `${rel}/shots`]);
  assert.deepEqual((await readdir(rec.dir)).sort(), ['DISPATCH.md', 'a.png', 'b.log', 'shots']);
  assert.deepEqual(await readFile(join(rec.dir, 'a.png')), Buffer.from([0, 1, 2, 255]));
  assert.equal(await readFile(join(rec.dir, 'shots', 'one.txt'), 'utf8'), '1');
  assert.deepEqual(await readdir(paths.dispatchDir), ['.DS_Store']);
});

test('turn summaries share the numbering and skip empty output', async () => {
  const paths = await freshRun();
  assert.equal(await writeTurnSummary(paths, 1, '  \n '), null);
  assert.deepEqual(await readdir(paths.dispatchHistoryDir), []);

  const dir = await writeTurnSummary(paths, await nextDispatchSeq(paths), '\nDid the thing.\n\n');
  assert.equal(dir, join(paths.dispatchHistoryDir, '0001'));
  assert.equal(
    await readFile(join(dir, 'DISPATCH.md'), 'utf8'),
    '---\nmode: turn_summary\n---\n\nDid the thing.\n',
  );
  assert.equal(await nextDispatchSeq(paths), 2);
  await assert.rejects(writeTurnSummary(paths, 1, 'again'), { code: 'EEXIST' });
});

test('writeDispatch stages a runner dispatch that archives back to the same fields', async () => {
  const paths = await freshRun();
  await writeDispatch(paths, {
    mode: 'pause',
    title: 'Ticket loop detected: no diff',
    body: 'Two turns, no change.\n',
  });
  assert.equal(
    await readFile(paths.dispatchFile, 'utf8'),
    '---\nmode: pause\ntitle: "Ticket loop detected: no diff"\n---\n\nTwo turns, no change.\n',
  );
  const rec = await archiveDispatch(paths, 1);
  assert.equal(rec?.mode, 'pause');
  assert.equal(rec?.title, 'Ticket loop detected: no diff');
  assert.equal(rec?.body, 'Two turns, no change.');

  await writeDispatch(paths, { mode: 'notify', body: 'fyi' });
  assert.equal(await readFile(paths.dispatchFile, 'utf8'), '---\nmode: notify\n---\n\nfyi\n');
});
