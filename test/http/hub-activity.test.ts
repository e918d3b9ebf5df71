// The hub's inbox, live view and stream over HTTP (issue 22 points 2 and 4), from real run stores: every
// paused run of every repo newest first, with the question that paused it; a repo whose runs cannot be
// read is named, not hidden; an unchanged inbox is a 304; the stream says when the inbox or the live view
// changed (a run starting elsewhere, its agent's last line, its worker going away) without being asked.
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { workerPurpose } from '../../src/control/flow-control.ts';
import { acquireLock } from '../../src/core/lock.ts';
import { repoPaths } from '../../src/core/paths.ts';
import { openRunStore } from '../../src/core/store/run-store.ts';
import { createApp } from '../../src/surfaces/http/app.ts';
import { makeHub, type TestHub } from '../hub/helpers.ts';

const hubs: TestHub[] = [];
after(() => {
  for (const h of hubs) h.cleanup();
});

interface Inbox {
  count: number;
  items: {
    kind: string;
    repo_id: string;
    at: string;
    run: { run_id: string; reason_code: string };
    question: { title: string; options?: string[] } | null;
  }[];
  errors: { repo_id: string; message: string }[];
}

interface Live {
  runs: { repo_id: string; worker: string; last_line: { text: string } | null; run: { run_id: string } }[];
}

/** Reads SSE frames from a streaming response, one `{event, data}` at a time. */
function frames(res: Response) {
  const reader = res.body!.pipeThrough(new TextDecoderStream()).getReader();
  let buf = '';
  const next = async (): Promise<{ event: string; data: string }> => {
    for (;;) {
      const cut = buf.indexOf('\n\n');
      if (cut >= 0) {
        const text = buf.slice(0, cut);
        buf = buf.slice(cut + 2);
        if (text.startsWith(':')) continue;
        const event = /^event: (.*)$/m.exec(text)?.[1] ?? 'message';
        const data = /^data: (.*)$/m.exec(text)?.[1] ?? '';
        return { event, data };
      }
      // a stream that stops telling fails the test instead of hanging it
      let timer: NodeJS.Timeout | undefined;
      const quiet = new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error('no frame from the stream for 20 s')), 20_000);
      });
      const { value, done } = await Promise.race([reader.read(), quiet]).finally(() => clearTimeout(timer));
      if (done) throw new Error('the stream ended');
      buf += value;
    }
  };
  return Object.assign(next, { cancel: () => reader.cancel() });
}

test('the hub inbox and live view across repos, and the stream that says when they change', {
  timeout: 60_000,
}, async () => {
  const h = await makeHub();
  hubs.push(h);
  for (const id of ['alpha', 'beta', 'gamma', 'broken']) h.gitRepo(id);
  assert.equal((await h.run(['hub', 'scan'])).code, 0);
  const dir = (id: string) => join(h.root, 'repos', id);

  // alpha: paused on a question with ready answers; beta, later: paused after failed verifies
  let store = openRunStore(repoPaths(dir('alpha')).dbFile);
  const asked = store.createRun();
  store.appendEvent(asked.id, {
    type: 'dispatch',
    data: {
      seq: 1,
      mode: 'pause',
      title: 'Which database?',
      body: 'Pick one',
      attachments: [],
      options: ['Postgres', 'SQLite'],
    },
  });
  store.updateRun(asked.id, { status: 'paused', reasonCode: 'dispatch', reason: 'the agent asks' });
  store.close();
  await new Promise((r) => setTimeout(r, 5));
  store = openRunStore(repoPaths(dir('beta')).dbFile);
  const failed = store.createRun();
  store.updateRun(failed.id, {
    status: 'paused',
    reasonCode: 'verify_failed',
    reason: 'npm test failed 3 times',
  });
  store.close();
  // broken: a config car cannot read
  openRunStore(repoPaths(dir('broken')).dbFile).close();
  writeFileSync(join(dir('broken'), '.codex-autorunner', 'config.yml'), 'ticket_flow: [not, a, mapping\n');

  const app = createApp({ root: h.root, hubPollMs: 50 });
  try {
    const res = await app.request('/api/hub/inbox');
    assert.equal(res.status, 200);
    const inbox = (await res.json()) as Inbox;
    assert.equal(inbox.count, 2);
    assert.deepEqual(
      inbox.items.map((i) => [i.kind, i.repo_id, i.run.reason_code]),
      [
        ['run_paused', 'beta', 'verify_failed'],
        ['run_paused', 'alpha', 'dispatch'],
      ],
      'newest first',
    );
    assert.equal(inbox.items[1]!.question?.title, 'Which database?');
    assert.deepEqual(inbox.items[1]!.question?.options, ['Postgres', 'SQLite']);
    assert.equal(inbox.items[0]!.question, null);
    assert.deepEqual(
      inbox.errors.map((e) => e.repo_id),
      ['broken'],
    );
    assert.match(inbox.errors[0]!.message, /config\.yml/);
    const etag = res.headers.get('etag')!;
    assert.equal((await app.request('/api/hub/inbox', { headers: { 'if-none-match': etag } })).status, 304);

    const stream = await app.request('/api/hub/stream');
    assert.equal(stream.status, 200);
    assert.equal(stream.headers.get('content-type'), 'text/event-stream');
    const next = frames(stream);
    let frame = await next();
    assert.equal(frame.event, 'inbox');
    assert.deepEqual(JSON.parse(frame.data), { count: 2, etag });
    frame = await next();
    assert.equal(frame.event, 'live');
    assert.deepEqual((JSON.parse(frame.data) as Live).runs, []);

    // gamma starts a run, its worker alive (this process holds the lock), and its agent speaks
    const gamma = repoPaths(dir('gamma'));
    store = openRunStore(gamma.dbFile);
    const working = store.createRun({ id: 'gamma-run' });
    store.updateRun(working.id, { status: 'running' });
    const lock = acquireLock(gamma.lockFile, { purpose: workerPurpose(working.id) });
    store.appendEvent(working.id, {
      type: 'agent_message',
      data: { text: 'Reading the code\nNow the parser' },
    });
    let live: Live;
    do {
      frame = await next();
      live = frame.event === 'live' ? (JSON.parse(frame.data) as Live) : { runs: [] };
    } while (live.runs.length === 0 || live.runs[0]!.last_line === null);
    assert.equal(live.runs[0]!.repo_id, 'gamma');
    assert.equal(live.runs[0]!.worker, 'alive');
    assert.equal(live.runs[0]!.last_line?.text, 'Now the parser');

    // its worker goes away (nothing written to the store): the stream says so
    lock.release();
    do {
      frame = await next();
      live = frame.event === 'live' ? (JSON.parse(frame.data) as Live) : live;
    } while (live.runs[0]?.worker !== 'none');

    // alpha's question is answered (the run resumes): the inbox shrinks
    const alphaStore = openRunStore(repoPaths(dir('alpha')).dbFile);
    alphaStore.updateRun(asked.id, { status: 'running', reasonCode: null, reason: null });
    alphaStore.close();
    do frame = await next();
    while (frame.event !== 'inbox');
    assert.equal((JSON.parse(frame.data) as { count: number }).count, 1);
    store.close();
    await next.cancel();
  } finally {
    app.close();
  }
});

test('pending approvals of every repo join the hub inbox: newest first, counted, gone when answered or past their time', {
  timeout: 60_000,
}, async () => {
  const h = await makeHub();
  hubs.push(h);
  for (const id of ['alpha', 'beta']) h.gitRepo(id);
  assert.equal((await h.run(['hub', 'scan'])).code, 0);
  const paths = (id: string) => repoPaths(join(h.root, 'repos', id));
  // every write a second later than the last, all in the recent past
  let clock = Date.now() - 300_000;
  const now = () => {
    clock += 1000;
    return new Date(clock);
  };
  const ask = (store: ReturnType<typeof openRunStore>, runId: string, id: string, expiresAt: string) =>
    store.createApproval({
      id,
      runId,
      turnId: null,
      ticket: '.codex-autorunner/tickets/TICKET-010.md',
      agent: 'fake',
      kind: 'command',
      title: `run ${id}`,
      command: `touch ${id}.txt`,
      workerPid: process.pid,
      expiresAt,
    });
  const inHour = new Date(Date.now() + 3_600_000).toISOString();

  // alpha: a paused run, then an approval; beta, later: one already past its time (never marked expired:
  // its worker died), then the newest, which runs out of time while the stream is open
  const alpha = openRunStore(paths('alpha').dbFile, { now });
  const paused = alpha.createRun();
  alpha.updateRun(paused.id, { status: 'paused', reasonCode: 'verify_failed', reason: 'tests failed' });
  const running = alpha.createRun();
  alpha.updateRun(running.id, { status: 'running' });
  ask(alpha, running.id, 'a1', inHour);
  const beta = openRunStore(paths('beta').dbFile, { now });
  const betaRun = beta.createRun();
  beta.updateRun(betaRun.id, { status: 'running' });
  ask(beta, betaRun.id, 'b-late', new Date(Date.now() - 1000).toISOString());
  const soon = Date.now() + 1500;
  ask(beta, betaRun.id, 'b-soon', new Date(soon).toISOString());
  beta.close();

  const app = createApp({ root: h.root, hubPollMs: 50 });
  try {
    const inbox = (await (await app.request('/api/hub/inbox')).json()) as {
      count: number;
      items: {
        kind: string;
        repo_id: string;
        at: string;
        approval?: { id: string; command: string; status: string };
      }[];
    };
    assert.deepEqual(
      inbox.items.map((i) => [i.kind, i.repo_id, i.approval?.id ?? null]),
      [
        ['approval', 'beta', 'b-soon'],
        ['approval', 'alpha', 'a1'],
        ['run_paused', 'alpha', null],
      ],
      'newest first, the one past its time left out',
    );
    assert.equal(inbox.count, 3);
    assert.equal(inbox.items[1]!.approval?.command, 'touch a1.txt');
    assert.equal(inbox.items[1]!.approval?.status, 'pending');

    const stream = await app.request('/api/hub/stream');
    const next = frames(stream);
    let frame = await next();
    assert.deepEqual([frame.event, (JSON.parse(frame.data) as { count: number }).count], ['inbox', 3]);

    // b-soon runs out of time with nothing written to beta's store: the stream says so
    do frame = await next();
    while (frame.event !== 'inbox');
    assert.ok(Date.now() >= soon);
    assert.equal((JSON.parse(frame.data) as { count: number }).count, 2);
    let ids = ((await (await app.request('/api/hub/inbox')).json()) as typeof inbox).items.map(
      (i) => i.approval?.id ?? i.kind,
    );
    assert.deepEqual(ids, ['a1', 'run_paused']);

    // a new approval in alpha (a worker's write from another connection): the stream says so
    ask(alpha, running.id, 'a2', inHour);
    do frame = await next();
    while (frame.event !== 'inbox');
    assert.equal((JSON.parse(frame.data) as { count: number }).count, 3);

    // answered in place through alpha's API at the hub (this process is the worker that asked)
    const lock = acquireLock(paths('alpha').lockFile, { purpose: workerPurpose(running.id) });
    try {
      const res = await app.request('/repos/alpha/api/approvals/a1', {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ decision: 'accept' }),
      });
      assert.equal(res.status, 200, await res.text());
      do frame = await next();
      while (frame.event !== 'inbox' || (JSON.parse(frame.data) as { count: number }).count !== 2);
      ids = ((await (await app.request('/api/hub/inbox')).json()) as typeof inbox).items.map(
        (i) => i.approval?.id ?? i.kind,
      );
      assert.deepEqual(ids, ['a2', 'run_paused']);
      assert.equal(alpha.getApproval('a1')?.answeredBy, 'web');
    } finally {
      lock.release();
    }
    alpha.close();
    await next.cancel();
  } finally {
    app.close();
  }
});
