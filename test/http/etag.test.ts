// Conditional reads: listings, flow status and runs carry strong ETags; an unchanged answer is a 304
// without a body, and a change on disk or in the store is a 200 with a new ETag and the new content.
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { acquireLock } from '../../src/core/lock.ts';
import { openRunStore } from '../../src/core/store/run-store.ts';
import { type ApiRepo, json, makeApiRepo } from './helpers.ts';

const cleanups: (() => void)[] = [];
after(() => {
  for (const c of cleanups) c();
});

function repo(): ApiRepo {
  const r = makeApiRepo();
  cleanups.push(r.cleanup);
  return r;
}

const ticket = (n: number, done: boolean, title: string) =>
  `---\nticket_id: tkt_${n.toString(16).padStart(32, '0')}\nagent: codex\ndone: ${done}\ntitle: ${title}\n---\nbody ${n}\n`;

/** GETs `path` with the ETag, expecting 304 and no body. */
async function unchanged(r: ApiRepo, path: string, etag: string): Promise<void> {
  const res = await r.call('GET', path, { headers: { 'if-none-match': etag } });
  assert.equal(res.status, 304, `${path} is unchanged`);
  assert.equal(res.headers.get('etag'), etag);
  assert.equal(res.headers.get('cache-control'), 'no-store');
  assert.equal(await res.text(), '');
}

/** GETs `path` with the old ETag, expecting 200 with a different ETag; returns it and the body. */
async function changed<T>(r: ApiRepo, path: string, old: string): Promise<{ etag: string; body: T }> {
  const res = await r.call('GET', path, { headers: { 'if-none-match': old } });
  assert.equal(res.status, 200, `${path} changed`);
  const etag = res.headers.get('etag')!;
  assert.match(etag, /^"[^"]+"$/, 'a strong ETag');
  assert.notEqual(etag, old);
  return { etag, body: await json<T>(res) };
}

describe('ticket listings', () => {
  const r = repo();
  for (let i = 1; i <= 30; i++)
    r.ticket(`TICKET-${String(i).padStart(3, '0')}.md`, ticket(i, i <= 5, `T${i}`));

  test('an unchanged listing is 304; a ticket file edited on disk makes it 200 with a new ETag', async () => {
    const first = await r.call('GET', '/api/tickets?limit=10');
    assert.equal(first.status, 200);
    const etag = first.headers.get('etag')!;
    assert.match(etag, /^"[^"]+"$/);
    assert.equal(first.headers.get('cache-control'), 'no-store');
    assert.equal(first.headers.get('x-content-type-options'), 'nosniff');
    await unchanged(r, '/api/tickets?limit=10', etag);
    const listed = await r.call('GET', '/api/tickets?limit=10', {
      headers: { 'if-none-match': `"x", ${etag}` },
    });
    assert.equal(listed.status, 304, 'one of several tags matches');

    // edited in place by another program (same size, only the title changes)
    writeFileSync(join(r.paths.ticketsDir, 'TICKET-003.md'), ticket(3, true, 'X3'));
    const edited = await changed<{ tickets: { name: string; title: string; hash: string }[] }>(
      r,
      '/api/tickets?limit=10',
      etag,
    );
    assert.equal(edited.body.tickets[2]?.title, 'X3');
    await unchanged(r, '/api/tickets?limit=10', edited.etag);

    // a new file, and one removed
    r.ticket('TICKET-031.md', ticket(31, false, 'T31'));
    const added = await changed<{ total: number }>(r, '/api/tickets?limit=10', edited.etag);
    assert.equal(added.body.total, 31);
    const lint = await r.call('GET', '/api/tickets/lint');
    const lintTag = lint.headers.get('etag')!;
    await unchanged(r, '/api/tickets/lint', lintTag);
    r.ticket('TICKET-032.md', '---\nagent: codex\ndone: "no"\n---\n');
    const broken = await changed<{ ok: boolean }>(r, '/api/tickets/lint', lintTag);
    assert.equal(broken.body.ok, false);
  });

  test('an edit through the API is seen by the next listing', async () => {
    const list = await r.call('GET', '/api/tickets?limit=5');
    const etag = list.headers.get('etag')!;
    const one = await json<{ hash: string }>(await r.call('GET', '/api/tickets/TICKET-004.md'));
    const patched = await r.call('PATCH', '/api/tickets/TICKET-004.md', {
      body: { fields: { title: 'Patched' }, base_hash: one.hash },
    });
    assert.equal(patched.status, 200);
    const after = await changed<{ tickets: { title: string }[] }>(r, '/api/tickets?limit=5', etag);
    assert.equal(after.body.tickets[3]?.title, 'Patched');
  });
});

describe('flow status and runs', () => {
  const r = repo();
  r.ticket('TICKET-001.md', ticket(1, false, 'one'));

  test('flow status is 304 until the tickets, the store or the lock change', async () => {
    const first = await r.call('GET', '/api/flow/status');
    assert.equal(first.status, 200);
    let etag = first.headers.get('etag')!;
    await unchanged(r, '/api/flow/status', etag);

    r.ticket('TICKET-002.md', ticket(2, false, 'two'));
    const tickets = await changed<{ tickets: { total: number } }>(r, '/api/flow/status', etag);
    assert.equal(tickets.body.tickets.total, 2);
    etag = tickets.etag;
    await unchanged(r, '/api/flow/status', etag);

    // a worker process writes the store: another connection
    const store = openRunStore(r.paths.dbFile);
    cleanups.push(() => store.close());
    const run = store.createRun({});
    const created = await changed<{ run: { run_id: string; status: string } }>(r, '/api/flow/status', etag);
    assert.equal(created.body.run.run_id, run.id);
    etag = created.etag;
    store.appendEvent(run.id, { type: 'agent_message', data: { text: 'hi' } });
    const evented = await changed<{ last_event: { seq: number } }>(r, '/api/flow/status', etag);
    assert.equal(evented.body.last_event.seq, 1);
    etag = evented.etag;
    await unchanged(r, '/api/flow/status', etag);

    const lock = acquireLock(r.paths.lockFile, { purpose: 'test holds the repo' });
    try {
      const locked = await changed<{ worker: { status: string } }>(r, '/api/flow/status', etag);
      assert.equal(locked.body.worker.status, 'alive');
      etag = locked.etag;
    } finally {
      lock.release();
    }
    const released = await changed<{ worker: { status: string } }>(r, '/api/flow/status', etag);
    assert.equal(released.body.worker.status, 'none');
  });

  test('runs, one run and an event page are 304 until the store changes', async () => {
    const store = openRunStore(r.paths.dbFile);
    cleanups.push(() => store.close());
    const run = store.createRun({});
    store.appendEvents(run.id, [{ type: 'a' }, { type: 'b' }]);
    for (const path of ['/api/runs', `/api/runs/${run.id}`, `/api/runs/${run.id}/events?limit=200`]) {
      const first = await r.call('GET', path);
      assert.equal(first.status, 200);
      const etag = first.headers.get('etag')!;
      await unchanged(r, path, etag);
      store.appendEvent(run.id, { type: 'c' });
      await changed(r, path, etag);
    }
    const page = await json<{ events: { seq: number; type: string }[]; last_event_seq: number }>(
      await r.call('GET', `/api/runs/${run.id}/events?after=1&limit=200`),
    );
    assert.deepEqual(
      page.events.map((e) => [e.seq, e.type]),
      [
        [2, 'b'],
        [3, 'c'],
        [4, 'c'],
        [5, 'c'],
      ],
    );
    assert.equal(page.last_event_seq, 5);
  });
});
