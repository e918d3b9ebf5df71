// SQLite on a real full or read-only disk (a tmpfs; skipped where mounting is not permitted): its answers
// (SQLITE_FULL, READONLY, CANTOPEN) become a DiskError naming the database file.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { mountSmallFs, smallFsUnavailable } from '../../../test/helpers/small-fs.ts';
import { DiskError, type DiskErrorCode } from '../fs/disk-error.ts';
import { openRunStore } from './run-store.ts';

const dir = mkdtempSync(join(tmpdir(), 'car-sqlite-disk-'));
after(() => rmSync(dir, { recursive: true, force: true }));

const diskError = (code: DiskErrorCode, path: string) => (err: unknown) =>
  err instanceof DiskError && err.code === code && err.path === path;

test('a full and a read-only disk under the run store', { skip: smallFsUnavailable ?? false }, () => {
  const disk = mountSmallFs(join(dir, 'small'), 1024);
  try {
    const file = join(disk.dir, 'car.db');
    let store = openRunStore(file);
    const run = store.createRun({});
    disk.fill();
    const big = 'x'.repeat(64 * 1024);
    assert.throws(
      () => {
        // The WAL may have room for a few events; it cannot hold these.
        for (let i = 0; i < 64; i++) store.appendEvent(run.id, { type: 'note', data: { big, i } });
      },
      diskError('ENOSPC', file),
    );
    store.close();
    disk.free();

    store = openRunStore(file);
    store.appendEvent(run.id, { type: 'note', data: { after: 'space freed' } });
    store.close();
    disk.readOnly();
    assert.throws(
      () => {
        const ro = openRunStore(file);
        ro.appendEvent(run.id, { type: 'note', data: {} });
      },
      diskError('EROFS', file),
    );
  } finally {
    disk.unmount();
  }
});
