// The API on a full disk (a real tmpfs; skipped where mounting is not permitted): 507 naming the file,
// the ticket unchanged, no temp file left.
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { test } from 'node:test';
import { mountSmallFs, smallFsUnavailable } from '../helpers/small-fs.ts';
import { json, makeApiRepo, sha } from './helpers.ts';

const TICKET =
  '---\r\nticket_id: tkt_00000000000000000000000000000001\r\nagent: codex\r\ndone: false\r\n---\r\n';

test('PATCH and POST on a full disk: 507 naming the file, nothing written', {
  skip: smallFsUnavailable ?? false,
}, async () => {
  const r = makeApiRepo();
  const disk = mountSmallFs(r.paths.stateDir, 1024);
  try {
    const path = r.ticket('TICKET-001.md', TICKET);
    disk.fill();
    const patch = await r.call('PATCH', '/api/tickets/TICKET-001.md', {
      body: { fields: { done: true } },
      headers: { 'if-match': sha(TICKET) },
    });
    assert.equal(patch.status, 507);
    assert.deepEqual(await json(patch), {
      error: 'disk_error',
      code: 'ENOSPC',
      path,
      message: `cannot write ${path}: the disk is full (ENOSPC)`,
    });
    const post = await r.call('POST', '/api/tickets', { body: { title: 'Another' } });
    assert.equal(post.status, 507);
    assert.equal(readFileSync(path, 'utf8'), TICKET);
    assert.deepEqual(readdirSync(r.paths.ticketsDir).sort(), ['AGENTS.md', 'TICKET-001.md']);
  } finally {
    // The app holds the run store open on the small disk: close it before unmounting.
    r.app.close();
    disk.unmount();
    r.repo.cleanup();
  }
});
