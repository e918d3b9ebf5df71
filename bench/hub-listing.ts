// Hub listing latency: `GET /api/hub/repos` (what `car hub status --json` also prints) over a hub of
// 50 repos, each with a run store holding several runs (the latest one running, with a few thousand
// events), a live worker lock and 6 tickets. CAR took 7-30 s for its hub snapshot (CAR#1367, #1479);
// the target is well under 100 ms. Warm: the server's status reader (connections, ticket cache) is
// reused, as in `car serve`. Cold: a fresh reader per request, as in one `car hub status --json`.
// Run: node --import tsx bench/hub-listing.ts
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { workerPurpose } from '../src/control/flow-control.ts';
import { initHub } from '../src/core/hub/init.ts';
import { emptyManifest, writeManifest } from '../src/core/hub/manifest.ts';
import { HubStatusReader } from '../src/core/hub/status.ts';
import { initRepo } from '../src/core/init.ts';
import { acquireLock, type LockHandle } from '../src/core/lock.ts';
import { repoPaths } from '../src/core/paths.ts';
import { openRunStore } from '../src/core/store/run-store.ts';
import { newTicketId, renderNewTicket } from '../src/core/tickets/index.ts';
import { createApp } from '../src/surfaces/http/app.ts';
import { hubStatusReport, openHubAt } from '../src/surfaces/hub-report.ts';

export interface HubListingResult {
  repos: number;
  requests: number;
  p50Ms: number;
  p99Ms: number;
  coldP50Ms: number;
  coldP99Ms: number;
}

const REPOS = 50;
const REQUESTS = 50;

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)] ?? Number.NaN;
}

export function buildHub(root: string): LockHandle[] {
  initHub(root);
  const manifest = emptyManifest();
  const locks: LockHandle[] = [];
  for (let i = 0; i < REPOS; i++) {
    const id = `repo-${String(i).padStart(2, '0')}`;
    const dir = join(root, 'repos', id);
    mkdirSync(dir, { recursive: true });
    initRepo(dir);
    const paths = repoPaths(dir);
    for (let t = 1; t <= 6; t++) {
      const text = renderNewTicket(
        { ticket_id: newTicketId(), agent: 'codex', done: t <= 2, title: `Ticket ${t} of ${id}` },
        '## Tasks\n- do the thing\n\n## Acceptance criteria\n- it is done\n',
      );
      writeFileSync(join(paths.ticketsDir, `TICKET-${String(t * 10).padStart(3, '0')}.md`), text);
    }
    const store = openRunStore(paths.dbFile);
    let last = '';
    for (let r = 0; r < 5; r++) {
      const run = store.createRun({
        state: { totalTurns: r * 3, ticket: { path: '.codex-autorunner/tickets/TICKET-030.md' } },
      });
      store.updateRun(run.id, {
        status: r < 4 ? 'completed' : 'running',
        startedAt: new Date().toISOString(),
      });
      store.appendEvents(
        run.id,
        Array.from({ length: 600 }, (_, k) => ({
          type: k % 3 === 0 ? 'tool_call' : 'agent_delta',
          data: { k, text: 'x'.repeat(120) },
        })),
      );
      last = run.id;
    }
    store.close();
    locks.push(acquireLock(paths.lockFile, { purpose: workerPurpose(last) }));
    manifest.repos.push({
      id,
      path: `repos/${id}`,
      enabled: true,
      auto_run: false,
      kind: 'base',
      display_name: id,
      extra: {},
    });
  }
  writeManifest(join(root, '.codex-autorunner', 'manifest.yml'), manifest);
  return locks;
}

export async function listing(): Promise<HubListingResult> {
  const root = mkdtempSync(join(tmpdir(), 'car-bench-hub-'));
  const locks = buildHub(root);
  const app = createApp({ root });
  try {
    const first = await app.request('/api/hub/repos');
    const body = (await first.json()) as { repos: { state: string }[] };
    if (
      first.status !== 200 ||
      body.repos.length !== REPOS ||
      body.repos.some((r) => r.state !== 'running')
    ) {
      throw new Error(`unexpected listing: ${first.status} ${JSON.stringify(body).slice(0, 300)}`);
    }
    const warm: number[] = [];
    for (let i = 0; i < REQUESTS; i++) {
      const t0 = performance.now();
      const res = await app.request('/api/hub/repos');
      await res.arrayBuffer();
      warm.push(performance.now() - t0);
    }
    const hub = openHubAt(root, process.env);
    const cold: number[] = [];
    for (let i = 0; i < REQUESTS; i++) {
      const t0 = performance.now();
      const reader = new HubStatusReader();
      JSON.stringify(hubStatusReport(hub, reader));
      reader.close();
      cold.push(performance.now() - t0);
    }
    warm.sort((a, b) => a - b);
    cold.sort((a, b) => a - b);
    const r2 = (n: number) => Math.round(n * 100) / 100;
    return {
      repos: REPOS,
      requests: REQUESTS,
      p50Ms: r2(percentile(warm, 50)),
      p99Ms: r2(percentile(warm, 99)),
      coldP50Ms: r2(percentile(cold, 50)),
      coldP99Ms: r2(percentile(cold, 99)),
    };
  } finally {
    app.close();
    for (const l of locks) l.release();
    rmSync(root, { recursive: true, force: true });
  }
}

export async function main(): Promise<HubListingResult> {
  const cpu = cpus();
  console.log(`machine: ${cpu.length} x ${cpu[0]?.model ?? 'unknown cpu'}, node ${process.version}`);
  const result = await listing();
  console.log(`hub listing (${result.repos} repos): p50 ${result.p50Ms} ms, p99 ${result.p99Ms} ms`);
  console.log(
    `hub status, fresh reader per call (${result.repos} repos): p50 ${result.coldP50Ms} ms, p99 ${result.coldP99Ms} ms`,
  );
  return result;
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) await main();
