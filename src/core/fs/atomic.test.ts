import assert from 'node:assert/strict';
import {
  chmodSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { mountSmallFs, smallFsUnavailable } from '../../../test/helpers/small-fs.ts';
import { writeFileAtomic } from './atomic.ts';
import { createFileExclusive } from './create-exclusive.ts';
import { DiskError, type DiskErrorCode } from './disk-error.ts';

const dir = mkdtempSync(join(tmpdir(), 'car-atomic-'));
after(() => rmSync(dir, { recursive: true, force: true }));

test('creates a new file and leaves no temp files', () => {
  const path = join(dir, 'new.md');
  writeFileAtomic(path, 'hello\n');
  assert.equal(readFileSync(path, 'utf8'), 'hello\n');
  assert.deepEqual(readdirSync(dir), ['new.md']);
  rmSync(path);
});

test('replaces content (string and bytes) and keeps the existing mode', () => {
  const path = join(dir, 'TICKET-001.md');
  writeFileSync(path, 'old content that is longer\n');
  chmodSync(path, 0o640);
  writeFileAtomic(path, 'new\n');
  assert.equal(readFileSync(path, 'utf8'), 'new\n');
  assert.equal(statSync(path).mode & 0o777, 0o640);
  writeFileAtomic(path, new Uint8Array([0xef, 0xbb, 0xbf, 0x41]));
  assert.deepEqual([...readFileSync(path)], [0xef, 0xbb, 0xbf, 0x41]);
  chmodSync(path, 0o666);
  writeFileAtomic(path, 'x');
  assert.equal(statSync(path).mode & 0o777, 0o666, 'the umask does not narrow a kept mode');
  assert.deepEqual(readdirSync(dir), ['TICKET-001.md']);
});

test('without fsync (durable: false) the replacement is still whole and leaves no temp file', () => {
  const sub = join(dir, 'records');
  const path = join(sub, 'summary.md');
  writeFileAtomic(path, 'first\n', { durable: false, createDirs: true });
  writeFileAtomic(path, 'second\n', { durable: false });
  assert.equal(readFileSync(path, 'utf8'), 'second\n');
  assert.deepEqual(readdirSync(sub), ['summary.md']);
  rmSync(sub, { recursive: true });
});

test('removes the temp file and keeps the target when the rename fails', () => {
  // Renaming a file over a non-empty directory fails after the temp file was written and synced.
  const busy = join(dir, 'busy');
  mkdirSync(busy);
  writeFileSync(join(busy, 'inner'), 'inner');
  assert.throws(() => writeFileAtomic(busy, 'data'));
  assert.deepEqual(
    readdirSync(dir).filter((n) => n.endsWith('.tmp')),
    [],
  );
  assert.equal(readFileSync(join(busy, 'inner'), 'utf8'), 'inner');
  rmSync(busy, { recursive: true });
});

test('fails cleanly when the directory does not exist', () => {
  assert.throws(() => writeFileAtomic(join(dir, 'missing', 'f.md'), 'x'), { code: 'ENOENT' });
});

/** A DiskError with `code` naming `path`. */
const diskError = (code: DiskErrorCode, path: string) => (err: unknown) =>
  err instanceof DiskError && err.code === code && err.path === path && err.message.includes(path);

describe('on a full or read-only disk (a real tmpfs)', { skip: smallFsUnavailable ?? false }, () => {
  test('a DiskError naming the target, the old bytes kept, no temp file left', () => {
    const disk = mountSmallFs(join(dir, 'small'), 256);
    try {
      const target = join(disk.dir, 'TICKET-001.md');
      const fresh = join(disk.dir, 'TICKET-002.md');
      writeFileSync(target, 'old\n');
      disk.fill();
      assert.throws(() => writeFileAtomic(target, 'new\n'), diskError('ENOSPC', target));
      assert.throws(() => writeFileAtomic(target, 'new\n', { durable: false }), diskError('ENOSPC', target));
      assert.throws(() => createFileExclusive(fresh, 'new\n'), diskError('ENOSPC', fresh));
      assert.equal(readFileSync(target, 'utf8'), 'old\n');
      assert.deepEqual(readdirSync(disk.dir).sort(), ['.filler', 'TICKET-001.md']);

      disk.free();
      disk.readOnly();
      assert.throws(() => writeFileAtomic(target, 'new\n'), diskError('EROFS', target));
      const nested = join(disk.dir, 'runs', 'summary.md');
      assert.throws(() => writeFileAtomic(nested, 'x', { createDirs: true }), diskError('EROFS', nested));
      assert.throws(() => createFileExclusive(fresh, 'new\n'), diskError('EROFS', fresh));
      assert.deepEqual(readdirSync(disk.dir), ['TICKET-001.md']);
      disk.readWrite();
      writeFileAtomic(target, 'new\n');
      assert.equal(readFileSync(target, 'utf8'), 'new\n');
    } finally {
      disk.unmount();
    }
  });
});
