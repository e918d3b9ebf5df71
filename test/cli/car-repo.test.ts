// A repo as CAR left it (test/helpers/car-layout.ts: CAR's files written from its formats), opened by the
// built car with no migration: config, tickets and contextspace load; doctor names the CAR features car
// ignores and says CAR's flows.db history is not imported; status reports that history; and car run
// works the queue with a command agent, stopping after CAR's runner.stop_after_runs turns, without
// touching CAR's files.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { type CarResult, carEnv, json, runCar, tempHome } from '../helpers/built-car.ts';
import { CAR_CONFIG_YAML, CAR_GENERATED, CAR_RUNS, carTicket, writeCarRepo } from '../helpers/car-layout.ts';
import { type GitRepo, makeGitRepo } from '../helpers/git-repo.ts';
import { scriptAgentYaml } from '../helpers/script-agent.ts';

const cleanups: (() => void)[] = [];
after(() => {
  for (const c of cleanups.reverse()) c();
});

/** The agent, a shell script run once per turn: sets its ticket `done: true`, writes a file, commits. */
const AGENT = [
  `f=$(printf '%s\\n' "$1" | sed -n 's/^Current ticket file: //p' | head -1)`,
  'test -f "$f" || { echo "no ticket file in the prompt" >&2; exit 1; }',
  'name=$(basename "$f" .md)',
  'mkdir -p work',
  'echo done > "work/$name.txt"',
  `sed -i 's/^done: false$/done: true/' "$f"`,
  'git add -A',
  'git commit -qm "work on $name"',
  'echo "worked on $name"',
  '',
].join('\n');

const TICKETS = {
  'TICKET-001.md': carTicket(1, { title: 'Schema', done: true }),
  'TICKET-002.md': carTicket(2, { title: 'Cache layer' }),
  'TICKET-003.md': carTicket(3, { title: 'Invalidation' }),
  'TICKET-004.md': carTicket(4, { title: 'Metrics' }),
};

/** CAR's per-repo override file points CAR's `codex` agent at the script (the tickets keep `agent: codex`). */
function agentOverride(script: string): string {
  return `${scriptAgentYaml(script, { name: 'codex' }).join('\n')}\n`;
}

function sha256(file: string): string {
  return createHash('sha256').update(readFileSync(file)).digest('hex');
}

interface Doctor {
  ok: boolean;
  checks: { id: string; status: string; message: string; fix?: string }[];
}

interface Status {
  run_id?: string;
  status?: string;
  run: { run_id: string; status: string; reason_code: string } | null;
  tickets: { total: number; done: number };
  car_flows_db: {
    file: string;
    imported: boolean;
    ticket_flow_runs: number;
    latest: { run_id: string; status: string; reason_code: string; reason_summary: string };
  } | null;
}

function gitRepoWithAgent(): { repo: GitRepo; script: string; env: NodeJS.ProcessEnv } {
  const repo = makeGitRepo();
  const home = tempHome();
  const script = `${repo.dir}-agent.sh`;
  writeFileSync(script, AGENT);
  cleanups.push(() => {
    repo.cleanup();
    home.cleanup();
    rmSync(script, { force: true });
  });
  return { repo, script, env: carEnv(home.home) };
}

test("a CAR repo (hub of one): doctor, status and car run work on CAR's files without migrating them", async () => {
  const { repo, script, env } = gitRepoWithAgent();
  writeCarRepo(repo.dir, TICKETS);
  repo.write('codex-autorunner.yml', CAR_CONFIG_YAML);
  repo.write('.codex-autorunner/repo.override.yml', agentOverride(script));
  repo.commitAll('CAR config'); // CAR's .gitignore keeps .codex-autorunner/ itself out of git
  const run = (args: string[]) => runCar(args, { cwd: repo.dir, env, timeoutMs: 120_000 });
  const flowsDb = join(repo.dir, '.codex-autorunner/flows.db');
  const before = { flows: sha256(flowsDb), state: sha256(join(repo.dir, '.codex-autorunner/state.sqlite3')) };

  const doctor = await run(['doctor', '--json']);
  const d = json<Doctor>(doctor);
  assert.equal(d.ok, true, doctor.stdout);
  const check = (id: string) => d.checks.find((c) => c.id === id);
  assert.equal(check('config')?.status, 'ok');
  assert.match(check('tickets')?.message ?? '', /^4 tickets, 3 open, 0 lint error\(s\), 0 warning\(s\)/);
  const ignored = d.checks.filter((c) => c.id.startsWith('config:ignored:')).map((c) => c.id.slice(15));
  for (const key of ['review', 'codex', 'voice', 'notifications.events', 'telegram_bot.shell', 'apps'])
    assert.ok(ignored.includes(key), `doctor names ${key} (${ignored.join(', ')})`);
  for (const key of [
    'runner.stop_after_runs',
    'runner.review',
    'docs',
    'flow_retention',
    'runner.sleep_seconds',
    'github', // car acts on github: (pull requests); CAR's other keys there are at CAR's defaults
  ])
    assert.ok(!ignored.includes(key), `${key} is acted on, switched off or at CAR's default`);
  assert.match(
    check('config:ignored:review')?.message ?? '',
    /ignored: review \(set by codex-autorunner\.yml\): car has no review flow/,
  );
  const history = check('car_flows_db');
  assert.equal(history?.status, 'warning', 'the latest CAR run is paused');
  assert.match(
    history?.message ?? '',
    new RegExp(`2 ticket_flow run\\(s\\), the latest ${CAR_RUNS.paused} paused\\) is not imported`),
  );

  // car's status before car's first run: no run of its own, CAR's history named, not imported
  for (const args of [
    ['flow', 'status', '--json'],
    ['ticket-flow', 'status', '--json'],
  ]) {
    const s = json<Status>(await run(args));
    assert.equal(s.run, null);
    assert.deepEqual(s.tickets, {
      total: 4,
      done: 1,
      next: '.codex-autorunner/tickets/TICKET-002.md',
      blocked: 0,
      invalid: [],
    });
    assert.deepEqual(s.car_flows_db, {
      file: '.codex-autorunner/flows.db',
      imported: false,
      ticket_flow_runs: 2,
      latest: {
        run_id: CAR_RUNS.paused,
        status: 'paused',
        created_at: '2026-08-02T10:00:00+00:00',
        finished_at: null,
        reason_code: 'user_pause',
        reason_summary: 'Which database should the cache use?',
      },
    });
  }
  assert.match(
    (await run(['flow', 'status'])).stdout,
    /^CAR's history: \.codex-autorunner\/flows\.db, 2 ticket_flow run\(s\), latest 7d4c3b2a-\S+ paused; not imported/m,
  );

  // the flag's count, then CAR's runner.stop_after_runs: 2 (the turn that finishes the queue completes)
  const first = await run(['run', '--stop-after-runs', '1']);
  assert.equal(first.code, 5, `${first.stdout}${first.stderr}`);
  assert.match(first.stdout, /run paused \(stop_after_runs\)/);
  const second = await run(['run']);
  assert.equal(second.code, 0, `${second.stdout}${second.stderr}`);
  assert.match(second.stdout, /run completed \(all_done\)/);
  const done = json<Status>(await run(['flow', 'status', '--json']));
  assert.equal(done.status, 'completed');
  assert.deepEqual(done.tickets, { total: 4, done: 4, next: null, blocked: 0, invalid: [] });
  assert.equal(done.car_flows_db?.latest.run_id, CAR_RUNS.paused, "CAR's history is still reported");
  for (const n of ['002', '003', '004'])
    assert.equal(readFileSync(join(repo.dir, `work/TICKET-${n}.txt`), 'utf8'), 'done\n');
  assert.deepEqual(repo.git(['log', '--format=%s']).trim().split('\n').slice(0, 3), [
    'work on TICKET-004',
    'work on TICKET-003',
    'work on TICKET-002',
  ]);

  // CAR's files are left as they were: its stores, its paused run's staged reply, its shims
  assert.deepEqual(
    { flows: sha256(flowsDb), state: sha256(join(repo.dir, '.codex-autorunner/state.sqlite3')) },
    before,
  );
  assert.ok(existsSync(join(repo.dir, `.codex-autorunner/runs/${CAR_RUNS.paused}/USER_REPLY.md`)));
  assert.equal(
    readFileSync(join(repo.dir, '.codex-autorunner/config.yml'), 'utf8'),
    `${CAR_GENERATED}version: 2\nmode: hub\n`,
  );
  assert.equal(repo.git(['status', '--porcelain']), '', 'nothing of car shows up in git');
});

test("a repo in a CAR hub: hub repos lists it, ticket-flow start works its tickets with the hub's agent config", async () => {
  const hub = mkdtempSync(join(tmpdir(), 'car-carhub-'));
  const { repo, script, env } = gitRepoWithAgent();
  cleanups.push(() => rmSync(hub, { recursive: true, force: true }));
  // CAR's hub: generated config and manifest v3; the repo lives elsewhere on disk (CAR allows any path)
  writeFileSync(
    join(hub, 'codex-autorunner.yml'),
    `repo_defaults:\n  ticket_flow: {max_total_turns: 150}\n${agentOverride(script)}`,
  );
  const app = join(hub, 'app');
  mkdirSync(join(hub, '.codex-autorunner'), { recursive: true });
  writeFileSync(join(hub, '.codex-autorunner/config.yml'), `${CAR_GENERATED}version: 2\nmode: hub\n`);
  writeFileSync(
    join(hub, '.codex-autorunner/manifest.yml'),
    `${CAR_GENERATED}version: 3\nrepos:\n- id: app\n  path: app\n  enabled: true\n  auto_run: false\n  kind: base\n  display_name: app\n  branch: main\n`,
  );
  renameSync(repo.dir, app);
  cleanups.push(() => rmSync(app, { recursive: true, force: true }));
  writeCarRepo(app, TICKETS, { standalone: false });
  const run = (args: string[]): Promise<CarResult> => runCar(args, { cwd: hub, env, timeoutMs: 120_000 });

  const repos = json<{ repos: { repo_id: string; status: string; tickets: { open: number } }[] }>(
    await run(['hub', 'repos', '--path', hub, '--json']),
  );
  assert.deepEqual(
    repos.repos.map((r) => [r.repo_id, r.status, r.tickets.open]),
    [['app', 'idle', 3]],
  );
  const started = await run(['ticket-flow', 'start', '--repo', 'app', '--path', hub]);
  assert.equal(started.code, 0, started.stderr);
  const follow = await run([
    'flow',
    'events',
    '--follow',
    '--repo',
    'app',
    '--type',
    'flow_completed',
    'flow_paused',
  ]);
  assert.equal(follow.code, 0, follow.stderr);
  const s = json<Status & { turn_limit: number }>(
    await run(['ticket-flow', 'status', '--json', '--repo', 'app']),
  );
  assert.equal(s.status, 'completed', JSON.stringify(s));
  assert.equal(s.turn_limit, 150, "the hub's repo_defaults apply");
  assert.deepEqual(s.tickets, { total: 4, done: 4, next: null, blocked: 0, invalid: [] });
  assert.equal(s.car_flows_db?.ticket_flow_runs, 2);
});
