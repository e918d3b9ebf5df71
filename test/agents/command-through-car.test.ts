// The command backend through the built CLI (`node dist/car.js`): a small real agent, a shell script run
// once per turn, reads the ticket's path from its prompt, writes a file, sets `done: true` and commits.
// The script also records the command line of the process that started it, which shows which car ran
// the turn: `dist/car.js run` in the foreground; for `car flow start` the detached worker, which must be
// `dist/car.js flow worker` again (src/surfaces/worker-spawn.ts), not the sources under tsx.
import assert from 'node:assert/strict';
import { readFileSync, realpathSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { type BuiltCarRepo, CAR_JS, json, makeBuiltCarRepo } from '../helpers/built-car.ts';
import { TICKETS_DIR, ticketText, tid } from '../helpers/cli.ts';
import { assertGroupsGone, readPids } from '../helpers/processes.ts';
import { scriptAgentConfig } from '../helpers/script-agent.ts';
import { waitFor } from '../helpers/wait.ts';

/** The agent: argument 1 is car's prompt, which names the ticket ("Current ticket file: <path>"). */
const AGENT = [
  'echo "$$" >> "$CAR_TEST_PIDS"',
  `tr '\\0' ' ' < "/proc/$PPID/cmdline" >> "$CAR_TEST_PARENTS"`,
  'echo >> "$CAR_TEST_PARENTS"',
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

const TICKETS = ['TICKET-010', 'TICKET-020', 'TICKET-030'];

const cleanups: (() => void)[] = [];
after(() => {
  for (const c of cleanups) c();
});

/** A repo whose tickets the script agent works; the script and its records live beside the repo. */
async function scriptQueue() {
  const r = await makeBuiltCarRepo();
  const aside = (what: string) => `${r.dir}-${what}`;
  const files = { script: aside('agent.sh'), pids: aside('pids'), parents: aside('parents') };
  cleanups.push(() => {
    r.cleanup();
    for (const f of Object.values(files)) rmSync(f, { force: true });
  });
  writeFileSync(files.script, AGENT);
  r.write(
    '.codex-autorunner/config.yml',
    scriptAgentConfig(files.script, { env: { CAR_TEST_PIDS: files.pids, CAR_TEST_PARENTS: files.parents } }),
  );
  TICKETS.forEach((name, i) => {
    r.write(`${TICKETS_DIR}/${name}.md`, ticketText({ id: tid(i + 1), agent: 'script', title: name }));
  });
  r.commitAll('plan');
  /** The command line of each turn's parent process, split into arguments. */
  const parents = () =>
    readFileSync(files.parents, 'utf8')
      .split('\n')
      .filter((l) => l !== '')
      .map((l) => l.trim().split(' '));
  return { r, parents, pids: () => readPids(files.pids) };
}

/** Every ticket done and its work committed, the tree clean. */
function assertQueueDone(r: BuiltCarRepo, output: string): void {
  for (const name of TICKETS) {
    assert.match(r.git(['show', `HEAD:${TICKETS_DIR}/${name}.md`]), /^done: true$/m, `${name}\n${output}`);
    assert.equal(r.git(['show', `HEAD:work/${name}.txt`]), 'done\n', output);
  }
  assert.deepEqual(
    r.git(['log', '--format=%s']).trim().split('\n'),
    [...TICKETS.map((n) => `work on ${n}`).reverse(), 'plan', 'initial commit'],
    output,
  );
  assert.equal(r.git(['status', '--porcelain']).trim(), '', output);
}

interface StatusJson {
  run: { run_id: string; status: string; reason_code: string | null; total_turns: number } | null;
  worker: { status: string; pid?: number };
  tickets: { total: number; done: number; next: string | null };
}

test('car run with a command agent works the queue and exits 0', async () => {
  const { r, parents, pids } = await scriptQueue();
  const run = await r.run(['run']);
  const output = `exit ${run.code} ${run.signal ?? ''}\n${run.stdout}\n${run.stderr}`;
  assert.equal(run.code, 0, output);
  assert.match(run.stdout, /run completed \(all_done\)/, output);
  assertQueueDone(r, output);
  assert.deepEqual(
    parents(),
    TICKETS.map(() => [process.execPath, CAR_JS, 'run']),
    'each turn was started by the built car run',
  );

  const status = json<StatusJson>(await r.run(['flow', 'status', '--json']));
  assert.equal(status.run?.status, 'completed');
  assert.equal(status.run?.total_turns, TICKETS.length);
  const show = json<{ turns: { status: string; agent: string }[] }>(
    await r.run(['flow', 'show', status.run!.run_id, '--json']),
  );
  assert.deepEqual(
    show.turns.map((t) => [t.agent, t.status]),
    TICKETS.map(() => ['script', 'completed']),
  );
  const messages = (await r.run(['flow', 'events', '--json', '--type', 'agent_message'])).stdout
    .trim()
    .split('\n')
    .map((l) => String((JSON.parse(l) as { data: { text: unknown } }).data.text).trim());
  assert.deepEqual(
    messages,
    TICKETS.map((n) => `worked on ${n}`),
    "the agent's stdout is its answer",
  );
  const agents = pids();
  assert.equal(agents.length, TICKETS.length, 'one agent process a turn');
  await assertGroupsGone(agents);
});

test('car flow start from the built CLI: the detached worker is dist/car.js and finishes the run', async () => {
  const { r, parents, pids } = await scriptQueue();
  const start = await r.run(['flow', 'start', '--json']);
  assert.equal(start.code, 0, `${start.stdout}\n${start.stderr}`);
  const started = json<{ run_id: string; log: string }>(start); // log: relative to the repo

  const status = async () => json<StatusJson>(await r.run(['flow', 'status', '--json']));
  await waitFor('the background run to end', async () => {
    const now = await status();
    return now.run?.status !== 'running' && now.worker.status === 'none';
  });
  const last = await status();
  const log = readFileSync(join(r.dir, started.log), 'utf8');
  assert.equal(last.run?.run_id, started.run_id, log);
  assert.equal(last.run?.status, 'completed', log);
  assert.deepEqual(last.tickets, {
    total: TICKETS.length,
    done: TICKETS.length,
    next: null,
    blocked: 0,
    invalid: [],
  });
  assertQueueDone(r, log);
  assert.deepEqual(
    parents(),
    TICKETS.map(() => [
      process.execPath,
      CAR_JS,
      '--repo',
      realpathSync(r.dir),
      'flow',
      'worker',
      '--run',
      started.run_id,
    ]),
    'every turn ran in the worker car flow start spawned, from dist/car.js',
  );
  await assertGroupsGone(pids());
});
