import assert from 'node:assert/strict';
import { mkdir, mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { archiveReply, listRepliesAfter, parseReply, renderRepliesBlock, writeReply } from './replies.ts';
import { ensureRunDirs, type RunPaths, runPaths } from './run-paths.ts';

const tmp = await mkdtemp(join(tmpdir(), 'car-replies-'));
after(() => rm(tmp, { recursive: true, force: true }));
let n = 0;

async function freshRun(): Promise<RunPaths> {
  const paths = runPaths(join(tmp, `repo${++n}`), 'run-b');
  ensureRunDirs(paths);
  return paths;
}

const REL = '.codex-autorunner/runs/run-b/reply_history';

test('parseReply is permissive', () => {
  assert.deepEqual(parseReply('Use Postgres.\n'), { title: null, body: 'Use Postgres.', extra: {} });
  assert.deepEqual(parseReply('---\ntitle: DB\nfrom: alice\n---\n\nUse Postgres.\n'), {
    title: 'DB',
    body: 'Use Postgres.',
    extra: { from: 'alice' },
  });
  // YAML that does not parse is kept as text rather than lost.
  assert.equal(parseReply('---\ntitle: [oops\n---\nbody').body, '---\ntitle: [oops\n---\nbody');
  assert.equal(parseReply('---\nnot closed').body, '---\nnot closed');
});

test("parseReply reads the frontmatter by CAR's rules (PyYAML 1.1, Python's strip and line breaks)", () => {
  // `yes` is a boolean and a date is a date to PyYAML: no title, as in CAR; the keys stay in extra
  assert.deepEqual(parseReply('---\ntitle: yes\nfrom: alice\n---\nOK\n'), {
    title: null,
    body: 'OK',
    extra: { from: 'alice' },
  });
  assert.equal(parseReply('---\ntitle: 2026-08-14\n---\nOK\n').title, null);
  assert.equal(parseReply('---\ntitle: "  DB\\u00a0"\n---\nOK\n').title, 'DB');
  assert.deepEqual(parseReply('---\r\ntitle: DB\r\n---\r\n\r\nline 1\r\nline 2\r\n'), {
    title: 'DB',
    body: 'line 1\nline 2',
    extra: {},
  });
  // an empty frontmatter is no frontmatter, and the fences go
  assert.deepEqual(parseReply('---\n---\nOK\n'), { title: null, body: 'OK', extra: {} });
  // car keeps what CAR drops: frontmatter that is not a mapping stays in the body (README)
  assert.equal(parseReply('---\n- a\n---\nOK\n').body, '---\n- a\n---\nOK');
});

test('writeReply writes a title every reader gets back (quoted where PyYAML would read something else)', async () => {
  const paths = await freshRun();
  for (const title of ['yes', '2026-08-14', '1:30', '~', 'a: b', '#x', 'bell\x07', 'n\x85l', 'Answer: DB']) {
    await writeReply(paths, { title, body: 'x' });
    const rec = await archiveReply(paths);
    assert.equal(rec?.title, title, JSON.stringify(title));
  }
});

test('a USER_REPLY.md that is not UTF-8 is archived unread, and the agent is told why', async () => {
  const paths = await freshRun();
  await writeFile(paths.replyFile, Buffer.from([0x6f, 0x6b, 0xff, 0x0a]));
  const rec = await archiveReply(paths);
  assert.equal(rec?.body, '');
  assert.equal(rec?.error, 'USER_REPLY.md is not valid UTF-8; it was not read');
  assert.deepEqual(await readFile(join(rec!.dir, 'USER_REPLY.md')), Buffer.from([0x6f, 0x6b, 0xff, 0x0a]));
});

test('writeReply + archiveReply move the reply and attachments to 0001', async () => {
  const paths = await freshRun();
  assert.equal(await archiveReply(paths), null);
  await writeReply(paths, { title: 'Answer: DB', body: 'Use Postgres.' });
  assert.equal(await readFile(paths.replyFile, 'utf8'), '---\ntitle: "Answer: DB"\n---\n\nUse Postgres.\n');
  await writeFile(join(paths.replyDir, 'schema.sql'), 'create table t();');
  await writeFile(join(paths.replyDir, '.hidden'), 'x');

  const rec = await archiveReply(paths);
  assert.ok(rec);
  assert.equal(rec.seq, 1);
  assert.equal(rec.title, 'Answer: DB');
  assert.equal(rec.body, 'Use Postgres.');
  assert.deepEqual(rec.attachments, [`${REL}/0001/schema.sql`]);
  assert.deepEqual((await readdir(rec.dir)).sort(), ['USER_REPLY.md', 'schema.sql']);
  assert.equal(await stat(paths.replyFile).catch(() => null), null);
  assert.deepEqual(await readdir(paths.replyDir), ['.hidden']);
});

test('a second reply before the next turn does not replace the first', async () => {
  const paths = await freshRun();
  await writeReply(paths, { body: 'first' });
  await writeReply(paths, { body: 'second' });
  await archiveReply(paths);
  const replies = await listRepliesAfter(paths, 0);
  assert.deepEqual(
    replies.map((r) => [r.seq, r.body]),
    [
      [1, 'first'],
      [2, 'second'],
    ],
  );
});

test('numbering continues after existing folders; listRepliesAfter filters and sorts', async () => {
  const paths = await freshRun();
  await mkdir(join(paths.replyHistoryDir, '0007'));
  await writeFile(join(paths.replyHistoryDir, '0007', 'USER_REPLY.md'), 'seven');
  await mkdir(join(paths.replyHistoryDir, 'junk'));
  await writeFile(paths.replyFile, 'eight');
  assert.equal((await archiveReply(paths))?.seq, 8);
  await writeFile(paths.replyFile, 'nine');
  assert.equal((await archiveReply(paths))?.seq, 9);

  assert.deepEqual(
    (await listRepliesAfter(paths, 7)).map((r) => r.seq),
    [8, 9],
  );
  assert.deepEqual(
    (await listRepliesAfter(paths, 0)).map((r) => r.body),
    ['seven', 'eight', 'nine'],
  );
  assert.deepEqual(await listRepliesAfter(paths, 9), []);
});

test('renderRepliesBlock uses CAR format, optional lines only when present', async () => {
  const paths = await freshRun();
  await writeReply(paths, { title: 'DB', body: 'Use Postgres.\nVersion 16.' });
  await writeFile(join(paths.replyDir, 'b.txt'), 'b');
  await writeFile(join(paths.replyDir, 'a.txt'), 'a');
  await archiveReply(paths);
  await writeReply(paths, { body: 'Also add an index.' });
  await archiveReply(paths);
  await mkdir(join(paths.replyHistoryDir, '0003'));

  const block = renderRepliesBlock(await listRepliesAfter(paths, 0));
  assert.equal(
    block,
    [
      '[USER_REPLY 0001]',
      'Title: DB',
      'Use Postgres.',
      'Version 16.',
      'Attachments:',
      `- ${REL}/0001/a.txt`,
      `- ${REL}/0001/b.txt`,
      '',
      '[USER_REPLY 0002]',
      'Also add an index.',
      '',
      '[USER_REPLY 0003]',
      'Errors:',
      '- USER_REPLY.md unreadable: ENOENT',
    ].join('\n'),
  );
  assert.equal(renderRepliesBlock([]), '');
});
