// The hot path with real agents, offline: N tickets through `car run` (the built CLI) against the agent's
// own one-shot mode on the same tickets and the same scripted model, interleaved, plus the per-phase
// timeline of car's run from its events. Never a timed test; figures go to docs/PERFORMANCE.md.
//
//   codex:  the real `codex app-server` (pinned @openai/codex) through car vs `codex exec --json` per
//           ticket, both against the local fake Responses API (test/fakes/responses-api.ts).
//   claude: the real claude-agent-acp (ACP) through car vs `claude -p` (the Claude Code CLI it bundles)
//           per ticket, both against the local fake Anthropic API (test/fakes/anthropic-api.ts).
//
// The fake model runs one shell command per ticket (write a file, set `done: true`, commit), then answers.
// Phases, from the run's events (ms resolution): select → turn start (session start), turn start → turn
// end (the agent's own turn), turn end → done (filing, verify gate, evidence), done → next select. "car's
// added time per ticket" is, for tickets 2..N, ticket_done(k-1) → ticket_done(k) minus ticket k's turn.
//
// Run: node --import tsx bench/agent-hot-path.ts [--tickets 5] [--reps 3] [--only codex|claude]
//        [--car path/to/car.js]       (another build than dist/car.js)
//        [--compare path/to/car.js]   (a second build, e.g. an older commit's: its samples are taken
//                                      interleaved with the first's, and reported after them)
//      CAR_BENCH_EVENTS=1             also prints every event of each run with its time
import { spawn } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import Database from 'better-sqlite3';
import {
  type AnthropicReply,
  claudeOfflineEnv,
  hasToolResult,
  type MessagesBody,
  startFakeAnthropicApi,
} from '../test/fakes/anthropic-api.ts';
import { codexQueue, TICKETS_DIR, WORK_COMMAND } from '../test/helpers/codex-queue.ts';
import { makeGitRepo } from '../test/helpers/git-repo.ts';
import { ensureBundle } from './ticket-list.ts';

const ROOT = resolve(import.meta.dirname, '..');
const NODE_BIN = join(ROOT, 'node_modules/.bin');
const CLAUDE_CODE_CLI = join(ROOT, 'node_modules/@anthropic-ai/claude-agent-sdk/cli.js');

interface Args {
  tickets: number;
  reps: number;
  only: 'codex' | 'claude' | null;
  car: string;
  compare: string | null;
}

function parseArgs(argv: string[]): Args {
  const args: Args = { tickets: 5, reps: 3, only: null, car: join(ROOT, 'dist/car.js'), compare: null };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const v = argv[i + 1];
    if (a === '--tickets') args.tickets = Math.max(2, Number(v));
    else if (a === '--reps') args.reps = Math.max(1, Number(v));
    else if (a === '--only') args.only = v === 'claude' ? 'claude' : 'codex';
    else if (a === '--car') args.car = resolve(v ?? '');
    else if (a === '--compare') args.compare = resolve(v ?? '');
    else continue;
    i++;
  }
  return args;
}

interface Spawned {
  code: number | null;
  ms: number;
  stdout: string;
  stderr: string;
  /** ms from spawn to the first stdout line matching `mark`, if given and seen. */
  markMs: number | null;
  /** Date.now() at spawn. */
  startedAt: number;
}

function run(argv: string[], opts: { cwd: string; env: NodeJS.ProcessEnv; mark?: RegExp }): Promise<Spawned> {
  const t0 = performance.now();
  const startedAt = Date.now();
  const child = spawn(argv[0]!, argv.slice(1), {
    cwd: opts.cwd,
    env: opts.env,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  let markMs: number | null = null;
  child.stdout.on('data', (c: Buffer) => {
    stdout += c.toString('utf8');
    if (markMs === null && opts.mark?.test(stdout)) markMs = performance.now() - t0;
  });
  child.stderr.on('data', (c: Buffer) => {
    stderr += c.toString('utf8');
  });
  return new Promise((res) => {
    child.on('close', (code) => res({ code, ms: performance.now() - t0, stdout, stderr, markMs, startedAt }));
  });
}

interface Timeline {
  /** car's process start → first ticket_selected. */
  toFirstSelect: number;
  /** car's process start → first turn_started. */
  toFirstTurn: number;
  /** car's process start → the agent's first request to the model (when the fake model is known). */
  toFirstModelCall?: number;
  /** Per ticket: select → turn start, the turn, turn end → done, done → next select (or run end). */
  tickets: { selToTurn: number; turn: number; turnToDone: number; doneToNext: number }[];
  /** Tickets 2..N: done(k-1) → done(k) minus turn k. */
  added: number[];
  /** Last ticket_done → the process exited. */
  doneToExit: number;
  wall: number;
  turns: number;
}

interface EventRow {
  type: string;
  at: string;
}

function timeline(db: string, startedAt: number, exitedAt: number): Timeline {
  const conn = new Database(db, { readonly: true });
  if (process.env.CAR_BENCH_EVENTS) {
    // every event of the run, ms after the first: where a phase's time went
    const all = conn
      .prepare(`SELECT type, at FROM events WHERE run_id = (${LAST_RUN}) ORDER BY seq`)
      .all() as EventRow[];
    const t0 = Date.parse(all[0]?.at ?? '');
    for (const e of all) console.log(`    ${String(Date.parse(e.at) - t0).padStart(6)} ms  ${e.type}`);
  }
  const rows = conn
    .prepare(
      `SELECT type, at FROM events WHERE run_id = (${LAST_RUN}) AND type IN ('ticket_selected','turn_started','turn_finished','ticket_done','flow_completed') ORDER BY seq`,
    )
    .all() as EventRow[];
  conn.close();
  const t = (r: EventRow) => Date.parse(r.at);
  const sel = rows.filter((r) => r.type === 'ticket_selected').map(t);
  const ts = rows.filter((r) => r.type === 'turn_started').map(t);
  const tf = rows.filter((r) => r.type === 'turn_finished').map(t);
  const done = rows.filter((r) => r.type === 'ticket_done').map(t);
  const end = rows.filter((r) => r.type === 'flow_completed').map(t)[0] ?? exitedAt;
  if (ts.length !== sel.length)
    throw new Error(`expected one turn per ticket: ${ts.length} turns, ${sel.length} tickets`);
  const tickets = sel.map((s, k) => ({
    selToTurn: ts[k]! - s,
    turn: tf[k]! - ts[k]!,
    turnToDone: done[k]! - tf[k]!,
    doneToNext: (sel[k + 1] ?? end) - done[k]!,
  }));
  const added = done.slice(1).map((d, i) => d - done[i]! - (tf[i + 1]! - ts[i + 1]!));
  return {
    toFirstSelect: sel[0]! - startedAt,
    toFirstTurn: ts[0]! - startedAt,
    tickets,
    added,
    doneToExit: exitedAt - done.at(-1)!,
    wall: exitedAt - startedAt,
    turns: ts.length,
  };
}

/** The run of the last `car run` (the database keeps the runs before it). */
const LAST_RUN = 'SELECT id FROM runs ORDER BY created_at DESC, rowid DESC LIMIT 1';

interface Sample {
  car: Timeline;
  /** The same queue again in the same folder (car has run there before: a warm start), if measured. */
  again?: Timeline;
  /** The one-shot mode: per ticket, spawn → exit, and spawn → its first turn marker. */
  oneShot: { ms: number; startMs: number | null; modelMs?: number }[];
}

/** ms from `since` to the first request the fake model got after it, if any. */
function firstModelCall(fake: { requests: { at: number }[] }, since: number): number | undefined {
  const at = fake.requests.find((r) => r.at >= since)?.at;
  return at === undefined ? undefined : at - since;
}

async function carRun(
  carJs: string,
  cwd: string,
  env: NodeJS.ProcessEnv,
  n: number,
  fake?: { requests: { at: number }[] },
): Promise<Timeline> {
  const t0 = Date.now();
  const r = await run([process.execPath, carJs, 'run'], { cwd, env });
  const exited = Date.now();
  if (r.code !== 0 || !/run completed \(all_done\)/.test(r.stdout)) {
    throw new Error(`car run exited ${r.code}:\n${r.stdout}\n${r.stderr}`);
  }
  if (process.env.CAR_BENCH_EVENTS) process.stderr.write(r.stderr);
  const tl = timeline(join(cwd, '.codex-autorunner/car.db'), t0, exited);
  if (tl.tickets.length !== n) throw new Error(`car worked ${tl.tickets.length} tickets, expected ${n}`);
  const toModel = fake && firstModelCall(fake, t0);
  return toModel === undefined ? tl : { ...tl, toFirstModelCall: toModel };
}

const PROMPT =
  'Work the first open ticket in .codex-autorunner/tickets: do its task, set done: true, commit.';

async function codexSample(carJs: string, n: number): Promise<Sample> {
  const q = await codexQueue(n);
  const e = await codexQueue(n);
  try {
    const plan = q.repo.git(['rev-parse', 'HEAD']).trim();
    const car = await carRun(carJs, q.repo.dir, q.env, n, q.fake);
    // the queue as it was, run again where car ran before
    q.repo.git(['reset', '-q', '--hard', plan]);
    q.repo.git(['clean', '-fdq']);
    const again = await carRun(carJs, q.repo.dir, q.env, n, q.fake);
    const oneShot: Sample['oneShot'] = [];
    for (let k = 0; k < n; k++) {
      const r = await run(
        ['codex', 'exec', '--json', '--skip-git-repo-check', '--yolo', '-C', e.repo.dir, PROMPT],
        { cwd: e.repo.dir, env: e.env, mark: /"type":"turn\.started"/ },
      );
      if (r.code !== 0) throw new Error(`codex exec exited ${r.code}: ${r.stderr.slice(-2000)}`);
      const modelMs = firstModelCall(e.fake, r.startedAt);
      oneShot.push({ ms: r.ms, startMs: r.markMs, ...(modelMs === undefined ? {} : { modelMs }) });
    }
    return { car, again, oneShot };
  } finally {
    await q.cleanup();
    await e.cleanup();
  }
}

/** The fake Claude model: the work command through its Bash tool, then a closing line. */
function claudeWorkModel(body: MessagesBody): AnthropicReply {
  if (!body.tools?.some((t) => t.name === 'Bash')) return { text: 'Work the ticket' };
  if (hasToolResult(body)) return { text: 'Ticket done.' };
  return { tool: 'Bash', input: { command: WORK_COMMAND, description: 'Do the ticket and commit' } };
}

async function claudeSample(carJs: string, n: number): Promise<Sample> {
  const api = await startFakeAnthropicApi({ reply: claudeWorkModel });
  const home = mkdtempSync(join(tmpdir(), 'car-bench-claude-'));
  const bin = join(home, 'bin');
  mkdirSync(bin);
  // `claude` is the Claude Code CLI that claude-agent-acp bundles
  writeFileSync(
    join(bin, 'claude'),
    `#!/bin/sh\nexec ${JSON.stringify(process.execPath)} ${JSON.stringify(CLAUDE_CODE_CLI)} "$@"\n`,
  );
  chmodSync(join(bin, 'claude'), 0o755);
  const env: NodeJS.ProcessEnv = {
    PATH: `${bin}:${NODE_BIN}:${process.env.PATH ?? '/usr/bin:/bin'}`,
    HOME: home,
    XDG_CONFIG_HOME: join(home, '.config'),
    XDG_DATA_HOME: join(home, '.local/share'),
    XDG_STATE_HOME: join(home, '.local/state'),
    XDG_CACHE_HOME: join(home, '.cache'),
    NO_COLOR: '1',
    ...claudeOfflineEnv(api.url),
  };
  const repos = [makeGitRepo(), makeGitRepo()];
  try {
    for (const repo of repos) {
      repo.write(
        'codex-autorunner.yml',
        'agents:\n  claude:\n    backend: acp\n    command: [claude-agent-acp]\n',
      );
      const init = await run([process.execPath, carJs, 'init'], { cwd: repo.dir, env });
      if (init.code !== 0) throw new Error(`car init: ${init.stderr}`);
      for (let i = 1; i <= n; i++) {
        const name = `TICKET-${String(i * 10).padStart(3, '0')}.md`;
        repo.write(
          `${TICKETS_DIR}/${name}`,
          `---\nagent: claude\ndone: false\ntitle: Ticket ${i}\n---\n\n## Tasks\n- write work/${name.replace('.md', '.txt')}\n`,
        );
      }
      repo.commitAll('plan');
    }
    const car = await carRun(carJs, repos[0]!.dir, env, n);
    const oneShot: Sample['oneShot'] = [];
    for (let k = 0; k < n; k++) {
      const r = await run(
        [
          'claude',
          '-p',
          '--output-format',
          'stream-json',
          '--verbose',
          '--permission-mode',
          'bypassPermissions',
          PROMPT,
        ],
        { cwd: repos[1]!.dir, env, mark: /"type":"system"/ },
      );
      if (r.code !== 0) throw new Error(`claude -p exited ${r.code}: ${r.stderr.slice(-2000)}`);
      oneShot.push({ ms: r.ms, startMs: r.markMs });
    }
    return { car, oneShot };
  } finally {
    await api.close();
    for (const repo of repos) repo.cleanup();
    rmSync(home, { recursive: true, force: true });
  }
}

const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
};
const range = (xs: number[]): string => {
  const s = [...xs].sort((a, b) => a - b);
  return `${Math.round(median(s))} ms (${Math.round(s[0]!)}–${Math.round(s.at(-1)!)})`;
};

function report(name: string, oneShotName: string, samples: Sample[], n: number): void {
  const cars = samples.map((s) => s.car);
  const first = cars.map((c) => c.tickets[0]!);
  const rest = cars.flatMap((c) => c.tickets.slice(1));
  const shots = samples.flatMap((s) => s.oneShot);
  console.log(
    `\n${name}: ${samples.length} run(s) of ${n} tickets through car run, interleaved with ${oneShotName} per ticket (load average now ${loadavg()[0]!.toFixed(1)})`,
  );
  console.log(`  car run wall, whole queue                 ${range(cars.map((c) => c.wall))}`);
  console.log(
    `  ${oneShotName} per ticket × ${n}              ${range(samples.map((s) => s.oneShot.reduce((a, o) => a + o.ms, 0)))}`,
  );
  console.log(`  car per ticket (wall / N)                 ${range(cars.map((c) => c.wall / n))}`);
  console.log(`  ${oneShotName} per ticket                 ${range(shots.map((o) => o.ms))}`);
  console.log(`  first ticket: car start → turn started    ${range(cars.map((c) => c.toFirstTurn))}`);
  console.log(`    car start → ticket selected             ${range(cars.map((c) => c.toFirstSelect))}`);
  console.log(`    select → turn start                     ${range(first.map((t) => t.selToTurn))}`);
  // the one figure both sides share: when the agent's first request reached the model
  const toModel = (cs: Timeline[]) =>
    cs.flatMap((c) => (c.toFirstModelCall === undefined ? [] : [c.toFirstModelCall]));
  if (toModel(cars).length > 0) {
    console.log(
      `  first ticket: car start → first model request ${range(toModel(cars))}  (a new folder: car's first run)`,
    );
  }
  const again = samples.flatMap((s) => (s.again ? [s.again] : []));
  if (again.length > 0) {
    console.log(`  again where car ran before (warm start):`);
    console.log(`    first ticket: car start → turn started  ${range(again.map((c) => c.toFirstTurn))}`);
    console.log(`    car start → ticket selected             ${range(again.map((c) => c.toFirstSelect))}`);
    console.log(`    whole queue                             ${range(again.map((c) => c.wall))}`);
    if (toModel(again).length > 0) {
      console.log(`    car start → first model request         ${range(toModel(again))}`);
    }
  }
  const starts = shots.map((o) => o.startMs).filter((x): x is number => x !== null);
  if (starts.length > 0) console.log(`  ${oneShotName}: spawn → turn started         ${range(starts)}`);
  const modelMs = (os: Sample['oneShot']) => os.flatMap((o) => (o.modelMs === undefined ? [] : [o.modelMs]));
  if (modelMs(shots).length > 0) {
    console.log(`  ${oneShotName}: spawn → first model request ${range(modelMs(shots))}`);
    console.log(
      `    its first run in a new home             ${range(modelMs(samples.map((s) => s.oneShot[0]!)))}`,
    );
    console.log(
      `    its later runs                          ${range(modelMs(samples.flatMap((s) => s.oneShot.slice(1))))}`,
    );
  }
  console.log('  tickets 2..N:');
  console.log(`    select → turn start                     ${range(rest.map((t) => t.selToTurn))}`);
  console.log(`    the agent's turn                        ${range(rest.map((t) => t.turn))}`);
  console.log(`    turn end → done                         ${range(rest.map((t) => t.turnToDone))}`);
  console.log(
    `    done → next select                      ${range(cars.flatMap((c) => c.tickets.slice(0, -1).map((t) => t.doneToNext)))}`,
  );
  console.log(
    `    car's added time per ticket             ${range(cars.flatMap((c) => c.added))}  (target ≤ 50 ms)`,
  );
  console.log(`  last done → car exited                    ${range(cars.map((c) => c.doneToExit))}`);
}

export async function main(argv: string[] = process.argv.slice(2)): Promise<void> {
  const args = parseArgs(argv);
  if (args.car === join(ROOT, 'dist/car.js')) ensureBundle();
  if (!existsSync(join(NODE_BIN, 'codex'))) throw new Error('the pinned codex is not installed (npm ci)');
  console.log(
    `agent-hot-path: ${args.car}, ${cpus().length} × ${cpus()[0]?.model ?? '?'}, node ${process.version}`,
  );
  const builds = args.compare ? [args.car, args.compare] : [args.car];
  const label = (car: string) => (builds.length > 1 ? ` [${car}]` : '');
  if (args.only !== 'claude') {
    const samples = builds.map((): Sample[] => []);
    for (let r = 0; r < args.reps; r++) {
      for (const [b, car] of builds.entries()) samples[b]!.push(await codexSample(car, args.tickets));
    }
    for (const [b, car] of builds.entries()) {
      report(`codex app-server${label(car)}`, 'codex exec', samples[b]!, args.tickets);
    }
  }
  if (args.only !== 'codex') {
    if (!existsSync(join(NODE_BIN, 'claude-agent-acp')) || !existsSync(CLAUDE_CODE_CLI)) {
      console.log('\nclaude-agent-acp is not installed: skipped');
      return;
    }
    const samples = builds.map((): Sample[] => []);
    for (let r = 0; r < args.reps; r++) {
      for (const [b, car] of builds.entries()) samples[b]!.push(await claudeSample(car, args.tickets));
    }
    for (const [b, car] of builds.entries()) {
      report(`claude-agent-acp (ACP)${label(car)}`, 'claude -p', samples[b]!, args.tickets);
    }
  }
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) await main();
