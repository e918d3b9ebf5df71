// A full or read-only disk under car's state folder, for real: `.codex-autorunner/` is moved onto a small
// tmpfs (test/helpers/small-fs.ts; skipped where mounting is not permitted). Every command says so in one
// line naming the file, exits 6, changes nothing and leaves no temp file; with space back, it works again.
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { afterEach, describe, test } from 'node:test';
import {
  type CarRepo,
  type CliResult,
  makeCarRepo,
  snapshot,
  TICKETS_DIR,
  ticketText,
  tid,
} from '../helpers/cli.ts';
import { mountSmallFs, type SmallFs, smallFsUnavailable } from '../helpers/small-fs.ts';

const cleanups: (() => void)[] = [];
afterEach(() => {
  for (const fn of cleanups.splice(0).reverse()) fn();
});

/** A car repo whose `.codex-autorunner/` is a 2 MiB tmpfs, with one ticket for `agent`. */
async function repoOnSmallDisk(agent = 'codex'): Promise<{ r: CarRepo; disk: SmallFs; state: string }> {
  const r = await makeCarRepo();
  cleanups.push(r.cleanup);
  r.ticket('TICKET-001.md', ticketText({ id: tid(1), agent, title: 'First' }));
  r.commitAll('tickets');
  const state = join(r.dir, '.codex-autorunner');
  const disk = mountSmallFs(state, 2048);
  cleanups.push(() => disk.unmount());
  return { r, disk, state };
}

/**
 * The snapshot without SQLite's own -wal and -shm files: opening the store on a full disk may leave them
 * (empty or a stale index, which SQLite rebuilds), as any open connection does; they hold no records.
 */
function withoutSqliteFiles(files: Map<string, string>): Map<string, string> {
  return new Map([...files].filter(([name]) => !/^car\.db-(wal|shm)$/.test(name)));
}

const DISK_FULL = /^car: cannot write (\/\S+): the disk is full \(ENOSPC\)\n$/;
const READ_ONLY = /^car: cannot write (\/\S+): the file system is read-only \(EROFS\)\n$/;

/** Exit 6 with one line on stderr naming a file under `state`; returns that file. */
function assertDiskError(res: CliResult, pattern: RegExp, state: string, what: string): string {
  assert.equal(res.code, 6, `${what}: exit ${res.code}\n${res.stderr}`);
  assert.equal(res.stdout, '', what);
  const file = pattern.exec(res.stderr)?.[1];
  assert.ok(file, `${what}: one line naming the file, got:\n${res.stderr}`);
  assert.ok(file.startsWith(`${state}/`), `${what}: ${file} is under the state folder`);
  return file;
}

describe('a full disk', { skip: smallFsUnavailable ?? false }, () => {
  test('ticket done, edit-field and new: exit 6 naming the file, nothing changed, no temp file', async () => {
    const { r, disk, state } = await repoOnSmallDisk();
    const ticket = join(r.dir, TICKETS_DIR, 'TICKET-001.md');
    disk.fill();
    const before = snapshot(state);
    const cases: Array<[string[], string]> = [
      [['ticket', 'done', '1'], ticket],
      [['ticket', 'edit-field', '1', 'title', 'Renamed'], ticket],
      [['ticket', 'new', 'Second ticket'], join(r.dir, TICKETS_DIR, 'TICKET-002-second-ticket.md')],
    ];
    for (const [argv, file] of cases) {
      const res = await r.run(argv);
      assert.equal(assertDiskError(res, DISK_FULL, state, argv.join(' ')), file);
      assert.deepEqual(snapshot(state), before, `${argv.join(' ')} changed nothing and left no temp file`);
    }
    disk.free();
    const done = await r.run(['ticket', 'done', '1']);
    assert.equal(done.code, 0, done.stderr);
    assert.match(r.read(`${TICKETS_DIR}/TICKET-001.md`), /^done: true$/m);
  });

  test('car run (the SQLite run store) and flow reply: exit 6 naming the file; the run goes on once space is back', async () => {
    const { r, disk, state } = await repoOnSmallDisk('user');
    disk.fill();
    assertDiskError(await r.run(['run']), DISK_FULL, state, 'car run on a full disk');
    disk.free();
    // An agent: user ticket pauses the run for a person (exit 5): the run store works again.
    const paused = await r.run(['run']);
    assert.equal(paused.code, 5, paused.stderr);

    disk.fill();
    const full = snapshot(state);
    assertDiskError(await r.run(['flow', 'reply', 'the answer']), DISK_FULL, state, 'flow reply');
    assert.deepEqual(withoutSqliteFiles(snapshot(state)), full, 'flow reply changed nothing');
    disk.free();
    const reply = await r.run(['flow', 'reply', 'the answer']);
    assert.equal(reply.code, 0, reply.stderr);
  });
});

describe('a read-only disk', { skip: smallFsUnavailable ?? false }, () => {
  test('ticket done, car run and flow reply: exit 6 naming the file, nothing changed', async () => {
    const { r, disk, state } = await repoOnSmallDisk('user');
    const paused = await r.run(['run']);
    assert.equal(paused.code, 5, paused.stderr);
    const before = snapshot(state);
    disk.readOnly();
    const ticket = join(r.dir, TICKETS_DIR, 'TICKET-001.md');
    assert.equal(
      assertDiskError(await r.run(['ticket', 'done', '1']), READ_ONLY, state, 'ticket done'),
      ticket,
    );
    assertDiskError(await r.run(['run']), READ_ONLY, state, 'car run');
    assertDiskError(await r.run(['flow', 'reply', 'x']), READ_ONLY, state, 'flow reply');
    disk.readWrite();
    assert.deepEqual(snapshot(state), before);
    const done = await r.run(['ticket', 'done', '1']);
    assert.equal(done.code, 0, done.stderr);
  });
});
