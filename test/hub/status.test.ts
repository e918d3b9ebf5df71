// Hub status from real stores, locks and tickets: the CLI JSON and GET /api/hub/repos agree, states are
// derived right (running, crashed, paused, missing, uninitialized), and the reader notices changes.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { workerPurpose } from '../../src/control/flow-control.ts';
import { acquireLock } from '../../src/core/lock.ts';
import { repoPaths } from '../../src/core/paths.ts';
import { openRunStore } from '../../src/core/store/run-store.ts';
import { createApp } from '../../src/surfaces/http/app.ts';
import { car, json, makeTempDir } from '../helpers/cli.ts';
import { demoTicket, makeHub, type TestHub, writeTicket } from './helpers.ts';

const hubs: TestHub[] = [];
after(() => {
  for (const h of hubs) h.cleanup();
});

interface Repo {
  id: string;
  state: string;
  worker: { status: string; pid: number | null };
  tickets: { total: number; done: number; open: number; next: string | null };
  run: {
    run_id: string;
    status: string;
    reason_code: string | null;
    total_turns: number | null;
    quota_wait: { agent: string; until: string } | null;
  } | null;
}

test('hub status and GET /api/hub/repos report runs, workers and tickets per repo', async () => {
  const h = await makeHub();
  hubs.push(h);
  const dirs = Object.fromEntries(['busy', 'dead', 'waiting', 'fresh', 'gone'].map((n) => [n, h.gitRepo(n)]));
  assert.equal((await h.run(['hub', 'scan'])).code, 0);
  rmSync(join(h.root, 'repos/gone'), { recursive: true });

  // busy: a running run owned by a live process (this one)
  const busy = repoPaths(dirs.busy!);
  writeTicket(dirs.busy!, 'TICKET-010.md', demoTicket(1, ['done']));
  writeTicket(dirs.busy!, 'TICKET-020.md', demoTicket(2, ['done']).replace('done: false', 'done: true'));
  let store = openRunStore(busy.dbFile);
  // waiting out codex's used-up plan
  const busyRun = store.createRun({
    state: {
      totalTurns: 4,
      quotaWait: { agent: 'codex', until: '2026-11-25T03:00:30.000Z', message: 'limit' },
    },
  });
  store.updateRun(busyRun.id, { status: 'running' });
  store.close();
  const lock = acquireLock(busy.lockFile, { purpose: workerPurpose(busyRun.id) });

  // dead: a running run whose worker is gone (a child that exited)
  const dead = repoPaths(dirs.dead!);
  store = openRunStore(dead.dbFile);
  const deadRun = store.createRun();
  store.updateRun(deadRun.id, { status: 'running' });
  store.close();
  const child = spawn(process.execPath, ['-e', '0']);
  await new Promise((r) => child.on('exit', r));
  writeFileSync(
    dead.lockFile,
    JSON.stringify({ pid: child.pid, host: (await import('node:os')).hostname(), started_at: 'then' }),
  );

  // waiting: paused on a dispatch
  store = openRunStore(repoPaths(dirs.waiting!).dbFile);
  const waitRun = store.createRun();
  store.updateRun(waitRun.id, { status: 'paused', reasonCode: 'dispatch', reason: 'asked' });
  store.close();

  try {
    const res = await h.run(['hub', 'status', '--json']);
    assert.equal(res.code, 0, res.stderr);
    const cli = json<{ summary: Record<string, number>; repos: Repo[] }>(res);
    const by = Object.fromEntries(cli.repos.map((r) => [r.id, r]));
    assert.equal(by.busy?.state, 'running');
    assert.equal(by.busy?.worker.status, 'alive');
    assert.equal(by.busy?.worker.pid, process.pid);
    assert.equal(by.busy?.run?.total_turns, 4);
    assert.deepEqual(by.busy?.run?.quota_wait, { agent: 'codex', until: '2026-11-25T03:00:30.000Z' });
    assert.equal(by.waiting?.run?.quota_wait, null);
    const text = await h.run(['hub', 'status']);
    assert.match(text.stdout, /busy\s+running.*waiting for codex's plan until 2026-11-25T03:00:30\.000Z/);
    assert.deepEqual(by.busy?.tickets, {
      total: 2,
      done: 1,
      open: 1,
      next: '.codex-autorunner/tickets/TICKET-010.md',
    });
    assert.equal(by.dead?.state, 'crashed');
    assert.equal(by.dead?.worker.status, 'stale');
    assert.equal(by.waiting?.state, 'paused');
    assert.equal(by.waiting?.run?.reason_code, 'dispatch');
    assert.equal(by.fresh?.state, 'idle');
    assert.equal(by.fresh?.run, null);
    assert.equal(by.gone?.state, 'missing');
    assert.deepEqual(cli.summary, { repos: 5, running: 1, crashed: 1, paused: 1, idle: 1, missing: 1 });
    // one run shape everywhere: the hub shows a repo's run exactly as `car flow status --json` in it does
    for (const id of ['busy', 'waiting'] as const) {
      const own = await car(['--repo', dirs[id]!, 'flow', 'status', '--json'], { cwd: h.root });
      assert.deepEqual(by[id]?.run, json<{ run: unknown }>(own).run, id);
    }

    const app = createApp({ root: h.root });
    try {
      const first = await app.request('/api/hub/repos');
      assert.equal(first.status, 200);
      const api = (await first.json()) as { repos: Repo[]; summary: unknown };
      assert.deepEqual(api.repos, cli.repos, 'the API answers exactly what the CLI prints');
      assert.deepEqual(api.summary, cli.summary);

      // the cached reader sees changes: a ticket marked done in place, a new run
      writeTicket(dirs.busy!, 'TICKET-010.md', demoTicket(1, ['done']).replace('done: false', 'done: true'));
      store = openRunStore(repoPaths(dirs.fresh!).dbFile);
      store.createRun();
      store.close();
      const one = (await (await app.request('/api/hub/repos/busy')).json()) as Repo;
      assert.deepEqual(one.tickets, { total: 2, done: 2, open: 0, next: null });
      const fresh = (await (await app.request('/api/hub/repos/fresh')).json()) as Repo;
      assert.equal(fresh.state, 'pending');
      assert.equal((await app.request('/api/hub/repos/nope')).status, 404);

      const scan = await app.request('/api/hub/scan', { method: 'POST' });
      assert.equal(scan.status, 200);
      assert.deepEqual(((await scan.json()) as { missing: string[] }).missing, ['gone']);
    } finally {
      app.close();
    }
  } finally {
    lock.release();
  }
});

test('a plain repo has no hub API; a folder outside any hub gets exit 2 from car hub', async () => {
  const { makeApiRepo } = await import('../http/helpers.ts');
  const api = makeApiRepo();
  try {
    const res = await api.call('GET', '/api/hub/repos');
    assert.equal(res.status, 404);
    assert.equal(((await res.json()) as { error: string }).error, 'not_a_hub');
  } finally {
    api.cleanup();
  }
  const plain = makeTempDir();
  try {
    const { car } = await import('../helpers/cli.ts');
    const res = await car(['hub', 'status'], { cwd: plain.dir, env: { CAR_HUB_ROOT: '' } });
    assert.equal(res.code, 2);
    assert.match(res.stderr, /not inside a car hub/);
  } finally {
    plain.cleanup();
  }
});

test('hub status counts the pull requests car opened per repo: open, failing, asked to change, the newest', async () => {
  const h = await makeHub();
  hubs.push(h);
  const dir = h.gitRepo('prs');
  h.gitRepo('none');
  assert.equal((await h.run(['hub', 'scan'])).code, 0);
  const store = openRunStore(repoPaths(dir).dbFile);
  const pr = (number: number) => ({
    repoSlug: 'acme/w',
    number,
    url: `https://github.example/acme/w/pull/${number}`,
    headBranch: `b${number}`,
    baseBranch: 'main',
    headSha: null,
    ticketPath: null,
    ticketId: null,
    targetTicketId: null,
    tickets: [],
    draft: false,
  });
  const prs = store.prs();
  for (const n of [1, 2, 3]) prs.upsert(pr(n));
  prs.update('acme/w', 1, { state: 'merged' });
  prs.update('acme/w', 2, { checks: 'failure' });
  prs.update('acme/w', 3, { review: 'changes_requested', checks: 'pending' });
  store.close();
  const repos = json<{ repos: (Repo & { pull_requests: unknown })[] }>(
    await h.run(['hub', 'status', '--json']),
  ).repos;
  assert.deepEqual(repos.find((r) => r.id === 'prs')?.pull_requests, {
    open: 2,
    failing: 1,
    changes_requested: 1,
    latest: {
      number: 3,
      url: 'https://github.example/acme/w/pull/3',
      state: 'open',
      checks: 'pending',
      review: 'changes_requested',
    },
  });
  assert.deepEqual(repos.find((r) => r.id === 'none')?.pull_requests, {
    open: 0,
    failing: 0,
    changes_requested: 0,
    latest: null,
  });
});
