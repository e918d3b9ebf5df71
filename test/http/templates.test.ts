// /api/templates and /api/flow/bootstrap in-process: the picker's list, preview and apply over the repo's
// templates folder; refs that try to leave it, bad bodies and missing variables refused with the field
// named and nothing written; New plan's spec and planning ticket (without starting a run).
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { json, makeApiRepo } from './helpers.ts';

const home = mkdtempSync(join(tmpdir(), 'car-home-'));
const r = makeApiRepo({ env: { ...process.env, HOME: home } });
after(() => {
  r.cleanup();
  rmSync(home, { recursive: true, force: true });
});
const dir = join(r.repo.dir, '.codex-autorunner/templates');
mkdirSync(dir, { recursive: true });
writeFileSync(
  join(dir, 'fix.md'),
  '---\nagent: codex\ndone: false\ntitle: Fix {{ area }}\n---\nFix {{ area }}.\n',
);
const names = () => readdirSync(r.paths.ticketsDir).filter((n) => n.startsWith('TICKET-'));

test('GET /api/templates lists the folder and names the repos not fetched; show previews with variables', async () => {
  const list = await json<{ templates: { ref: string; trusted: boolean }[]; notes: string[] }>(
    await r.call('GET', '/api/templates'),
  );
  assert.deepEqual(
    list.templates.map((t) => [t.ref, t.trusted]),
    [['local:fix.md', true]],
  );
  assert.match(list.notes.join('\n'), /blessed: not fetched yet/);
  const show = await json<{ variables: unknown[] }>(
    await r.call('GET', '/api/templates/show?ref=local:fix.md'),
  );
  assert.deepEqual(show.variables, [{ name: 'area', default: null }]);
  for (const [ref, status, error] of [
    ['local:../config.yml', 400, 'invalid_template_ref'],
    ['local:nope.md', 404, 'template_not_found'],
    ['blessed:reviews/review_single.md', 409, 'template_not_fetched'],
  ] as const) {
    const res = await r.call('GET', `/api/templates/show?ref=${encodeURIComponent(ref)}`);
    assert.equal(res.status, status, ref);
    assert.equal((await json(res)).error, error, ref);
  }
});

test('POST /api/templates/apply fills variables and refuses bad input, writing nothing', async () => {
  for (const [body, status, field] of [
    [{ ref: 'local:fix.md' }, 400, 'values'],
    [{ ref: 'local:fix.md', values: { area: 'x', colour: 'red' } }, 400, 'values'],
    [{ ref: 'local:fix.md', values: { 'a b': 'x' } }, 400, 'values.a b'],
    [{ ref: 'local:fix.md', values: { area: 'x' }, agent: 'nobody' }, 400, 'agent'],
    [{ ref: 'local:fix.md', values: { area: 'x' }, extra: 1 }, 400, ''],
  ] as const) {
    const res = await r.call('POST', '/api/templates/apply', { body });
    const answer = await json<{ field?: string; issues?: { field: string }[] }>(res);
    assert.equal(res.status, status, JSON.stringify(body));
    assert.equal(answer.field ?? answer.issues?.[0]?.field, field, JSON.stringify(answer));
  }
  assert.deepEqual(names(), []);
  const res = await r.call('POST', '/api/templates/apply', {
    body: { ref: 'local:fix.md', values: { area: 'login' } },
  });
  assert.equal(res.status, 201);
  const created = await json<{ tickets: { name: string }[] }>(res);
  assert.deepEqual(
    created.tickets.map((t) => t.name),
    ['TICKET-001-fix.md'],
  );
  assert.match(readFileSync(join(r.paths.ticketsDir, 'TICKET-001-fix.md'), 'utf8'), /^title: Fix login$/m);
});

test('POST /api/flow/bootstrap writes the spec and a planning ticket; a different spec needs replace_spec', async () => {
  const bad = await r.call('POST', '/api/flow/bootstrap', { body: { spec: '   ' } });
  assert.equal(bad.status, 400);
  const res = await r.call('POST', '/api/flow/bootstrap', { body: { spec: '# CSV export\n', start: false } });
  assert.equal(res.status, 201);
  const out = await json<{ plan_ticket: string; spec_file: string; run_id: null }>(res);
  assert.match(out.plan_ticket, /TICKET-\d+-plan\.md$/);
  assert.equal(out.run_id, null);
  assert.equal(readFileSync(join(r.repo.dir, out.spec_file), 'utf8'), '# CSV export\n');
  const clash = await r.call('POST', '/api/flow/bootstrap', { body: { spec: '# Other\n', start: false } });
  assert.equal(clash.status, 409);
  assert.equal((await json(clash)).error, 'spec_exists');
  const replaced = await r.call('POST', '/api/flow/bootstrap', {
    body: { spec: '# Other\n', start: false, replace_spec: true },
  });
  assert.equal(replaced.status, 201);
  assert.equal(readFileSync(join(r.repo.dir, out.spec_file), 'utf8'), '# Other\n');
});
