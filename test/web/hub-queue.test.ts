// The hub page with a PostgreSQL hub queue (a throwaway cluster): the queue's jobs under the repos, each
// with its state, the worker and machine working it, takeovers and the mirrored ticket count, and under a
// repo with lanes its ticket jobs (which machine works which ticket); and the error state when the
// server has no database URL.
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import type { HubJobPayload, HubTicketPayload } from '../../src/control/hub-queue.ts';
import { initPgQueue, openHubQueue, openQueueWorker } from '../../src/integrations/pg-queue/pg-boss-queue.ts';
import { type PgCluster, postgresMissing, startPostgres } from '../helpers/postgres.ts';
import { makeHub, type TestHub } from '../hub/helpers.ts';
import { browserSuite, serve, shot } from './browser.ts';

const payload = (repo: string): HubJobPayload => ({
  repo_id: repo,
  remote_url: `/srv/git/${repo}.git`,
  base_branch: 'main',
  result_branch: `car/hub/${repo}`,
  lease_seconds: 3600,
  heartbeat_seconds: 5,
});

const ticketPayload = (repo: string, coordinator: string, name: string): HubTicketPayload => ({
  repo_id: repo,
  remote_url: `/srv/git/${repo}.git`,
  ticket: `.codex-autorunner/tickets/${name}.md`,
  ticket_id: 'tkt_00000000000000000000000000000002',
  coordinator_job: coordinator,
  ticket_branch: `car/hub-tickets/${repo}/${coordinator.slice(0, 8)}/${name}`,
  base_sha: '0'.repeat(40),
  merge_attempt: 0,
  feedback: null,
  lease_seconds: 3600,
  heartbeat_seconds: 5,
});

let hub: TestHub;
let cluster: PgCluster | null = null;
const noPostgres = postgresMissing();
const suite = browserSuite(async (cleanups) => {
  hub = await makeHub();
  cleanups.push(hub.cleanup);
  hub.gitRepo('alpha');
  hub.gitRepo('beta');
  assert.equal((await hub.run(['hub', 'scan'])).code, 0);
  writeFileSync(
    join(hub.root, 'codex-autorunner.yml'),
    'hub:\n  queue:\n    kind: postgres\n    url_env: HUB_DB\n',
  );
  if (noPostgres) return { root: hub.root };
  const c = await startPostgres();
  cluster = c;
  cleanups.push(() => c.stop());
  const db = await c.createDatabase('webq');
  await initPgQueue(c.url(db));
  const queue = await openHubQueue({ url: c.url(db) });
  await queue.enqueue(payload('alpha'));
  await queue.enqueue(payload('beta'));
  await queue.close();
  const worker = await openQueueWorker(
    { url: c.url(db) },
    { name: 'laptop-7', host: 'build-box', pid: 4242 },
  );
  const job = await worker.take();
  assert.equal(job?.payload.repo_id, 'alpha');
  await worker.heartbeat(
    job!,
    { run_id: 'r1', status: 'running', reason_code: null, tickets_done: 2, tickets_total: 5 },
    [],
  );
  // alpha has lanes: its job (the coordinator) queued a ticket job, which another machine works
  assert.ok(await worker.enqueueTicket(job!, ticketPayload('alpha', job!.id, 'TICKET-002')));
  await worker.close();
  const other = await openQueueWorker({ url: c.url(db) }, { name: 'desktop-3', host: 'gpu-box', pid: 77 });
  const ticketJob = await other.takeTicket();
  assert.equal(ticketJob?.payload.ticket, '.codex-autorunner/tickets/TICKET-002.md');
  await other.heartbeat(
    ticketJob!,
    { run_id: 'r2', status: 'running', reason_code: null, tickets_done: 0, tickets_total: 1 },
    [],
  );
  await other.close();
  return { root: hub.root, env: { HUB_DB: c.url(db) } };
});

for (const [label, viewport] of [
  ['desktop', { width: 1280, height: 860 }],
  ['phone', { width: 390, height: 844 }],
] as const) {
  test(`hub (${label}): the queue's jobs with the worker and machine working each`, {
    skip: suite.skip || noPostgres || false,
    timeout: 60_000,
  }, async () => {
    assert.ok(cluster);
    const page = await suite.browser().context.newPage();
    await page.setViewportSize(viewport);
    await page.goto(`${suite.server().url}/hub`);
    const queue = page.getByTestId('hub-queue');
    const alpha = queue.locator('[data-job="alpha"]');
    await alpha.locator('.pill', { hasText: 'running' }).waitFor();
    await alpha.getByText('laptop-7').waitFor();
    await alpha.getByText('on build-box').waitFor();
    await alpha.getByText('2/5').waitFor();
    await alpha.getByText('coordinates its lanes').waitFor();
    const ticket = queue.locator('[data-job="alpha/TICKET-002"]');
    await ticket.getByText('TICKET-002').waitFor();
    await ticket.locator('.pill', { hasText: 'running' }).waitFor();
    await ticket.getByText('desktop-3').waitFor();
    await ticket.getByText('on gpu-box').waitFor();
    await ticket.getByText('0/1').waitFor();
    await queue.locator('[data-job="beta"] .pill', { hasText: 'queued' }).waitFor();
    await page.screenshot({ path: shot(`hub-queue-${label}.png`), fullPage: true });
    await page.close();
  });
}

for (const [label, empty, says] of [
  ['empty', true, /No jobs yet: car hub run queues the repos with open tickets/],
  ['error', false, /The hub queue cannot be read: HUB_DB is not set/],
] as const) {
  test(`hub: the queue card of ${empty ? 'an empty queue' : 'a server without the database URL'}`, {
    skip: suite.skip || noPostgres || false,
    timeout: 60_000,
  }, async () => {
    let url = '';
    if (empty) {
      const db = await cluster!.createDatabase('webq_empty');
      await initPgQueue(cluster!.url(db));
      url = cluster!.url(db);
    }
    const served = await serve(hub.root, { HUB_DB: url });
    try {
      const page = await suite.browser().context.newPage();
      await page.setViewportSize({ width: 1280, height: 860 });
      await page.goto(`${served.url}/hub`);
      await page.getByTestId('hub-queue').getByText(says).waitFor();
      await page.screenshot({ path: shot(`hub-queue-${label}-desktop.png`), fullPage: true });
      await page.close();
    } finally {
      await served.stop();
    }
  });
}
