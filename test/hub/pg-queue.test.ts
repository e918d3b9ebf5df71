// The hub queue on a real PostgreSQL server (a throwaway cluster, test/helpers/postgres.ts) as users run
// it: the built CLI for `car hub queue init`, `car hub run` and two `car worker --hub-queue` processes,
// each logging in as its own database role and keeping its own checkouts (and, where the machine allows
// it, in a network namespace of its own, reaching the database through its Unix socket), with bare git
// repos as the remotes. Three repos of three demo-agent tickets are split across the workers; one worker
// is killed -9 right after it pushed its first ticket, mid-way through the second. The other takes the
// job over once the lease runs out, resumes from the pushed branch, and every ticket ends up done exactly
// once on the remote (one commit per ticket on car/hub/<repo>; the taking-over run worked only the
// tickets left). The other tests: SIGTERM, the push barrier, a database outage, bad settings.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import {
  appendFileSync,
  chmodSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  readlinkSync,
  realpathSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import pg from 'pg';
import {
  type CarChild,
  carEnv,
  exitWithin,
  json,
  output,
  runCar,
  running,
  startCar,
  tempHome,
} from '../helpers/built-car.ts';
import { pgTestFile } from '../helpers/postgres.ts';
import { waitFor } from '../helpers/wait.ts';
import {
  demoTicket,
  git,
  initGitRepo,
  makeHub,
  type TestHub,
  WORKER_IDENTITY,
  writeTicket,
} from './helpers.ts';

const { skip, cluster, cleanups } = pgTestFile();

const REPOS = ['alpha', 'beta', 'gamma'];

/**
 * Ticket n of a repo: writes a file, commits. The second and third sleep first: a kill lands inside the
 * second, and a run lasts longer than the lease, which only heartbeats keep.
 */
function ticket(repo: string, n: number): string {
  const script = [`write ${repo}-${n}.txt ticket ${n}`, 'done', `commit ${repo}-${n}`];
  if (n > 1) script.unshift('sleep 4000');
  return demoTicket(n, script);
}

interface Setup {
  hub: TestHub;
  remotes: string;
  db: string;
  hubEnv: NodeJS.ProcessEnv;
  workerEnv(role: string): NodeJS.ProcessEnv;
  roles: string[];
  password: string;
}

async function setup(repos: readonly string[] = REPOS, plan = ticket, agents: string[] = []): Promise<Setup> {
  const c = cluster();
  const db = await c.createDatabase('hubq');
  const suffix = db.slice('hubq_'.length);
  const password = `pw-${suffix}`;
  // the hub's own role owns the database; each worker logs in as a role of its own
  const owner = `car_hub_${suffix}`;
  const roles = [`car_w1_${suffix}`, `car_w2_${suffix}`];
  await c.sql('postgres', `CREATE ROLE ${owner} LOGIN PASSWORD '${password}'`);
  await c.sql('postgres', `ALTER DATABASE ${db} OWNER TO ${owner}`);
  for (const r of roles) await c.sql('postgres', `CREATE ROLE ${r} LOGIN PASSWORD '${password}'`);

  const hub = await makeHub();
  cleanups.push(() => hub.cleanup());
  const home = tempHome();
  cleanups.push(home.cleanup);
  writeFileSync(
    join(hub.root, 'codex-autorunner.yml'),
    'hub:\n  queue:\n    kind: postgres\n    url_env: CAR_PG_URL\n    lease_seconds: 5\n    heartbeat_seconds: 1\n',
  );
  const remotes = realpathSync(mkdtempSync(join(tmpdir(), 'car-remotes-')));
  cleanups.push(() => rmSync(remotes, { recursive: true, force: true }));
  for (const name of repos) {
    const bare = join(remotes, `${name}.git`);
    git(remotes, ['init', '-q', '--bare', '-b', 'main', bare]);
    const dir = join(hub.root, 'repos', name);
    initGitRepo(dir);
    const add = await hub.run(['hub', 'add', dir]);
    assert.equal(add.code, 0, add.stderr);
    for (const n of [1, 2, 3]) writeTicket(dir, `TICKET-00${n}.md`, plan(name, n));
    if (agents.length > 0)
      appendFileSync(join(dir, '.codex-autorunner', 'config.yml'), `${agents.join('\n')}\n`);
    git(dir, ['add', '-A']);
    git(dir, ['commit', '-q', '-m', 'plan']);
    git(dir, ['remote', 'add', 'origin', bare]);
    git(dir, ['push', '-q', 'origin', 'main']);
  }
  const base = { ...WORKER_IDENTITY, CAR__HUB__ADMISSION__MAX_LOAD_PER_CORE: 'null' };
  return {
    hub,
    remotes,
    db,
    roles,
    password,
    hubEnv: carEnv(home.home, { ...base, CAR_PG_URL: c.url(db, owner, password) }),
    workerEnv: (role) => carEnv(home.home, { ...base, CAR_PG_URL: c.url(db, role, password) }),
  };
}

/** A pool for the test's own queries; a server outage in a later test must not reach it as an error. */
function testPool(s: Setup): pg.Pool {
  const pool = new pg.Pool({ connectionString: cluster().url(s.db) });
  pool.on('error', () => {});
  cleanups.push(() => pool.end());
  return pool;
}

/** Whether this machine lets a process have a network namespace of its own (root, or user namespaces). */
const NETNS = spawnSync('unshare', ['--net', 'true']).status === 0;

/**
 * A `car worker --hub-queue` with checkouts of its own. `isolated`: in a network namespace of its own
 * (when the machine allows it), as on a machine of its own: it reaches the database through the
 * server's Unix socket and the remotes through the file system, and nothing of the hub's network.
 */
/** `car hub queue init` as the database owner, each of `roles` granted a worker's access. */
async function initQueue(s: Setup, roles: readonly string[]): Promise<void> {
  const init = await runCar(['hub', 'queue', 'init', ...roles.flatMap((r) => ['--grant-role', r])], {
    cwd: s.hub.root,
    env: s.hubEnv,
    timeoutMs: 60_000,
  });
  assert.equal(init.code, 0, `${init.stdout}\n${init.stderr}`);
}

/** `car hub run` enqueueing the hub's repos, killed at the test's end if still running. */
function startHubRun(s: Setup): CarChild {
  const hubRun = startCar(['hub', 'run', '--poll-seconds', '0.2'], { cwd: s.hub.root, env: s.hubEnv });
  cleanups.push(async () => {
    if (running(hubRun)) hubRun.child.kill('SIGKILL');
    await hubRun.exited;
  });
  return hubRun;
}

function startWorker(s: Setup, name: string, role: string, isolated = false): CarChild {
  const checkouts = join(s.remotes, `checkouts-${name}`);
  mkdirSync(checkouts, { recursive: true });
  const netns = isolated && NETNS;
  const env = netns
    ? { ...s.workerEnv(role), CAR_PG_URL: cluster().socketUrl(s.db, role, s.password) }
    : s.workerEnv(role);
  const w = startCar(
    ['worker', '--hub-queue', '--name', name, '--checkouts', checkouts, '--poll-seconds', '0.2'],
    { cwd: s.remotes, env, ...(netns ? { wrap: ['unshare', '--net'] } : {}) },
  );
  cleanups.push(async () => {
    if (running(w)) w.child.kill('SIGKILL');
    await w.exited;
  });
  return w;
}

/** The commit subjects on the remote's result branch of `repo`, oldest first. */
function remoteSubjects(s: Setup, repo: string): string[] {
  return git(join(s.remotes, `${repo}.git`), ['log', '--reverse', '--format=%s', `car/hub/${repo}`])
    .trim()
    .split('\n');
}

interface HubRunJson {
  repos: Record<string, { state: string; status: string | null; workers: string[] }>;
}

test('a hub run split across two queue workers survives a kill -9: every ticket done exactly once', {
  skip,
}, async (t) => {
  const s = await setup();
  await initQueue(s, s.roles);

  // each worker as on a machine of its own: its own role, checkouts and (where allowed) network namespace
  const w1 = startWorker(s, 'w1', s.roles[0]!, true);
  const w2 = startWorker(s, 'w2', s.roles[1]!, true);
  if (NETNS) {
    const ns = (pid: number | string) => readlinkSync(`/proc/${pid}/ns/net`);
    assert.notEqual(ns(w1.child.pid!), ns('self'), 'w1 has a network namespace of its own');
    assert.notEqual(ns(w2.child.pid!), ns(w1.child.pid!), 'so has w2');
  } else t.diagnostic('no network namespaces here (unshare --net refused): the workers share the network');
  const hubRun = startCar(['hub', 'run', '--poll-seconds', '0.2', '--json'], {
    cwd: s.hub.root,
    env: s.hubEnv,
  });
  cleanups.push(async () => {
    if (running(hubRun)) hubRun.child.kill('SIGKILL');
    await hubRun.exited;
  });

  // the first worker to push its first ticket is killed mid-way through its second
  const pushedFirst = /^(w[12]): (\w+): pushed car\/hub\/\w+ at \w+ \(\S*TICKET-001\.md done\)$/m;
  await waitFor(
    'a worker to push its first ticket',
    () => pushedFirst.test(w1.stdout) || pushedFirst.test(w2.stdout),
    120_000,
  ).catch((err: Error) => {
    throw new Error(`${err.message}\nw1:\n${output(w1)}\nw2:\n${output(w2)}\nhub:\n${output(hubRun)}`);
  });
  const [victim, survivor] = pushedFirst.test(w1.stdout) ? [w1, w2] : [w2, w1];
  const [, victimName, victimRepo] = pushedFirst.exec(victim.stdout)!;
  const survivorName = victimName === 'w1' ? 'w2' : 'w1';
  victim.child.kill('SIGKILL');
  await victim.exited;
  assert.doesNotMatch(
    victim.stdout,
    new RegExp(`${victimRepo}: pushed .*TICKET-002`),
    'killed before its second ticket was done',
  );

  const exit = await exitWithin(hubRun, 240_000, 'car hub run to follow every job to its end');
  const all = `hub:\n${output(hubRun)}\nvictim:\n${output(victim)}\nsurvivor:\n${output(survivor)}`;
  assert.equal(exit.code, 0, all);
  const result = json<HubRunJson>({ code: exit.code, stdout: hubRun.stdout, stderr: hubRun.stderr });
  for (const repo of REPOS) {
    assert.equal(result.repos[repo]?.state, 'completed', `${repo}\n${all}`);
    assert.equal(result.repos[repo]?.status, 'completed', `${repo}\n${all}`);
  }
  // the killed worker's job was taken over by the other worker
  const held = result.repos[victimRepo!]!.workers.map((w) => w.split('@')[0]);
  assert.deepEqual(held, [victimName, survivorName], all);
  // a live worker keeps its job however long the run, by heartbeats: no other job changed hands
  for (const repo of REPOS.filter((r) => r !== victimRepo))
    assert.equal(result.repos[repo]!.workers.length, 1, `${repo} kept by one worker\n${all}`);
  // both machines worked: every job names the worker(s) that held it
  const workersSeen = new Set(
    Object.values(result.repos).flatMap((r) => r.workers.map((w) => w.split('@')[0])),
  );
  assert.deepEqual([...workersSeen].sort(), ['w1', 'w2'], all);

  // nothing lost, nothing done twice: each ticket's commit exactly once on the remote's result branch
  for (const repo of REPOS) {
    const subjects = remoteSubjects(s, repo).filter((x) => x.startsWith(`${repo}-`));
    assert.deepEqual(
      subjects,
      [`${repo}-1`, `${repo}-2`, `${repo}-3`],
      `${repo}: ${subjects.join(', ')}\n${all}`,
    );
    const tip = join(s.remotes, `${repo}.git`);
    for (const n of [1, 2, 3]) {
      const t = git(tip, ['show', `car/hub/${repo}:.codex-autorunner/tickets/TICKET-00${n}.md`]);
      assert.match(t, /^done: true$/m, `${repo} ticket ${n} done on the remote`);
    }
  }
  // the run that took over worked only the tickets left (mirrored events, for the hub)
  const pool = testPool(s);
  const done = await pool.query<{ worker: string; ticket: string }>(
    `SELECT worker, data->>'ticket' AS ticket FROM car_hub.events WHERE repo_id = $1 AND type = 'ticket_done' ORDER BY id`,
    [victimRepo],
  );
  const bySurvivor = done.rows.filter((r) => r.worker === survivorName).map((r) => r.ticket);
  assert.equal(bySurvivor.length, 2, JSON.stringify(done.rows));
  assert.ok(
    bySurvivor.every((t) => !/TICKET-001/.test(t)),
    JSON.stringify(done.rows),
  );

  // the hub's status lists the jobs with the worker that ended each
  const status = json<{
    queue: { jobs: { repo_id: string; state: string; worker: string; attempt: number }[] };
  }>(await runCar(['hub', 'status', '--json'], { cwd: s.hub.root, env: s.hubEnv }));
  const jobs = new Map(status.queue.jobs.map((j) => [j.repo_id, j]));
  assert.deepEqual([...jobs.keys()].sort(), REPOS);
  assert.equal(jobs.get(victimRepo!)?.worker, survivorName);
  assert.equal(jobs.get(victimRepo!)?.attempt, 1);
  const table = await runCar(['hub', 'status'], { cwd: s.hub.root, env: s.hubEnv });
  assert.equal(table.code, 0, table.stderr);
  assert.match(
    table.stdout,
    new RegExp(
      `^${victimRepo}\\s+\\w+\\s+completed \\(takeover 1\\)\\s+${survivorName}\\s+\\S+\\s+3/3\\s+completed \\(all_done\\)$`,
      'm',
    ),
    table.stdout,
  );

  // security: payloads carry no secret; a worker role cannot drop or rewrite what it was not granted
  const payloads = await pool.query<{ data: Record<string, unknown> }>(
    `SELECT data FROM pgboss.job UNION ALL SELECT data FROM pgboss.archive`,
  );
  for (const { data } of payloads.rows) {
    assert.deepEqual(Object.keys(data).sort(), [
      'base_branch',
      'heartbeat_seconds',
      'lease_seconds',
      'remote_url',
      'repo_id',
      'result_branch',
    ]);
    assert.ok(!JSON.stringify(data).includes(s.password), 'no password in a job');
  }
  const asWorker = new pg.Client({ connectionString: cluster().url(s.db, s.roles[0], s.password) });
  await asWorker.connect();
  try {
    await assert.rejects(asWorker.query('DELETE FROM car_hub.events'), /permission denied/);
    await assert.rejects(asWorker.query('DROP TABLE car_hub.runs'), /must be owner|permission denied/);
    await assert.rejects(asWorker.query('CREATE TABLE pgboss.x (a int)'), /permission denied/);
  } finally {
    await asWorker.end();
  }

  survivor.child.kill('SIGTERM');
  const stopped = await exitWithin(survivor, 30_000, 'SIGTERM to the idle worker');
  assert.equal(stopped.code, 0, output(survivor));
});

test('SIGTERM to a worker mid-run pauses its run, gives the job back, and the next worker finishes it; a remote URL with a password is never queued', {
  skip,
}, async () => {
  const s = await setup(['alpha']);
  // delta's origin carries a token: the hub leaves it out of the queue, saying why
  const delta = join(s.hub.root, 'repos', 'delta');
  initGitRepo(delta);
  assert.equal((await s.hub.run(['hub', 'add', delta])).code, 0);
  writeTicket(delta, 'TICKET-001.md', ticket('delta', 1));
  git(delta, ['add', '-A']);
  git(delta, ['commit', '-q', '-m', 'plan']);
  git(delta, ['remote', 'add', 'origin', 'https://bot:s3cret-token@git.example.invalid/delta.git']);
  await initQueue(s, s.roles);
  const w1 = startWorker(s, 'w1', s.roles[0]!);
  const hubRun = startHubRun(s);
  await w1.waitForOutput(/alpha: pushed car\/hub\/alpha at \w+ \(\S*TICKET-001\.md done\)/, 120_000);
  w1.child.kill('SIGTERM');
  const stopped = await exitWithin(w1, 30_000, 'SIGTERM to a working worker');
  assert.equal(stopped.code, 0, output(w1));
  assert.match(w1.stdout, /^w1: alpha: run \S+ paused/m, output(w1));
  assert.match(w1.stdout, /^w1: alpha: gave job \S+ back$/m, output(w1));

  const w2 = startWorker(s, 'w2', s.roles[1]!);
  const exit = await exitWithin(hubRun, 240_000, 'car hub run to follow the job to its end');
  const all = `hub:\n${output(hubRun)}\nw1:\n${output(w1)}\nw2:\n${output(w2)}`;
  assert.equal(exit.code, 0, all);
  assert.match(hubRun.stdout, /^alpha: taken by w1 on /m, all);
  assert.match(hubRun.stdout, /^alpha: taken over by w2 on /m, all);
  assert.match(hubRun.stdout, /^alpha: job completed, run completed \(all_done\) by w2$/m, all);
  assert.match(w2.stdout, /^w2: alpha: took job \S+ \(attempt 1\), resuming car\/hub\/alpha/m, all);
  const subjects = remoteSubjects(s, 'alpha').filter((x) => x.startsWith('alpha-'));
  assert.deepEqual(subjects, ['alpha-1', 'alpha-2', 'alpha-3'], all);
  assert.match(hubRun.stdout, /^delta: skipped, its git remote origin carries a password or token/m, all);
  const pool = testPool(s);
  const jobs = await pool.query(
    `SELECT data::text AS data FROM pgboss.job UNION ALL SELECT data::text FROM pgboss.archive`,
  );
  assert.deepEqual(
    jobs.rows.map((r) => JSON.parse(r.data).repo_id),
    ['alpha'],
  );
  assert.ok(
    jobs.rows.every((r) => !r.data.includes('s3cret')),
    'no token in any job',
  );
});

test("no turn of the next ticket starts before the finished ticket's push has landed; agents never see the database URL", {
  skip,
}, async () => {
  // tickets 1 and 2: the demo agent; ticket 3: a command agent that records the environment it got
  const envDump = join(tmpdir(), `car-agent-env-${process.pid}-${Date.now()}`);
  cleanups.push(() => rmSync(envDump, { force: true }));
  const script = [
    `env > ${JSON.stringify(envDump)}`,
    `f=$(printf '%s\\n' "$1" | sed -n 's/^Current ticket file: //p' | head -1)`,
    'echo three > alpha-3.txt',
    `sed -i 's/^done: false$/done: true/' "$f"`,
    'git add -A && git commit -qm alpha-3',
  ].join('\n');
  const quick = (repo: string, n: number) =>
    n < 3
      ? demoTicket(n, [`write ${repo}-${n}.txt ticket ${n}`, 'done', `commit ${repo}-${n}`])
      : `---\nticket_id: tkt_${'3'.padStart(32, '0')}\nagent: script\ndone: false\ntitle: ticket 3\n---\n\nWrite alpha-3.txt.\n`;
  const s = await setup(['alpha'], quick, [
    'agents:',
    '  script:',
    '    backend: command',
    '    format: text',
    `    command: [sh, -c, ${JSON.stringify(script)}, agent]`,
  ]);
  // the remote holds every push until the test opens the gate
  const gate = join(s.remotes, 'gate');
  const hook = join(s.remotes, 'alpha.git', 'hooks', 'pre-receive');
  writeFileSync(hook, `#!/bin/sh\nwhile [ ! -e '${gate}' ]; do sleep 0.05; done\ncat >/dev/null\n`);
  chmodSync(hook, 0o755);
  await initQueue(s, [s.roles[0]!]);
  const w1 = startWorker(s, 'w1', s.roles[0]!);
  const hubRun = startHubRun(s);
  const pool = testPool(s);
  // the engine has reached ticket 2's turn (its turn_started mirrored by a heartbeat since) ...
  await waitFor(
    "ticket 2's turn to be reached",
    async () =>
      (
        await pool
          .query(
            `SELECT 1 FROM car_hub.events WHERE type = 'turn_started' AND data->>'ticket' LIKE '%TICKET-002.md'`,
          )
          .catch(() => ({ rowCount: 0 }))
      ).rowCount === 1,
    120_000,
  ).catch((err: Error) => {
    throw new Error(`${err.message}\n${output(w1)}\n${output(hubRun)}`);
  });
  // ... and, with ticket 1's push held by the remote, the agent has not begun it
  const checkout = join(s.remotes, 'checkouts-w1', 'alpha');
  assert.ok(existsSync(join(checkout, 'alpha-1.txt')), 'ticket 1 was worked');
  assert.ok(
    !existsSync(join(checkout, 'alpha-2.txt')),
    `ticket 2's turn ran before ticket 1 was pushed\n${output(w1)}`,
  );
  assert.doesNotMatch(w1.stdout, /pushed/);

  writeFileSync(gate, '');
  const exit = await exitWithin(hubRun, 120_000, 'car hub run to follow the job to its end');
  const all = `hub:\n${output(hubRun)}\nw1:\n${output(w1)}`;
  assert.equal(exit.code, 0, all);
  assert.match(w1.stdout, /pushed car\/hub\/alpha at \w+ \(\S*TICKET-001\.md done\)/, all);
  const subjects = remoteSubjects(s, 'alpha').filter((x) => x.startsWith('alpha-'));
  assert.deepEqual(subjects, ['alpha-1', 'alpha-2', 'alpha-3'], all);
  // the agent's environment had no database URL (the worker's was set) nor its password
  const agentEnv = readFileSync(envDump, 'utf8');
  assert.match(agentEnv, /^HOME=/m, 'the agent ran and recorded its environment');
  assert.doesNotMatch(agentEnv, /CAR_PG_URL/);
  assert.ok(!agentEnv.includes(s.password), 'no database password in the agent environment');
});

test('a database outage longer than the lease: the hub and the worker wait it out, the job ends once, every ticket once', {
  skip,
}, async () => {
  const s = await setup(['alpha']);
  await initQueue(s, [s.roles[0]!]);
  const w1 = startWorker(s, 'w1', s.roles[0]!);
  const hubRun = startHubRun(s);
  await w1.waitForOutput(/alpha: pushed car\/hub\/alpha at \w+ \(\S*TICKET-001\.md done\)/, 120_000);
  cluster().down();
  try {
    await hubRun.waitForOutput(/database is out of reach/, 60_000);
    // six failed heartbeats, a second apart: longer than the 5 s lease
    await waitFor(
      'six failed heartbeats',
      () => (w1.stdout.match(/heartbeat failed/g)?.length ?? 0) >= 6,
      120_000,
    );
  } finally {
    cluster().up();
  }
  await hubRun.waitForOutput(/database is back/, 60_000);
  const exit = await exitWithin(hubRun, 240_000, 'car hub run to follow the job to its end');
  const all = `hub:\n${output(hubRun)}\nw1:\n${output(w1)}`;
  assert.equal(exit.code, 0, all);
  assert.match(hubRun.stdout, /^alpha: job completed, run completed \(all_done\) by w1$/m, all);
  const subjects = remoteSubjects(s, 'alpha').filter((x) => x.startsWith('alpha-'));
  assert.deepEqual(subjects, ['alpha-1', 'alpha-2', 'alpha-3'], all);
  assert.ok(running(w1), `the worker outlived the outage\n${all}`);
});

test('a push the remote refuses gives the job back; once the remote takes pushes again the run resumes there', {
  skip,
}, async () => {
  const quick = (repo: string, n: number) =>
    demoTicket(n, [`write ${repo}-${n}.txt ticket ${n}`, 'done', `commit ${repo}-${n}`]);
  const s = await setup(['alpha'], quick);
  // the remote declines every push while the deny file exists
  const deny = join(s.remotes, 'deny');
  writeFileSync(deny, '');
  const hook = join(s.remotes, 'alpha.git', 'hooks', 'pre-receive');
  writeFileSync(
    hook,
    `#!/bin/sh\ncat >/dev/null\nif [ -e '${deny}' ]; then echo 'pushes are closed' >&2; exit 1; fi\n`,
  );
  chmodSync(hook, 0o755);
  await initQueue(s, [s.roles[0]!]);
  const w1 = startWorker(s, 'w1', s.roles[0]!);
  const hubRun = startHubRun(s);
  await w1.waitForOutput(/^w1: alpha: gave job \S+ back$/m, 120_000).catch((err: Error) => {
    throw new Error(`${err.message}\n${output(w1)}`);
  });
  assert.match(w1.stdout, /^w1: alpha: push failed: .*pushes are closed/m, output(w1));
  assert.match(w1.stdout, /^w1: alpha: run \S+ paused/m, output(w1));
  rmSync(deny);
  const exit = await exitWithin(hubRun, 240_000, 'car hub run to follow the job to its end');
  const all = `hub:\n${output(hubRun)}\nw1:\n${output(w1)}`;
  assert.equal(exit.code, 0, all);
  assert.match(hubRun.stdout, /^alpha: job completed, run completed \(all_done\) by w1$/m, all);
  const subjects = remoteSubjects(s, 'alpha').filter((x) => x.startsWith('alpha-'));
  assert.deepEqual(subjects, ['alpha-1', 'alpha-2', 'alpha-3'], all);
});

test('bad hub.queue settings and a missing database URL are usage errors naming the file, field or variable', async () => {
  const hub = await makeHub();
  cleanups.push(() => hub.cleanup());
  const home = tempHome();
  cleanups.push(home.cleanup);
  const env = carEnv(home.home);
  const cfg = join(hub.root, 'codex-autorunner.yml');
  const cases: [string, RegExp][] = [
    [
      'hub:\n  queue:\n    kind: mysql\n',
      /codex-autorunner\.yml: hub\.queue\.kind must be sqlite or postgres/,
    ],
    [
      'hub:\n  queue:\n    kind: postgres\n    lease_seconds: 10\n    heartbeat_seconds: 6\n',
      /codex-autorunner\.yml: hub\.queue\.heartbeat_seconds must be at most half of hub\.queue\.lease_seconds/,
    ],
    [
      'hub:\n  queue:\n    kind: postgres\n    url_env: "not a name"\n',
      /hub\.queue\.url_env must be an environment variable name/,
    ],
  ];
  for (const [text, message] of cases) {
    writeFileSync(cfg, text);
    const res = await runCar(['hub', 'run'], { cwd: hub.root, env });
    assert.equal(res.code, 3, `${text}\n${res.stderr}`);
    assert.match(res.stderr, message);
  }
  writeFileSync(cfg, 'hub:\n  queue:\n    kind: postgres\n    url_env: HUB_DB\n');
  const noUrl = await runCar(['hub', 'run'], { cwd: hub.root, env });
  assert.equal(noUrl.code, 2, noUrl.stderr);
  assert.match(
    noUrl.stderr,
    /hub\.queue\.url_env names HUB_DB for the hub queue's database URL, and it is not set/,
  );

  const noFlag = await runCar(['worker'], { cwd: hub.root, env });
  assert.equal(noFlag.code, 2, noFlag.stderr);
  assert.match(noFlag.stderr, /car worker needs --hub-queue/);
  const noEnv = await runCar(['worker', '--hub-queue', '--url-env', 'WORKER_DB'], { cwd: hub.root, env });
  assert.equal(noEnv.code, 2, noEnv.stderr);
  assert.match(noEnv.stderr, /--url-env names WORKER_DB .* not set/);
});
