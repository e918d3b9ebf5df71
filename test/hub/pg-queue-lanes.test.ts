// A hub repo with lanes on the PostgreSQL hub queue, as users run it: the built CLI for `car hub queue
// init`, `car hub run` and `car worker --hub-queue` processes (each its own database role and
// checkouts), a bare git repo as the remote, a shell-script agent (the command backend). The repo's job
// becomes its coordinator, which queues one ticket job per ready ticket; any worker works a ticket job on
// its ticket branch and pushes it; the coordinator merges it into car/hub/<repo> through the merge queue.
// Covered: a diamond of five tickets over two workers with one worker killed -9 mid-ticket (the other
// takes the ticket over from its pushed branch); a forced conflict sent back with the conflict in the
// ticket's next prompt. Repos without lanes keep one job each: test/hub/pg-queue.test.ts.
import assert from 'node:assert/strict';
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  realpathSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
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
import { tid } from '../helpers/cli.ts';
import { pgTestFile } from '../helpers/postgres.ts';
import { scriptAgentConfig } from '../helpers/script-agent.ts';
import { waitFor } from '../helpers/wait.ts';
import { git, initGitRepo, makeHub, WORKER_IDENTITY, writeTicket } from './helpers.ts';

const { skip, cluster, cleanups } = pgTestFile();

/**
 * The agent; argument 1 is car's prompt, naming the ticket. A merge in progress (car brought the
 * integration branch into the ticket branch and it conflicted) is resolved keeping both sides' lines.
 * The ticket named by CAR_TEST_SLOW takes two turns: the first commits part 1 (pushed after the turn),
 * the second says it started (CAR_TEST_STARTED) and waits while CAR_TEST_HOLD exists. The ticket named
 * by CAR_TEST_ASK commits part 1 and asks a person (DISPATCH.md, mode: pause) until CAR_TEST_ANSWERED
 * exists; then it logs what work it found and goes on.
 */
const AGENT = [
  `f=$(printf '%s\\n' "$1" | sed -n 's/^Current ticket file: //p' | head -1)`,
  'exec 2>>"$CAR_TEST_LOG"',
  'test -f "$f" || { echo "no ticket file in the prompt" >&2; exit 1; }',
  'name=$(basename "$f" .md)',
  // CAR_TEST_HOLD_ALL: every ticket says it started, then waits while CAR_TEST_HOLD exists
  'if [ -n "$CAR_TEST_HOLD_ALL" ]; then pwd >> "$CAR_TEST_STARTED"; while [ -e "$CAR_TEST_HOLD" ]; do sleep 0.05; done; fi',
  'case "$1" in *CAR_MERGE_FAILED*) echo "$name merge-feedback $(pwd)" >> "$CAR_TEST_LOG";; esac',
  'if [ "$name" = "$CAR_TEST_ASK" ]; then',
  '  if [ ! -e "$CAR_TEST_ANSWERED" ]; then',
  `    d=$(printf '%s\\n' "$1" | sed -n 's/^DISPATCH.md path: //p' | head -1)`,
  '    mkdir -p work && echo part1 > "work/$name-part1.txt"',
  '    git add -A && git commit -qm "part 1 of $name"',
  `    printf -- '---\\nmode: pause\\ntitle: Go on?\\n---\\nShall I go on?\\n' > "$d"`,
  '    exit 0',
  '  fi',
  `  echo "$name resumed with: $(ls work 2>/dev/null | tr '\\n' ' ')" >> "$CAR_TEST_LOG"`,
  'fi',
  'if git rev-parse -q --verify MERGE_HEAD >/dev/null; then',
  `  for c in $(git diff --name-only --diff-filter=U); do sed -i '/^<<<<<<<\\|^=======\\|^>>>>>>>/d' "$c"; git add "$c"; done`,
  '  git commit -qm "resolve the merge for $name"',
  'elif [ -n "$CAR_TEST_SHARED" ]; then',
  '  echo "line from $name" >> shared.txt',
  'else',
  '  mkdir -p work',
  '  if [ "$name" = "$CAR_TEST_SLOW" ]; then',
  '    if [ ! -e "work/$name-part1.txt" ]; then',
  '      echo part1 > "work/$name-part1.txt"',
  '      git add -A && git commit -qm "part 1 of $name"',
  '      echo "$name part1 $(pwd)" >> "$CAR_TEST_LOG"',
  '      exit 0',
  '    fi',
  '    echo "$name part2 $(pwd)" >> "$CAR_TEST_LOG"',
  '    pwd > "$CAR_TEST_STARTED"',
  '    while [ -e "$CAR_TEST_HOLD" ]; do sleep 0.05; done',
  '  fi',
  '  echo "$name" > "work/$name.txt"',
  `  echo "$name saw: $(ls work | tr '\\n' ' ')" >> "$CAR_TEST_LOG"`,
  'fi',
  `sed -i 's/^done: false$/done: true/' "$f"`,
  'git add -A',
  'git commit -qm "work on $name"',
  'echo "worked on $name"',
  '',
].join('\n');

interface Setup {
  dir: string;
  remote: string;
  aside: string;
  hubRoot: string;
  hubEnv: NodeJS.ProcessEnv;
  workerEnv(role: string): NodeJS.ProcessEnv;
  roles: string[];
  db: string;
  log(): string[];
  files: { hold: string; started: string };
}

/** A hub with one repo `alpha` (lanes 2) whose `tickets` (name → depends_on) are for the script agent. */
async function setup(
  tickets: Record<string, string[]>,
  agentEnv: Record<string, string> = {},
): Promise<Setup> {
  const c = cluster();
  const db = await c.createDatabase('hubl');
  const suffix = db.slice('hubl_'.length);
  const password = `pw-${suffix}`;
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
  const aside = realpathSync(mkdtempSync(join(tmpdir(), 'car-lanes-remote-')));
  cleanups.push(() => rmSync(aside, { recursive: true, force: true }));
  const remote = join(aside, 'alpha.git');
  git(aside, ['init', '-q', '--bare', '-b', 'main', remote]);
  const dir = join(hub.root, 'repos', 'alpha');
  initGitRepo(dir);
  const add = await hub.run(['hub', 'add', dir]);
  assert.equal(add.code, 0, add.stderr);
  const files = {
    script: join(aside, 'agent.sh'),
    log: join(aside, 'agent.log'),
    hold: join(aside, 'hold'),
    started: join(aside, 'started'),
  };
  writeFileSync(files.script, AGENT);
  writeFileSync(files.log, '');
  const env = {
    CAR_TEST_LOG: files.log,
    CAR_TEST_HOLD: files.hold,
    CAR_TEST_STARTED: files.started,
    ...agentEnv,
  };
  writeFileSync(
    join(dir, '.codex-autorunner', 'config.yml'),
    scriptAgentConfig(files.script, { env }, ['ticket_flow:', '  lanes: 2']),
  );
  Object.entries(tickets).forEach(([name, deps], i) => {
    const lines = ['---', `ticket_id: ${tid(i + 1)}`, 'agent: script', 'done: false', `title: ${name}`];
    if (deps.length > 0) lines.push(`depends_on: [${deps.join(', ')}]`);
    writeTicket(dir, `${name}.md`, `${lines.join('\n')}\n---\n\n## Tasks\n- ${name}\n`);
  });
  if (agentEnv.CAR_TEST_SHARED) writeFileSync(join(dir, 'shared.txt'), 'base\n');
  git(dir, ['add', '-A']);
  git(dir, ['commit', '-q', '-m', 'plan']);
  git(dir, ['remote', 'add', 'origin', remote]);
  git(dir, ['push', '-q', 'origin', 'main']);
  const base = { ...WORKER_IDENTITY, CAR__HUB__ADMISSION__MAX_LOAD_PER_CORE: 'null' };
  const init = await runCar(['hub', 'queue', 'init', ...roles.flatMap((r) => ['--grant-role', r])], {
    cwd: hub.root,
    env: carEnv(home.home, { ...base, CAR_PG_URL: c.url(db, owner, password) }),
    timeoutMs: 60_000,
  });
  assert.equal(init.code, 0, `${init.stdout}\n${init.stderr}`);
  return {
    dir,
    remote,
    aside,
    hubRoot: hub.root,
    db,
    roles,
    files,
    hubEnv: carEnv(home.home, { ...base, CAR_PG_URL: c.url(db, owner, password) }),
    workerEnv: (role) => carEnv(home.home, { ...base, CAR_PG_URL: c.url(db, role, password) }),
    log: () => readFileSync(files.log, 'utf8').split('\n').filter(Boolean),
  };
}

function startWorker(s: Setup, name: string, role: string, extra: string[] = []): CarChild {
  const checkouts = join(s.aside, `checkouts-${name}`);
  mkdirSync(checkouts, { recursive: true });
  const w = startCar(
    ['worker', '--hub-queue', '--name', name, '--checkouts', checkouts, '--poll-seconds', '0.2', ...extra],
    { cwd: s.aside, env: s.workerEnv(role) },
  );
  cleanups.push(async () => {
    if (running(w)) w.child.kill('SIGKILL');
    await w.exited;
  });
  return w;
}

function startHubRun(s: Setup): CarChild {
  const hubRun = startCar(['hub', 'run', '--poll-seconds', '0.2', '--json'], {
    cwd: s.hubRoot,
    env: s.hubEnv,
  });
  cleanups.push(async () => {
    if (running(hubRun)) hubRun.child.kill('SIGKILL');
    await hubRun.exited;
  });
  return hubRun;
}

function testPool(s: Setup): pg.Pool {
  const pool = new pg.Pool({ connectionString: cluster().url(s.db) });
  pool.on('error', () => {});
  cleanups.push(() => pool.end());
  return pool;
}

/** Commit subjects on the remote's car/hub/alpha, oldest first. */
function remoteSubjects(s: Setup): string[] {
  return git(s.remote, ['log', '--reverse', '--format=%s', 'car/hub/alpha']).trim().split('\n');
}

const count = (list: readonly string[], pred: (x: string) => boolean) => list.filter(pred).length;

/** Each ticket done on the remote's car/hub/alpha, merged there once (one merge commit each). */
function assertMergedOnce(s: Setup, names: readonly string[], all: string): string[] {
  const subjects = remoteSubjects(s);
  for (const name of names) {
    const t = git(s.remote, ['show', `car/hub/alpha:.codex-autorunner/tickets/${name}.md`]);
    assert.match(t, /^done: true$/m, `${name} done on the remote\n${all}`);
    assert.equal(
      count(subjects, (x) => x.startsWith(`car: merge ${name} `)),
      1,
      `${name} merged once:\n${subjects.join('\n')}\n${all}`,
    );
  }
  return subjects;
}

interface TicketJobRow {
  id: string;
  ticket: string;
  attempt: number;
  merge_attempt: number;
  state: string;
  final_worker: string | null;
}

async function ticketJobRows(pool: pg.Pool): Promise<TicketJobRow[]> {
  const res = await pool.query<TicketJobRow>(
    `SELECT j.id::text AS id, j.data->>'ticket' AS ticket, j.retry_count AS attempt,
            (j.data->>'merge_attempt')::int AS merge_attempt, j.state::text AS state, r.worker AS final_worker
     FROM (SELECT id, name, data, retry_count, state, created_on FROM pgboss.job
           UNION ALL SELECT id, name, data, retry_count, state, created_on FROM pgboss.archive) j
     LEFT JOIN car_hub.runs r ON r.job_id = j.id
     WHERE j.name = 'car-hub-ticket' ORDER BY j.created_on`,
  );
  return res.rows;
}

test('a repo with lanes spreads its tickets over two workers as ticket jobs; a worker killed -9 mid-ticket is taken over from the pushed ticket branch; every ticket merged once', {
  skip,
}, async () => {
  const names = ['TICKET-001', 'TICKET-002', 'TICKET-003', 'TICKET-004', 'TICKET-005'];
  // A, B, C independent; D needs A and B; E needs D. C is the slow one a worker is killed in.
  const s = await setup(
    {
      'TICKET-001': [],
      'TICKET-002': [],
      'TICKET-003': [],
      'TICKET-004': ['1', '2'],
      'TICKET-005': ['4'],
    },
    { CAR_TEST_SLOW: 'TICKET-003' },
  );
  writeFileSync(s.files.hold, '');
  const workers = { w1: startWorker(s, 'w1', s.roles[0]!), w2: startWorker(s, 'w2', s.roles[1]!) };
  const hubRun = startHubRun(s);
  const pool = testPool(s);
  const everything = () =>
    `hub:\n${output(hubRun)}\nw1:\n${output(workers.w1)}\nw2:\n${output(workers.w2)}\nagent:\n${s.log().join('\n')}`;

  // C's second turn has started (its first turn's commit pushed before it could), on some worker ...
  await waitFor("TICKET-003's second turn to start", () => existsSync(s.files.started), 180_000).catch(
    (err: Error) => {
      throw new Error(`${err.message}\n${everything()}`);
    },
  );
  const cwd = readFileSync(s.files.started, 'utf8').trim();
  const victimName = cwd.includes('/checkouts-w1/') ? 'w1' : 'w2';
  const survivorName = victimName === 'w1' ? 'w2' : 'w1';
  const victim = workers[victimName];
  // ... and that worker's heartbeat has mirrored both turns of it to the hub
  await waitFor(
    "the victim's turns on TICKET-003 to reach the hub",
    async () =>
      (
        await pool.query(
          `SELECT 1 FROM car_hub.events WHERE worker = $1 AND type = 'turn_started' AND data->>'ticket' LIKE '%TICKET-003.md'`,
          [victimName],
        )
      ).rowCount === 2,
    60_000,
  );
  assert.match(
    victim.stdout,
    new RegExp(
      `^${victimName}: alpha TICKET-003: pushed car/hub-tickets/alpha/\\w+/TICKET-003 at \\w+ \\(turn on`,
      'm',
    ),
    everything(),
  );
  victim.child.kill('SIGKILL');
  await victim.exited;
  rmSync(s.files.hold);

  const exit = await exitWithin(hubRun, 300_000, 'car hub run to follow the coordinator to its end');
  const all = everything();
  assert.equal(exit.code, 0, all);
  const result = json<{ repos: Record<string, { state: string; status: string | null }> }>({
    code: exit.code,
    stdout: hubRun.stdout,
    stderr: hubRun.stderr,
  });
  assert.deepEqual([result.repos.alpha?.state, result.repos.alpha?.status], ['completed', 'completed'], all);

  // every ticket's work landed on the remote's car/hub/alpha exactly once, C's first part too
  const subjects = assertMergedOnce(s, names, all);
  for (const name of names)
    assert.equal(
      count(subjects, (x) => x === `work on ${name}`),
      1,
      `${name}\n${subjects.join('\n')}`,
    );
  assert.equal(
    count(subjects, (x) => x === 'part 1 of TICKET-003'),
    1,
    subjects.join('\n'),
  );

  // D's worker had A's and B's work in its checkout; E had D's
  const saw = (name: string) => s.log().find((l) => l.startsWith(`${name} saw: `)) ?? '';
  assert.match(saw('TICKET-004'), /TICKET-001\.txt.*TICKET-002\.txt/, all);
  assert.match(saw('TICKET-005'), /TICKET-004\.txt/, all);

  // C was taken over: its part 1 was done once, by the victim; the survivor resumed at part 2
  const log = s.log();
  const part1 = log.filter((l) => l.startsWith('TICKET-003 part1 '));
  assert.equal(part1.length, 1, all);
  assert.match(part1[0]!, new RegExp(`/checkouts-${victimName}/`));
  assert.ok(
    log.some((l) => l.startsWith('TICKET-003 part2 ') && l.includes(`/checkouts-${survivorName}/`)),
    all,
  );
  assert.match(
    workers[survivorName].stdout,
    new RegExp(
      `^${survivorName}: alpha TICKET-003: took ticket job \\S+ \\(attempt [1-9]\\d*\\), resuming car/hub-tickets/alpha/`,
      'm',
    ),
    all,
  );

  // one ticket job per ticket (no send-back, and a takeover never queues one twice), worked by both
  const jobs = await ticketJobRows(pool);
  assert.deepEqual(
    jobs.map((j) => j.ticket.split('/').pop()).sort(),
    names.map((n) => `${n}.md`),
    JSON.stringify(jobs),
  );
  assert.ok(
    jobs.every((j) => j.state === 'completed'),
    JSON.stringify(jobs),
  );
  const c = jobs.find((j) => j.ticket.endsWith('TICKET-003.md'))!;
  assert.ok(c.attempt >= 1, `TICKET-003's job taken over: ${JSON.stringify(c)}`);
  assert.equal(c.final_worker, survivorName);
  const byWorker = await pool.query<{ worker: string }>(
    `SELECT DISTINCT e.worker FROM car_hub.events e
     JOIN (SELECT id, name FROM pgboss.job UNION ALL SELECT id, name FROM pgboss.archive) j ON j.id = e.job_id
     WHERE j.name = 'car-hub-ticket' ORDER BY e.worker`,
  );
  assert.deepEqual(
    byWorker.rows.map((r) => r.worker),
    ['w1', 'w2'],
    'ticket jobs worked by both workers',
  );
  // each merged after what it depends on (a killed coordinator's last events may never reach the hub:
  // the remote's history is the record)
  const order = (n: string) => subjects.findIndex((x) => x.startsWith(`car: merge ${n} `));
  assert.ok(order('TICKET-004') > order('TICKET-001') && order('TICKET-004') > order('TICKET-002'));
  assert.ok(order('TICKET-005') > order('TICKET-004'));

  // the hub's status lists the repo's job, then each ticket's, with the worker that ended it
  const status = json<{
    queue: { jobs: { repo_id: string; ticket: string | null; state: string; worker: string | null }[] };
  }>(await runCar(['hub', 'status', '--json'], { cwd: s.hubRoot, env: s.hubEnv }));
  const [repoJob, ...ticketRows] = status.queue.jobs;
  assert.deepEqual([repoJob?.repo_id, repoJob?.ticket, repoJob?.state], ['alpha', null, 'completed']);
  assert.deepEqual(
    ticketRows.map((j) => [j.ticket?.split('/').pop(), j.state]),
    names.map((n) => [`${n}.md`, 'completed']),
  );
  assert.equal(ticketRows.find((j) => j.ticket?.endsWith('TICKET-003.md'))?.worker, survivorName);
  const table = await runCar(['hub', 'status'], { cwd: s.hubRoot, env: s.hubEnv });
  assert.match(
    table.stdout,
    new RegExp(`^alpha TICKET-003\\s+\\w+\\s+completed \\(takeover \\d+\\)\\s+${survivorName}\\s`, 'm'),
    table.stdout,
  );
  // payloads carry where and what, never a secret
  const payloads = await pool.query<{ data: Record<string, unknown> }>(
    `SELECT data FROM pgboss.job WHERE name = 'car-hub-ticket' UNION ALL SELECT data FROM pgboss.archive WHERE name = 'car-hub-ticket'`,
  );
  for (const { data } of payloads.rows) {
    assert.deepEqual(Object.keys(data).sort(), [
      'base_sha',
      'coordinator_job',
      'feedback',
      'heartbeat_seconds',
      'lease_seconds',
      'merge_attempt',
      'remote_url',
      'repo_id',
      'ticket',
      'ticket_branch',
      'ticket_id',
    ]);
    assert.ok(!JSON.stringify(data).includes('pw-'), 'no password in a job');
  }
});

test("the coordinator's worker killed -9 while it works a ticket: the other worker takes over the coordinator and the ticket, and queues no ticket twice", {
  skip,
}, async () => {
  const names = ['TICKET-001', 'TICKET-002'];
  const s = await setup({ 'TICKET-001': [], 'TICKET-002': [] }, { CAR_TEST_HOLD_ALL: '1' });
  writeFileSync(s.files.hold, '');
  // w1 alone: it takes the repo's job (the coordinator) and one of the two ticket jobs it queues
  const w1 = startWorker(s, 'w1', s.roles[0]!);
  const hubRun = startHubRun(s);
  await waitFor('w1 to start a ticket', () => existsSync(s.files.started), 120_000).catch((err: Error) => {
    throw new Error(`${err.message}
${output(w1)}
${output(hubRun)}`);
  });
  assert.match(w1.stdout, /^w1: alpha: coordinating 2 lanes over the hub queue$/m, output(w1));
  assert.equal(
    (w1.stdout.match(/^w1: alpha: queued TICKET-00\d as ticket job /gm) ?? []).length,
    2,
    output(w1),
  );
  w1.child.kill('SIGKILL');
  await w1.exited;
  rmSync(s.files.hold);
  const w2 = startWorker(s, 'w2', s.roles[1]!, ['--ticket-jobs', '2']);
  const exit = await exitWithin(hubRun, 240_000, 'car hub run to follow the coordinator to its end');
  const all = `hub:\n${output(hubRun)}\nw1:\n${output(w1)}\nw2:\n${output(w2)}\nagent:\n${s.log().join('\n')}`;
  assert.equal(exit.code, 0, all);
  const result = json<{ repos: Record<string, { state: string; status: string | null; workers: string[] }> }>(
    {
      code: exit.code,
      stdout: hubRun.stdout,
      stderr: hubRun.stderr,
    },
  );
  assert.deepEqual([result.repos.alpha?.state, result.repos.alpha?.status], ['completed', 'completed'], all);
  assert.deepEqual(
    result.repos.alpha?.workers.map((w) => w.split('@')[0]),
    ['w1', 'w2'],
    `the coordinator was taken over\n${all}`,
  );
  assert.match(
    w2.stdout,
    /^w2: alpha: took job \S+ \(attempt 1\), resuming car\/hub\/alpha|^w2: alpha: took job \S+ \(attempt 1\), starting from main/m,
    all,
  );
  const subjects = assertMergedOnce(s, names, all);
  for (const name of names)
    assert.equal(
      count(subjects, (x) => x === `work on ${name}`),
      1,
      `${name}\n${subjects.join('\n')}`,
    );
  // the coordinator that took over found both ticket jobs by its job and queued neither again
  const jobs = await ticketJobRows(testPool(s));
  assert.deepEqual(
    jobs.map((j) => j.ticket.split('/').pop()).sort(),
    names.map((n) => `${n}.md`),
    JSON.stringify(jobs),
  );
  assert.ok(
    jobs.every((j) => j.state === 'completed' && j.final_worker === 'w2'),
    JSON.stringify(jobs),
  );
  assert.ok(
    jobs.some((j) => j.attempt >= 1),
    `w1's ticket job was taken over: ${JSON.stringify(jobs)}`,
  );
});

test('two tickets of a lanes repo that conflict: the second is sent back as a new ticket job with the conflict in its prompt, then lands', {
  skip,
}, async () => {
  const names = ['TICKET-001', 'TICKET-002'];
  const s = await setup({ 'TICKET-001': [], 'TICKET-002': [] }, { CAR_TEST_SHARED: '1' });
  // one worker working both tickets side by side: both start from the same commit and both append
  // to shared.txt, so the second to merge conflicts
  const w1 = startWorker(s, 'w1', s.roles[0]!, ['--ticket-jobs', '2']);
  const hubRun = startHubRun(s);
  const pool = testPool(s);
  const exit = await exitWithin(hubRun, 240_000, 'car hub run to follow the coordinator to its end');
  const all = `hub:\n${output(hubRun)}\nw1:\n${output(w1)}\nagent:\n${s.log().join('\n')}`;
  assert.equal(exit.code, 0, all);
  assertMergedOnce(s, names, all);

  const jobs = await ticketJobRows(pool);
  assert.equal(jobs.length, 3, `two first jobs and one sent back\n${JSON.stringify(jobs)}\n${all}`);
  const sentBack = jobs.find((j) => j.merge_attempt === 1)!;
  assert.ok(sentBack, JSON.stringify(jobs));
  const loser = sentBack.ticket.split('/').pop()!.replace('.md', '');
  // its next prompt carried the conflict; the agent resolved it in the ticket's checkout
  assert.equal(s.log().filter((l) => l.startsWith(`${loser} merge-feedback `)).length, 1, all);
  const conflict = await pool.query<{ ticket: string; files: string[] }>(
    `SELECT data->>'ticket' AS ticket, data->'files' AS files FROM car_hub.events WHERE type = 'merge_conflict'`,
  );
  assert.deepEqual(
    conflict.rows.map((r) => [r.ticket.split('/').pop(), r.files]),
    [[`${loser}.md`, ['shared.txt']]],
  );
  const payload = await pool.query<{ feedback: { kind: string; files: string[]; output: string } }>(
    `SELECT data->'feedback' AS feedback FROM (SELECT id, data FROM pgboss.job UNION ALL SELECT id, data FROM pgboss.archive) j WHERE id = $1`,
    [sentBack.id],
  );
  assert.equal(payload.rows[0]?.feedback.kind, 'conflict');
  // both lines on the remote's branch
  const shared = git(s.remote, ['show', 'car/hub/alpha:shared.txt']);
  assert.match(shared, /line from TICKET-001/);
  assert.match(shared, /line from TICKET-002/);
  assert.doesNotMatch(shared, /^(<<<<<<<|=======|>>>>>>>)/m);
  // merged, the tickets' branches are gone from the remote (the sent-back one's too)
  assert.equal(
    git(s.remote, ['for-each-ref', '--format=%(refname)', 'refs/heads/car/hub-tickets/']).trim(),
    '',
  );
});

test('a ticket job that paused for a person: the next hub run goes on from its pushed branch, not from scratch', {
  skip,
  timeout: 600_000,
}, async () => {
  const answered = join(realpathSync(mkdtempSync(join(tmpdir(), 'car-lanes-answer-'))), 'answered');
  cleanups.push(() => rmSync(dirname(answered), { recursive: true, force: true }));
  const names = ['TICKET-001', 'TICKET-002'];
  const s = await setup(Object.fromEntries(names.map((n) => [n, []])), {
    CAR_TEST_ASK: 'TICKET-002',
    CAR_TEST_ANSWERED: answered,
  });
  const w1 = startWorker(s, 'w1', s.roles[0]!, ['--ticket-jobs', '2']);
  const first = startHubRun(s);
  const firstExit = await exitWithin(first, 240_000, 'the first car hub run to end');
  const all = () => `hub:\n${output(first)}\nw1:\n${output(w1)}\nagent:\n${s.log().join('\n')}`;
  const firstResult = json<{ repos: Record<string, { status: string | null }> }>({
    code: firstExit.code,
    stdout: first.stdout,
    stderr: first.stderr,
  });
  assert.equal(firstResult.repos.alpha?.status, 'paused', all());
  const asked = git(s.remote, [
    'for-each-ref',
    '--format=%(refname:short)',
    'refs/heads/car/hub-tickets/',
  ]).trim();
  assert.match(asked, /TICKET-002$/, `its work is on the remote: ${asked}\n${all()}`);

  writeFileSync(answered, '');
  const second = startHubRun(s);
  const secondExit = await exitWithin(second, 240_000, 'the second car hub run to end');
  const everything = `${all()}\nsecond hub:\n${output(second)}`;
  assert.equal(secondExit.code, 0, everything);
  const subjects = assertMergedOnce(s, names, everything);
  assert.equal(
    count(subjects, (x) => x === 'part 1 of TICKET-002'),
    1,
    subjects.join('\n'),
  );
  assert.ok(
    s.log().some((l) => l.startsWith('TICKET-002 resumed with: TICKET-002-part1.txt')),
    `the second hub run went on from the first one's work\n${everything}`,
  );
  assert.equal(
    git(s.remote, ['for-each-ref', '--format=%(refname)', 'refs/heads/car/hub-tickets/']).trim(),
    '',
    'its branch deleted once merged',
  );
});
