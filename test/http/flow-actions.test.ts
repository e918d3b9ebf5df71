// What the web app's flow actions stand on (issue 29): a user ticket marked done and the run resumed in
// one call (with the commit of that edit), a run's pause time and a pending pause request, a reply's text
// in its event, the repo's default agent and which agents are installed, and a hub's root refusing the
// routes of a repo instead of failing.
import assert from 'node:assert/strict';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { newTicketId, renderNewTicket } from '../../src/core/tickets/index.ts';
import { createApp } from '../../src/surfaces/http/app.ts';
import { makeHub } from '../hub/helpers.ts';
import { type ApiRepo, demoTicket, json, makeApiRepo } from './helpers.ts';

const cleanups: (() => void)[] = [];
after(() => {
  for (const c of cleanups) c();
});

function repo(opts: Parameters<typeof makeApiRepo>[0] = {}): ApiRepo {
  const r = makeApiRepo(opts);
  cleanups.push(r.cleanup);
  return r;
}

interface RunOut {
  run_id: string;
  status: string;
  reason_code: string | null;
  reason_details: Record<string, unknown> | null;
  updated_at: string;
  paused_at: string | null;
  requested: string | null;
}

const userTicket = (title: string) =>
  renderNewTicket({ ticket_id: newTicketId(), agent: 'user', done: false, title }, 'Do it by hand.\n');

/** Polls the run until `until` holds (the worker is a separate process). */
async function runUntil(r: ApiRepo, id: string, until: (run: RunOut) => boolean): Promise<RunOut> {
  const deadline = Date.now() + 60_000;
  for (;;) {
    const { run } = await json<{ run: RunOut }>(await r.call('GET', `/api/runs/${id}`));
    if (until(run)) return run;
    if (Date.now() > deadline) assert.fail(`run ${id} stayed ${run.status} (${run.reason_code})`);
    await new Promise((res) => setTimeout(res, 50));
  }
}

/** Until the worker has let go of the repo. */
async function unlocked(r: ApiRepo): Promise<void> {
  const deadline = Date.now() + 10_000;
  while (existsSync(r.paths.lockFile) && Date.now() < deadline)
    await new Promise((res) => setTimeout(res, 50));
}

describe('POST /api/flow/finish-user-ticket', () => {
  test('marks the user ticket done, commits that edit (the only change) and resumes: the run completes', async () => {
    const r = repo();
    r.ticket('TICKET-001-approve.md', userTicket('Approve the design'));
    r.ticket('TICKET-002-build.md', demoTicket('build', ['write out/b.txt built', 'done', 'commit build']));
    r.repo.commitAll('plan');

    const started = await json<{ run_id: string }>(await r.call('POST', '/api/flow/start', { body: {} }));
    const paused = await runUntil(r, started.run_id, (run) => run.status === 'paused');
    assert.equal(paused.reason_code, 'user_ticket');
    // the pause time, not the run's creation time
    assert.ok(paused.paused_at);
    assert.equal(paused.paused_at, paused.updated_at);
    await unlocked(r);

    const res = await r.call('POST', '/api/flow/finish-user-ticket', { body: { run_id: started.run_id } });
    assert.equal(res.status, 202, await res.clone().text());
    const out = await json<{ ticket: string; commit: string | null; worker_pid: number; action: string }>(
      res,
    );
    assert.equal(out.ticket, '.codex-autorunner/tickets/TICKET-001-approve.md');
    assert.match(out.commit ?? '', /^[0-9a-f]{40}$/);
    assert.equal(out.action, 'resumed');
    assert.ok(out.worker_pid > 0);
    assert.match(r.read('.codex-autorunner/tickets/TICKET-001-approve.md').toString(), /^done: true$/m);
    assert.match(r.repo.git(['log', '-1', '--format=%s']), /TICKET-001-approve\.md: done \(a user ticket\)/);

    const done = await runUntil(r, started.run_id, (run) => !['pending', 'running'].includes(run.status));
    assert.deepEqual([done.status, done.reason_code, done.paused_at], ['completed', 'all_done', null]);
    assert.equal(readFileSync(join(r.repo.dir, 'out/b.txt'), 'utf8'), 'built');
    const events = await json<{ events: { type: string; data: Record<string, unknown> }[] }>(
      await r.call('GET', `/api/runs/${started.run_id}/events?types=user_ticket_done`),
    );
    assert.deepEqual(events.events[0]?.data, { ticket: out.ticket, commit: out.commit });
    await unlocked(r);

    // the run waits for nothing now: refused, nothing written
    const again = await r.call('POST', '/api/flow/finish-user-ticket', { body: {} });
    assert.equal(again.status, 409);
    assert.equal((await json(again)).error, 'wrong_state');
  });

  test("another uncommitted change is the person's: not committed, the run pauses naming it", async () => {
    const r = repo();
    r.ticket('TICKET-001-keys.md', userTicket('Put the keys in place'));
    r.repo.commitAll('plan');
    const started = await json<{ run_id: string }>(await r.call('POST', '/api/flow/start', { body: {} }));
    await runUntil(r, started.run_id, (run) => run.status === 'paused');
    await unlocked(r);
    writeFileSync(join(r.repo.dir, 'notes.txt'), 'done by hand\n');
    const head = r.repo.git(['rev-parse', 'HEAD']).trim();

    const res = await r.call('POST', '/api/flow/finish-user-ticket', { body: {} });
    assert.equal(res.status, 202, await res.clone().text());
    assert.equal((await json<{ commit: string | null }>(res)).commit, null);
    const run = await runUntil(r, started.run_id, (x) => x.status === 'paused');
    assert.equal(run.reason_code, 'commit_barrier');
    assert.equal(run.reason_details?.agent, 'user', "the person's ticket");
    const status = ((run.reason_details?.status ?? []) as string[]).map((l) => l.slice(3)).sort();
    assert.deepEqual(status, ['.codex-autorunner/tickets/TICKET-001-keys.md', 'notes.txt']);
    assert.equal(r.repo.git(['rev-parse', 'HEAD']).trim(), head, 'nothing committed');
    await unlocked(r);
  });

  test('a run paused for another reason is refused (409 wrong_state)', async () => {
    const r = repo({ stream: { pollMs: 50 } });
    r.ticket('TICKET-001.md', demoTicket('asks', ['ask Which colour?', 'done', 'commit colour']));
    r.repo.commitAll('plan');
    const started = await json<{ run_id: string }>(await r.call('POST', '/api/flow/start', { body: {} }));
    await runUntil(r, started.run_id, (run) => run.status === 'paused');
    await unlocked(r);
    const res = await r.call('POST', '/api/flow/finish-user-ticket', { body: {} });
    assert.equal(res.status, 409);
    assert.match(
      (await json<{ message: string }>(res)).message,
      /does not wait for a user ticket \(paused on dispatch\)/,
    );

    // the reply's event keeps its text, for the run view
    const reply = await r.call('POST', '/api/flow/reply', { body: { text: 'Blue, please.' } });
    assert.equal(reply.status, 200);
    const events = await json<{ events: { data: Record<string, unknown> }[] }>(
      await r.call('GET', `/api/runs/${started.run_id}/events?types=reply_written`),
    );
    assert.deepEqual(events.events[0]?.data, { title: null, bytes: 13, text: 'Blue, please.' });
  });
});

test('a pause request shows on the run at once (requested: pause) until the worker pauses', async () => {
  const r = repo();
  r.ticket('TICKET-001.md', demoTicket('slow', ['say working', 'sleep 3000', 'done', 'commit slow']));
  r.ticket('TICKET-002.md', demoTicket('next', ['done', 'commit next']));
  r.repo.commitAll('plan');
  const started = await json<{ run_id: string }>(await r.call('POST', '/api/flow/start', { body: {} }));
  await runUntil(r, started.run_id, (run) => run.status === 'running');
  const res = await r.call('POST', '/api/flow/pause', { body: {} });
  assert.equal(res.status, 200, await res.clone().text());
  const asked = await json<{ immediate: boolean; run: RunOut }>(res);
  assert.equal(asked.immediate, false);
  assert.deepEqual([asked.run.status, asked.run.requested], ['running', 'pause']);
  const status = await json<{ run: RunOut }>(await r.call('GET', '/api/flow/status'));
  assert.equal(status.run.requested, 'pause');
  const paused = await runUntil(r, started.run_id, (run) => run.status === 'paused');
  assert.deepEqual([paused.reason_code, paused.requested], ['pause_requested', null]);
  assert.ok(paused.paused_at && paused.paused_at > asked.run.updated_at);
  await unlocked(r);
});

test('GET /api/repo: the default agent for new tickets and whether each agent is installed', async () => {
  const r = repo({
    env: { ...process.env, PATH: '/nonexistent', CAR__TICKET_FLOW__DEFAULT_AGENT: 'demo' },
  });
  const out = await json<{
    default_agent: string;
    agents: { id: string; on_path: boolean | null; install: string | null }[];
  }>(await r.call('GET', '/api/repo'));
  assert.equal(out.default_agent, 'demo', "the repo's ticket_flow.default_agent");
  const by = Object.fromEntries(out.agents.map((a) => [a.id, a]));
  assert.equal(by.demo?.on_path, null, 'the demo agent has no program');
  assert.equal(by.codex?.on_path, false);
  assert.match(by.codex?.install ?? '', /codex/);
});

test("a hub's root answers its repo routes with 409 hub_root (no 500 on POST /api/tickets)", async () => {
  const hub = await makeHub();
  cleanups.push(hub.cleanup);
  const app = createApp({ root: hub.root });
  cleanups.push(() => app.close());
  const call = (method: string, path: string, body?: unknown) =>
    Promise.resolve(
      app.request(path, {
        method,
        headers: { 'content-type': 'application/json' },
        ...(body === undefined ? {} : { body: JSON.stringify(body) }),
      }),
    );
  for (const [method, path, body] of [
    ['POST', '/api/tickets', { title: 'nope', agent: 'demo' }],
    ['GET', '/api/tickets', undefined],
    ['GET', '/api/flow/status', undefined],
    ['POST', '/api/flow/start', {}],
    ['GET', '/api/runs', undefined],
    ['GET', '/api/contextspace', undefined],
    ['GET', '/api/usage', undefined],
  ] as const) {
    const res = await call(method, path, body);
    assert.equal(res.status, 409, `${method} ${path}`);
    const out = await json<{ error: string; message: string }>(res);
    assert.equal(out.error, 'hub_root');
    assert.match(out.message, /is a hub/);
  }
  assert.equal((await call('GET', '/api/hub/repos')).status, 200);
  assert.equal((await json<{ hub: boolean }>(await call('GET', '/api/repo'))).hub, true);
  assert.equal(existsSync(join(hub.root, '.codex-autorunner/car.db')), false, 'no run store at the root');
});
