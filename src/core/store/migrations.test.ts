import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { migrate } from './migrations.ts';
import { openRunStore } from './run-store.ts';
import { RUN_STORE_MIGRATIONS } from './schema.ts';
import { openSqlite } from './sqlite.ts';

const dir = mkdtempSync(join(tmpdir(), 'car-migrate-'));
after(() => rmSync(dir, { recursive: true, force: true }));

const STEPS = ['CREATE TABLE a (x INTEGER)', 'ALTER TABLE a ADD COLUMN y TEXT'];
const version = (file: string) => {
  const db = openSqlite(file);
  try {
    return db.prepare('PRAGMA user_version').get<{ user_version: number }>()!.user_version;
  } finally {
    db.close();
  }
};

test('a fresh database is migrated to the last step; reopening is a no-op', () => {
  const file = join(dir, 'fresh.db');
  const db = openSqlite(file);
  assert.deepEqual(migrate(db, STEPS), { from: 0, to: 2 });
  db.prepare('INSERT INTO a (x, y) VALUES (1, ?)').run('kept');
  assert.deepEqual(migrate(db, STEPS), { from: 2, to: 2 });
  db.close();
  assert.equal(version(file), 2);
  const again = openSqlite(file);
  assert.deepEqual(migrate(again, STEPS), { from: 2, to: 2 });
  assert.deepEqual(again.prepare('SELECT x, y FROM a').all(), [{ x: 1, y: 'kept' }]);
  again.close();
});

test('a database at an older version gets only the missing steps', () => {
  const file = join(dir, 'old.db');
  const db = openSqlite(file);
  migrate(db, STEPS.slice(0, 1));
  assert.deepEqual(migrate(db, STEPS), { from: 1, to: 2 });
  db.close();
});

test('a failing step rolls back with its version bump', () => {
  const file = join(dir, 'broken.db');
  const db = openSqlite(file);
  assert.throws(
    () => migrate(db, [...STEPS, 'CREATE TABLE b (z INTEGER); SELECT * FROM missing']),
    /missing/,
  );
  assert.equal(db.prepare('PRAGMA user_version').get<{ user_version: number }>()!.user_version, 2);
  assert.equal(db.prepare("SELECT name FROM sqlite_master WHERE name = 'b'").get(), undefined);
  db.close();
});

test('a database newer than the code is a clear error naming the file', () => {
  const file = join(dir, 'newer.db');
  const db = openSqlite(file);
  db.exec(`PRAGMA user_version = ${RUN_STORE_MIGRATIONS.length + 1}`);
  db.close();
  assert.throws(
    () => openRunStore(file),
    (err: Error) => err.message.includes(file) && /newer than this car supports/.test(err.message),
  );
});

test('the run store schema opens with WAL and foreign keys on', () => {
  const file = join(dir, 'store.db');
  openRunStore(file).close();
  assert.equal(version(file), RUN_STORE_MIGRATIONS.length);
  const db = openSqlite(file);
  assert.equal(db.prepare('PRAGMA journal_mode').get<{ journal_mode: string }>()!.journal_mode, 'wal');
  assert.equal(db.prepare('PRAGMA foreign_keys').get<{ foreign_keys: number }>()!.foreign_keys, 1);
  assert.equal(db.prepare('PRAGMA busy_timeout').get<{ timeout: number }>()!.timeout, 5000);
  db.close();
});
