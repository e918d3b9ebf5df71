// The hub queue's lease on a real PostgreSQL server, through the adapter the CLI uses: one job per repo
// at a time; heartbeats keep a job past its lease; a worker that stops heartbeating loses the job to the
// next worker's fetch; the old holder's heartbeat, completion and release are then refused (fenced by the
// attempt), so it can neither extend, end nor give back a job another worker holds. Each worker connects
// as a database role of its own that `initPgQueue` granted.
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import type {
  HubJobPayload,
  HubQueueWorker,
  HubTicketPayload,
  TakenJob,
} from '../../src/control/hub-queue.ts';
import { initPgQueue, openHubQueue, openQueueWorker } from '../../src/integrations/pg-queue/pg-boss-queue.ts';
import { createApp } from '../../src/surfaces/http/app.ts';
import { startChat, withOutput } from '../chat/built-chat.ts';
import { startFakeTelegram } from '../fakes/telegram-api.ts';
import { carEnv, tempHome } from '../helpers/built-car.ts';
import { pgTestFile } from '../helpers/postgres.ts';
import { waitFor } from '../helpers/wait.ts';
import { makeHub } from './helpers.ts';

const { skip, cluster, cleanups } = pgTestFile();

const LEASE = 2;

function payload(repo: string): HubJobPayload {
  return {
    repo_id: repo,
    remote_url: `/srv/git/${repo}.git`,
    base_branch: 'main',
    result_branch: `car/hub/${repo}`,
    lease_seconds: LEASE,
    heartbeat_seconds: 0.5,
  };
}

function ticketPayload(repo: string, coordinator: string, name: string): HubTicketPayload {
  return {
    repo_id: repo,
    remote_url: `/srv/git/${repo}.git`,
    ticket: `.codex-autorunner/tickets/${name}.md`,
    ticket_id: 'tkt_00000000000000000000000000000002',
    coordinator_job: coordinator,
    ticket_branch: `car/hub-tickets/${repo}/${coordinator.slice(0, 8)}/${name}`,
    base_sha: '0'.repeat(40),
    merge_attempt: 0,
    feedback: null,
    lease_seconds: LEASE,
    heartbeat_seconds: 0.5,
  };
}

async function queueDb(): Promise<{ hubUrl: string; workerUrl: (n: number) => string }> {
  const c = cluster();
  const db = await c.createDatabase('lease');
  const roles = [1, 2].map((n) => `${db}_w${n}`);
  for (const r of roles) await c.sql('postgres', `CREATE ROLE ${r} LOGIN PASSWORD 'pw'`);
  await initPgQueue(c.url(db), roles);
  return { hubUrl: c.url(db), workerUrl: (n) => c.url(db, roles[n - 1], 'pw') };
}

async function worker(url: string, name: string): Promise<HubQueueWorker> {
  const w = await openQueueWorker({ url }, { name, host: 'test-host', pid: process.pid });
  cleanups.push(() => w.close());
  return w;
}

/** Fetches until `w` takes a job (failing after 30 s). */
async function takeEventually(w: HubQueueWorker, what: string): Promise<TakenJob> {
  let taken: TakenJob | null = null;
  await waitFor(
    what,
    async () => {
      taken = await w.take();
      return taken !== null;
    },
    30_000,
  );
  return taken as unknown as TakenJob;
}

/** Heartbeats `job` every 0.5 s until `stop` resolves; returns whether every heartbeat held the lease. */
async function keepBeating(w: HubQueueWorker, job: TakenJob, stop: Promise<void>): Promise<boolean> {
  let stopped = false;
  void stop.then(() => {
    stopped = true;
  });
  let held = true;
  while (!stopped) {
    held &&= await w.heartbeat(job, null, []);
    await new Promise((r) => setTimeout(r, 500));
  }
  return held;
}

test('one job per repo; heartbeats keep it past the lease; a silent worker loses it; the old holder is fenced', {
  skip,
}, async () => {
  const { hubUrl, workerUrl } = await queueDb();
  const hub = await openHubQueue({ url: hubUrl });
  cleanups.push(() => hub.close());
  const jobId = await hub.enqueue(payload('alpha'));
  assert.ok(jobId);
  assert.equal(
    await hub.enqueue(payload('alpha')),
    null,
    'a second job for a repo with one queued is refused',
  );

  const w1 = await worker(workerUrl(1), 'w1');
  const w2 = await worker(workerUrl(2), 'w2');
  const job = await w1.take();
  assert.equal(job?.id, jobId);
  assert.equal(job.attempt, 0);
  assert.deepEqual(job.payload, payload('alpha'));
  assert.equal(await w2.take(), null, 'the job is held');

  // as when pg-boss has handed the job out again (a new attempt) and its new holder has not yet written
  // who it is: the mirror still names w1, whose attempt it was, and the hub must not show w1 as holder
  const db = new URL(hubUrl).pathname.slice(1);
  await cluster().sql(db, `UPDATE pgboss.job SET retry_count = retry_count + 1 WHERE id = '${jobId}'`);
  const [between] = await hub.jobs([jobId]);
  assert.deepEqual([between?.state, between?.attempt, between?.worker], ['running', 1, null]);
  await cluster().sql(db, `UPDATE pgboss.job SET retry_count = retry_count - 1 WHERE id = '${jobId}'`);

  // w1 heartbeats through several leases' time while w2 keeps trying to take the job: it never gets it
  let w2Took: TakenJob | null = null;
  const tries = (async () => {
    const until = Date.now() + 3 * LEASE * 1000;
    while (Date.now() < until && !w2Took) {
      w2Took = await w2.take();
      await new Promise((r) => setTimeout(r, 200));
    }
  })();
  assert.equal(await keepBeating(w1, job, tries), true, 'every heartbeat held the lease');
  assert.equal(w2Took, null, 'no other worker took a job whose holder heartbeats');
  const [running] = await hub.jobs([jobId]);
  assert.equal(running?.state, 'running');
  assert.equal(running?.worker, 'w1');

  // w1 goes silent: after the lease, w2 takes the job over as a new attempt
  const takeover = await takeEventually(w2, 'w2 to take the job over');
  assert.equal(takeover.id, jobId);
  assert.equal(takeover.attempt, 1);
  const [moved] = await hub.jobs([jobId]);
  assert.deepEqual([moved?.state, moved?.worker, moved?.attempt], ['running', 'w2', 1]);

  // the old holder can no longer extend, complete or give back the job
  assert.equal(await w1.heartbeat(job, null, []), false);
  assert.equal(
    await w1.complete(job, { run_id: null, status: 'completed', reason_code: null, message: null }),
    false,
  );
  await w1.release(job, 'stale');
  const [still] = await hub.jobs([jobId]);
  assert.deepEqual([still?.state, still?.worker], ['running', 'w2'], 'the stale release changed nothing');

  assert.equal(
    await w2.complete(takeover, {
      run_id: 'run-2',
      status: 'completed',
      reason_code: 'all_done',
      message: null,
    }),
    true,
  );
  const [done] = await hub.jobs([jobId]);
  assert.deepEqual(
    [done?.state, done?.run_status, done?.reason_code, done?.worker],
    ['completed', 'completed', 'all_done', 'w2'],
  );
  // with that job ended, the repo may be queued again
  assert.ok(await hub.enqueue(payload('alpha')));
});

test("only the holder of a repo's coordinator job queues its ticket jobs, one open job per ticket; ticket jobs have leases of their own", {
  skip,
}, async () => {
  const { hubUrl, workerUrl } = await queueDb();
  const hub = await openHubQueue({ url: hubUrl });
  cleanups.push(() => hub.close());
  const jobId = await hub.enqueue(payload('alpha'));
  const w1 = await worker(workerUrl(1), 'w1');
  const w2 = await worker(workerUrl(2), 'w2');
  const coordinator = (await w1.take())!;
  assert.equal(coordinator.id, jobId);
  const first = await w1.enqueueTicket(coordinator, ticketPayload('alpha', coordinator.id, 'TICKET-001'));
  assert.ok(first);
  assert.equal(
    await w1.enqueueTicket(coordinator, ticketPayload('alpha', coordinator.id, 'TICKET-001')),
    null,
    'a ticket with a job open gets no second one',
  );
  assert.equal(await w1.take(), null, 'a ticket job is not a repo job');
  const ticketJob = (await w2.takeTicket())!;
  assert.deepEqual([ticketJob.id, ticketJob.attempt], [first, 0]);
  assert.equal(
    await w2.complete(ticketJob, {
      run_id: 'r',
      status: 'completed',
      reason_code: 'all_done',
      message: null,
    }),
    true,
  );
  const [view] = await w1.ticketJobs(coordinator);
  assert.deepEqual(
    [view?.job_id, view?.state, view?.status, view?.worker],
    [first, 'completed', 'completed', 'w2'],
  );

  // w1 goes silent: w2 takes the coordinator over; w1 can no longer queue a ticket job, w2 can
  const takeover = await takeEventually(w2, 'w2 to take the coordinator over');
  assert.deepEqual([takeover.id, takeover.attempt], [jobId, 1]);
  assert.equal(
    await w1.enqueueTicket(coordinator, ticketPayload('alpha', coordinator.id, 'TICKET-002')),
    false,
  );
  assert.ok(await w2.enqueueTicket(takeover, ticketPayload('alpha', takeover.id, 'TICKET-002')));
  const tickets = await w2.ticketJobs(takeover);
  assert.deepEqual(
    tickets.map((t) => [t.ticket.split('/').pop(), t.state]),
    [
      ['TICKET-001.md', 'completed'],
      ['TICKET-002.md', 'queued'],
    ],
  );
});

test('a released job goes back to the queue at once, for any worker', { skip }, async () => {
  const { hubUrl, workerUrl } = await queueDb();
  const hub = await openHubQueue({ url: hubUrl });
  cleanups.push(() => hub.close());
  const jobId = await hub.enqueue({ ...payload('beta'), lease_seconds: 3600 });
  const w1 = await worker(workerUrl(1), 'w1');
  const w2 = await worker(workerUrl(2), 'w2');
  const job = await w1.take();
  assert.equal(job?.id, jobId);
  await w1.release(job!, 'worker stopping');
  // the lease is an hour: only the release can have freed it
  assert.equal((await takeEventually(w2, 'w2 to take the released job')).id, jobId);
});

test("the hub's API lists the queue's jobs with the worker and host working each", { skip }, async () => {
  const { hubUrl, workerUrl } = await queueDb();
  const hub = await makeHub();
  cleanups.push(hub.cleanup);
  writeFileSync(
    join(hub.root, 'codex-autorunner.yml'),
    'hub:\n  queue:\n    kind: postgres\n    url_env: HUB_DB\n',
  );
  const queue = await openHubQueue({ url: hubUrl });
  cleanups.push(() => queue.close());
  const jobId = await queue.enqueue({ ...payload('alpha'), lease_seconds: 3600 });
  await queue.enqueue(payload('beta'));
  const w1 = await worker(workerUrl(1), 'w1');
  const job = await w1.take();
  assert.equal(job?.id, jobId);
  await w1.heartbeat(
    job!,
    { run_id: 'run-1', status: 'running', reason_code: null, tickets_done: 1, tickets_total: 3 },
    [{ seq: 1, type: 'flow_started', at: new Date().toISOString(), data: {} }],
  );

  const app = createApp({ root: hub.root, env: { ...process.env, HUB_DB: hubUrl } });
  cleanups.push(() => app.close());
  const res = await app.request('/api/hub/repos');
  assert.equal(res.status, 200);
  const body = (await res.json()) as { queue: { kind: string; jobs: Record<string, unknown>[] } };
  assert.equal(body.queue.kind, 'postgres');
  const byRepo = new Map(body.queue.jobs.map((j) => [j.repo_id, j]));
  assert.deepEqual(
    [byRepo.get('alpha')?.state, byRepo.get('alpha')?.worker, byRepo.get('alpha')?.host],
    ['running', 'w1', 'test-host'],
  );
  assert.deepEqual([byRepo.get('alpha')?.tickets_done, byRepo.get('alpha')?.run_status], [1, 'running']);
  assert.deepEqual([byRepo.get('beta')?.state, byRepo.get('beta')?.worker], ['queued', null]);
  assert.ok(!JSON.stringify(body).includes(hubUrl), 'no database URL in the answer');

  // without the URL the document says so instead of failing
  const bare = createApp({ root: hub.root, env: { PATH: process.env.PATH } });
  cleanups.push(() => bare.close());
  const noUrl = (await (await bare.request('/api/hub/repos')).json()) as { queue: { error: string } };
  assert.equal(noUrl.queue.error, 'HUB_DB is not set');
});

test("the hub's chat bot lists the queue's jobs under /repos, with the worker and machine working each", {
  skip,
}, async () => {
  const { hubUrl, workerUrl } = await queueDb();
  const tg = await startFakeTelegram();
  cleanups.push(() => tg.close());
  const hub = await makeHub();
  cleanups.push(hub.cleanup);
  hub.gitRepo('alpha');
  assert.equal((await hub.run(['hub', 'scan'])).code, 0);
  const ALICE = 7001;
  writeFileSync(
    join(hub.root, 'codex-autorunner.yml'),
    [
      'hub:',
      '  queue: {kind: postgres, url_env: HUB_DB}',
      'telegram_bot:',
      `  api_root: ${tg.url}`,
      `  allowed_user_ids: [${ALICE}]`,
      `  allowed_chat_ids: [${ALICE}]`,
      '  poll_timeout_seconds: 1',
      '',
    ].join('\n'),
  );
  const queue = await openHubQueue({ url: hubUrl });
  cleanups.push(() => queue.close());
  await queue.enqueue({ ...payload('alpha'), lease_seconds: 3600 });
  await queue.enqueue(payload('beta'));
  const w1 = await worker(workerUrl(1), 'w1');
  const job = await w1.take();
  await w1.heartbeat(
    job!,
    { run_id: 'run-1', status: 'running', reason_code: null, tickets_done: 1, tickets_total: 3 },
    [],
  );
  // alpha has lanes: a ticket job it queued, worked by another machine
  assert.ok(await w1.enqueueTicket(job!, ticketPayload('alpha', job!.id, 'TICKET-002')));
  const w2 = await worker(workerUrl(2), 'w2');
  const ticketJob = await w2.takeTicket();
  await w2.heartbeat(
    ticketJob!,
    { run_id: 'run-2', status: 'running', reason_code: null, tickets_done: 0, tickets_total: 1 },
    [],
  );

  const home = tempHome();
  cleanups.push(home.cleanup);
  const env = carEnv(home.home, { CAR_TELEGRAM_BOT_TOKEN: tg.token, HUB_DB: hubUrl });
  const car = startChat(['chat', 'run', '--telegram', '--poll-ms', '100'], { cwd: hub.root, env }, cleanups);
  await withOutput(car, car.waitForOutput(/car chat: serving every repo of the hub /));
  tg.userMessage({ chatId: ALICE, userId: ALICE, text: '/repos' });
  const sent = await withOutput(
    car,
    tg.waitFor(() => tg.sent.find((m) => /Hub queue/.test(m.text)), 30_000, '/repos with the queue'),
  );
  assert.equal(
    sent?.text,
    [
      'alpha: no runs',
      'Hub queue (PostgreSQL):',
      'beta: queued',
      'alpha: running by w1 on test-host, 1/3 tickets',
      'alpha TICKET-002: running by w2 on test-host, 0/1 tickets',
    ].join('\n'),
  );
});
