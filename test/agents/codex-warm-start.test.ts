// The warm start of `car run` (src/agents/warm-start.ts), through the built CLI with the REAL `codex
// app-server`, offline (test/helpers/codex-queue.ts): a run started where the previous one ran (or car
// init) starts that one's app-server first thing, and the run adopts it (its first turn says so); a changed codex
// config starts nothing ahead; a launch the run no longer computes (the agent's environment changed in
// car's config) is not adopted, and the process started ahead is gone afterwards.
import assert from 'node:assert/strict';
import { appendFileSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, test } from 'node:test';
import { runCar } from '../helpers/built-car.ts';
import {
  assertAllDone,
  assertNothingLeft,
  type CodexQueue,
  codexQueue,
  TICKETS_DIR,
  WORK_COMMAND,
} from '../helpers/codex-queue.ts';

const queues: CodexQueue[] = [];
afterEach(async () => {
  for (const q of queues.splice(0)) await q.cleanup();
});

/** A queue of two codex tickets; `again()` puts its tickets back as they were, for another run. */
async function queue(): Promise<{ q: CodexQueue; again: () => void }> {
  const q = await codexQueue(2);
  queues.push(q);
  const plan = q.repo.git(['rev-parse', 'HEAD']).trim();
  return {
    q,
    again: () => {
      q.repo.git(['reset', '-q', '--hard', plan]);
      q.repo.git(['clean', '-fdq']);
    },
  };
}

/** `car run` to its end; the messages of its latest run's warm-start notices. */
async function run(q: CodexQueue): Promise<string[]> {
  const r = await runCar(['run'], { cwd: q.repo.dir, env: q.env });
  assert.equal(r.code, 0, `${r.stdout}\n${r.stderr}`);
  assertAllDone(q, r.stdout);
  assertNothingLeft(q.repo.dir);
  const events = await runCar(['flow', 'events', '--json', '--type', 'agent_status'], {
    cwd: q.repo.dir,
    env: q.env,
  });
  assert.equal(events.code, 0, events.stderr);
  return events.stdout
    .split('\n')
    .filter(Boolean)
    .map((l) => String((JSON.parse(l) as { data: { message: string } }).data.message))
    .filter((m) => m.includes('started ahead'));
}

/** The record a run keeps for the next one, in car's global state folder (the queue's temp HOME). */
function records(q: CodexQueue): string[] {
  const dir = join(q.env.HOME!, '.codex-autorunner', 'warm');
  try {
    return readdirSync(dir).map((f) => join(dir, f));
  } catch {
    return [];
  }
}

test('car init prepares the first run to start warm, and each run the next one; without a record nothing starts ahead', async () => {
  const { q, again } = await queue();
  const [record] = records(q);
  assert.ok(record, 'car init kept the launch of its default agent, codex');
  assert.equal(statSync(record).mode & 0o777, 0o600, 'readable by the user alone');
  const first = await run(q);
  assert.equal(first.length, 1, JSON.stringify(first));
  assert.match(first[0]!, /codex app-server \(pid \d+\) was started ahead/);
  again();
  assert.equal((await run(q)).length, 1, 'the run kept its launch for the next');
  rmSync(record);
  again();
  assert.deepEqual(await run(q), [], 'no record, nothing to start ahead');
});

test('a changed codex config starts nothing ahead', async () => {
  const { q, again } = await queue();
  await run(q);
  // the user's config, which car seeds its private codex home from
  appendFileSync(join(q.env.CODEX_HOME!, 'config.toml'), '\n# edited\n');
  again();
  assert.deepEqual(await run(q), []);
});

test('a launch the run no longer computes is not adopted, and what was started ahead is gone', async () => {
  const { q, again } = await queue();
  await run(q);
  again();
  // the agent's environment changes in car's own config: the warm start cannot know, the run can
  q.repo.write(
    '.codex-autorunner/config.yml',
    'version: 2\nmode: repo\nagents:\n  codex:\n    env:\n      CAR_TEST_WARM: changed\n',
  );
  q.repo.commitAll('agent env');
  assert.deepEqual(await run(q), []); // run() also checks that no process is left in the repo
});

test('a run that starts no agent, or another one, ends as usual, and the codex started ahead is gone', async () => {
  const { q, again } = await queue();
  assert.equal(records(q).length, 1, 'car init kept the launch of its default agent, codex');
  // every ticket done already: the run starts no agent at all
  for (const name of q.tickets) {
    const file = join(q.repo.dir, TICKETS_DIR, name);
    writeFileSync(file, readFileSync(file, 'utf8').replace(/^done: false$/m, 'done: true'));
  }
  const idle = await runCar(['run'], { cwd: q.repo.dir, env: q.env, timeoutMs: 60_000 });
  assert.equal(idle.code, 0, `${idle.stdout}\n${idle.stderr}`);
  assertNothingLeft(q.repo.dir);
  again();
  // the tickets go to a command agent instead: nothing adopts the app-server started ahead
  const script = join(q.env.HOME!, 'agent.sh');
  writeFileSync(script, `${WORK_COMMAND}\n`);
  q.repo.write(
    '.codex-autorunner/config.yml',
    `version: 2\nmode: repo\nagents:\n  script:\n    backend: command\n    format: text\n    command: [sh, ${JSON.stringify(script)}]\n`,
  );
  for (const name of q.tickets) {
    const file = join(q.repo.dir, TICKETS_DIR, name);
    writeFileSync(file, readFileSync(file, 'utf8').replace(/^agent: codex$/m, 'agent: script'));
  }
  q.repo.commitAll('a command agent');
  assert.deepEqual(await run(q), []); // run() also checks that no process is left in the repo
});
