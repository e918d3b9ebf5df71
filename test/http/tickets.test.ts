import assert from 'node:assert/strict';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { spliceBytes, ticketBytes } from '../helpers/ticket-bytes.ts';
import { type ApiRepo, json, makeApiRepo, sha } from './helpers.ts';

const cleanups: (() => void)[] = [];
after(() => {
  for (const c of cleanups) c();
});

function repo(): ApiRepo {
  const r = makeApiRepo();
  cleanups.push(r.cleanup);
  return r;
}

const REL = '.codex-autorunner/tickets';

// Comments, quoting and CRLF-free odd spacing that a byte-preserving edit must keep.
const ORIGINAL =
  '---\n# keep this comment\nticket_id: tkt_00000000000000000000000000000001\nagent:   codex\ndone: false\ntitle: "Quoted title"\ncustom_key: [a, b]\n---\n\n## Tasks\n- one\n';

interface TicketOut {
  name: string;
  file: string;
  index: number;
  hash: string;
  done: boolean;
  state: string;
  title: string | null;
  agent: string | null;
  content: string;
  issues: { code: string; field?: string }[];
}

describe('reading tickets', () => {
  const r = repo();
  for (let i = 1; i <= 25; i++) {
    const done = i <= 3;
    r.ticket(
      `TICKET-${String(i).padStart(3, '0')}.md`,
      `---\nticket_id: tkt_${i.toString(16).padStart(32, '0')}\nagent: codex\ndone: ${done}\ntitle: T${i}\n---\nbody ${i}\n`,
    );
  }
  r.ticket('TICKET-026.md', '---\nagent: codex\ndone: "yes"\n---\n');

  test('the list is paged, in run order, each ticket with the sha256 of its bytes', async () => {
    const first = await json<{
      tickets: TicketOut[];
      total: number;
      has_more: boolean;
      summary: Record<string, number>;
      next: string;
    }>(await r.call('GET', '/api/tickets?limit=10'));
    assert.equal(first.total, 26);
    assert.equal(first.has_more, true);
    assert.deepEqual(
      first.tickets.map((t) => t.index),
      [1, 2, 3, 4, 5, 6, 7, 8, 9, 10],
    );
    assert.deepEqual(first.summary, { total: 26, done: 3, open: 22, invalid: 1 });
    assert.equal(first.next, 'TICKET-004.md');
    for (const t of first.tickets) {
      assert.equal(t.hash, sha(r.read(`${REL}/${t.name}`)));
    }
    const last = await json<{ tickets: TicketOut[]; has_more: boolean }>(
      await r.call('GET', '/api/tickets?offset=20&limit=10'),
    );
    assert.deepEqual(
      last.tickets.map((t) => t.index),
      [21, 22, 23, 24, 25, 26],
    );
    assert.equal(last.has_more, false);
    assert.equal(last.tickets.at(-1)?.state, 'invalid');
  });

  test('one ticket: content, frontmatter, hash and ETag', async () => {
    const res = await r.call('GET', '/api/tickets/TICKET-002.md');
    assert.equal(res.status, 200);
    const t = await json<TicketOut & { frontmatter: Record<string, unknown>; body: string }>(res);
    const bytes = r.read(`${REL}/TICKET-002.md`);
    assert.equal(t.content, bytes.toString('utf8'));
    assert.equal(t.hash, sha(bytes));
    assert.equal(res.headers.get('etag'), `"${t.hash}"`);
    assert.equal(t.frontmatter.title, 'T2');
    assert.equal(t.body, 'body 2\n');
    assert.equal((await r.call('GET', '/api/tickets/TICKET-099.md')).status, 404);
  });

  test('lint reports every issue with file and field', async () => {
    const out = await json<{ ok: boolean; errors: number; issues: { file: string; field?: string }[] }>(
      await r.call('GET', '/api/tickets/lint'),
    );
    assert.equal(out.ok, false);
    assert.ok(out.errors >= 1);
    assert.ok(out.issues.some((i) => i.file === `${REL}/TICKET-026.md` && i.field === 'done'));
  });
});

describe('writing tickets', () => {
  test('POST creates the next ticket, byte-for-byte as rendered, and never reuses a number', async () => {
    const r = repo();
    r.ticket('TICKET-004.md', ORIGINAL);
    const res = await r.call('POST', '/api/tickets', {
      body: { title: 'Add login', agent: 'demo', goal: 'Users log in', body: '## Tasks\n- do it\n' },
    });
    assert.equal(res.status, 201);
    const t = await json<TicketOut & { ticket_id: string }>(res);
    assert.equal(t.name, 'TICKET-005-add-login.md');
    assert.equal(t.file, t.name, 'the same field as `car ticket new --json` names it');
    assert.equal(res.headers.get('location'), '/api/tickets/TICKET-005-add-login.md');
    const bytes = r.read(`${REL}/${t.name}`);
    assert.equal(t.hash, sha(bytes));
    assert.equal(
      bytes.toString('utf8'),
      `---\nticket_id: ${t.ticket_id}\nagent: demo\ndone: false\ntitle: Add login\ngoal: Users log in\n---\n\n## Tasks\n- do it\n`,
    );
    assert.match(t.ticket_id, /^tkt_[0-9a-f]{32}$/);
    const second = await json<TicketOut>(await r.call('POST', '/api/tickets', { body: {} }));
    assert.equal(second.name, 'TICKET-006.md');
    assert.equal(second.agent, 'codex');
  });

  test('POST with depends_on writes it; a target that names no ticket is a 400 naming the field', async () => {
    const r = repo();
    r.ticket('TICKET-004.md', ORIGINAL);
    const res = await r.call('POST', '/api/tickets', {
      body: { title: 'After four', depends_on: [4, 'tkt_00000000000000000000000000000001'] },
    });
    assert.equal(res.status, 201, await res.clone().text());
    const t = await json<TicketOut>(res);
    assert.match(
      r.read(`${REL}/${t.name}`).toString('utf8'),
      /\ntitle: After four\ndepends_on:\n- TICKET-004\n- tkt_0{31}1\n---\n/,
    );
    const listed = await json<{ tickets: { name: string; depends_on: string[]; blocked_by: string[] }[] }>(
      await r.call('GET', '/api/tickets'),
    );
    assert.deepEqual(listed.tickets[1], {
      ...listed.tickets[1],
      depends_on: [`${REL}/TICKET-004.md`],
      blocked_by: [`${REL}/TICKET-004.md`],
    });

    const refused = await r.call('POST', '/api/tickets', {
      body: { title: 'Lost', depends_on: ['TICKET-404'] },
    });
    assert.equal(refused.status, 400);
    const out = await json<{ error: string; message: string; issues: { field: string }[] }>(refused);
    assert.equal(out.error, 'invalid_body');
    assert.deepEqual(
      out.issues.map((i) => i.field),
      ['depends_on'],
    );
    assert.match(out.message, /TICKET-006-lost\.md not created: depends_on: unknown ticket TICKET-404/);
    assert.equal(existsSync(join(r.paths.ticketsDir, 'TICKET-006-lost.md')), false);
  });

  test('PUT replaces the whole file when the hash matches (If-Match or base_hash)', async () => {
    const r = repo();
    r.ticket('TICKET-001.md', ORIGINAL);
    const before = sha(ORIGINAL);
    const next = ORIGINAL.replace('- one', '- one\n- two');
    const res = await r.call('PUT', '/api/tickets/TICKET-001.md', {
      body: { content: next },
      headers: { 'if-match': `"${before}"` },
    });
    assert.equal(res.status, 200, await res.clone().text());
    const out = await json<TicketOut>(res);
    assert.equal(r.read(`${REL}/TICKET-001.md`).toString('utf8'), next);
    assert.equal(out.hash, sha(next));
    const again = ORIGINAL.replace('- one', '- three');
    const viaBody = await r.call('PUT', '/api/tickets/TICKET-001.md', {
      body: { content: again, base_hash: out.hash },
    });
    assert.equal(viaBody.status, 200);
    assert.equal(r.read(`${REL}/TICKET-001.md`).toString('utf8'), again);
  });

  test('a stale hash is a 409 with the current hash, and the file is unchanged', async () => {
    const r = repo();
    const path = r.ticket('TICKET-001.md', ORIGINAL);
    const seen = sha(ORIGINAL);
    // someone else edits the file after the UI read it
    const edited = ORIGINAL.replace('- one', '- edited in the editor');
    writeFileSync(path, edited);
    const current = sha(readFileSync(path));
    for (const call of [
      () =>
        r.call('PUT', '/api/tickets/TICKET-001.md', {
          body: { content: ORIGINAL.replace('- one', '- from the UI') },
          headers: { 'if-match': seen },
        }),
      () =>
        r.call('PUT', '/api/tickets/TICKET-001.md', {
          body: { content: ORIGINAL.replace('- one', '- from the UI'), base_hash: seen },
        }),
      () =>
        r.call('PATCH', '/api/tickets/TICKET-001.md', { body: { fields: { done: true }, base_hash: seen } }),
    ]) {
      const res = await call();
      assert.equal(res.status, 409);
      const out = await json<{ error: string; current_hash: string }>(res);
      assert.equal(out.error, 'hash_mismatch');
      assert.equal(out.current_hash, current);
      assert.equal(sha(readFileSync(path)), current);
    }
    // no hash at all: refused too (428), so a client cannot skip the check by accident
    const none = await r.call('PUT', '/api/tickets/TICKET-001.md', { body: { content: ORIGINAL } });
    assert.equal(none.status, 428);
    assert.equal((await json(none)).current_hash, current);
    assert.equal(sha(readFileSync(path)), current);
  });

  test('PUT refuses content that does not lint (422 with issues) unless ?force=1', async () => {
    const r = repo();
    const path = r.ticket('TICKET-001.md', ORIGINAL);
    const bad = ORIGINAL.replace('done: false', 'done: "maybe"');
    const res = await r.call('PUT', '/api/tickets/TICKET-001.md', {
      body: { content: bad, base_hash: sha(ORIGINAL) },
    });
    assert.equal(res.status, 422);
    const out = await json<{ error: string; issues: { field?: string }[] }>(res);
    assert.equal(out.error, 'ticket_invalid');
    assert.ok(out.issues.some((i) => i.field === 'done'));
    assert.equal(readFileSync(path, 'utf8'), ORIGINAL);
    const forced = await r.call('PUT', '/api/tickets/TICKET-001.md?force=1', {
      body: { content: bad, base_hash: sha(ORIGINAL) },
    });
    assert.equal(forced.status, 200);
    assert.equal(readFileSync(path, 'utf8'), bad);
    assert.equal((await json<TicketOut>(forced)).state, 'invalid');
  });

  test('POST :name/lint checks text as that ticket without writing it; an unclosed quote is on its own line', async () => {
    const r = repo();
    const path = r.ticket('TICKET-001.md', ORIGINAL);
    const lint = async (name: string, content: string) =>
      r.call('POST', `/api/tickets/${name}/lint`, { body: { content } });
    const clean = await json<{ ok: boolean; issues: unknown[] }>(await lint('TICKET-001.md', ORIGINAL));
    assert.deepEqual([clean.ok, clean.issues], [true, []]);
    // line 6 holds `title: "Quoted title` (unclosed); the parser gives up at the end, the closing fence
    const bad = ORIGINAL.replace('"Quoted title"', '"Quoted title');
    const out = await json<{ ok: boolean; errors: number; issues: { line: number; code: string }[] }>(
      await lint('TICKET-001.md', bad),
    );
    assert.equal(out.ok, false);
    assert.deepEqual(
      out.issues.map((i) => [i.code, i.line]),
      [['yaml-invalid', 6]],
    );
    assert.equal(readFileSync(path, 'utf8'), ORIGINAL, 'nothing written');
    // a ticket not yet on disk lints too; a name that is no ticket's is refused
    assert.equal((await lint('TICKET-900-new.md', ORIGINAL)).status, 200);
    assert.equal((await lint('notes.md', ORIGINAL)).status, 400);
  });

  test('PATCH sets fields keeping every other byte', async () => {
    const r = repo();
    const path = r.ticket('TICKET-001.md', ORIGINAL);
    const res = await r.call('PATCH', '/api/tickets/TICKET-001.md', {
      body: { fields: { done: true, title: 'New: title', owner: 'ana' } },
      headers: { 'if-match': sha(ORIGINAL) },
    });
    assert.equal(res.status, 200, await res.clone().text());
    const expected = ORIGINAL.replace('done: false', 'done: true')
      .replace('title: "Quoted title"', 'title: "New: title"')
      .replace('custom_key: [a, b]\n', 'custom_key: [a, b]\nowner: ana\n');
    assert.equal(readFileSync(path, 'utf8'), expected);
    const out = await json<TicketOut>(res);
    assert.equal(out.done, true);
    assert.equal(out.hash, sha(expected));
    // an edit that would break the ticket is refused and writes nothing
    const bad = await r.call('PATCH', '/api/tickets/TICKET-001.md', {
      body: { fields: { agent: 'nobody' }, base_hash: out.hash },
    });
    assert.equal(bad.status, 422);
    assert.equal(readFileSync(path, 'utf8'), expected);
  });

  test('PATCH edits the bytes: CRLF, a BOM and invalid UTF-8 elsewhere are kept', async () => {
    const r = repo();
    const path = r.ticket('TICKET-001.md', '');
    for (let seed = 1; seed <= 20; seed++) {
      const t = ticketBytes(seed);
      writeFileSync(path, t.bytes);
      const res = await r.call('PATCH', '/api/tickets/TICKET-001.md', {
        body: { fields: { done: false, owner: 'ana' } },
        headers: { 'if-match': sha(t.bytes) },
      });
      assert.equal(res.status, 200, `${t.label}: ${await res.clone().text()}`);
      const expected = spliceBytes(
        spliceBytes(t.bytes, [t.close, t.close], `owner: ana${t.eol}`),
        t.done,
        'false',
      );
      assert.deepEqual(readFileSync(path), expected, t.label);
      assert.equal((await json<TicketOut>(res)).hash, sha(expected));
    }
  });
});

describe('contextspace', () => {
  test('list, read and a hash-guarded edit of a catalogue doc', async () => {
    const r = repo();
    const list = await json<{ docs: { kind: string; hash: string; bytes: number }[] }>(
      await r.call('GET', '/api/contextspace'),
    );
    assert.deepEqual(
      list.docs.map((d) => d.kind),
      ['active_context', 'decisions', 'spec'],
    );
    const spec = await json<{ content: string; hash: string }>(await r.call('GET', '/api/contextspace/spec'));
    assert.equal(spec.content, '');
    const put = await r.call('PUT', '/api/contextspace/spec', {
      body: { content: '# Spec\n\nLogin must work.\n', base_hash: spec.hash },
    });
    assert.equal(put.status, 200);
    const file = join(r.paths.contextspaceDir, 'spec.md');
    assert.equal(readFileSync(file, 'utf8'), '# Spec\n\nLogin must work.\n');
    const stale = await r.call('PUT', '/api/contextspace/spec', {
      body: { content: 'overwrite', base_hash: spec.hash },
    });
    assert.equal(stale.status, 409);
    assert.equal((await json(stale)).current_hash, sha('# Spec\n\nLogin must work.\n'));
    assert.equal(readFileSync(file, 'utf8'), '# Spec\n\nLogin must work.\n');
    assert.equal((await r.call('GET', '/api/contextspace/notes')).status, 404);
    assert.equal(existsSync(join(r.paths.contextspaceDir, 'notes.md')), false);
  });
});
