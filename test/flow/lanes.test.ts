// Lanes through the built CLI (`node dist/car.js run --lanes N`) in real git repos: a shell-script agent
// (the command backend) works each ticket in its lane's worktree, writes a file, sets `done: true` and
// commits; car merges each lane into the integration branch one at a time. Covered: a diamond of
// dependencies, a forced merge conflict the agent resolves from car's prompt, `merge_mode: rebase` (with
// and without a conflict), an integration branch that is not checked out, the person's own change in the
// way of a merge, and kill -9 of the worker while lanes work and while a merge is being verified. The same
// with the real codex binary: test/agents/codex-lanes.test.ts.
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { type BuiltCarRepo, json, makeBuiltCarRepo, startCar } from '../helpers/built-car.ts';
import { TICKETS_DIR, tid } from '../helpers/cli.ts';
import { scriptAgentConfig } from '../helpers/script-agent.ts';
import { waitFor } from '../helpers/wait.ts';

/**
 * The agent. Argument 1 is car's prompt, naming the ticket. A merge in progress (car brought the
 * integration branch into the lane and it conflicted) is resolved by keeping both sides' lines.
 */
const AGENT = [
  `f=$(printf '%s\\n' "$1" | sed -n 's/^Current ticket file: //p' | head -1)`,
  'test -f "$f" || { echo "no ticket file in the prompt" >&2; exit 1; }',
  'name=$(basename "$f" .md)',
  'echo "$name $(pwd)" >> "$CAR_TEST_LOG"',
  'case "$1" in *CAR_MERGE_FAILED*) echo "$name merge-feedback" >> "$CAR_TEST_LOG";; esac',
  // a test holds an agent here until it has done what it needed to (kill the worker)
  'while [ -e "$CAR_TEST_HOLD" ]; do sleep 0.05; done',
  'if git rev-parse -q --verify MERGE_HEAD >/dev/null; then',
  `  for c in $(git diff --name-only --diff-filter=U); do sed -i '/^<<<<<<<\\|^=======\\|^>>>>>>>/d' "$c"; git add "$c"; done`,
  '  git commit -qm "resolve the merge for $name"',
  'elif [ -n "$CAR_TEST_SHARED" ]; then',
  '  echo "line from $name" >> shared.txt',
  'else',
  '  mkdir -p work && echo "$name" > "work/$name.txt"',
  'fi',
  // one ticket's work also deletes a test file (a tamper finding)
  'if [ -n "$CAR_TEST_DROP" ] && [ "$name" = "$CAR_TEST_DROP_FOR" ]; then git rm -q "$CAR_TEST_DROP"; fi',
  `sed -i 's/^done: false$/done: true/' "$f"`,
  'git add -A',
  'git commit -qm "work on $name"',
  'echo "worked on $name"',
  '',
].join('\n');

const cleanups: (() => void)[] = [];
after(() => {
  for (const c of cleanups) c();
});

interface LaneRepo {
  r: BuiltCarRepo;
  log: () => string[];
  hold: string;
}

/** A repo with `tickets` (name → depends_on) for the script agent, all committed. */
async function laneRepo(
  tickets: Record<string, string[]>,
  opts: {
    shared?: boolean;
    verify?: string[];
    ticketFlow?: string[];
    /** This ticket's work deletes test/old.test.js, which the plan has; findings only notify. */
    dropTestFor?: string;
  } = {},
): Promise<LaneRepo> {
  const r = await makeBuiltCarRepo();
  const aside = (what: string) => `${r.dir}-${what}`;
  const files = { script: aside('agent.sh'), log: aside('log'), hold: aside('hold') };
  cleanups.push(() => {
    r.cleanup();
    for (const f of Object.values(files)) rmSync(f, { force: true });
  });
  writeFileSync(files.script, AGENT);
  writeFileSync(files.log, '');
  const env = {
    CAR_TEST_LOG: files.log,
    CAR_TEST_HOLD: files.hold,
    ...(opts.shared ? { CAR_TEST_SHARED: '1' } : {}),
    ...(opts.dropTestFor ? { CAR_TEST_DROP_FOR: opts.dropTestFor, CAR_TEST_DROP: 'test/old.test.js' } : {}),
  };
  const more = [
    ...(opts.verify || opts.dropTestFor ? ['verify:'] : []),
    ...(opts.verify ? ['  commands:', ...opts.verify.map((c) => `    - ${JSON.stringify(c)}`)] : []),
    ...(opts.dropTestFor ? ['  policy:', '    test_deleted: notify'] : []),
    ...(opts.ticketFlow ? ['ticket_flow:', ...opts.ticketFlow.map((l) => `  ${l}`)] : []),
  ];
  r.write('.codex-autorunner/config.yml', scriptAgentConfig(files.script, { env }, more));
  Object.entries(tickets).forEach(([name, deps], i) => {
    const lines = ['---', `ticket_id: ${tid(i + 1)}`, 'agent: script', 'done: false', `title: ${name}`];
    if (deps.length > 0) lines.push(`depends_on: [${deps.join(', ')}]`);
    r.write(`${TICKETS_DIR}/${name}.md`, `${lines.join('\n')}\n---\n\n## Tasks\n- ${name}\n`);
  });
  if (opts.shared) r.write('shared.txt', 'base\n');
  if (opts.dropTestFor) r.write('test/old.test.js', "test('one', () => {});\n");
  r.commitAll('plan');
  const log = () => readFileSync(files.log, 'utf8').split('\n').filter(Boolean);
  return { r, log, hold: files.hold };
}

type Event = { seq: number; type: string; data: Record<string, unknown> };

async function events(r: BuiltCarRepo, run?: string): Promise<Event[]> {
  const res = await r.run(['flow', 'events', '--json', '--limit', '10000', ...(run ? [run] : [])]);
  assert.equal(res.code, 0, res.stderr);
  return res.stdout
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l) as Event);
}

/**
 * Every ticket done on main (and in the checkout, where main is checked out), merged exactly once (a merge
 * commit each; with `rebase`, its commit once in a linear history), nothing of the lanes left behind.
 */
function assertAllMerged(
  r: BuiltCarRepo,
  names: string[],
  { mode = 'merge', checkedOut = true }: { mode?: 'merge' | 'rebase'; checkedOut?: boolean } = {},
): void {
  const branch = 'main';
  const log = r.git(['log', '--format=%s', branch]);
  for (const name of names) {
    const ticket = r.git(['show', `${branch}:${TICKETS_DIR}/${name}.md`]);
    assert.match(ticket, /^done: true$/m, `${name} is done on ${branch}`);
    const subjects = log.split('\n');
    if (mode === 'merge') {
      const merges = subjects.filter((s) => s.startsWith(`car: merge ${name} `));
      assert.equal(merges.length, 1, `${name} merged once:\n${log}`);
    } else {
      // replayed commit by commit; a lane sent back with a conflict comes as one commit of its result
      const once = subjects.filter((s) => s === `work on ${name}` || s.startsWith(`car: merge ${name} `));
      assert.equal(once.length, 1, `${name} merged once:\n${log}`);
    }
  }
  if (mode === 'rebase') assert.equal(r.git(['rev-list', '--merges', branch]).trim(), '', 'linear history');
  if (checkedOut) {
    assert.equal(r.git(['branch', '--show-current']).trim(), 'main');
    assert.equal(r.git(['status', '--porcelain']).trim(), '', 'the checkout is clean');
    for (const name of names) {
      const ticket = readFileSync(join(r.dir, TICKETS_DIR, `${name}.md`), 'utf8');
      assert.match(ticket, /^done: true$/m, `${name} is done in the checkout`);
    }
  }
  assert.deepEqual(
    r.git(['worktree', 'list', '--porcelain']).match(/^worktree /gm)?.length,
    1,
    'only the main worktree is left',
  );
  assert.equal(r.git(['branch', '--list', 'car/lane/*']).trim(), '', 'lane branches are deleted once merged');
  const lanesDir = join(r.dir, '.codex-autorunner/lanes');
  assert.ok(!existsSync(lanesDir) || readdirSync(lanesDir).length === 0, 'no lane folders left');
}

test('a diamond of five tickets in three lanes: each merged once, after its dependencies, in one worker', async () => {
  // 1 and 2 are independent; 3 needs both; 4 needs 1; 5 needs 3 and 4
  const names = ['TICKET-001', 'TICKET-002', 'TICKET-003', 'TICKET-004', 'TICKET-005'];
  const { r, log } = await laneRepo({
    'TICKET-001': [],
    'TICKET-002': [],
    'TICKET-003': ['1', '2'],
    'TICKET-004': ['TICKET-001'],
    'TICKET-005': ['3', '4'],
  });
  const res = await r.run(['run', '--lanes', '3']);
  assert.equal(res.code, 0, `${res.stdout}\n${res.stderr}`);
  assert.match(res.stdout, /All tickets done and merged/);
  assertAllMerged(r, names);
  for (const name of names) assert.equal(readFileSync(join(r.dir, `work/${name}.txt`), 'utf8'), `${name}\n`);

  // every turn ran in its lane's worktree, never in the checkout itself; a merged lane's worktree is
  // taken over by a later lane (only what changed is checked out, not a new tree)
  const evs = await events(r);
  const turns = log();
  assert.equal(turns.length, 5);
  const trees = new Map(
    evs
      .filter((e) => e.type === 'lane_started')
      .map((e) => [String(e.data.ticket).split('/').pop()!.replace('.md', ''), String(e.data.worktree)]),
  );
  for (const line of turns) {
    const [name, cwd] = line.split(' ');
    assert.equal(cwd, join(r.dir, trees.get(name!)!), line);
    assert.match(cwd!, /\/\.codex-autorunner\/lanes\/lane-\d$/);
  }
  assert.ok(new Set(trees.values()).size < 5, `worktrees taken over: ${[...trees.values()]}`);

  const merged = evs.filter((e) => e.type === 'lane_merged').map((e) => String(e.data.ticket));
  const order = (name: string) => merged.findIndex((t) => t.endsWith(`${name}.md`));
  assert.equal(merged.length, 5);
  assert.ok(order('TICKET-003') > order('TICKET-001') && order('TICKET-003') > order('TICKET-002'));
  assert.ok(order('TICKET-005') > order('TICKET-003') && order('TICKET-005') > order('TICKET-004'));
  // a lane starts only once what it depends on is merged
  const started = (name: string) =>
    evs.findIndex((e) => e.type === 'lane_started' && String(e.data.ticket).endsWith(`${name}.md`));
  const mergedAt = (name: string) =>
    evs.findIndex((e) => e.type === 'lane_merged' && String(e.data.ticket).endsWith(`${name}.md`));
  assert.ok(started('TICKET-003') > mergedAt('TICKET-002') && started('TICKET-003') > mergedAt('TICKET-001'));
  assert.ok(started('TICKET-005') > mergedAt('TICKET-004'));
  // 1 and 2 ran side by side: both lanes started before either merged
  assert.ok(started('TICKET-002') < mergedAt('TICKET-001'));

  // the run people see is the one that drove the lanes; lane runs are behind it
  const status = json<{ run_id: string; status: string; lanes: { merged: string[]; open: unknown[] } }>(
    await r.run(['flow', 'status', '--json']),
  );
  assert.equal(status.status, 'completed');
  assert.equal(status.lanes.merged.length, 5);
  assert.deepEqual(status.lanes.open, []);
  const runs = await r.run(['flow', 'runs', '--json']);
  assert.equal(json<{ runs: unknown[] }>(runs).runs.length, 1, runs.stdout);
});

test('a forced merge conflict goes back to its lane with the conflict in the prompt, and both sides survive', async () => {
  const { r, log } = await laneRepo({ 'TICKET-001': [], 'TICKET-002': [] }, { shared: true });
  const res = await r.run(['run', '--lanes', '2']);
  assert.equal(res.code, 0, `${res.stdout}\n${res.stderr}`);
  assertAllMerged(r, ['TICKET-001', 'TICKET-002']);
  const shared = readFileSync(join(r.dir, 'shared.txt'), 'utf8').split('\n').filter(Boolean);
  assert.deepEqual(shared.slice().sort(), ['base', 'line from TICKET-001', 'line from TICKET-002']);
  const evs = await events(r);
  const conflicts = evs.filter((e) => e.type === 'merge_conflict');
  assert.equal(conflicts.length, 1);
  assert.deepEqual(conflicts[0]!.data.files, ['shared.txt']);
  // the lane that lost the race got a second turn whose prompt carried CAR_MERGE_FAILED
  const loser = String(conflicts[0]!.data.ticket).split('/').pop()!.replace('.md', '');
  assert.ok(log().includes(`${loser} merge-feedback`), log().join('\n'));
});

/** Each ticket's `lane_merged` events: exactly one each. */
function assertMergedOnce(evs: Event[], names: string[]): void {
  for (const name of names) {
    const merged = evs.filter(
      (e) => e.type === 'lane_merged' && String(e.data.ticket).endsWith(`/${name}.md`),
    );
    assert.equal(merged.length, 1, `${name} merged once`);
  }
}

test('merge_mode: rebase puts every ticket on main once, in a linear history', async () => {
  // 1 and 2 are independent; 3 needs 1; 4 needs 2 and 3
  const names = ['TICKET-001', 'TICKET-002', 'TICKET-003', 'TICKET-004'];
  const { r } = await laneRepo(
    { 'TICKET-001': [], 'TICKET-002': [], 'TICKET-003': ['1'], 'TICKET-004': ['2', '3'] },
    { ticketFlow: ['merge_mode: rebase'] },
  );
  const res = await r.run(['run', '--lanes', '2']);
  assert.equal(res.code, 0, `${res.stdout}\n${res.stderr}`);
  assertAllMerged(r, names, { mode: 'rebase' });
  for (const name of names) assert.equal(readFileSync(join(r.dir, `work/${name}.txt`), 'utf8'), `${name}\n`);
  const evs = await events(r);
  assert.equal(evs.find((e) => e.type === 'lanes_started')?.data.mode, 'rebase');
  assertMergedOnce(evs, names);
  // the plan, then each ticket's one commit: nothing else reached main
  assert.equal(r.git(['rev-list', '--count', 'main']).trim(), String(2 + names.length));
});

test('merge_mode: rebase with a forced conflict: the lane resolves it once and is rebased as its result', async () => {
  const names = ['TICKET-001', 'TICKET-002'];
  const { r, log } = await laneRepo(
    { 'TICKET-001': [], 'TICKET-002': [] },
    { shared: true, ticketFlow: ['merge_mode: rebase'] },
  );
  const res = await r.run(['run', '--lanes', '2']);
  assert.equal(res.code, 0, `${res.stdout}\n${res.stderr}`);
  assertAllMerged(r, names, { mode: 'rebase' });
  const shared = readFileSync(join(r.dir, 'shared.txt'), 'utf8').split('\n').filter(Boolean);
  assert.deepEqual(shared.slice().sort(), ['base', 'line from TICKET-001', 'line from TICKET-002']);
  const evs = await events(r);
  const conflicts = evs.filter((e) => e.type === 'merge_conflict');
  assert.equal(conflicts.length, 1, 'one conflict, resolved the first time');
  const loser = String(conflicts[0]!.data.ticket).split('/').pop()!.replace('.md', '');
  assert.ok(log().includes(`${loser} merge-feedback`), log().join('\n'));
  assertMergedOnce(evs, names);
});

test('an integration branch that is not checked out gets every ticket; the checkout and its branch stay as they were', async () => {
  const names = ['TICKET-001', 'TICKET-002', 'TICKET-003'];
  const { r, log } = await laneRepo(
    { 'TICKET-001': [], 'TICKET-002': [], 'TICKET-003': ['1', '2'] },
    { ticketFlow: ['integration_branch: main'] },
  );
  // the person works on a branch of their own, with a commit and changes not committed
  r.git(['checkout', '-q', '-b', 'mine']);
  r.write('mine.txt', 'committed on my branch\n');
  const mine = r.commitAll('my own work');
  r.write('README.md', '# my edit, not committed\n');
  r.write('scratch.txt', 'untracked\n');
  const statusBefore = r.git(['status', '--porcelain']);

  const res = await r.run(['run', '--lanes', '2']);
  assert.equal(res.code, 0, `${res.stdout}\n${res.stderr}`);
  assert.match(res.stdout, /All tickets done and merged/);
  assertAllMerged(r, names, { checkedOut: false });
  assert.equal(r.git(['branch', '--show-current']).trim(), 'mine', 'still on their branch');
  assert.equal(r.git(['rev-parse', 'mine']).trim(), mine, 'their branch did not move');
  assert.equal(r.git(['rev-parse', 'HEAD']).trim(), mine);
  assert.equal(r.git(['status', '--porcelain']), statusBefore, 'their checkout is as they left it');
  assert.equal(readFileSync(join(r.dir, 'README.md'), 'utf8'), '# my edit, not committed\n');
  assert.equal(existsSync(join(r.dir, 'work')), false, "no ticket's work landed in their checkout");
  for (const name of names) {
    assert.match(readFileSync(join(r.dir, TICKETS_DIR, `${name}.md`), 'utf8'), /^done: false$/m);
    assert.equal(r.git(['show', `main:work/${name}.txt`]), `${name}\n`);
  }
  for (const line of log()) assert.match(line, /\/\.codex-autorunner\/lanes\/lane-\d$/);
  const evs = await events(r);
  assert.equal(evs.find((e) => e.type === 'lanes_started')?.data.integration, 'main');
  assertMergedOnce(evs, names);
});

test("the person's own change in the way of a merge pauses the run (merge_blocked) and is never touched", async () => {
  const { r, hold } = await laneRepo({ 'TICKET-001': [] });
  writeFileSync(hold, '');
  const car = startCar(['run', '--lanes', '2'], { cwd: r.dir, env: r.env });
  await car.waitForOutput('TICKET-001.md');
  // while the agent works in its lane, the person edits (without committing) the file it will add
  r.write('work/TICKET-001.txt', 'mine\n');
  rmSync(hold);
  const exit = await car.exited;
  assert.equal(exit.code, 5, `${car.stdout}\n${car.stderr}`);
  const status = json<{ reason_code: string; lanes: { open: { phase: string; blocked: string }[] } }>(
    await r.run(['flow', 'status', '--json']),
  );
  assert.equal(status.reason_code, 'merge_blocked');
  assert.equal(status.lanes.open[0]!.phase, 'queued');
  assert.equal(readFileSync(join(r.dir, 'work/TICKET-001.txt'), 'utf8'), 'mine\n', 'their change is kept');
  // they move it out of the way; resuming merges
  rmSync(join(r.dir, 'work'), { recursive: true });
  const again = await r.run(['run']);
  assert.equal(again.code, 0, `${again.stdout}\n${again.stderr}`);
  assertAllMerged(r, ['TICKET-001']);
});

test('lanes queued together are merged in one pass, verified once, and the branch moves once', async () => {
  const names = ['TICKET-001', 'TICKET-002', 'TICKET-003'];
  const { r, hold } = await laneRepo(Object.fromEntries(names.map((n) => [n, []])), {
    // every folder the verify command runs in, in a file of the repo's git folder (shared by worktrees)
    verify: ['pwd >> "$(git rev-parse --path-format=absolute --git-common-dir)/car-test-verified"'],
  });
  const verified = join(r.dir, '.git/car-test-verified');
  await holdQueue(r, hold, names);
  writeFileSync(verified, '');
  const before = (await events(r)).length;
  const again = await r.run(['run']);
  assert.equal(again.code, 0, `${again.stdout}\n${again.stderr}`);
  assertAllMerged(r, names);
  const evs = (await events(r)).slice(before);
  const merged = evs.filter((e) => e.type === 'lane_merged');
  assert.equal(merged.length, 3);
  assert.deepEqual(
    merged.map((e) => e.data.batch),
    [3, 3, 3],
    'one pass merged all three',
  );
  assert.equal(new Set(merged.map((e) => e.data.sha)).size, 1, 'the branch moved once, to one commit');
  const inMergeTree = readFileSync(verified, 'utf8')
    .split('\n')
    .filter((l) => l.endsWith('/lanes/.merge'));
  assert.equal(inMergeTree.length, 1, 'the merged tree was verified once');
});

test('with no command to run, the merged tree is checked as git has it: its tamper findings are found again', async () => {
  const names = ['TICKET-001', 'TICKET-002', 'TICKET-003'];
  const { r, hold } = await laneRepo(Object.fromEntries(names.map((n) => [n, []])), {
    dropTestFor: 'TICKET-002',
  });
  await holdQueue(r, hold, names);
  const status = json<{ lanes: { open: { ticket: string; run_id: string }[] } }>(
    await r.run(['flow', 'status', '--json']),
  );
  assert.equal(status.lanes.open.length, 3, JSON.stringify(status.lanes));
  // a merge pass's gate reports in its first lane's run
  const findings = async () =>
    (await Promise.all(status.lanes.open.map((l) => events(r, l.run_id))))
      .flat()
      .filter((e) => e.type === 'tamper_finding')
      .map((e) => [e.data.kind, e.data.file, e.data.action]);
  const found = [['test_deleted', 'test/old.test.js', 'notify']];
  assert.deepEqual(await findings(), found, "the lane's own gate found it");
  const again = await r.run(['run']);
  assert.equal(again.code, 0, `${again.stdout}\n${again.stderr}`);
  assertAllMerged(r, names);
  const merged = (await events(r)).filter((e) => e.type === 'lane_merged');
  assert.deepEqual(
    merged.map((e) => e.data.batch),
    [3, 3, 3],
  );
  // the pass checked the three lanes' merged tree against main's tip (no checkout: no command to run)
  assert.deepEqual(await findings(), [...found, ...found], 'the merge queue found it again');
  assert.equal(existsSync(join(r.dir, 'test/old.test.js')), false);
});

test('a pass whose re-verify fails is split: the lanes merge one by one, and only the failing one goes back', async () => {
  // tickets 1 and 2 each pass alone and fail together (a conflict no textual merge shows)
  const names = ['TICKET-001', 'TICKET-002', 'TICKET-003'];
  const { r, hold, log } = await laneRepo(Object.fromEntries(names.map((n) => [n, []])), {
    verify: ['! { test -e work/TICKET-001.txt && test -e work/TICKET-002.txt; }'],
  });
  await holdQueue(r, hold, names);
  const before = (await events(r)).length;
  const again = await r.run(['run']);
  assert.equal(again.code, 5, `${again.stdout}\n${again.stderr}`);
  const evs = (await events(r)).slice(before);
  const started = evs.filter((e) => e.type === 'merge_started');
  assert.deepEqual(
    started.slice(0, 3).map((e) => e.data.batch),
    [3, 3, 3],
    'first all three together',
  );
  const merged = evs.filter((e) => e.type === 'lane_merged');
  assert.ok(
    merged.every((e) => e.data.batch === undefined),
    'then one at a time',
  );
  const mergedNames = merged.map((e) => String(e.data.ticket).split('/').pop()!.replace('.md', '')).sort();
  assert.equal(mergedNames.length, 2, JSON.stringify(mergedNames));
  assert.ok(mergedNames.includes('TICKET-003'));
  const [back] = ['TICKET-001', 'TICKET-002'].filter((n) => !mergedNames.includes(n));
  const failed = evs.filter((e) => e.type === 'merge_verify_failed');
  assert.ok(failed.length > 0 && failed.every((e) => String(e.data.ticket).endsWith(`/${back}.md`)));
  assert.ok(log().includes(`${back} merge-feedback`), 'its agent was told why');
  const status = json<{ reason_code: string; lanes: { open: { ticket: string; phase: string }[] } }>(
    await r.run(['flow', 'status', '--json']),
  );
  assert.equal(status.reason_code, 'lanes_waiting');
  assert.deepEqual(
    status.lanes.open.map((l) => [l.ticket.split('/').pop(), l.phase]),
    [[`${back}.md`, 'waiting']],
  );
  assert.doesNotMatch(r.git(['show', `main:${TICKETS_DIR}/${back}.md`]), /^done: true$/m);
});

/** Every lane done while the person's own files keep the merge queue from moving main; then cleared. */
async function holdQueue(r: BuiltCarRepo, hold: string, names: string[]): Promise<void> {
  writeFileSync(hold, '');
  const car = startCar(['run', '--lanes', String(names.length)], { cwd: r.dir, env: r.env });
  for (const name of names) await car.waitForOutput(`${name}.md`);
  for (const name of names) r.write(`work/${name}.txt`, 'mine\n');
  rmSync(hold);
  const exit = await car.exited;
  assert.equal(exit.code, 5, `${car.stdout}\n${car.stderr}`);
  const status = json<{ reason_code: string; lanes: { open: { phase: string }[] } }>(
    await r.run(['flow', 'status', '--json']),
  );
  assert.equal(status.reason_code, 'merge_blocked');
  assert.deepEqual(
    status.lanes.open.map((l) => l.phase),
    names.map(() => 'queued'),
  );
  rmSync(join(r.dir, 'work'), { recursive: true });
}

test('kill -9 while lanes work, and again while a merge is verified: the next run finishes every ticket once', async () => {
  const names = ['TICKET-001', 'TICKET-002', 'TICKET-003'];
  const { r, hold } = await laneRepo(
    { 'TICKET-001': [], 'TICKET-002': [], 'TICKET-003': ['1'] },
    // the re-verify of a merged tree (in the scratch worktree, .merge) waits while the hold file exists
    {
      verify: [
        'case "$PWD" in */.merge) touch "$CAR_TEST_HOLD_VERIFY.started"; while [ -e "$CAR_TEST_HOLD_VERIFY" ]; do sleep 0.05; done;; esac',
      ],
    },
  );
  const holdVerify = `${r.dir}-hold-verify`;
  cleanups.push(() => rmSync(holdVerify, { force: true }));
  const env = { ...r.env, CAR_TEST_HOLD_VERIFY: holdVerify };

  // 1: killed while both lanes' agents are mid-turn
  writeFileSync(hold, '');
  const first = startCar(['run', '--lanes', '2'], { cwd: r.dir, env });
  await waitFor('two lanes working', () => (first.stdout.match(/▶ TICKET-00/g) ?? []).length >= 2);
  first.child.kill('SIGKILL');
  await first.exited;
  rmSync(hold);

  // 2: killed while a merged tree's re-verify runs (in the scratch worktree; a lane whose start is still
  // the tip needs none, the one after it does)
  writeFileSync(holdVerify, '');
  cleanups.push(() => rmSync(`${holdVerify}.started`, { force: true }));
  const second = startCar(['run'], { cwd: r.dir, env });
  await waitFor('a merged tree being verified', () => {
    if (second.child.exitCode !== null)
      throw new Error(`car run ended early:\n${second.stdout}\n${second.stderr}`);
    return existsSync(`${holdVerify}.started`);
  });
  second.child.kill('SIGKILL');
  await second.exited;
  rmSync(holdVerify);

  const third = await r.run(['run']);
  assert.equal(third.code, 0, `${third.stdout}\n${third.stderr}`);
  assertAllMerged(r, names);
  const evs = await events(r);
  assert.ok(
    evs.some((e) => e.type === 'lane_recovered'),
    'recovery was recorded',
  );
  for (const name of names) {
    const done = evs.filter((e) => e.type === 'lane_merged' && String(e.data.ticket).endsWith(`${name}.md`));
    assert.equal(done.length, 1, `${name} merged once`);
  }
});

test("the run's turn budget is the whole lanes run's: its lanes stop at it together, and resuming grants it again", async () => {
  const names = ['TICKET-001', 'TICKET-002', 'TICKET-003', 'TICKET-004'];
  const { r, log } = await laneRepo(Object.fromEntries(names.map((n) => [n, []])), {
    ticketFlow: ['max_total_turns: 2'],
  });
  const first = await r.run(['run', '--lanes', '2']);
  const said = `${first.stdout}\n${first.stderr}`;
  assert.equal(first.code, 5, `paused:\n${said}`);
  // two turns in all, not two a lane (lanes that pass the check at the same moment may each take theirs:
  // one over at most, with two lanes)
  const turns = log().length;
  assert.ok(turns >= 2 && turns <= 3, `two turns in all, not two a lane:\n${log().join('\n')}`);
  const status = json<{ run: { reason_code: string; reason: string } }>(
    await r.run(['flow', 'status', '--json']),
  );
  assert.equal(status.run.reason_code, 'lanes_waiting', said);
  assert.match(status.run.reason, /Max turns reached \(2\)/);
  const again = await r.run(['run']);
  assert.equal(again.code, 0, `${again.stdout}\n${again.stderr}`);
  assertAllMerged(r, names);
  assert.equal(log().length, 4, `each ticket worked once:\n${log().join('\n')}`);
});
