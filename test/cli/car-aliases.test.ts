// CAR's command names through the built CLI (src/surfaces/cli/car-aliases.ts). A CAR user's script and
// the same script in car's own commands run side by side in twin repos (or twin hubs): each step gives
// the same exit code and output (once the twins' folders, run ids, pids and times are blanked out) and
// leaves the twins in the same state. The last test checks that every alias in the table was run.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { parse } from 'yaml';
import { gitEnv } from '../../src/integrations/git/run-git.ts';
import { CAR_ALIASES } from '../../src/surfaces/cli/car-aliases.ts';
import {
  type CarResult,
  carEnv,
  json,
  makeBuiltCarRepo,
  runCar,
  startCar,
  tempHome,
} from '../helpers/built-car.ts';
import { TICKETS_DIR, ticketText, tid } from '../helpers/cli.ts';
import { makeGitRepo } from '../helpers/git-repo.ts';

const cleanups: (() => void)[] = [];
after(() => {
  for (const c of cleanups.reverse()) c();
});

/** One twin: where its commands run, the folder its output names, and values filled into `{name}`. */
interface Twin {
  cwd: string;
  root: string;
  env: NodeJS.ProcessEnv;
  vars: Record<string, string>;
}

/** A step of the script: CAR's command, and car's own command for the same thing. */
interface Step {
  car: string[];
  ours: string[];
}

const exercised = new Set<string>();

/** The CAR alias `argv` uses: the longest table path its words start with, after `--repo <path>`. */
function aliasOf(argv: readonly string[]): string {
  const words = argv[0] === '--repo' ? argv.slice(2) : argv;
  const found = [...CAR_ALIASES]
    .sort((a, b) => b.car.split(' ').length - a.car.split(' ').length)
    .find((a) => a.car.split(' ').every((w, i) => words[i] === w));
  assert.ok(found, `no CAR alias in ${argv.join(' ')}`);
  return found.car;
}

const fill = (argv: readonly string[], twin: Twin) =>
  argv.map((a) => a.replace(/\{(\w+)\}/g, (_, name: string) => twin.vars[name] ?? `{${name}}`));

/** What differs between twins however alike they are: their folder, run ids, pids, times, ports. */
function blank(text: string, twin: Twin): string {
  return text
    .split(twin.root)
    .join('<root>')
    .replace(/[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}/g, '<uuid>')
    .replace(/\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z/g, '<time>')
    .replace(/("(?:worker_)?pid": )\d+/g, '$1<pid>')
    .replace(/\bpid \d+/g, 'pid <pid>')
    .replace(/("duration_seconds": )\d+/g, '$1<n>')
    .replace(/\b[0-9a-f]{40}\b/g, '<sha>')
    .replace(/-\d{13}\b/g, '-<ms>')
    .replace(/127\.0\.0\.1:\d+/g, '127.0.0.1:<port>');
}

function run(twin: Twin, argv: readonly string[]): Promise<CarResult> {
  return runCar(fill(argv, twin), { cwd: twin.cwd, env: twin.env, timeoutMs: 60_000 });
}

/** Runs CAR's command in one twin and car's in the other; both must answer alike. */
async function same([a, b]: [Twin, Twin], step: Step): Promise<[CarResult, CarResult]> {
  exercised.add(aliasOf(step.car));
  const [ra, rb] = await Promise.all([run(a, step.car), run(b, step.ours)]);
  const shown = (r: CarResult, t: Twin) => ({
    code: r.code,
    stdout: blank(r.stdout, t),
    stderr: blank(r.stderr, t),
  });
  assert.deepEqual(
    shown(ra, a),
    shown(rb, b),
    `car ${step.car.join(' ')} should answer as car ${step.ours.join(' ')}`,
  );
  return [ra, rb];
}

/** A read-only CAR command and car's own, one after the other in the same twin: the same answer. */
async function sameHere(twin: Twin, step: Step): Promise<CarResult> {
  exercised.add(aliasOf(step.car));
  const ra = await run(twin, step.car);
  const rb = await run(twin, step.ours);
  // a paused run's duration goes on growing between the two
  const shown = (r: CarResult) => ({
    code: r.code,
    stdout: blank(r.stdout, twin),
    stderr: blank(r.stderr, twin),
  });
  assert.deepEqual(
    shown(ra),
    shown(rb),
    `car ${step.car.join(' ')} should answer as car ${step.ours.join(' ')}`,
  );
  return ra;
}

/** CAR's command alone (a flag car refuses): exit 2 with the reason. */
async function refused(twin: Twin, argv: string[], reason: RegExp): Promise<void> {
  exercised.add(aliasOf(argv));
  const r = await run(twin, argv);
  assert.equal(r.code, 2, r.stderr);
  assert.match(r.stderr, reason);
}

/** Waits until the twin's latest run (in `repo`) is no longer active: `car flow events --follow` returns. */
async function settled(twin: Twin, repo = twin.root): Promise<{ status: string; run_id: string }> {
  const follow = await runCar(['flow', 'events', '--follow', '--repo', repo], {
    cwd: twin.cwd,
    env: twin.env,
    timeoutMs: 120_000,
  });
  assert.equal(follow.code, 0, follow.stderr);
  return json(await runCar(['flow', 'status', '--json', '--repo', repo], { cwd: twin.cwd, env: twin.env }));
}

const demo = (lines: string[]) => `\n\`\`\`car-demo\n${lines.join('\n')}\n\`\`\`\n`;

/** One to work, then two that ask a person first. */
const TICKETS: Record<string, string> = {
  'TICKET-001.md': ticketText(
    { id: tid(1), agent: 'demo', title: 'one' },
    demo(['write one.txt 1', 'done', 'commit one']),
  ),
  'TICKET-002.md': ticketText(
    { id: tid(2), agent: 'demo', title: 'two' },
    demo(['ask Which colour?', 'write two.txt 2', 'done', 'commit two']),
  ),
  'TICKET-003.md': ticketText(
    { id: tid(3), agent: 'demo', title: 'three' },
    demo(['ask Which size?', 'write three.txt 3', 'done', 'commit three']),
  ),
};

/** A repo with no tickets yet, whose default agent is the demo agent. */
async function emptyTwin(): Promise<Twin> {
  const r = await makeBuiltCarRepo();
  cleanups.push(r.cleanup);
  const init = await r.run(['init', '--agent', 'demo']);
  assert.equal(init.code, 0, init.stderr);
  r.commitAll('car files');
  return { cwd: r.dir, root: r.dir, env: r.env, vars: { root: r.dir } };
}

async function repoTwin(): Promise<Twin> {
  const r = await makeBuiltCarRepo();
  cleanups.push(r.cleanup);
  for (const [name, text] of Object.entries(TICKETS)) r.write(`${TICKETS_DIR}/${name}`, text);
  r.commitAll('plan');
  return { cwd: r.dir, root: r.dir, env: r.env, vars: { root: r.dir } };
}

test("a CAR script's ticket-flow, tickets, doctor and describe commands answer as car's own", async () => {
  const twins: [Twin, Twin] = [await repoTwin(), await repoTwin()];
  await same(twins, { car: ['tickets', 'lint'], ours: ['ticket', 'lint'] });
  await same(twins, {
    car: ['tickets', 'lint', '--repo', '{root}'],
    ours: ['--repo', '{root}', 'ticket', 'lint'],
  });
  await same(twins, { car: ['ticket-flow', 'preflight'], ours: ['doctor', '--json'] });
  await same(twins, { car: ['ticket-flow', 'preflight', '--no-json'], ours: ['doctor'] });

  // start in a background worker; the second ticket asks a question, which pauses the run
  await same(twins, {
    car: ['ticket-flow', 'start', '--force-new', '--max-total-turns', '10', '--path', '/no/hub'],
    ours: ['flow', 'start', '--new', '--max-total-turns', '10'],
  });
  for (const t of twins) {
    const s = await settled(t);
    assert.equal(s.status, 'paused');
    t.vars.run = s.run_id;
  }
  const [status] = await same(twins, {
    car: ['ticket-flow', 'status', '--run-id', '{run}', '--json'],
    ours: ['flow', 'status', '--run', '{run}', '--json'],
  });
  // CAR's field names, at the top level where CAR's scripts read them
  const s = json<Record<string, unknown>>(status);
  assert.equal(s.run_id, twins[0].vars.run);
  assert.equal(s.status, 'paused');
  assert.equal(s.reason_code, 'dispatch');
  assert.equal(s.flow_type, 'ticket_flow');
  assert.equal(s.current_ticket, '.codex-autorunner/tickets/TICKET-002.md');
  assert.deepEqual(s.ticket_progress, { done: 1, total: 3 });
  assert.equal(typeof s.reason_summary, 'string');
  await same(twins, {
    car: ['--repo', '{root}', 'ticket-flow', 'status', '--run-id={run}'],
    ours: ['flow', 'status', '--repo', '{root}', '--run={run}'],
  });

  for (const t of twins) assert.equal((await run(t, ['flow', 'reply', 'Blue'])).code, 0);
  await same(twins, {
    car: ['ticket-flow', 'resume', '--run-id', '{run}'],
    ours: ['flow', 'resume', '--run', '{run}'],
  });
  for (const t of twins) assert.equal((await settled(t)).status, 'paused', 'the third ticket asks too');
  // CAR's runner commands: car's runner is the flow
  const [tree] = await same(twins, { car: ['status'], ours: ['flow', 'status'] });
  assert.match(tree.stdout, /: paused \(dispatch\)/);
  await sameHere(twins[0], {
    car: ['status', '--json', '--path', '/no/hub'],
    ours: ['flow', 'status', '--json'],
  });
  // CAR's log: the last 200 lines unless --tail; its --run numbers are not car's runs
  const log = await sameHere(twins[0], { car: ['log'], ours: ['flow', 'events', '--tail', '200'] });
  assert.match(log.stdout, /^#1 .* run_created /m);
  const tail = await sameHere(twins[0], {
    car: ['--repo', '{root}', 'log', '--tail', '2', '--run', '7'],
    ours: ['flow', 'events', '--tail', '2'],
  });
  assert.equal(tail.stdout.trim().split('\n').length, 2);
  assert.match(tail.stdout, /dispatch/, 'the last events: the run paused on the dispatch');
  await same(twins, { car: ['kill', '--path', '/no/hub'], ours: ['flow', 'stop'] });
  for (const t of twins) assert.equal((await settled(t)).status, 'stopped');
  // already stopped: the same refusal (exit 4)
  const [stopped] = await same(twins, {
    car: ['ticket-flow', 'stop', '--run-id', '{run}'],
    ours: ['flow', 'stop', '--run', '{run}'],
  });
  assert.equal(stopped.code, 4);
  await same(twins, { car: ['ticket-flow', 'status', '--json'], ours: ['flow', 'status', '--json'] });
  await same(twins, {
    car: ['ticket-flow', 'status', '--run-id', 'no-such-run'],
    ours: ['flow', 'status', '--run', 'no-such-run'],
  });
  await same(twins, { car: ['ticket-flow', '--help'], ours: ['flow', '--help'] });

  // the worker only car starts: CAR's --run-id names its run
  await same(twins, {
    car: ['flow', 'worker', '--run-id', 'no-such-run'],
    ours: ['flow', 'worker', '--run', 'no-such-run'],
  });

  await same(twins, { car: ['doctor', '--dev'], ours: ['doctor'] });
  await same(twins, { car: ['describe', '--json', '--path', '/no/hub'], ours: ['describe', '--json'] });
  await refused(twins[0], ['describe', '--schema'], /car describe --schema: not supported/);
  const described = json<{ car_aliases: { car: string; runs: string }[] }>(
    await run(twins[0], ['describe', '--json']),
  );
  assert.deepEqual(
    described.car_aliases.find((a) => a.car === 'car ticket-flow start'),
    {
      car: 'car ticket-flow start',
      runs: 'car flow start',
      flags: {
        '--path': { ignore: 'the hub root: car finds the hub of the repo itself', value: true },
        '--force-new': { to: '--new' },
      },
      on_by_default: [],
      adds: [],
      defaults: {},
    },
  );
  assert.deepEqual(
    described.car_aliases.find((a) => a.car === 'car ticket-flow retire'),
    {
      car: 'car ticket-flow retire',
      runs: null,
      not_supported:
        'car keeps every run in its history and never moves tickets to an archive; to start afresh: car flow stop, then car flow start --new',
    },
  );
});

test("CAR's ticket-flow bootstrap seeds CAR's bootstrap ticket into an empty queue and starts the run", async () => {
  const twins: [Twin, Twin] = [await emptyTwin(), await emptyTwin()];
  const [started] = await same(twins, {
    car: ['ticket-flow', 'bootstrap', '--force-new', '--max-total-turns', '1', '--path', '/no/hub'],
    ours: ['flow', 'start', '--bootstrap', '--new', '--max-total-turns', '1'],
  });
  assert.match(started.stdout, /^seeded \.codex-autorunner\/tickets\/TICKET-001\.md: /);
  for (const t of twins) {
    await settled(t);
    const text = readFileSync(join(t.root, TICKETS_DIR, 'TICKET-001.md'), 'utf8');
    const fm = parse(text.split('---\n')[1]!) as Record<string, unknown>;
    // CAR's title and goal, for the repo's default agent
    assert.equal(fm.title, 'Bootstrap ticket plan');
    assert.equal(fm.goal, 'Capture scope and seed follow-up tickets');
    assert.equal(fm.agent, 'demo');
    assert.equal(fm.done, true, 'the demo agent worked it');
    assert.match(text, /\.codex-autorunner\/ISSUE\.md/);
    assert.match(text, /mode: pause/);
  }
  // a queue with tickets gets none: the start alone
  const [again] = await same(twins, {
    car: ['ticket-flow', 'bootstrap', '--force-new'],
    ours: ['flow', 'start', '--bootstrap', '--new'],
  });
  assert.match(again.stdout, /^created run /);
  for (const t of twins) {
    await settled(t);
    assert.deepEqual(
      readdirSync(join(t.root, TICKETS_DIR)).filter((n) => n.startsWith('TICKET-')),
      ['TICKET-001.md'],
    );
  }
  const json1 = await run(twins[0], ['flow', 'start', '--bootstrap', '--new', '--json']);
  assert.equal(json<{ seeded_ticket: string | null }>(json1).seeded_ticket, null);
  await settled(twins[0]);
});

test("CAR's commands car has no counterpart for exit 2 with what to use instead, changing nothing", async () => {
  const twin = await repoTwin();
  const refusals = CAR_ALIASES.filter((a) => 'none' in a);
  assert.ok(refusals.length > 30);
  // a group's refusal covers its subcommands and flags
  const extra = [
    ['hub', 'inbox', 'clear', '--stale'],
    ['telegram', 'health', '--path', '{root}'],
    ['--repo', '{root}', 'apps', 'apply', 'x'],
  ];
  const before = execFileSync('git', ['status', '--porcelain', '--untracked-files=all'], { cwd: twin.root });
  for (const argv of [...refusals.map((a) => a.car.split(' ')), ...extra]) {
    exercised.add(aliasOf(argv));
    const refusal = refusals.find((a) => a.car === aliasOf(argv))!;
    const r = await run(twin, argv);
    assert.equal(r.code, 2, `car ${argv.join(' ')}: ${r.stderr}`);
    assert.equal(r.stdout, '');
    assert.equal(
      r.stderr,
      `car: car ${refusal.car}: not supported: ${'none' in refusal ? refusal.none : ''}\n`,
    );
  }
  const after = execFileSync('git', ['status', '--porcelain', '--untracked-files=all'], { cwd: twin.root });
  assert.equal(after.toString(), before.toString());
});

test("CAR's templates apply flags: --set-agent is car's --agent, --next is what car does, --at is refused", async () => {
  const twin = await repoTwin();
  mkdirSync(join(twin.root, '.codex-autorunner/templates'), { recursive: true });
  writeFileSync(
    join(twin.root, '.codex-autorunner/templates/t.md'),
    '---\nagent: user\ndone: false\n---\nx\n',
  );
  const argv = ['templates', 'apply', 'local:t.md', '--set-agent', 'codex', '--next', '--path', '{root}'];
  exercised.add(aliasOf(argv));
  const r = await run(twin, argv);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /^created \.codex-autorunner\/tickets\/TICKET-\d+-t\.md$/m);
  const refused = await run(twin, ['templates', 'apply', 'local:t.md', '--at', '9']);
  assert.equal(refused.code, 2);
  assert.match(refused.stderr, /car templates apply --at: not supported/);
});

test("CAR's serve and hub serve start car's server on the repo; --base-path is refused", async () => {
  const twins: [Twin, Twin] = [await repoTwin(), await repoTwin()];
  for (const [carArgs, ours] of [
    [
      ['serve', '--path', '{root}', '--port', '0', '--quiet'],
      ['serve', '--repo', '{root}', '--port', '0', '--quiet'],
    ],
    [
      ['hub', 'serve', '--path', '{root}', '--port', '0', '--quiet'],
      ['serve', '--repo', '{root}', '--port', '0', '--quiet'],
    ],
  ] as const) {
    exercised.add(aliasOf(carArgs));
    const servers = [
      startCar(fill(carArgs, twins[0]), { cwd: tmpdir(), env: twins[0].env }),
      startCar(fill(ours, twins[1]), { cwd: tmpdir(), env: twins[1].env }),
    ];
    try {
      await Promise.all(servers.map((s) => s.waitForOutput('no API token', 60_000)));
      assert.equal(blank(servers[0]!.stdout, twins[0]), blank(servers[1]!.stdout, twins[1]));
      assert.match(servers[0]!.stdout, /^car serving <root>|^car serving /);
    } finally {
      for (const s of servers) s.child.kill('SIGTERM');
      await Promise.all(servers.map((s) => s.exited));
    }
  }
  await refused(
    twins[0],
    ['serve', '--base-path', '/car'],
    /--base-path: not supported: car serves .* at the root path only/,
  );
  await refused(twins[0], ['hub', 'serve', '--base-path=/car'], /--base-path: not supported/);
});

/** A hub made by the built CLI, with identity for the commits its repos' demo agents make. */
async function hubTwin(source: string): Promise<Twin> {
  const dir = mkdtempSync(join(tmpdir(), 'car-hub-'));
  const home = tempHome();
  cleanups.push(() => {
    rmSync(dir, { recursive: true, force: true });
    home.cleanup();
  });
  const env = carEnv(home.home, {
    GIT_AUTHOR_NAME: 'Test User',
    GIT_AUTHOR_EMAIL: 'test@example.com',
    GIT_COMMITTER_NAME: 'Test User',
    GIT_COMMITTER_EMAIL: 'test@example.com',
  });
  const init = await runCar(['init', '--mode', 'hub'], { cwd: dir, env });
  assert.equal(init.code, 0, init.stderr);
  return { cwd: dir, root: dir, env, vars: { root: dir, source } };
}

const IDENTITY = ['-c', 'user.name=Test User', '-c', 'user.email=test@example.com'];

function git(dir: string, args: string[]): void {
  execFileSync('git', [...IDENTITY, ...args], { cwd: dir, env: gitEnv(), stdio: 'ignore' });
}

test("a CAR script's hub commands (create, clone, scan, repos, worktree, dispatch reply, bots) answer as car's own", async () => {
  const source = makeGitRepo();
  cleanups.push(source.cleanup);
  const twins: [Twin, Twin] = [await hubTwin(source.dir), await hubTwin(source.dir)];

  await same(twins, {
    car: ['hub', 'create', 'app', '--path', '{root}', '--git-init'],
    ours: ['hub', 'create', 'app', '--hub', '{root}'],
  });
  for (const t of twins) {
    const app = join(t.root, 'repos', 'app');
    writeFileSync(join(app, '.codex-autorunner', 'tickets', 'TICKET-001.md'), TICKETS['TICKET-002.md']!);
    git(app, ['add', '-A']);
    git(app, ['commit', '-qm', 'plan']);
  }
  await same(twins, {
    car: ['hub', 'clone', '--git-url', '{source}', '--id', 'lib', '--path', '{root}'],
    ours: ['hub', 'clone', '--git-url', '{source}', '--id', 'lib', '--hub', '{root}'],
  });
  await same(twins, { car: ['hub', 'scan', '--path', '{root}'], ours: ['hub', 'scan', '--hub', '{root}'] });
  const [repos] = await same(twins, {
    car: ['hub', 'repos', '--path', '{root}', '--json'],
    ours: ['hub', 'status', '--hub', '{root}', '--json'],
  });
  assert.deepEqual(
    json<{ repos: { repo_id: string; status: string }[] }>(repos).repos.map((r) => [r.repo_id, r.status]),
    [
      ['app', 'idle'],
      ['lib', 'idle'],
    ],
    "CAR's field names",
  );

  await same(twins, {
    car: ['hub', 'worktree', 'create', 'lib', 'feat', '--path', '{root}', '--force'],
    ours: ['worktree', 'new', 'lib', 'feat', '--hub', '{root}'],
  });
  await same(twins, {
    car: ['hub', 'worktree', 'list', '--path', '{root}', '--json'],
    ours: ['worktree', 'list', '--hub', '{root}', '--json'],
  });
  await same(twins, {
    car: ['hub', 'worktree', 'scan', '--path', '{root}', '--json'],
    ours: ['hub', 'scan', '--hub', '{root}', '--json'],
  });
  await same(twins, {
    car: [
      'hub',
      'worktree',
      'delete',
      'lib--feat',
      '--path',
      '{root}',
      '--force',
      '--force-attestation',
      'ok',
      '--delete-branch',
    ],
    ours: ['worktree', 'remove', 'lib--feat', '--hub', '{root}', '--delete-branch'],
  });
  await same(twins, {
    car: ['hub', 'worktree', 'create', 'lib', 'f2', '--path', '{root}'],
    ours: ['worktree', 'new', 'lib', 'f2', '--hub', '{root}'],
  });
  await refused(
    twins[0],
    ['hub', 'worktree', 'retire', 'lib--f2', '--delete-remote'],
    /deletes local branches only/,
  );
  await same(twins, {
    car: [
      'hub',
      'worktree',
      'retire',
      'lib--f2',
      '--path',
      '{root}',
      '--force-retire',
      '--retire-note',
      'n',
      '--retire-profile=portable',
    ],
    ours: ['worktree', 'remove', 'lib--f2', '--hub', '{root}'],
  });
  await same(twins, { car: ['hub', 'worktree', '--help'], ours: ['worktree', '--help'] });

  // CAR's ticket check of a hub repo by id is car's lint of that repo
  for (const t of twins) t.vars.app = join(t.root, 'repos', 'app');
  const [lint] = await same(twins, {
    car: [
      'hub',
      'tickets',
      'doctor',
      '--repo',
      'app',
      '--path',
      '{root}',
      '--json',
      '--default-agent',
      'codex',
    ],
    ours: ['ticket', 'lint', '--repo', '{app}', '--json'],
  });
  assert.equal(lint.code, 0, lint.stderr);
  await same(twins, {
    car: ['hub', 'tickets', 'doctor', '--repo', 'app'],
    ours: ['ticket', 'lint', '--repo', '{app}'],
  });
  await refused(
    twins[0],
    ['hub', 'tickets', 'doctor', '--repo', 'app', '--fix'],
    /--fix: not supported: car does not rewrite/,
  );

  // the bots, without tokens: the same refusal
  await same(twins, {
    car: ['telegram', 'start', '--path', '{root}'],
    ours: ['chat', 'run', '--telegram', '--hub', '{root}'],
  });
  await same(twins, {
    car: ['discord', 'start', '--path', '{root}'],
    ours: ['chat', 'run', '--discord', '--hub', '{root}'],
  });

  // a paused run in a hub repo, answered as CAR answers one: by repo id, resuming by default
  for (const t of twins) {
    const paused = await run(t, ['run', '--repo', '{app}']);
    assert.equal(paused.code, 5, paused.stderr);
    t.vars.run = json<{ run_id: string }>(
      await run(t, ['flow', 'status', '--json', '--repo', '{app}']),
    ).run_id;
  }
  const [reply] = await same(twins, {
    car: [
      'hub',
      'dispatch',
      'reply',
      '--repo-id',
      'app',
      '--run-id',
      '{run}',
      '--message',
      'Blue, please',
      '--path',
      '{root}',
    ],
    ours: ['flow', 'reply', '--repo', '{app}', '--run', '{run}', '--json', '--resume', '--', 'Blue, please'],
  });
  assert.equal(json<{ resumed: boolean }>(reply).resumed, true);
  for (const t of twins) assert.equal((await settled(t, t.vars.app!)).status, 'completed');
  await refused(
    twins[0],
    ['hub', 'dispatch', 'reply', '--repo-id', 'nope', '--run-id', 'x', '--message', 'm'],
    /no repo nope in the hub manifest/,
  );
});

test('every CAR alias in the table was run above', () => {
  assert.deepEqual(
    CAR_ALIASES.map((a) => a.car).filter((car) => !exercised.has(car)),
    [],
  );
});
