// kill -9 of the built CLI (`node dist/car.js`, and the detached `dist/car.js flow worker` it starts) at
// three points of a run, then a restart that must continue from disk truth: no ticket transition lost or
// recorded twice, the interrupted turn recorded as such, a clean end.
import assert from 'node:assert/strict';
import { chmodSync, existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { initRepo } from '../src/core/init.ts';
import { repoPaths } from '../src/core/paths.ts';
import { openRunStore } from '../src/core/store/run-store.ts';
import { newTicketId, renderNewTicket } from '../src/core/tickets/index.ts';
import { type CarChild, carEnv, runCar, startCar, tempHome } from './helpers/built-car.ts';
import { makeGitRepo } from './helpers/git-repo.ts';
import { alive } from './helpers/processes.ts';
import { waitFor } from './helpers/wait.ts';

const home = tempHome();
const env = carEnv(home.home);
const cleanups: (() => void)[] = [home.cleanup];
after(() => {
  for (const c of cleanups) c();
});

function setup(scripts: string[][], config = '') {
  const repo = makeGitRepo();
  cleanups.push(repo.cleanup);
  initRepo(repo.dir);
  const paths = repoPaths(repo.dir);
  const ids: string[] = [];
  scripts.forEach((script, i) => {
    const id = newTicketId();
    ids.push(id);
    const body = `\`\`\`car-demo\n${script.join('\n')}\n\`\`\`\n`;
    const name = `TICKET-${String((i + 1) * 10).padStart(3, '0')}.md`;
    writeFileSync(
      join(paths.ticketsDir, name),
      renderNewTicket({ ticket_id: id, agent: 'demo', done: false, title: `ticket ${i + 1}` }, body),
    );
  });
  if (config) writeFileSync(paths.configFile, `version: 2\nmode: repo\n${config}`);
  repo.commitAll('plan');
  return { repo, paths, ids };
}

function car(dir: string, args: string[]): CarChild {
  return startCar(args, { cwd: dir, env });
}

async function carRun(dir: string, args: string[]) {
  const r = await runCar(args, { cwd: dir, env, timeoutMs: 90_000 });
  return { code: r.code, out: `${r.stdout}${r.stderr}`, stdout: r.stdout };
}

/** The step index the demo agent recorded for a ticket (its progress files under runs/), or -1. */
function demoStep(runsDir: string, ticketId: string): number {
  if (!existsSync(runsDir)) return -1;
  for (const run of readdirSync(runsDir)) {
    const file = join(runsDir, run, 'demo-agent', `${ticketId}.json`);
    if (existsSync(file)) return (JSON.parse(readFileSync(file, 'utf8')) as { step: number }).step;
  }
  return -1;
}

function killHard(pid: number): void {
  try {
    process.kill(pid, 'SIGKILL');
  } catch {
    // already gone
  }
}

/** What the store says after the restart finished. */
function summary(dbFile: string) {
  const store = openRunStore(dbFile);
  try {
    const runs = store.listRuns();
    const run = runs[0]!;
    const events = store.listEvents(run.id, { limit: 100_000 });
    return {
      runs: runs.length,
      status: run.status,
      reasonCode: run.reasonCode,
      turns: store.listTurns(run.id).map((t) => `${t.ticketPath?.split('/').pop()}:${t.status}`),
      done: events.filter((e) => e.type === 'ticket_done').map((e) => String(e.data.ticket).split('/').pop()),
      types: events.map((e) => e.type),
    };
  } finally {
    store.close();
  }
}

test('kill -9 of a background worker mid-turn: restart recovers the run and records the turn as interrupted', async () => {
  const { repo, paths, ids } = setup([
    ['write one.txt one', 'done', 'commit one'],
    ['write two-a.txt started', 'sleep 60000', 'write two-b.txt finished', 'done', 'commit two'],
    ['write three.txt three', 'done', 'commit three'],
  ]);
  const start = await carRun(repo.dir, ['flow', 'start', '--json']);
  assert.equal(start.code, 0, start.out);
  const workerPid = (JSON.parse(start.stdout) as { worker_pid: number }).worker_pid;
  // mid-turn = inside the sleep step: the demo agent has recorded it (step index 2) before sleeping
  await waitFor('the second ticket to be mid-turn', () => demoStep(paths.runsDir, ids[1]!) === 2);
  killHard(workerPid);
  await waitFor('the worker to die', () => !alive(workerPid));

  const status = JSON.parse((await carRun(repo.dir, ['flow', 'status', '--json'])).stdout) as {
    run: { status: string };
    worker: { status: string };
    recommended_action: string;
  };
  assert.equal(status.run.status, 'running');
  assert.equal(status.worker.status, 'stale');
  assert.match(status.recommended_action, /died/);

  const restart = await carRun(repo.dir, ['run']);
  assert.equal(restart.code, 0, restart.out);
  assert.match(restart.out, /recovering run/);
  const s = summary(paths.dbFile);
  assert.equal(s.runs, 1, 'the same run continued');
  assert.equal(s.status, 'completed', `${restart.out}\n${s.types.join(' ')}`);
  assert.deepEqual(s.done, ['TICKET-010.md', 'TICKET-020.md', 'TICKET-030.md']);
  assert.deepEqual(s.turns, [
    'TICKET-010.md:completed',
    'TICKET-020.md:interrupted',
    'TICKET-020.md:completed',
    'TICKET-030.md:completed',
  ]);
  assert.ok(s.types.includes('recovered'));
  assert.equal(readFileSync(join(repo.dir, 'two-b.txt'), 'utf8'), 'finished');
  assert.equal(repo.git(['status', '--porcelain']).trim(), '');
  assert.equal(existsSync(paths.lockFile), false, 'the lock is released');
});

test('kill -9 after the agent marked the ticket done, before car recorded it: recorded exactly once', async () => {
  const { repo, paths } = setup([
    ['write one.txt one', 'done', 'commit one', 'say committed', 'sleep 60000'],
    ['write two.txt two', 'done', 'commit two'],
  ]);
  const child = car(repo.dir, ['run']);
  await waitFor('the agent to mark ticket 1 done and commit', () =>
    repo.git(['log', '--format=%s']).startsWith('one'),
  );
  assert.match(readFileSync(join(paths.ticketsDir, 'TICKET-010.md'), 'utf8'), /^done: true$/m);
  child.child.kill('SIGKILL');
  await child.exited;
  assert.deepEqual(summary(paths.dbFile).done, [], 'the crash came before car recorded the transition');

  const restart = await carRun(repo.dir, ['run']);
  assert.equal(restart.code, 0, restart.out);
  const s = summary(paths.dbFile);
  assert.equal(s.status, 'completed');
  assert.deepEqual(s.done, ['TICKET-010.md', 'TICKET-020.md'], 'each transition exactly once');
  assert.deepEqual(
    s.turns,
    ['TICKET-010.md:interrupted', 'TICKET-020.md:completed'],
    'no second turn on the done ticket',
  );
});

test('kill -9 in the middle of car’s own commit: the stale index.lock is cleared and the commit redone', async () => {
  const { repo, paths } = setup(
    [
      ['write one.txt one', 'done'],
      ['write two.txt two', 'done'],
    ],
    'git:\n  auto_commit: true\n  commit_message_template: "car: {ticket}"\n',
  );
  // The first commit hangs in its pre-commit hook (the hook records git's pid so the test can kill the
  // whole commit, as a power cut would); later commits pass.
  const marker = join(repo.dir, '.git', 'hook-pids');
  const hook = join(repo.dir, '.git', 'hooks', 'pre-commit');
  repo.git(['config', '--unset', 'core.hooksPath']);
  writeFileSync(
    hook,
    `#!/bin/sh\nif [ ! -f "${marker}" ]; then echo "$PPID $$" > "${marker}"; sleep 60; fi\nexit 0\n`,
  );
  chmodSync(hook, 0o755);

  const child = car(repo.dir, ['run']);
  await waitFor('car to be inside git commit', () => existsSync(marker));
  const indexLock = join(repo.dir, '.git', 'index.lock');
  child.child.kill('SIGKILL');
  for (const pid of readFileSync(marker, 'utf8').trim().split(/\s+/).map(Number)) killHard(pid);
  await child.exited;
  // A plain `git commit` releases index.lock before its hooks run; a kill during car's `git add -A`
  // (the other half of the commit) leaves the lock behind. Leave it as that kill would.
  if (!existsSync(indexLock)) writeFileSync(indexLock, '');

  const restart = await carRun(repo.dir, ['run']);
  assert.equal(restart.code, 0, restart.out);
  const s = summary(paths.dbFile);
  assert.equal(s.status, 'completed');
  assert.deepEqual(s.done, ['TICKET-010.md', 'TICKET-020.md']);
  assert.ok(s.types.includes('recovered'));
  assert.ok(s.types.includes('git_index_lock_removed'), 'the dead commit’s index.lock was removed');
  assert.equal(existsSync(indexLock), false);
  assert.equal(repo.git(['status', '--porcelain']).trim(), '');
  assert.deepEqual(repo.git(['log', '--format=%s']).trim().split('\n'), [
    'car: TICKET-020.md',
    'car: TICKET-010.md',
    'plan',
    'initial commit',
  ]);
});
