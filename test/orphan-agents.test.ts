// A worker killed with SIGKILL runs no exit hook, so its agent (in its own process group, with whatever it
// started) keeps running and editing the repo. The next owner of the repo must stop it first: a restarted
// run before its first turn, and `car flow stop` when no worker is alive. The CLI is the built one
// (`node dist/car.js`), its worker `dist/car.js flow worker`.
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { readGroupLedger, writeGroupLedger } from '../src/agents/group-ledger.ts';
import { stopOrphanedAgents } from '../src/agents/orphans.ts';
import { initRepo } from '../src/core/init.ts';
import { repoPaths } from '../src/core/paths.ts';
import { liveGroupMembers } from '../src/core/proc/group.ts';
import { openRunStore } from '../src/core/store/run-store.ts';
import { newTicketId, renderNewTicket } from '../src/core/tickets/index.ts';
import { carEnv, runCar, tempHome } from './helpers/built-car.ts';
import { makeGitRepo } from './helpers/git-repo.ts';
import { alive } from './helpers/processes.ts';
import { scriptAgentConfig } from './helpers/script-agent.ts';
import { waitFor } from './helpers/wait.ts';

const home = tempHome();
const env = carEnv(home.home);
const cleanups: (() => void)[] = [home.cleanup];
after(() => {
  for (const c of cleanups) c();
});

/**
 * A repo whose one ticket is worked by a command agent that, the first time, starts a background child
 * and sleeps (a turn that outlives its worker); the second time it marks the ticket done.
 */
function setup() {
  const repo = makeGitRepo();
  cleanups.push(repo.cleanup);
  initRepo(repo.dir);
  const paths = repoPaths(repo.dir);
  const ticket = join(paths.ticketsDir, 'TICKET-001.md');
  writeFileSync(
    ticket,
    renderNewTicket({ ticket_id: newTicketId(), agent: 'slow', done: false, title: 'slow' }, 'Work.\n'),
  );
  const pidFile = join(repo.dir, '..', `${repo.dir.split('/').pop()}-agent.pid`);
  const mark = `${pidFile}.mark`;
  const script = join(repo.dir, '..', `${repo.dir.split('/').pop()}-agent.sh`);
  writeFileSync(
    script,
    [
      'if [ -f "$CAR_TEST_MARK" ]; then',
      '  sed -i "s/^done: false$/done: true/" "$CAR_TEST_TICKET"',
      '  echo finished',
      '  exit 0',
      'fi',
      'touch "$CAR_TEST_MARK"',
      'sleep 300 &',
      'echo $$ > "$CAR_TEST_PIDFILE"',
      'sleep 300',
      '',
    ].join('\n'),
  );
  cleanups.push(() => {
    for (const f of [pidFile, mark, script]) spawnSync('rm', ['-f', f]);
  });
  writeFileSync(
    paths.configFile,
    scriptAgentConfig(
      script,
      { name: 'slow', env: { CAR_TEST_MARK: mark, CAR_TEST_TICKET: ticket, CAR_TEST_PIDFILE: pidFile } },
      ['git:', '  auto_commit: true'],
    ),
  );
  repo.commitAll('plan');
  return { repo, paths, pidFile };
}

async function carRun(dir: string, args: string[]) {
  const r = await runCar(args, { cwd: dir, env, timeoutMs: 90_000 });
  return { code: r.code, out: `${r.stdout}${r.stderr}`, stdout: r.stdout };
}

/** Starts a detached worker, waits for the agent to be mid-turn, then SIGKILLs the worker only. */
async function orphanAnAgent(dir: string, pidFile: string): Promise<number> {
  const start = await carRun(dir, ['flow', 'start', '--json']);
  assert.equal(start.code, 0, start.out);
  const worker = (JSON.parse(start.stdout) as { worker_pid: number }).worker_pid;
  await waitFor(
    'the agent to start',
    () => existsSync(pidFile) && readFileSync(pidFile, 'utf8').trim() !== '',
  );
  const agent = Number(readFileSync(pidFile, 'utf8').trim());
  // the worker writes its ledger right after the fork; the agent can write its pid file before that, and a
  // SIGKILL in between (a window of a millisecond or so) leaves an agent no ledger names: wait it out
  const ledger = repoPaths(dir).agentGroupsFile;
  await waitFor('the worker to record its agent', () =>
    (readGroupLedger(ledger)?.groups ?? []).some((g) => g.pgid === agent),
  );
  process.kill(worker, 'SIGKILL');
  await waitFor('the worker to die', () => !alive(worker));
  cleanups.push(() => {
    try {
      process.kill(-agent, 'SIGKILL');
    } catch {
      // stopped, as it should be
    }
  });
  // the problem this guards against: the agent and its child outlive the worker (the pid file is written
  // before the shell starts its foreground sleep: wait for all three, then a moment more)
  await waitFor('the agent shell and both its children', () => liveGroupMembers(agent).length === 3);
  await new Promise((r) => setTimeout(r, 200));
  assert.equal(liveGroupMembers(agent).length, 3, 'agent shell and both its children still running');
  return agent;
}

function events(dbFile: string) {
  const store = openRunStore(dbFile);
  try {
    const run = store.listRuns()[0]!;
    return { run, events: store.listEvents(run.id, { limit: 10_000 }) };
  } finally {
    store.close();
  }
}

test('a restarted run stops the agents its killed worker left running before its first turn', async () => {
  const { repo, paths, pidFile } = setup();
  const agent = await orphanAnAgent(repo.dir, pidFile);
  assert.ok(existsSync(paths.agentGroupsFile), 'the killed worker left its ledger');

  const restart = await carRun(repo.dir, ['run']);
  assert.equal(restart.code, 0, restart.out);
  assert.deepEqual(liveGroupMembers(agent), [], 'the orphaned group is gone');
  assert.equal(existsSync(paths.agentGroupsFile), false, 'no agents left, no ledger');

  const { run, events: all } = events(paths.dbFile);
  assert.equal(run.status, 'completed');
  const stopped = all.find((e) => e.type === 'orphan_agents_stopped');
  assert.ok(stopped, all.map((e) => e.type).join(' '));
  const groups = stopped.data.groups as {
    pgid: number;
    command: string;
    processes: number;
    signal: string;
  }[];
  assert.deepEqual(
    groups.map((g) => [g.pgid, g.command, g.processes, g.signal]),
    [[agent, 'sh', 3, 'SIGTERM']],
  );
  const nextTurn = all.find((e) => e.type === 'turn_started' && e.seq > stopped.seq);
  assert.ok(nextTurn, 'the next turn started after the orphans were stopped');
});

test('car flow stop with no live worker stops the agents the killed worker left running', async () => {
  const { repo, paths, pidFile } = setup();
  const agent = await orphanAnAgent(repo.dir, pidFile);

  // doctor sees them (asked until it does: under load it once said "ok" here; its message then says why)
  type Check = { id: string; status: string; message: string };
  let left: Check | undefined;
  await waitFor('doctor to report the agents left running', async () => {
    const doctor = JSON.parse((await carRun(repo.dir, ['doctor', '--json'])).stdout) as { checks: Check[] };
    left = doctor.checks.find((c) => c.id === 'agents_running');
    return left?.status === 'warning';
  }).catch((err: Error) => {
    throw new Error(`${err.message}: ${JSON.stringify(left)}`);
  });
  assert.match(
    left?.message ?? '',
    new RegExp(`sh \\(process group ${agent}\\) still running, left by a worker that is gone`),
  );

  const stop = await carRun(repo.dir, ['flow', 'stop', '--json']);
  assert.equal(stop.code, 0, stop.out);
  const out = JSON.parse(stop.stdout) as {
    status: string;
    immediate: boolean;
    orphans_stopped: { pgid: number }[];
  };
  assert.equal(out.status, 'stopped');
  assert.equal(out.immediate, true);
  assert.deepEqual(
    out.orphans_stopped.map((o) => o.pgid),
    [agent],
  );
  assert.deepEqual(liveGroupMembers(agent), []);
  assert.ok(events(paths.dbFile).events.some((e) => e.type === 'orphan_agents_stopped'));
});

test('a ledger entry whose group id now belongs to another process is left alone', async () => {
  const repo = makeGitRepo();
  cleanups.push(repo.cleanup);
  const ledger = join(repo.dir, 'agent-groups.json');
  const other = spawn('sleep', ['30'], { detached: true, stdio: 'ignore' });
  const pid = other.pid!;
  cleanups.push(() => other.kill('SIGKILL'));
  await waitFor('sleep to run', () => liveGroupMembers(pid).length === 1);

  // recorded with another start time: the pid was reused by an unrelated process
  writeGroupLedger(ledger, [
    { pgid: pid, start: '1', command: 'codex', started_at: new Date().toISOString() },
  ]);
  // written by "another" process (the ledger of our own pid is never reaped)
  const text = readFileSync(ledger, 'utf8').replace(`"owner_pid": ${process.pid}`, '"owner_pid": 1');
  writeFileSync(ledger, text);
  assert.deepEqual(await stopOrphanedAgents(ledger), []);
  assert.equal(alive(pid), true, 'an unrelated process is never signalled');
  assert.equal(existsSync(ledger), false, 'the ledger is consumed');
});
