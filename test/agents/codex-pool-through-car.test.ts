// One codex process per run (issue 27): `car run`, the built CLI, works a queue of tickets with the REAL
// `codex app-server`, offline (test/helpers/codex-queue.ts), starting codex once for the whole run and
// opening a thread per ticket on it. Every start is counted by a `codex` wrapper first on PATH that logs
// its pid and arguments before it execs the pinned codex; every thread leaves a rollout file in car's
// private CODEX_HOME. A codex killed between tickets costs one restart, not a failed ticket.
import assert from 'node:assert/strict';
import { chmodSync, existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { afterEach, test } from 'node:test';
import { workspaceCodexHome } from '../../src/agents/codex/home.ts';
import { NODE_BIN, runCar } from '../helpers/built-car.ts';
import {
  assertAllDone,
  assertNothingLeft,
  type CodexQueue,
  codexQueue,
  latestRun,
  TICKETS_DIR,
} from '../helpers/codex-queue.ts';

const TICKETS = 5;

const queues: CodexQueue[] = [];
afterEach(async () => {
  for (const q of queues.splice(0)) await q.cleanup();
});

interface Counted {
  q: CodexQueue;
  /** The wrapper's log: one line `<pid> <args>` per codex start. */
  log: string;
}

/** A codex queue whose PATH starts with a `codex` wrapper that logs each start. */
async function countedQueue(): Promise<Counted> {
  const q = await codexQueue(TICKETS);
  queues.push(q);
  const bin = join(q.env.HOME!, 'bin');
  mkdirSync(bin, { recursive: true });
  const log = join(q.env.HOME!, 'codex-starts.log');
  writeFileSync(
    join(bin, 'codex'),
    `#!/bin/sh\necho "$$ $*" >> ${JSON.stringify(log)}\nexec ${JSON.stringify(join(NODE_BIN, 'codex'))} "$@"\n`,
  );
  chmodSync(join(bin, 'codex'), 0o755);
  q.env.PATH = `${bin}:${q.env.PATH}`;
  return { q, log };
}

/** The app-server starts the wrapper logged. */
function appServerStarts(log: string): string[] {
  if (!existsSync(log)) return [];
  return readFileSync(log, 'utf8')
    .split('\n')
    .filter((line) => / app-server\b/.test(line));
}

/** The threads codex stored for the repo: its rollout files in car's private CODEX_HOME. */
function rollouts(q: CodexQueue): string[] {
  const sessions = join(workspaceCodexHome(q.repo.dir, { HOME: q.env.HOME }), 'sessions');
  const found: string[] = [];
  const walk = (dir: string) => {
    for (const entry of readdirSync(dir, { withFileTypes: true })) {
      if (entry.isDirectory()) walk(join(dir, entry.name));
      else if (/^rollout-.*\.jsonl$/.test(entry.name)) found.push(entry.name);
    }
  };
  if (existsSync(sessions)) walk(sessions);
  return found;
}

interface Event {
  type: string;
  data: Record<string, unknown>;
}

async function events(q: CodexQueue): Promise<Event[]> {
  const r = await runCar(['flow', 'events', '--json'], { cwd: q.repo.dir, env: q.env });
  assert.equal(r.code, 0, r.stderr);
  return r.stdout
    .trim()
    .split('\n')
    .map((line) => JSON.parse(line) as Event);
}

test(`a car run of ${TICKETS} tickets starts codex once and opens ${TICKETS} threads on it`, async () => {
  const { q, log } = await countedQueue();
  const r = await runCar(['run'], { cwd: q.repo.dir, env: q.env });
  const output = `exit ${r.code}\n${r.stdout}\n${r.stderr}\nstarts:\n${appServerStarts(log).join('\n')}`;
  assert.equal(r.code, 0, output);
  assert.match(r.stdout, /run completed \(all_done\)/, output);
  assertAllDone(q, output);
  assert.equal(appServerStarts(log).length, 1, `one codex app-server for the run\n${output}`);
  assert.equal(rollouts(q).length, TICKETS, `a thread per ticket\n${output}`);
  const all = await events(q);
  assert.equal(all.filter((e) => e.type === 'ticket_done').length, TICKETS);
  assert.equal(all.filter((e) => e.type === 'thread_reset').length, 0);
  assert.ok(!all.some((e) => e.type === 'agent_status' && /restarted/.test(String(e.data.message))));
  await assertNothingLeft(q.repo.dir);
});

test('codex killed between tickets costs one restart, not a failed ticket', async () => {
  const { q, log } = await countedQueue();
  // The first ticket's verify command (run by car's gate after the turn, before the next ticket) kills
  // the codex process group, as a crash or an OOM kill between tickets would.
  const killer = join(q.env.HOME!, 'kill-codex.sh');
  writeFileSync(
    killer,
    `pid=$(grep ' app-server' ${JSON.stringify(log)} | tail -n 1 | cut -d' ' -f1)\nkill -9 -"$pid"\n`,
  );
  const first = join(TICKETS_DIR, q.tickets[0]!);
  q.repo.write(
    first,
    readFileSync(join(q.repo.dir, first), 'utf8').replace(
      'done: false\n',
      `done: false\nverify: sh ${JSON.stringify(killer)}\n`,
    ),
  );
  q.repo.commitAll('the first ticket kills codex when it is verified');

  const r = await runCar(['run'], { cwd: q.repo.dir, env: q.env });
  const output = `exit ${r.code}\n${r.stdout}\n${r.stderr}\nstarts:\n${appServerStarts(log).join('\n')}`;
  assert.equal(r.code, 0, output);
  assert.match(r.stdout, /run completed \(all_done\)/, output);
  assertAllDone(q, output);
  assert.equal(appServerStarts(log).length, 2, `the first codex and one restart\n${output}`);
  const all = await events(q);
  const verified = all.find((e) => e.type === 'verify_command');
  assert.equal(verified?.data.exit_code, 0, 'the kill ran as the first ticket was verified');
  const turns = all.filter((e) => e.type === 'turn_finished').map((e) => e.data.status);
  assert.deepEqual(turns, Array(TICKETS).fill('completed'), 'no turn failed');
  assert.equal(all.filter((e) => e.type === 'ticket_done').length, TICKETS);
  assert.equal((await latestRun(q)).status, 'completed');
  await assertNothingLeft(q.repo.dir);
});

test('the first ticket’s codex is started before the run, and stopped when the run is refused', async () => {
  const { q, log } = await countedQueue();
  // another car holds the repo (this test's own live pid): the start is refused after codex was started
  writeFileSync(
    join(q.repo.dir, '.codex-autorunner/flow.lock'),
    JSON.stringify({ pid: process.pid, host: hostname(), started_at: new Date().toISOString() }),
  );
  const r = await runCar(['run'], { cwd: q.repo.dir, env: q.env });
  const output = `exit ${r.code}\n${r.stdout}\n${r.stderr}`;
  assert.equal(r.code, 4, output); // conflict
  assert.match(r.stderr, /locked by pid/, output);
  assert.equal(appServerStarts(log).length, 1, `codex was started ahead of the run\n${output}`);
  await assertNothingLeft(q.repo.dir);
});
