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
