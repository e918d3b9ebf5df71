// `car hub run` as users run it: the built CLI (`node dist/car.js`, a child process) in a hub's root over
// two registered repos, starting real detached workers (dist/car.js flow worker) that work demo-agent
// tickets. Without --watch it ends by itself once nothing is runnable; with --watch it keeps supervising
// (a ticket added later starts a new run) until SIGTERM, which stops it gracefully within a bound (exit 0).
import assert from 'node:assert/strict';
import { existsSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { repoPaths } from '../../src/core/paths.ts';
import {
  carEnv,
  exitWithin,
  json,
  output,
  runCar,
  running,
  startCar,
  tempHome,
} from '../helpers/built-car.ts';
import { demoTicket, git, liveHolder, makeHub, type TestHub, writeTicket } from './helpers.ts';

const cleanups: (() => unknown)[] = [];
after(async () => {
  for (const c of cleanups.reverse()) await c();
});

const REPOS = ['alpha', 'beta'];
const WORK = (name: string) => [`write ${name}.txt hello`, 'done', `commit ${name}`];

/** A hub with alpha and beta registered, each with one committed open ticket; the env to run car in it. */
async function twoRepoHub(): Promise<{ hub: TestHub; dirs: Record<string, string>; env: NodeJS.ProcessEnv }> {
  const hub = await makeHub();
  cleanups.push(() => hub.cleanup());
  const home = tempHome();
  cleanups.push(home.cleanup);
  const dirs: Record<string, string> = {};
  for (const name of REPOS) {
    const dir = hub.gitRepo(name);
    // registering runs car init in it (its .gitignore keeps car's runtime state out of the commits)
    const add = await hub.run(['hub', 'add', dir]);
    assert.equal(add.code, 0, add.stderr);
    writeTicket(dir, 'TICKET-010.md', demoTicket(1, WORK(`${name}-one`)));
    git(dir, ['add', '-A']);
    git(dir, ['commit', '-q', '-m', 'plan']);
    dirs[name] = dir;
  }
  // as makeHub says: the suite loads the machine past what admission control tolerates
  const env = carEnv(home.home, { CAR__HUB__ADMISSION__MAX_LOAD_PER_CORE: 'null' });
  return { hub, dirs, env };
}

interface HubStatusJson {
  summary: Record<string, number>;
  repos: { id: string; tickets: { total: number; done: number; open: number; next: string | null } }[];
  supervisor: { alive: boolean } | null;
}

test('car hub run (built CLI) works two repos to done and exits 0 by itself', async () => {
  const { hub, dirs, env } = await twoRepoHub();
  for (const name of REPOS) writeTicket(dirs[name]!, 'TICKET-020.md', demoTicket(2, WORK(`${name}-two`)));

  // the deadline is the check that it ends by itself: nothing stops it
  const res = await runCar(['hub', 'run', '--max-parallel', '2', '--poll-seconds', '0.1', '--json'], {
    cwd: hub.root,
    env,
    timeoutMs: 180_000,
  });
  const out = `exit ${res.code} ${res.signal ?? ''}\n${res.stdout}\n${res.stderr}`;
  assert.equal(res.code, 0, out);
  const result = json<{ repos: Record<string, { state: string; status: string }> }>(res);
  for (const name of REPOS) {
    const dir = dirs[name]!;
    assert.equal(result.repos[name]?.status, 'completed', out);
    assert.ok(existsSync(join(dir, `${name}-two.txt`)), `${name} did its work`);
    assert.match(git(dir, ['log', '--oneline', '-1']), new RegExp(`${name}-two`));
    assert.equal(git(dir, ['status', '--porcelain']).trim(), '', `${name}: all work committed`);
    assert.equal(liveHolder(dir), null, 'no worker left behind');
  }

  const status = json<HubStatusJson>(await runCar(['hub', 'status', '--json'], { cwd: hub.root, env }));
  assert.deepEqual(status.summary, { repos: 2, completed: 2 });
  for (const r of status.repos) assert.deepEqual(r.tickets, { total: 2, done: 2, open: 0, next: null }, r.id);
  assert.equal(status.supervisor?.alive, false);
});

test('car hub run --watch (built CLI) starts a run for a ticket added later; SIGTERM stops it, exit 0', async () => {
  const { hub, dirs, env } = await twoRepoHub();
  const car = startCar(['hub', 'run', '--watch', '--max-parallel', '2', '--poll-seconds', '0.1'], {
    cwd: hub.root,
    env,
  });
  cleanups.push(async () => {
    if (running(car)) car.child.kill('SIGKILL');
    await car.exited;
  });
  const finished = (name: string) => new RegExp(`^${name}: run \\S+ completed\\b`, 'gm');
  const times = (name: string) => car.stdout.match(finished(name))?.length ?? 0;
  const waitFinished = async (name: string, n: number) => {
    const pattern = new RegExp(`(${finished(name).source}[\\s\\S]*){${n}}`, 'm');
    await car.waitForOutput(pattern, 120_000).catch((err: Error) => {
      throw new Error(`${err.message}\n${output(car)}`);
    });
  };
  for (const name of REPOS) await waitFinished(name, 1);
  assert.ok(running(car), `--watch keeps supervising once nothing is runnable\n${output(car)}`);

  // written aside and renamed in, so the supervisor never reads half a ticket
  const aside = join(dirs.alpha!, '.git', 'TICKET-020.md');
  writeFileSync(aside, demoTicket(2, WORK('alpha-two')));
  renameSync(aside, join(repoPaths(dirs.alpha!).ticketsDir, 'TICKET-020.md'));
  await waitFinished('alpha', 2);
  assert.ok(existsSync(join(dirs.alpha!, 'alpha-two.txt')), 'the new ticket was worked');
  assert.match(git(dirs.alpha!, ['log', '--oneline', '-1']), /alpha-two/);
  assert.equal(times('beta'), 1, 'beta, with nothing new, was not run again');

  car.child.kill('SIGTERM');
  const exit = await exitWithin(car, 10_000, 'SIGTERM');
  assert.deepEqual({ code: exit.code, signal: exit.signal }, { code: 0, signal: null }, output(car));
  assert.match(car.stdout, /^done: 2 repos, at most \d flows at once$/m, output(car));
  for (const name of REPOS) assert.equal(liveHolder(dirs[name]!), null, 'no worker left behind');
});
