import assert from 'node:assert/strict';
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { writeFileAtomic } from '../fs/atomic.ts';
import { createSeqDir, ensureRunDirs, listSeqs, nextSeq, runPaths, seqName } from './run-paths.ts';

const tmp = await mkdtemp(join(tmpdir(), 'car-run-paths-'));
after(() => rm(tmp, { recursive: true, force: true }));

test('runPaths gives CAR layout, absolute and repo-relative', () => {
  const p = runPaths('/repo', 'run-1');
  assert.equal(p.rel.runDir, '.codex-autorunner/runs/run-1');
  assert.equal(p.rel.dispatchFile, '.codex-autorunner/runs/run-1/DISPATCH.md');
  assert.equal(p.rel.dispatchDir, '.codex-autorunner/runs/run-1/dispatch');
  assert.equal(p.rel.dispatchHistoryDir, '.codex-autorunner/runs/run-1/dispatch_history');
  assert.equal(p.rel.replyFile, '.codex-autorunner/runs/run-1/USER_REPLY.md');
  assert.equal(p.rel.replyDir, '.codex-autorunner/runs/run-1/reply');
  assert.equal(p.rel.replyHistoryDir, '.codex-autorunner/runs/run-1/reply_history');
  assert.equal(p.replyHistoryDir, join('/repo', '.codex-autorunner', 'runs', 'run-1', 'reply_history'));
  assert.equal(p.dispatchFile, join('/repo', '.codex-autorunner', 'runs', 'run-1', 'DISPATCH.md'));
});

test('runPaths refuses ids that could leave runs/', () => {
  for (const bad of ['', '..', '../x', 'a/b', '.hidden', 'a..b']) {
    assert.throws(() => runPaths('/repo', bad), /invalid run id/);
  }
});

test('ensureRunDirs creates the four folders', async () => {
  const p = runPaths(tmp, 'ensure');
  ensureRunDirs(p);
  assert.deepEqual((await readdir(p.runDir)).sort(), [
    'dispatch',
    'dispatch_history',
    'reply',
    'reply_history',
  ]);
});

test('sequence numbers come from disk and folders are claimed exclusively', async () => {
  const dir = join(tmp, 'history');
  assert.equal(await nextSeq(dir), 1);
  await mkdir(join(dir, '0003'), { recursive: true });
  await mkdir(join(dir, 'notes'));
  await writeFile(join(dir, '0009'), 'a file, not a seq folder');
  assert.deepEqual(await listSeqs(dir), [3]);
  assert.equal(await nextSeq(dir), 4);
  assert.equal(await createSeqDir(dir, 4), join(dir, '0004'));
  await assert.rejects(createSeqDir(dir, 3), { code: 'EEXIST' });
  await assert.rejects(createSeqDir(dir, 0), /invalid sequence/);
  assert.equal(seqName(12), '0012');
  assert.equal(seqName(12345), '12345');
});

test('writeFileAtomic with createDirs makes the folder, replaces content and leaves no temp file', async () => {
  const file = join(tmp, 'atomic', 'f.md');
  writeFileAtomic(file, 'one', { createDirs: true });
  writeFileAtomic(file, 'two', { createDirs: true });
  assert.equal(await readFile(file, 'utf8'), 'two');
  assert.deepEqual(await readdir(join(tmp, 'atomic')), ['f.md']);
});
