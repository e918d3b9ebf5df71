// The hub queue on PostgreSQL (issue 23), through the adapter `car hub run` and `car worker --hub-queue`
// use, against a throwaway local cluster (test/helpers/postgres.ts; skipped without Debian's package).
// Prints (1) jobs/s through the queue: N repo jobs enqueued, then W workers each taking, heartbeating once
// and completing jobs until none is left (the queue's own cost; a real job lasts a whole run), and
// (2) lease takeover time: a worker holding a job stops heartbeating (as a killed one does) and another,
// looking every 100 ms, takes it over; the time from the last heartbeat to the takeover, beside the
// lease. Target: takeover ≤ lease + 2 s.
// Run: node --import tsx bench/hub-queue.ts [jobs=400] [workers=4] [lease=3]
import { pathToFileURL } from 'node:url';
import type { HubJobPayload, HubQueueWorker } from '../src/control/hub-queue.ts';
import { initPgQueue, openHubQueue, openQueueWorker } from '../src/integrations/pg-queue/pg-boss-queue.ts';
import { postgresMissing, startPostgres } from '../test/helpers/postgres.ts';

function payload(repo: string, lease: number): HubJobPayload {
  return {
    repo_id: repo,
    remote_url: `/srv/git/${repo}.git`,
    base_branch: 'main',
    result_branch: `car/hub/${repo}`,
    lease_seconds: lease,
    heartbeat_seconds: lease / 4,
  };
}

export async function main(argv: string[] = []): Promise<void> {
  const missing = postgresMissing();
  if (missing) {
    console.log(`hub-queue: skipped, ${missing}`);
    return;
  }
  const jobs = Number(argv[0] ?? 400);
  const workers = Number(argv[1] ?? 4);
  const lease = Number(argv[2] ?? 3);
  const cluster = await startPostgres();
  const closers: (() => Promise<void>)[] = [];
  try {
    const db = await cluster.createDatabase('bench');
    await initPgQueue(cluster.url(db));
    const hub = await openHubQueue({ url: cluster.url(db) });
    closers.push(() => hub.close());
    const ws: HubQueueWorker[] = [];
    for (let i = 0; i < workers; i++) {
      const w = await openQueueWorker(
        { url: cluster.url(db) },
        { name: `w${i}`, host: 'bench', pid: process.pid },
      );
      closers.push(() => w.close());
      ws.push(w);
    }

    // (1) throughput: enqueue, then take + heartbeat + complete with every worker at once
    let t0 = performance.now();
    for (let i = 0; i < jobs; i++) await hub.enqueue(payload(`repo-${i}`, 60));
    const enqueueMs = performance.now() - t0;
    t0 = performance.now();
    let done = 0;
    await Promise.all(
      ws.map(async (w) => {
        for (;;) {
          const job = await w.take();
          if (!job) return;
          await w.heartbeat(job, null, []);
          await w.complete(job, {
            run_id: null,
            status: 'completed',
            reason_code: 'all_done',
            message: null,
          });
          done++;
        }
      }),
    );
    const workMs = performance.now() - t0;
    console.log(
      `enqueue: ${jobs} jobs in ${enqueueMs.toFixed(0)} ms (${((jobs / enqueueMs) * 1000).toFixed(0)} jobs/s, one hub)`,
    );
    console.log(
      `take + heartbeat + complete: ${done} jobs in ${workMs.toFixed(0)} ms with ${workers} workers (${((done / workMs) * 1000).toFixed(0)} jobs/s)`,
    );

    // (2) lease takeover: the holder's last heartbeat, then another worker's first successful take
    const takeovers: number[] = [];
    for (let round = 0; round < 3; round++) {
      const id = await hub.enqueue(payload(`takeover-${round}`, lease));
      const [a, b] = [ws[0]!, ws[1]!];
      const held = await a.take();
      if (!held || held.id !== id) throw new Error('the holder did not get the job');
      await a.heartbeat(held, null, []);
      const lastBeat = performance.now();
      for (;;) {
        const got = await b.take();
        if (got) {
          takeovers.push((performance.now() - lastBeat) / 1000);
          await b.complete(got, { run_id: null, status: 'completed', reason_code: null, message: null });
          break;
        }
        await new Promise((r) => setTimeout(r, 100));
      }
    }
    console.log(
      `lease takeover (lease ${lease} s): ${takeovers.map((s) => `${s.toFixed(2)} s`).join(', ')} from the last heartbeat to another worker's take`,
    );
  } finally {
    for (const c of closers.reverse()) await c().catch(() => {});
    cluster.stop();
  }
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href)
  await main(process.argv.slice(2));
