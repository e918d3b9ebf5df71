import assert from 'node:assert/strict';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { DiskError, diskErrorOf, isDiskFullError } from './disk-error.ts';

const fsError = (code: string, extra: Record<string, string> = {}) =>
  Object.assign(new Error(`${code}: oops`), { code, syscall: 'write', ...extra });

test('full, over-quota and read-only fs errors become a DiskError naming the file', () => {
  const full = diskErrorOf(fsError('ENOSPC', { path: '/r/.TICKET-001.md.1.abc.tmp' }), '/r/TICKET-001.md');
  assert.ok(full instanceof DiskError);
  assert.equal(full.code, 'ENOSPC');
  assert.equal(full.path, '/r/TICKET-001.md');
  assert.equal(full.message, 'cannot write /r/TICKET-001.md: the disk is full (ENOSPC)');
  assert.match(
    diskErrorOf(fsError('EDQUOT', { path: '/r/a' }))!.message,
    /^cannot write \/r\/a: the disk quota is used up/,
  );
  assert.match(diskErrorOf(fsError('EROFS', { path: '/r/a' }))!.message, /read-only \(EROFS\)$/);
  // a copy names the file it could not write as dest
  assert.equal(diskErrorOf(fsError('ENOSPC', { path: '/src', dest: '/dst' }))!.path, '/dst');
  assert.equal(diskErrorOf(full), full);
});

test('anything else is not a disk error', () => {
  // a recursive mkdir's ENOENT under a writable folder with space: the folder really is missing
  const missing = fsError('ENOENT', { syscall: 'mkdir', path: join(tmpdir(), 'car-no-such', 'dir') });
  for (const err of [
    fsError('ENOENT'),
    missing,
    fsError('EACCES'),
    new Error('x'),
    null,
    'ENOSPC',
    { code: 5 },
  ]) {
    assert.equal(diskErrorOf(err), null);
    assert.equal(isDiskFullError(err), false);
  }
});

test('full and over quota can pass once space is freed; read-only cannot', () => {
  assert.equal(isDiskFullError(fsError('ENOSPC')), true);
  assert.equal(isDiskFullError(new DiskError('EDQUOT', '/r/a')), true);
  assert.equal(isDiskFullError(fsError('EROFS')), false);
});
