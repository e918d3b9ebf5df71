// Lanes (issue 16): independent tickets worked side by side through the built CLI, in a real git repo,
// by a command agent whose turn takes 2 s a ticket (a shell script: write a file, set done, commit, sleep the rest).
// Prints the wall time of `car run --lanes N` beside one lane (sequential), the merge queue's time per
// ticket (merge onto the tip, re-verify, move the branch: `lane_merged.ms` shared by the lanes of its
// pass, with no verify commands), and
// the worker's peak RSS at 8 lanes. Targets: 20 tickets × 2 s in 4 lanes ≤ 12 s (ideal 10 s), merge
// overhead ≤ 50 ms a ticket, RSS ≤ 120 MB at 8 lanes.
// Run: node --import tsx bench/lanes.ts [tickets=20] [seconds=2]
//   CAR_BENCH_BUNDLE=<car.js of another build>  measures that build
//   CAR_BENCH_LANES=1,4,8                        the lane counts measured (default 1,4,8)
//   CAR_BENCH_TIMELINE=1                         also prints each lane run's steps, ms after the run began
//   CAR_BENCH_KEEP=1                             keeps the repo (and git-trace.json beside it)
//   CAR_BENCH_NODE_ARGS="--cpu-prof ..."            node flags for the worker (car run)
import { execFileSync, spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import Database from 'better-sqlite3';
import { BUNDLE as BUILT, ensureBundle, percentile } from './ticket-list.ts';

/** The build measured: this tree's, or another's (CAR_BENCH_BUNDLE=<its dist/car.js>) for a comparison. */
const BUNDLE = process.env.CAR_BENCH_BUNDLE ?? BUILT;

// Its turn takes `seconds` in all, its own work included (the "an agent that takes 2 s"): it
// works, then sleeps what is left of that time.
const AGENT = (seconds: number) =>
  [
    'start=$(date +%s%N)',
    `f=$(printf '%s\\n' "$1" | sed -n 's/^Current ticket file: //p' | head -1)`,
    'name=$(basename "$f" .md)',
    'mkdir -p work && echo "$name" > "work/$name.txt"',
    `sed -i 's/^done: false$/done: true/' "$f"`,
    'git add -A && git commit -qm "work on $name"',
    `left=$((start + ${seconds} * 1000000000 - $(date +%s%N)))`,
    'if [ "$left" -gt 0 ]; then sleep "$((left / 1000000000)).$(printf %09d $((left % 1000000000)))"; fi',
    '',
  ].join('\n');

function makeRepo(tickets: number, seconds: number): { dir: string; env: NodeJS.ProcessEnv } {
  const dir = mkdtempSync(join(tmpdir(), 'car-bench-lanes-'));
  const home = join(dir, 'home');
  const repo = join(dir, 'repo');
  mkdirSync(home);
  mkdirSync(repo);
  const env = { ...process.env, HOME: home, GIT_CONFIG_NOSYSTEM: '1' };
  const git = (...args: string[]) => execFileSync('git', args, { cwd: repo, env, stdio: 'ignore' });
  git('init', '-q', '-b', 'main');
  git('config', 'user.name', 'bench');
  git('config', 'user.email', 'bench@example.com');
  git('config', 'commit.gpgsign', 'false');
  execFileSync(process.execPath, [BUNDLE, 'init'], { cwd: repo, env, stdio: 'ignore' });
  writeFileSync(join(dir, 'agent.sh'), AGENT(seconds));
  writeFileSync(
    join(repo, '.codex-autorunner/config.yml'),
    `version: 2\nmode: repo\nagents:\n  script:\n    backend: command\n    format: text\n    command: [sh, ${JSON.stringify(join(dir, 'agent.sh'))}]\n`,
  );
  for (let i = 1; i <= tickets; i++) {
    const name = `TICKET-${String(i).padStart(3, '0')}`;
    writeFileSync(
      join(repo, '.codex-autorunner/tickets', `${name}.md`),
      `---\nticket_id: tkt_${i.toString(16).padStart(32, '0')}\nagent: script\ndone: false\ntitle: ${name}\n---\n\nDo ${name}.\n`,
    );
  }
  git('add', '-A');
  git('commit', '-qm', 'plan');
  return { dir: repo, env };
}

interface Measured {
  wallS: number;
  peakRssMb: number;
  mergeMs: number[];
  /** git processes started during the run (car's and the agent's), from git's own trace. */
  gitProcesses: number;
  /** The worker's own CPU seconds (sampled, so up to 0.1 s short). */
  cpuS: number;
  /** Median of the agent's turns, seconds. */
  turnS: number;
}

/** One `car run --lanes N` to its end, its peak RSS sampled from /proc. */
async function measure(lanes: number, tickets: number, seconds: number): Promise<Measured> {
  const { dir, env } = makeRepo(tickets, seconds);
  try {
    const started = performance.now();
    const spawnedAt = Date.now();
    // git's trace of every process it starts: a count that does not depend on the machine's load
    const trace = join(dir, '..', 'git-trace.json');
    const child = spawn(
      process.execPath,
      [
        ...(process.env.CAR_BENCH_NODE_ARGS ?? '').split(' ').filter(Boolean),
        BUNDLE,
        'run',
        '--lanes',
        String(lanes),
      ],
      {
        cwd: dir,
        env: { ...env, GIT_TRACE2_EVENT: trace },
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    // what car said, for a run that fails (its last few KiB)
    let said = '';
    const keep = (chunk: Buffer) => {
      said = (said + chunk.toString('utf8')).slice(-8192);
    };
    child.stdout.on('data', keep);
    child.stderr.on('data', keep);
    let peak = 0;
    let cpuTicks = 0;
    const sample = setInterval(() => {
      try {
        const status = readFileSync(`/proc/${child.pid}/status`, 'utf8');
        const hwm = /VmHWM:\s+(\d+) kB/.exec(status);
        if (hwm) peak = Math.max(peak, Number(hwm[1]) / 1024);
        // the worker's own CPU (utime + stime), not its children's: what car itself costs
        const stat = readFileSync(`/proc/${child.pid}/stat`, 'utf8');
        const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
        cpuTicks = Number(fields[11]) + Number(fields[12]);
      } catch {
        // gone
      }
    }, 100);
    const code = await new Promise<number | null>((resolve) => child.on('exit', resolve));
    clearInterval(sample);
    const wallS = (performance.now() - started) / 1000;
    const exitedAt = Date.now();
    if (code !== 0) throw new Error(`car run --lanes ${lanes} exited ${code} in ${dir}:\n${said}`);
    const events = execFileSync(
      process.execPath,
      [BUNDLE, 'flow', 'events', '--json', '--type', 'lane_merged'],
      {
        cwd: dir,
        env,
        encoding: 'utf8',
      },
    );
    // a pass that merged several lanes reports its whole time on each: shared between them
    const mergeMs = events
      .split('\n')
      .filter(Boolean)
      .map((l) => (JSON.parse(l) as { data: { ms: number; batch?: number } }).data)
      .map((d) => d.ms / (d.batch ?? 1));
    if (process.env.CAR_BENCH_TIMELINE)
      printTimeline(join(dir, '.codex-autorunner/car.db'), spawnedAt, exitedAt);
    const gitProcesses = readFileSync(trace, 'utf8')
      .split('\n')
      .filter((l) => l.includes('"event":"start"')).length;
    return {
      wallS,
      peakRssMb: peak,
      mergeMs,
      gitProcesses,
      cpuS: cpuTicks / 100,
      turnS: medianTurnS(join(dir, '.codex-autorunner/car.db')),
    };
  } finally {
    if (process.env.CAR_BENCH_KEEP) console.log(`kept ${dir}`);
    else rmSync(join(dir, '..'), { recursive: true, force: true });
  }
}

/** The agent's turns as car saw them (turn_started → turn_finished), median, in seconds. */
function medianTurnS(db: string): number {
  const conn = new Database(db, { readonly: true });
  const rows = conn
    .prepare(
      "SELECT run_id, type, at FROM events WHERE type IN ('turn_started', 'turn_finished') ORDER BY run_id, seq",
    )
    .all() as { run_id: string; type: string; at: string }[];
  conn.close();
  const started = new Map<string, number>();
  const turns: number[] = [];
  for (const r of rows) {
    if (r.type === 'turn_started') started.set(r.run_id, Date.parse(r.at));
    else if (started.has(r.run_id)) turns.push((Date.parse(r.at) - started.get(r.run_id)!) / 1000);
  }
  return percentile(
    [...turns].sort((a, b) => a - b),
    0.5,
  );
}

/** Per lane run (by ticket): when its lane started, its turn began and ended, it was done, queued, merged. */
function printTimeline(db: string, spawnedAt: number, exitedAt: number): void {
  const conn = new Database(db, { readonly: true });
  const rows = conn.prepare('SELECT run_id, type, at, data FROM events ORDER BY at, seq').all() as {
    run_id: string;
    type: string;
    at: string;
    data: string;
  }[];
  conn.close();
  const t0 = Date.parse(rows[0]?.at ?? '');
  const ms = (at: string) => Date.parse(at) - t0;
  const byTicket = new Map<string, Record<string, number>>();
  const ticketOfRun = new Map<string, string>();
  for (const r of rows) {
    const data = JSON.parse(r.data) as { ticket?: string; run_id?: string; tickets?: string[] };
    if (r.type === 'lane_started' && data.ticket && data.run_id) ticketOfRun.set(data.run_id, data.ticket);
    const ticket =
      r.type.startsWith('lane_') && data.ticket ? data.ticket : (ticketOfRun.get(r.run_id) ?? null);
    if (!ticket) continue;
    const steps = byTicket.get(ticket) ?? {};
    const step = {
      lane_started: 'lane',
      turn_started: 'turn',
      turn_finished: 'turn end',
      ticket_done: 'done',
      lane_ended: 'queued',
      lane_merged: 'merged',
    }[r.type];
    if (step && steps[step] === undefined) steps[step] = ms(r.at);
    byTicket.set(ticket, steps);
  }
  const cols = ['lane', 'turn', 'turn end', 'done', 'queued', 'merged'];
  console.log(`  ${'ticket'.padEnd(44)}${cols.map((c) => c.padStart(9)).join('')}`);
  for (const [ticket, steps] of byTicket) {
    console.log(`  ${ticket.padEnd(44)}${cols.map((c) => String(steps[c] ?? '-').padStart(9)).join('')}`);
  }
  const last = rows.at(-1);
  console.log(
    `  car started ${t0 - spawnedAt} ms before its run's first event; exited ${last ? exitedAt - Date.parse(last.at) : '?'} ms after its last (${last?.type})`,
  );
}

export async function main(tickets = 20, seconds = 2): Promise<void> {
  ensureBundle();
  console.log(
    `machine: ${cpus().length} x ${cpus()[0]?.model ?? '?'}, node ${process.version}, load average ${loadavg()[0]!.toFixed(2)}`,
  );
  console.log(`${tickets} independent tickets, an agent that takes ${seconds} s each; build ${BUNDLE}`);
  const counts = (process.env.CAR_BENCH_LANES ?? '1,4,8').split(',').map(Number);
  for (const lanes of counts) {
    const m = await measure(lanes, tickets, seconds);
    const ideal = Math.ceil(tickets / lanes) * seconds;
    const sorted = [...m.mergeMs].sort((a, b) => a - b);
    const merge =
      lanes > 1
        ? `; merge queue per ticket (merge + re-verify + branch move): median ${percentile(sorted, 0.5).toFixed(0)} ms, ` +
          `p90 ${percentile(sorted, 0.9).toFixed(0)} ms (target ≤ 50 ms)`
        : '';
    const target = lanes === 4 ? `, target ≤ ${(ideal * 1.2).toFixed(0)} s` : '';
    console.log(
      `${lanes} lane(s): ${m.wallS.toFixed(1)} s (ideal ${ideal} s${target}; the agent's turn as car saw it: median ${m.turnS.toFixed(2)} s)${merge}; ` +
        `worker peak RSS ${m.peakRssMb.toFixed(0)} MB${lanes === 8 ? ' (target ≤ 120 MB)' : ''}; ` +
        `${(m.gitProcesses / tickets).toFixed(1)} git processes a ticket; worker CPU ${m.cpuS.toFixed(1)} s`,
    );
  }
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const [tickets, seconds] = process.argv.slice(2).map(Number);
  await main(tickets || 20, seconds || 2);
}
