// CAR's command names through the built CLI (src/surfaces/cli/car-aliases.ts). A CAR user's script and
// the same script in car's own commands run side by side in twin repos (or twin hubs): each step gives
// the same exit code and output (once the twins' folders, run ids, pids and times are blanked out) and
// leaves the twins in the same state. The last test checks that every alias in the table was run.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
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
  await same(twins, {
    car: ['ticket-flow', 'stop', '--run-id', '{run}'],
    ours: ['flow', 'stop', '--run', '{run}'],
  });
  await same(twins, { car: ['ticket-flow', 'status', '--json'], ours: ['flow', 'status', '--json'] });
  await same(twins, {
    car: ['ticket-flow', 'status', '--run-id', 'no-such-run'],
    ours: ['flow', 'status', '--run', 'no-such-run'],
  });
  await same(twins, { car: ['ticket-flow', '--help'], ours: ['flow', '--help'] });

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
    },
  );
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
    t.vars.app = join(t.root, 'repos', 'app');
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
