import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { tempFileOwner, tempPathFor } from './atomic.ts';
import { removeStaleTempFiles } from './stale-temp.ts';

const dir = mkdtempSync(join(tmpdir(), 'car-stale-temp-'));
after(() => rmSync(dir, { recursive: true, force: true }));

test('temp file names carry their writer’s pid', () => {
  const name = tempPathFor(join(dir, 'TICKET-001.md')).slice(dir.length + 1);
  assert.match(name, /^\.TICKET-001\.md\.\d+\.[0-9a-f]{12}\.tmp$/);
  assert.equal(tempFileOwner(name), process.pid);
  for (const other of ['TICKET-001.md', '.hidden', '.x.12.tmp', '.x.12.abc.tmp'])
    assert.equal(tempFileOwner(other), null);
});

test('removes the temp files of dead writers and old ones, keeps live writers’ and everything else', () => {
  // A pid that is gone: a child that has exited and been reaped.
  const dead = spawnSync(process.execPath, ['-e', '']).pid;
  const names = {
    dead: `.TICKET-001.md.${dead}.0123456789ab.tmp`,
    live: `.TICKET-002.md.${process.pid}.0123456789ab.tmp`,
    old: `.config.yml.${process.pid}.ba9876543210.tmp`,
    ticket: 'TICKET-003.md',
    hidden: '.notes',
  };
  for (const name of Object.values(names)) writeFileSync(join(dir, name), 'x');
  const twoHoursAgo = new Date(Date.now() - 2 * 60 * 60 * 1000);
  utimesSync(join(dir, names.old), twoHoursAgo, twoHoursAgo);

  const removed = removeStaleTempFiles([dir, join(dir, 'missing')]);
  assert.deepEqual(removed.sort(), [join(dir, names.old), join(dir, names.dead)].sort());
  assert.deepEqual(readdirSync(dir).sort(), [names.hidden, names.live, names.ticket].sort());
});
