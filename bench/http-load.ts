// `car serve` under load (issue 28). The bundled server on a generated repo (500, then 5,000 tickets,
// and a completed run of 100k events), driven by autocannon: 32 keep-alive clients, each cycling through
// the mixed read set GET /api/tickets, /api/flow/status, /api/runs, /api/runs/<id>/events?limit=200.
//   alone       each route on its own, one client, one request at a time (median)
//   plain       every request answered in full
//   revalidate  every request sends the ETag it got before (If-None-Match: 304 while unchanged)
//   with SSE    plain, while 100 SSE clients replay the run from the start, over and over
// and the server's peak RSS (the kernel's VmHWM). Targets at 500 tickets: >= 2,000 requests/s with
// p99 <= 50 ms, the same p99 with the SSE clients, peak RSS <= 200 MiB.
// Run: node --import tsx bench/http-load.ts
//   CAR_BENCH_BUNDLE=<car.js of another build>  measures that build on the same repos
//   CAR_BENCH_LOAD_SECONDS                      each round's length (default 10)
//   CAR_BENCH_TICKETS                           the repo sizes, comma-separated (default 500,5000)
import type { ChildProcess } from 'node:child_process';
import { readFileSync, rmSync } from 'node:fs';
import { cpus, loadavg, totalmem } from 'node:os';
import { pathToFileURL } from 'node:url';
import { Worker } from 'node:worker_threads';
import autocannon from 'autocannon';
import { CLK_TCK, cpuTicks, rssMiB, startServe, writeBigRun } from './serve.ts';
import { BUNDLE, ensureBundle, makeBenchRepo } from './ticket-list.ts';

const CLIENTS = 32;
const SSE_CLIENTS = 100;
const RUN_EVENTS = 100_000;

function peakRssMiB(pid: number): number {
  const kb = /VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1];
  return Number(kb) / 1024;
}

function readSet(runId: string): string[] {
  return ['/api/tickets', '/api/flow/status', '/api/runs', `/api/runs/${runId}/events?limit=200`];
}

interface Round {
  rps: number;
  /** The server's CPU time per request (user + system), ms: what a request costs whatever else runs. */
  cpuMs: number;
  /** The server's largest RSS seen during the round (sampled every 50 ms), MiB. */
  rssMiB: number;
  p50: number;
  p99: number;
  max: number;
  statuses: string;
  failures: number;
}

async function load(
  server: { url: string; pid: number },
  paths: string[],
  seconds: number,
  etags?: Map<string, string>,
): Promise<Round> {
  const requests = paths.map((path) => {
    const etag = etags?.get(path);
    return etag ? { path, headers: { 'if-none-match': etag } } : { path };
  });
  const ticks = cpuTicks(server.pid);
  let rss = rssMiB(server.pid);
  const sampler = setInterval(() => {
    rss = Math.max(rss, rssMiB(server.pid));
  }, 50);
  const r = await autocannon({
    url: server.url,
    connections: CLIENTS,
    duration: seconds,
    requests,
    timeout: 30,
  });
  clearInterval(sampler);
  return {
    rssMiB: rss,
    rps: r.requests.total / r.duration,
    cpuMs: (((cpuTicks(server.pid) - ticks) / CLK_TCK) * 1000) / r.requests.total,
    p50: r.latency.p50,
    p99: r.latency.p99,
    max: r.latency.max,
    statuses: Object.entries(r.statusCodeStats)
      .map(([code, s]) => `${s.count} × ${code}`)
      .join(', '),
    failures: r.errors + r.timeouts,
  };
}

const show = (r: Round) =>
  `${r.rps.toFixed(0)} requests/s, p50 ${r.p50} ms, p99 ${r.p99} ms, max ${r.max} ms, ` +
  `server CPU ${r.cpuMs.toFixed(2)} ms/request, RSS up to ${r.rssMiB.toFixed(0)} MiB (${r.statuses}` +
  `${r.failures > 0 ? `; ${r.failures} errors or timeouts` : ''})`;

/** Each route alone: median of `n` sequential requests, ms. */
async function alone(url: string, path: string, n = 21): Promise<number> {
  const times: number[] = [];
  for (let i = 0; i < n; i++) {
    const t0 = performance.now();
    const res = await fetch(url + path);
    await res.arrayBuffer();
    times.push(performance.now() - t0);
    if (res.status !== 200) throw new Error(`GET ${path} answered ${res.status}`);
  }
  times.sort((a, b) => a - b);
  return times[Math.floor(n / 2)]!;
}

// SSE readers in a worker thread of their own, so their reading does not sit in the load client's loop.
const SSE_WORKER = `
const { workerData, parentPort } = require('node:worker_threads');
const http = require('node:http');
const { url, clients } = workerData;
let bytes = 0, replays = 0, open = 0;
function follow() {
  const req = http.get(url, { agent: false }, (res) => {
    open++;
    res.on('data', (chunk) => { bytes += chunk.length; });
    res.on('close', () => { open--; if (res.complete) replays++; setImmediate(follow); });
  });
  req.on('error', () => setTimeout(follow, 100));
}
for (let i = 0; i < clients; i++) follow();
parentPort.on('message', () => parentPort.postMessage({ bytes, replays, open }));
`;

interface SseStats {
  bytes: number;
  replays: number;
  open: number;
}

function sseStats(worker: Worker): Promise<SseStats> {
  return new Promise((resolve, reject) => {
    const failed = (err: unknown) =>
      reject(err instanceof Error ? err : new Error(`SSE worker exited ${err}`));
    worker.once('error', failed).once('exit', failed);
    worker.once('message', (stats: SseStats) => {
      worker.off('error', failed).off('exit', failed);
      resolve(stats);
    });
    worker.postMessage('stats');
  });
}

async function withSse<T>(streamUrl: string, during: () => Promise<T>): Promise<{ result: T; sse: string }> {
  const worker = new Worker(SSE_WORKER, { eval: true, workerData: { url: streamUrl, clients: SSE_CLIENTS } });
  try {
    // every client connected and streaming before the round starts (a build that cannot get there in
    // 30 s is measured with the clients it has)
    const deadline = Date.now() + 30_000;
    for (let stats = await sseStats(worker); stats.open < SSE_CLIENTS || stats.bytes === 0; ) {
      if (Date.now() > deadline) break;
      await new Promise((r) => setTimeout(r, 50));
      stats = await sseStats(worker);
    }
    const before = await sseStats(worker);
    const t0 = performance.now();
    const result = await during();
    const after = await sseStats(worker);
    const seconds = (performance.now() - t0) / 1000;
    const mib = (after.bytes - before.bytes) / 1024 / 1024;
    return {
      result,
      sse:
        `${before.open} of ${SSE_CLIENTS} SSE clients connected, receiving ${(mib / seconds).toFixed(1)} MiB/s ` +
        `meanwhile (${after.replays - before.replays} whole replays of ${RUN_EVENTS / 1000}k events)`,
    };
  } finally {
    await worker.terminate();
  }
}

async function bench(tickets: number, bundle: string, seconds: number): Promise<void> {
  const dir = makeBenchRepo(tickets);
  let child: ChildProcess | undefined;
  try {
    const runId = writeBigRun(dir, RUN_EVENTS);
    const served = await startServe(dir, bundle);
    child = served.child;
    const { url } = served;
    const pid = child.pid!;
    const server = { url, pid };
    const paths = readSet(runId);
    const etags = new Map<string, string>();
    for (const path of paths) {
      const res = await fetch(url + path);
      await res.arrayBuffer();
      const etag = res.headers.get('etag');
      if (etag) etags.set(path, etag);
    }
    console.log(
      `-- ${tickets} tickets, a run of ${RUN_EVENTS / 1000}k events (RSS ${rssMiB(pid).toFixed(0)} MiB warm)`,
    );
    const each: string[] = [];
    for (const path of paths)
      each.push(`${path.replace(runId, '<id>')} ${(await alone(url, path)).toFixed(1)} ms`);
    console.log(`alone:      ${each.join(', ')}`);
    console.log(`plain:      ${show(await load(server, paths, seconds))}`);
    if (etags.size > 0) console.log(`revalidate: ${show(await load(server, paths, seconds, etags))}`);
    else console.log('revalidate: (this build sends no ETags)');
    const sse = await withSse(`${url}/api/runs/${runId}/stream?after=0`, () => load(server, paths, seconds));
    console.log(`with SSE:   ${show(sse.result)}; ${sse.sse}`);
    console.log(`peak RSS:   ${peakRssMiB(pid).toFixed(0)} MiB`);
  } finally {
    if (child) {
      const exited = new Promise((r) => child!.once('exit', r));
      child.kill('SIGTERM');
      await exited;
    }
    rmSync(dir, { recursive: true, force: true });
  }
}

export async function main(): Promise<void> {
  const bundle = process.env.CAR_BENCH_BUNDLE ?? BUNDLE;
  if (bundle === BUNDLE) ensureBundle();
  const seconds = Number(process.env.CAR_BENCH_LOAD_SECONDS ?? 10) || 10;
  const cpu = cpus();
  console.log(
    `machine: ${cpu.length} x ${cpu[0]?.model ?? '?'}, ${(totalmem() / 2 ** 30).toFixed(0)} GiB, node ${process.version}, ` +
      `load average ${loadavg()[0]!.toFixed(2)}; build ${bundle}; ${CLIENTS} clients, ${seconds} s rounds`,
  );
  const sizes = (process.env.CAR_BENCH_TICKETS ?? '500,5000').split(',').map(Number);
  for (const tickets of sizes) await bench(tickets, bundle, seconds);
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) await main();
