// The verify gate through the real CLI: `car run` with the bundled demo agent closes a ticket only
// after its `verify:` passes, and `car ticket evidence` shows why.
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import type { EvidenceRecord } from '../../src/core/verify/evidence.ts';
import { createApp } from '../../src/surfaces/http/app.ts';
import { json, makeCarRepo, ticketText, tid } from '../helpers/cli.ts';

test('car run closes a verified ticket; car ticket evidence shows the record (text and --json)', async (t) => {
  const repo = await makeCarRepo();
  t.after(() => repo.cleanup());
  const verified = ticketText({ id: tid(1), agent: 'demo', title: 'Write the note' }).replace(
    'done: false\n',
    'done: false\nverify: ["test -f demo/TICKET-001.txt", "grep -q note demo/TICKET-001.txt"]\n',
  );
  repo.ticket('TICKET-001.md', verified);
  repo.ticket('TICKET-002.md', ticketText({ id: tid(2), agent: 'user', title: 'Review' }));
  repo.commitAll('tickets');

  const run = await repo.run(['run']);
  assert.equal(run.code, 5, `paused on the user ticket: ${run.stdout}${run.stderr}`);

  const out = json<{ ticket: string; ticket_id: string; evidence: (EvidenceRecord & { path: string })[] }>(
    await repo.run(['ticket', 'evidence', '1', '--json']),
  );
  assert.equal(out.ticket_id, tid(1));
  assert.equal(out.evidence.length, 1);
  const [record] = out.evidence;
  assert.equal(record!.commit, repo.git(['rev-parse', 'HEAD']).trim());
  assert.deepEqual(
    record!.commands.map((c) => [c.command, c.exit_code, c.source]),
    [
      ['test -f demo/TICKET-001.txt', 0, 'ticket'],
      ['grep -q note demo/TICKET-001.txt', 0, 'ticket'],
    ],
  );
  assert.match(record!.path, new RegExp(`^\\.codex-autorunner/runs/[^/]+/evidence/${tid(1)}\\.json$`));
  assert.deepEqual(
    record!.commands.map((c) => typeof c.output_tail),
    ['string', 'string'],
    'output tails from the file',
  );

  const text = await repo.run(['ticket', 'evidence', 'TICKET-001.md']);
  assert.equal(text.code, 0);
  assert.match(text.stdout, /^TICKET-001\.md {2}tkt_0+1$/m);
  assert.match(text.stdout, /^ {2}pass {2}test -f demo\/TICKET-001\.txt {2}\[ticket\] exit 0, /m);
  assert.match(text.stdout, /^findings:\n {2}none$/m);

  const none = await repo.run(['ticket', 'evidence', '2']);
  assert.equal(none.code, 0);
  assert.match(none.stdout, /TICKET-002\.md: no evidence yet/);
  assert.deepEqual(json(await repo.run(['ticket', 'evidence', '2', '--json'])).evidence, []);
  assert.equal((await repo.run(['ticket', 'evidence', '9'])).code, 2, 'no such ticket');

  // A damaged evidence file (fuzz finding: `commands: 5` crashed the text view): the store's row is
  // the record, the file only adds output tails where they fit.
  const file = join(repo.dir, record!.path);
  const good = readFileSync(file, 'utf8');
  for (const damaged of [
    '{"commands": 5, "commit": 7, "findings": [1]}',
    '[1]',
    'null',
    '{"commands": [{"output_tail": 3}]}',
    '{',
  ]) {
    writeFileSync(file, damaged);
    const shown = await repo.run(['ticket', 'evidence', '1']);
    assert.equal(shown.code, 0, `${damaged}: ${shown.stderr}`);
    assert.match(shown.stdout, new RegExp(`^commit ${record!.commit} `, 'm'), damaged);
    const listed = json<{ evidence: EvidenceRecord[] }>(
      await repo.run(['ticket', 'evidence', '1', '--json']),
    );
    assert.deepEqual(
      listed.evidence[0]!.commands.map((c) => [c.command, c.output_tail]),
      record!.commands.map((c) => [c.command, undefined]),
      damaged,
    );
  }
  writeFileSync(file, good);

  // the same record over the API
  const app = createApp({ root: repo.dir });
  t.after(() => app.close());
  const res = await app.request('/api/tickets/TICKET-001.md/evidence');
  assert.equal(res.status, 200);
  const api = (await res.json()) as { ticket_id: string; evidence: { commit: string; path: string }[] };
  assert.equal(api.ticket_id, tid(1));
  assert.deepEqual(
    api.evidence.map((e) => [e.commit, e.path]),
    [[record!.commit, record!.path]],
  );
});
