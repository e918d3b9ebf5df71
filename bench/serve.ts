// `car serve` costs: (a) idle CPU% and RSS of the real bundled server with one repo over a window
// (default 60 s; CAR_BENCH_IDLE_SECONDS shortens it), (b) RSS while a 100k-event run is paged through
// the API and streamed over SSE. Run: node --import tsx bench/serve.ts
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { initRepo } from '../src/core/init.ts';
import { repoPaths } from '../src/core/paths.ts';
import { openRunStore } from '../src/core/store/run-store.ts';
import { BUNDLE, ensureBundle } from './ticket-list.ts';

export const CLK_TCK = 100; // Linux USER_HZ

export function cpuTicks(pid: number): number {
  // fields after the command name: utime is the 14th, stime the 15th of /proc/<pid>/stat
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return Number(fields[11]) + Number(fields[12]);
}

export function rssMiB(pid: number): number {
  const kb = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1];
  return Number(kb) / 1024;
}

/** `car serve --port 0` of `bundle` on `root`; resolves with the URL it prints. */
export async function startServe(
  root: string,
  bundle = BUNDLE,
): Promise<{ child: ChildProcess; url: string }> {
  const child = spawn(process.execPath, [bundle, '--repo', root, 'serve', '--port', '0', '--quiet'], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const url = await new Promise<string>((resolve, reject) => {
    let out = '';
    child.stdout!.on('data', (chunk: Buffer) => {
      out += chunk.toString();
      const match = /at (http:\/\/\S+)\/api/.exec(out);
      if (match) resolve(match[1]!);
    });
    child.on('exit', (code) => reject(new Error(`car serve exited ${code}: ${out}`)));
  });
  return { child, url };
}

function makeRepo(): string {
  const dir = mkdtempSync(join(tmpdir(), 'car-bench-serve-'));
  execFileSync('git', ['init', '-q'], { cwd: dir });
  initRepo(dir);
  return dir;
}

/** Spawn to the first 200 from the API (CAR's "web server start → first 200"), median of `runs`. */
async function startToFirst200(runs = 7): Promise<string> {
  const dir = makeRepo();
  const times: number[] = [];
  try {
    for (let i = 0; i < runs; i++) {
      const t0 = performance.now();
      const { child, url } = await startServe(dir);
      const res = await fetch(`${url}/api/tickets`);
      if (res.status !== 200) throw new Error(`GET /api/tickets answered ${res.status}`);
      await res.arrayBuffer();
      times.push(performance.now() - t0);
      const exited = new Promise((r) => child.once('exit', r));
      child.kill('SIGTERM');
      await exited;
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  times.sort((a, b) => a - b);
  const median = times[Math.floor(times.length / 2)]!;
  return `car serve start to first 200 (GET /api/tickets): median ${median.toFixed(0)} ms of ${runs} (CAR: 4440 ms)`;
}

async function idle(seconds: number): Promise<string> {
  const dir = makeRepo();
  const { child } = await startServe(dir);
  try {
    await new Promise((r) => setTimeout(r, 2000)); // let start-up settle
    const pid = child.pid!;
    const before = cpuTicks(pid);
    const started = performance.now();
    await new Promise((r) => setTimeout(r, seconds * 1000));
    const elapsed = (performance.now() - started) / 1000;
    const cpu = ((cpuTicks(pid) - before) / CLK_TCK / elapsed) * 100;
    return `idle car serve (1 repo, ${seconds} s): CPU ${cpu.toFixed(2)} %, RSS ${rssMiB(pid).toFixed(1)} MiB`;
  } finally {
    child.kill('SIGTERM');
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Adds a completed run of `events` agent_delta events to the repo's store; returns its id. */
export function writeBigRun(dir: string, events: number): string {
  const store = openRunStore(repoPaths(dir).dbFile, { maxEventsPerType: events });
  const run = store.createRun({});
  const batch = Array.from({ length: 500 }, (_, i) => ({
    type: 'agent_delta',
    data: { text: `line ${i} of the agent's output, long enough to look like real streamed text` },
  }));
  for (let n = 0; n < events; n += batch.length) store.appendEvents(run.id, batch);
  store.updateRun(run.id, { status: 'completed' });
  store.close();
  return run.id;
}

async function bigRun(events: number): Promise<string> {
  const dir = makeRepo();
  const runId = writeBigRun(dir, events);
  const { child, url } = await startServe(dir);
  try {
    const pid = child.pid!;
    const idleRss = rssMiB(pid);
    let peak = idleRss;
    const sample = setInterval(() => {
      peak = Math.max(peak, rssMiB(pid));
    }, 20);
    const t0 = performance.now();
    let after = 0;
    let seen = 0;
    for (;;) {
      const res = await fetch(`${url}/api/runs/${runId}/events?after=${after}&limit=1000`);
      const body = (await res.json()) as { events: { seq: number }[] };
      if (body.events.length === 0) break;
      seen += body.events.length;
      after = body.events.at(-1)!.seq;
    }
    const paged = performance.now() - t0;
    const t1 = performance.now();
    const stream = await fetch(`${url}/api/runs/${runId}/stream?after=0`);
    const streamed = ((await stream.text()).match(/^id: /gm) ?? []).length;
    const sse = performance.now() - t1;
    clearInterval(sample);
    peak = Math.max(peak, rssMiB(pid));
    if (seen !== events || streamed !== events)
      throw new Error(`saw ${seen} paged / ${streamed} streamed of ${events}`);
    return (
      `${events / 1000}k-event run through the API: RSS ${idleRss.toFixed(1)} MiB idle, peak ${peak.toFixed(1)} MiB; ` +
      `paged in ${(paged / 1000).toFixed(2)} s (pages of 1000), streamed over SSE in ${(sse / 1000).toFixed(2)} s`
    );
  } finally {
    child.kill('SIGTERM');
    rmSync(dir, { recursive: true, force: true });
  }
}

export async function main(): Promise<void> {
  ensureBundle();
  console.log(`machine: ${cpus().length} x ${cpus()[0]?.model ?? '?'}, node ${process.version}`);
  console.log(await startToFirst200());
  console.log(await idle(Number(process.env.CAR_BENCH_IDLE_SECONDS ?? 60) || 60));
  console.log(await bigRun(100_000));
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) await main();
