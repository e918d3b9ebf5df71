// Schema versioning by `PRAGMA user_version`: step i (0-based) moves the schema from version i to i+1.
import type { SqlDb } from './sqlite.ts';

export interface MigrationResult {
  from: number;
  to: number;
}

function userVersion(db: SqlDb): number {
  return db.prepare('PRAGMA user_version').get<{ user_version: number }>()?.user_version ?? 0;
}

/**
 * Applies the steps the database has not seen yet, each in its own transaction together with the
 * version bump, so a crash leaves the schema at a whole version. Throws when the file was written by
 * a newer car (its version is past the last step we know).
 */
export function migrate(db: SqlDb, steps: readonly string[]): MigrationResult {
  const from = userVersion(db);
  if (from > steps.length) {
    throw new Error(
      `${db.path}: database schema version ${from} is newer than this car supports (${steps.length}); upgrade car`,
    );
  }
  for (let version = from; version < steps.length; version++) {
    db.transaction(() => {
      // Another process may have migrated while we waited for the write lock.
      if (userVersion(db) > version) return;
      db.exec(steps[version]!);
      db.exec(`PRAGMA user_version = ${version + 1}`);
    });
  }
  return { from, to: Math.max(from, steps.length) };
}
