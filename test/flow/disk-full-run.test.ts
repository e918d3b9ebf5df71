// A run whose disk fills up mid-run, for real: the repo's `.codex-autorunner/` is a small tmpfs
// (test/helpers/small-fs.ts; skipped where mounting is not permitted) and `car run` is the built CLI with a
// real command agent. A full disk pauses the run with the file it could not write and is waited out; once
// space is freed the same `car run` goes on and finishes. A disk that turns read-only mid-run cannot be
// made so here (a remount is refused while car has the store open for writing), so that pause is tested
// in-process: the tree's look fails with EROFS, the run pauses for a person, and the next run finishes.
import assert from 'node:assert/strict';
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, test } from 'node:test';
import type { RepoState } from '../../src/core/flow/ports.ts';
import { finishTicket } from '../fakes/scripted-agent.ts';
import { type BuiltCarRepo, json, makeBuiltCarRepo, startCar } from '../helpers/built-car.ts';
import { TICKETS_DIR, ticketText, tid } from '../helpers/cli.ts';
import { scriptAgentConfig } from '../helpers/script-agent.ts';
import { mountSmallFs, type SmallFs, smallFsUnavailable } from '../helpers/small-fs.ts';
import { assertOutcome, countEvents, setup } from './harness.ts';

/**
 * The agent does its ticket (a file, `done: true`, a commit), then, on the ticket named in
 * $CAR_TEST_SPOIL, fills the disk under `.codex-autorunner/` (an ignored file under runs/, as a build's
 * cache might).
 */
const AGENT = [
  `f=$(printf '%s\\n' "$1" | sed -n 's/^Current ticket file: //p' | head -1)`,
  'test -f "$f" || { echo "no ticket file in the prompt" >&2; exit 1; }',
  'name=$(basename "$f" .md)',
  'echo done > "$name.txt"',
  `sed -i 's/^done: false$/done: true/' "$f"`,
  'git add -A && git commit -qm "work on $name"',
  'if [ "$name" = "$CAR_TEST_SPOIL" ]; then',
  '  head -c 8388608 /dev/zero > .codex-autorunner/runs/filler 2>/dev/null || true',
  'fi',
  'echo "worked on $name"',
  '',
].join('\n');

const TICKETS = ['TICKET-010', 'TICKET-020'];

const cleanups: (() => void)[] = [];
afterEach(() => {
  for (const fn of cleanups.splice(0).reverse()) fn();
});

async function queueOnSmallDisk(): Promise<{ r: BuiltCarRepo; disk: SmallFs }> {
  const r = await makeBuiltCarRepo();
  cleanups.push(r.cleanup);
  const script = `${r.dir}-agent.sh`;
  writeFileSync(script, AGENT);
  cleanups.push(() => rmSync(script, { force: true }));
  r.write(
    '.codex-autorunner/config.yml',
    scriptAgentConfig(script, { env: { CAR_TEST_SPOIL: 'TICKET-010' } }),
  );
  TICKETS.forEach((name, i) => {
    r.write(`${TICKETS_DIR}/${name}.md`, ticketText({ id: tid(i + 1), agent: 'script', title: name }));
  });
  r.commitAll('plan');
  const disk = mountSmallFs(join(r.dir, '.codex-autorunner'), 2048);
  cleanups.push(() => disk.unmount());
  return { r, disk };
}

function assertAllDone(r: BuiltCarRepo, output: string): void {
  for (const name of TICKETS) {
    assert.match(
      readFileSync(join(r.dir, TICKETS_DIR, `${name}.md`), 'utf8'),
      /^done: true$/m,
      `${name}\n${output}`,
    );
    assert.equal(readFileSync(join(r.dir, `${name}.txt`), 'utf8'), 'done\n');
  }
}

describe('a run on a disk that fills up', { skip: smallFsUnavailable ?? false }, () => {
  test('a full disk pauses the run naming the file; freed, the same car run goes on and completes', async () => {
    const { r } = await queueOnSmallDisk();
    const car = startCar(['run'], { cwd: r.dir, env: r.env });
    await car.waitForOutput(/the disk is full \(ENOSPC\)\. Waiting for free space/, 120_000);
    const note = /car: cannot write (\S+): the disk is full|cannot write (\S+): the disk is full/.exec(
      car.stdout,
    );
    assert.ok(note, car.stdout);
    assert.ok((note[1] ?? note[2])?.includes('/.codex-autorunner/'), `names a file of car's: ${car.stdout}`);
    rmSync(join(r.dir, '.codex-autorunner/runs/filler'));
    const exit = await car.exited;
    const output = `exit ${exit.code}\n${car.stdout}\n${car.stderr}`;
    assert.equal(exit.code, 0, output);
    assert.match(car.stdout, /disk space is back; the run goes on/, output);
    assert.match(car.stdout, /run completed \(all_done\)/, output);
    assertAllDone(r, output);
    const status = json<{ run: { status: string } }>(await r.run(['flow', 'status', '--json']));
    assert.equal(status.run.status, 'completed');
  });
});

test('a disk that turns read-only mid-run pauses it (disk_read_only, naming the file); the next run finishes', async (t) => {
  const h = setup({ tickets: 2 });
  t.after(() => h.cleanup());
  h.agent.script(finishTicket(), finishTicket());
  const file = join(h.root, '.git', 'index');
  let readOnly = true;
  const repo: RepoState = Object.create(h.repo);
  repo.snapshot = async (exclude) => {
    // the look after the first turn: git could not refresh its index on a read-only disk
    if (readOnly && h.agent.prompts.length === 1) {
      throw Object.assign(new Error(`EROFS: read-only file system, open '${file}'`), {
        code: 'EROFS',
        path: file,
      });
    }
    return h.repo.snapshot(exclude);
  };
  const run = h.newRun();
  const outcome = await h.run(run.id, { repo });
  assertOutcome(h, run.id, outcome, 'paused', 'disk_read_only');
  assert.deepEqual(outcome.details, { path: file, code: 'EROFS' });
  assert.match(
    outcome.reason,
    /cannot write .*\.git\/index: the file system is read-only \(EROFS\)\. Make it writable/,
  );
  readOnly = false;
  const resumed = await h.control().resume(run.id);
  const finished = await h.run(resumed.id, { repo });
  assertOutcome(h, run.id, finished, 'completed', 'all_done');
  assert.equal(countEvents(h, run.id, 'ticket_done'), 2);
});
