// Lanes with the REAL `codex app-server` (the pinned @openai/codex), offline: `car run --lanes 2` (the built
// CLI, a temp HOME) works tickets in parallel worktrees, each lane turn a codex process talking to a local
// fake of the Responses API (test/fakes/responses-api.ts) whose scripted "model" does the ticket's work
// with shell commands: write a file, set `done: true`, commit. Issue 16 asks for this: a DAG of five
// tickets with a diamond dependency, and a forced merge conflict that the model resolves from car's
// <CAR_MERGE_FAILED> prompt. Requests from the lanes' codex processes interleave; the model answers each
// from its own body (the ticket named in car's prompt), so their order does not matter.
import assert from 'node:assert/strict';
import {
  existsSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  readlinkSync,
  realpathSync,
  rmSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { afterEach, test } from 'node:test';
import {
  execCommandReply,
  type FakeReply,
  FakeResponsesApi,
  inputTexts,
  messageReply,
  type RecordedRequest,
  writeFakeCodexConfig,
} from '../fakes/responses-api.ts';
import { json, NODE_BIN, runCar } from '../helpers/built-car.ts';
import { type GitRepo, makeGitRepo } from '../helpers/git-repo.ts';

const TICKETS_DIR = '.codex-autorunner/tickets';
const CODEX = join(NODE_BIN, 'codex');
const skip = existsSync(CODEX) ? false : `codex is not installed (${CODEX} is missing: run npm install)`;
/** A whole run on a loaded machine: codex starts a process per lane turn. */
const RUN_TIMEOUT_MS = 600_000;

/** car's prompt in a request: the last user message naming the ticket (a resumed thread has earlier ones). */
function carPrompt(req: RecordedRequest): string | undefined {
  return inputTexts(req, 'user').findLast((t) => t.includes('Current ticket file: '));
}

function ticketOf(prompt: string): { file: string; name: string } {
  const file = /^Current ticket file: (.+)$/m.exec(prompt)?.[1]?.trim();
  assert.ok(file, `no ticket file in car's prompt:\n${prompt.slice(0, 2000)}`);
  return { file, name: basename(file, '.md') };
}

const q = (s: string) => `'${s.replaceAll("'", `'\\''`)}'`;
const setDone = (file: string) => `sed -i 's/^done: false$/done: true/' ${q(file)}`;
/** Commits what is left, if anything (after a resolved merge the ticket may already be as committed). */
const commitRest = (name: string) =>
  `git add -A && (git diff --cached --quiet || git commit -qm ${q(`work on ${name}`)})`;

/** A ticket's work: its own file, or (tickets in `shared`) a line appended to shared.txt. */
function workCommand(file: string, name: string, shared: ReadonlySet<string>): string {
  const write = shared.has(name)
    ? `echo ${q(`line from ${name}`)} >> shared.txt`
    : `mkdir -p work && echo ${q(name)} > ${q(`work/${name}.txt`)}`;
  return [write, setDone(file), commitRest(name)].join(' && ');
}

/** car merged the integration tip into the lane and left the conflict: keep both sides, commit, done. */
function resolveCommand(file: string, name: string): string {
  return [
    'git rev-parse -q --verify MERGE_HEAD >/dev/null',
    `for c in $(git diff --name-only --diff-filter=U); do sed -i '/^<<<<<<<\\|^=======\\|^>>>>>>>/d' "$c" && git add "$c" || exit 1; done`,
    `git commit -qm ${q(`resolve the merge for ${name}`)}`,
    setDone(file),
    commitRest(name),
  ].join(' && ');
}

interface LaneQueue {
  repo: GitRepo;
  fake: FakeResponsesApi;
  env: NodeJS.ProcessEnv;
  names: string[];
  /** Tickets whose turn's prompt carried <CAR_MERGE_FAILED> (one entry per such turn). */
  mergeFeedback: string[];
  /** Commands the model ran, by ticket. */
  commands: Map<string, string[]>;
}

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0)) await c();
});

/** A repo with `car init` run and `tickets` (name → depends_on) for codex, committed; the fake model. */
async function laneQueue(tickets: Record<string, string[]>, shared: string[] = []): Promise<LaneQueue> {
  const fake = await FakeResponsesApi.start();
  const home = mkdtempSync(join(tmpdir(), 'car-codex-lanes-home-'));
  const repo = makeGitRepo();
  cleanups.push(async () => {
    await fake.close();
    repo.cleanup();
    rmSync(home, { recursive: true, force: true });
  });
  const codexHome = join(home, '.codex');
  writeFakeCodexConfig(codexHome, fake.baseUrl);
  const env: NodeJS.ProcessEnv = {
    PATH: `${NODE_BIN}:${process.env.PATH ?? '/usr/bin:/bin'}`,
    HOME: home,
    CODEX_HOME: codexHome,
    NO_COLOR: '1',
  };
  const lq: LaneQueue = {
    repo,
    fake,
    env,
    names: Object.keys(tickets),
    mergeFeedback: [],
    commands: new Map(),
  };
  const sharedSet = new Set(shared);
  fake.setFallback((req): FakeReply => {
    const input = req.body?.input ?? [];
    if (input.at(-1)?.type === 'function_call_output') return messageReply('Ticket done.', `msg_${req.n}`);
    const prompt = carPrompt(req);
    if (!prompt) return messageReply('Nothing to do here.', `msg_${req.n}`);
    const { file, name } = ticketOf(prompt);
    let cmd: string;
    if (prompt.includes('<CAR_MERGE_FAILED>')) {
      lq.mergeFeedback.push(name);
      cmd = resolveCommand(file, name);
    } else {
      cmd = workCommand(file, name, sharedSet);
    }
    lq.commands.set(name, [...(lq.commands.get(name) ?? []), cmd]);
    return execCommandReply(cmd, `call_${req.n}`);
  });

  const init = await runCar(['init'], { cwd: repo.dir, env });
  assert.equal(init.code, 0, init.stderr);
  Object.entries(tickets).forEach(([name, deps], i) => {
    const lines = [
      '---',
      `ticket_id: tkt_codexlane${String(i + 1).padStart(3, '0')}`,
      'agent: codex',
      'done: false',
      `title: ${name}`,
    ];
    if (deps.length > 0) lines.push(`depends_on: [${deps.join(', ')}]`);
    repo.write(`${TICKETS_DIR}/${name}.md`, `${lines.join('\n')}\n---\n\n## Tasks\n- ${name}\n`);
  });
  if (shared.length > 0) repo.write('shared.txt', 'base\n');
  repo.commitAll('plan');
  return lq;
}

type Event = { seq: number; type: string; data: Record<string, unknown> };

async function events(lq: LaneQueue): Promise<Event[]> {
  const res = await runCar(['flow', 'events', '--json', '--limit', '10000'], {
    cwd: lq.repo.dir,
    env: lq.env,
  });
  assert.equal(res.code, 0, res.stderr);
  return res.stdout
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l) as Event);
}

const ofTicket = (e: Event, name: string) => String(e.data.ticket).endsWith(`/${name}.md`);

/** Live processes whose working directory is the repo or a folder under it (a lane's worktree). */
function processesUnder(dir: string): string[] {
  const found: string[] = [];
  for (const pid of readdirSync('/proc')) {
    if (!/^\d+$/.test(pid)) continue;
    try {
      const cwd = readlinkSync(`/proc/${pid}/cwd`);
      if (cwd !== dir && !cwd.startsWith(`${dir}/`)) continue;
      const stat = readFileSync(`/proc/${pid}/stat`, 'latin1');
      const state = stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3);
      if (state === 'Z' || state === 'X') continue;
      found.push(`${pid} ${cwd} ${readFileSync(`/proc/${pid}/cmdline`, 'latin1').replaceAll('\0', ' ')}`);
    } catch {
      // gone meanwhile
    }
  }
  return found;
}

/**
 * Every ticket done on main, its lane merged exactly once, the checkout clean, nothing of the lanes left:
 * worktrees, branches, folders, processes.
 */
async function assertAllMerged(lq: LaneQueue, evs: Event[], output: string): Promise<void> {
  const { repo, names } = lq;
  assert.equal(repo.git(['branch', '--show-current']).trim(), 'main', output);
  assert.equal(repo.git(['status', '--porcelain']).trim(), '', `the checkout is clean\n${output}`);
  const log = repo.git(['log', '--format=%s', 'main']).split('\n');
  for (const name of names) {
    const ticket = readFileSync(join(repo.dir, TICKETS_DIR, `${name}.md`), 'utf8');
    assert.match(ticket, /^done: true$/m, `${name} is done on main\n${output}`);
    assert.equal(log.filter((s) => s.startsWith(`car: merge ${name} `)).length, 1, `${name} merged once`);
    assert.equal(evs.filter((e) => e.type === 'lane_merged' && ofTicket(e, name)).length, 1, name);
  }
  assert.equal(
    repo.git(['worktree', 'list', '--porcelain']).match(/^worktree /gm)?.length,
    1,
    'worktrees left',
  );
  assert.equal(repo.git(['branch', '--list', 'car/lane/*']).trim(), '', 'lane branches left');
  const lanesDir = join(repo.dir, '.codex-autorunner/lanes');
  assert.ok(!existsSync(lanesDir) || readdirSync(lanesDir).length === 0, 'lane folders left');
  const deadline = Date.now() + 10_000; // a SIGKILLed group can take a moment to be reaped
  let left = processesUnder(repo.dir);
  while (left.length > 0 && Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, 50));
    left = processesUnder(repo.dir);
  }
  assert.deepEqual(left, [], 'processes left running in the repo or its lanes');
}

test('a diamond of five tickets in two lanes with the real codex: each merged once, after its dependencies', {
  skip,
}, async () => {
  // 1; 2 and 3 need 1; 4 needs 2 and 3; 5 needs 4
  const lq = await laneQueue({
    'TICKET-001': [],
    'TICKET-002': ['1'],
    'TICKET-003': ['TICKET-001'],
    'TICKET-004': ['2', '3'],
    'TICKET-005': ['4'],
  });
  const r = await runCar(['run', '--lanes', '2'], {
    cwd: lq.repo.dir,
    env: lq.env,
    timeoutMs: RUN_TIMEOUT_MS,
  });
  const output = `exit ${r.code} ${r.signal ?? ''}\n${r.stdout}\n${r.stderr}`;
  assert.equal(r.code, 0, output);
  assert.match(r.stdout, /All tickets done and merged/, output);
  assert.doesNotMatch(r.stderr, /internal error/, output);
  const evs = await events(lq);
  await assertAllMerged(lq, evs, output);
  for (const name of lq.names) {
    assert.equal(readFileSync(join(lq.repo.dir, `work/${name}.txt`), 'utf8'), `${name}\n`);
    assert.equal(lq.commands.get(name)?.length, 1, `one turn of the model for ${name}`);
  }
  assert.deepEqual(lq.mergeFeedback, [], 'no conflict, no merge feedback');

  const started = (name: string) => at(evs, 'lane_started', name);
  const mergedAt = (name: string) => merged(evs, name);
  for (const [name, deps] of [
    ['TICKET-002', ['TICKET-001']],
    ['TICKET-003', ['TICKET-001']],
    ['TICKET-004', ['TICKET-002', 'TICKET-003']],
    ['TICKET-005', ['TICKET-004']],
  ] as const) {
    for (const dep of deps) {
      assert.ok(started(name) > mergedAt(dep), `${name} started after ${dep} was merged`);
    }
  }
  // the two sides of the diamond ran side by side
  assert.ok(started('TICKET-003') < mergedAt('TICKET-002') && started('TICKET-002') < mergedAt('TICKET-003'));
  // each ticket's codex worked in its lane's worktree (codex tells the model its cwd); a worktree is
  // taken over by a later lane once its ticket is merged
  const root = realpathSync(lq.repo.dir);
  const worktreeOf = (name: string) =>
    evs.find((e) => e.type === 'lane_started' && String(e.data.ticket).endsWith(`/${name}.md`))?.data
      .worktree;
  const turns = lq.fake.requests.filter(
    (req) => carPrompt(req) && req.body?.input?.at(-1)?.type === 'message',
  );
  assert.equal(turns.length, 5);
  const trees = lq.names.map(worktreeOf);
  assert.ok(
    trees.every((w) => typeof w === 'string' && /^\.codex-autorunner\/lanes\/lane-\d+$/.test(w)),
    String(trees),
  );
  assert.ok(new Set(trees).size < trees.length, `a merged lane's worktree is taken over: ${trees}`);
  for (const req of turns) {
    const { name } = ticketOf(carPrompt(req)!);
    const cwd = `<cwd>${root}/${worktreeOf(name)}</cwd>`;
    assert.ok(
      inputTexts(req, 'user').some((t) => t.includes(cwd)),
      `${name}'s turn ran in its lane`,
    );
  }
  const status = json<{ status: string; lanes: { merged: string[]; open: unknown[] } }>(
    await runCar(['flow', 'status', '--json'], { cwd: lq.repo.dir, env: lq.env }),
  );
  assert.equal(status.status, 'completed');
  assert.equal(status.lanes.merged.length, 5);
  assert.deepEqual(status.lanes.open, []);
});

test('a forced merge conflict with the real codex: the model resolves it from the CAR_MERGE_FAILED prompt', {
  skip,
}, async () => {
  // two independent tickets append to the same file from the same base: the second merge conflicts
  const lq = await laneQueue({ 'TICKET-001': [], 'TICKET-002': [] }, ['TICKET-001', 'TICKET-002']);
  const r = await runCar(['run', '--lanes', '2'], {
    cwd: lq.repo.dir,
    env: lq.env,
    timeoutMs: RUN_TIMEOUT_MS,
  });
  const output = `exit ${r.code} ${r.signal ?? ''}\n${r.stdout}\n${r.stderr}`;
  assert.equal(r.code, 0, output);
  assert.match(r.stdout, /All tickets done and merged/, output);
  const evs = await events(lq);
  await assertAllMerged(lq, evs, output);
  const shared = readFileSync(join(lq.repo.dir, 'shared.txt'), 'utf8').split('\n').filter(Boolean);
  assert.deepEqual(shared.slice().sort(), ['base', 'line from TICKET-001', 'line from TICKET-002']);

  const conflicts = evs.filter((e) => e.type === 'merge_conflict');
  assert.equal(conflicts.length, 1, output);
  assert.deepEqual(conflicts[0]!.data.files, ['shared.txt']);
  const loser = basename(String(conflicts[0]!.data.ticket), '.md');
  const winner = lq.names.find((n) => n !== loser)!;
  assert.deepEqual(lq.mergeFeedback, [loser], 'one turn, of the lane that conflicted, carried the feedback');
  assert.equal(lq.commands.get(winner)?.length, 1);
  assert.equal(lq.commands.get(loser)?.length, 2);
  assert.ok(merged(evs, winner) < at(evs, 'merge_conflict', loser), 'the winner merged first');

  // what codex sent the model for that turn: car's prompt, naming the conflict and the file
  const feedbackRequests = lq.fake.requests.filter((req) => carPrompt(req)?.includes('<CAR_MERGE_FAILED>'));
  const first = feedbackRequests[0];
  assert.ok(first, 'a request carried <CAR_MERGE_FAILED>');
  const prompt = carPrompt(first)!;
  assert.equal(ticketOf(prompt).name, loser);
  // the same codex thread goes on: the model sees its first turn on the ticket before this one
  const prompts = inputTexts(first, 'user').filter((t) => t.includes('Current ticket file: '));
  assert.equal(prompts.length, 2, 'the first prompt and the one with the feedback, in one conversation');
  assert.doesNotMatch(prompts[0]!, /CAR_MERGE_FAILED/);
  const block = /<CAR_MERGE_FAILED>\n([\s\S]*?)\n<\/CAR_MERGE_FAILED>/.exec(prompt)?.[1] ?? '';
  assert.match(block, /conflicts in:\n- shared\.txt/, prompt);
  assert.match(
    block,
    /car has already merged `main` into your branch in this worktree, leaving the conflicts/,
  );
  // the agent's resolution is the merge of main into its lane (car left the conflict, it committed)
  const merges = lq.repo.git(['log', '--merges', '--format=%s', 'main']).split('\n');
  assert.ok(merges.includes(`resolve the merge for ${loser}`), merges.join('\n'));
});

function at(evs: Event[], type: string, name: string): number {
  return evs.findIndex((e) => e.type === type && ofTicket(e, name));
}

function merged(evs: Event[], name: string): number {
  return at(evs, 'lane_merged', name);
}
