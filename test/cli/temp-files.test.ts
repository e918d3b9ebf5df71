// A writer killed mid-write (kill -9) leaves its temp file next to the target. Nothing reads it as a
// ticket, and the next run start removes it once its writer is gone.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { json, makeCarRepo, TICKETS_DIR, ticketText, tid } from '../helpers/cli.ts';

const r = await makeCarRepo();
after(() => r.cleanup());

test('a leftover temp file is not a ticket, and car run removes it', async () => {
  r.ticket('TICKET-001.md', ticketText({ id: tid(1), agent: 'user', title: 'Ask a person' }));
  r.commitAll('ticket');
  const dead = spawnSync(process.execPath, ['-e', '']).pid;
  const leftover = join(r.dir, TICKETS_DIR, `.TICKET-001.md.${dead}.0123456789ab.tmp`);
  // Half of a ticket, as a killed write leaves it.
  writeFileSync(leftover, '---\nticket_id: tkt_half\nagent: codex\ndo');

  const lint = await r.run(['ticket', 'lint', '--json']);
  assert.equal(lint.code, 0, lint.stdout);
  assert.deepEqual(json<{ tickets: number; issues: unknown[] }>(lint).tickets, 1);
  assert.deepEqual(json<{ issues: unknown[] }>(lint).issues, []);
  const list = json<{ tickets: Array<{ file: string }> }>(await r.run(['ticket', 'list', '--json']));
  assert.deepEqual(
    list.tickets.map((t) => t.file),
    ['TICKET-001.md'],
  );

  // The agent: user ticket pauses the run at once (exit 5); the sweep ran when it started.
  const run = await r.run(['run']);
  assert.equal(run.code, 5, run.stderr);
  assert.equal(existsSync(leftover), false);
});
