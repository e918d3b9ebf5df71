import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { chooseToken, envWithoutToken, isLoopbackHost } from '../../src/surfaces/http/security.ts';
import { type ApiRepo, json, makeApiRepo, sha } from './helpers.ts';

const cleanups: (() => void)[] = [];
after(() => {
  for (const c of cleanups) c();
});

function repo(opts: Parameters<typeof makeApiRepo>[0] = {}): ApiRepo {
  const r = makeApiRepo(opts);
  cleanups.push(r.cleanup);
  return r;
}

function outsideDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'car-outside-'));
  cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

const TICKET =
  '---\nticket_id: tkt_00000000000000000000000000000001\nagent: codex\ndone: false\ntitle: One\n---\n\nbody\n';

describe('bearer auth', () => {
  const r = repo({ token: 's3cret-token' });

  test('no token and a wrong token are refused with 401 on every /api route', async () => {
    for (const path of [
      '/api/health',
      '/api/tickets',
      '/api/runs',
      '/api/flow/status',
      '/api/contextspace',
    ]) {
      const none = await r.call('GET', path);
      assert.equal(none.status, 401, path);
      assert.equal(none.headers.get('x-content-type-options'), 'nosniff');
      assert.equal(none.headers.get('cache-control'), 'no-store');
      assert.equal((await json(none)).error, 'unauthorized');
      const wrong = await r.call('GET', path, { token: 's3cret-tokem' });
      assert.equal(wrong.status, 401, path);
    }
    const post = await r.call('POST', '/api/tickets', { body: { title: 'x' } });
    assert.equal(post.status, 401);
    assert.equal((await json(await r.call('GET', '/api/tickets', { token: 's3cret-token' }))).total, 0);
  });

  test('the right token is accepted', async () => {
    const res = await r.call('GET', '/api/health', { token: 's3cret-token' });
    assert.equal(res.status, 200);
    assert.equal((await json(res)).ok, true);
  });

  test('a read-only token reads everything, writes nothing (403, no file touched); the full token writes', async () => {
    const v = repo({ token: 'full-token', viewerToken: 'look-only' });
    v.ticket('TICKET-001.md', TICKET);
    for (const path of ['/api/tickets', '/api/runs', '/api/flow/status', '/api/tickets/TICKET-001.md']) {
      assert.equal((await v.call('GET', path, { token: 'look-only' })).status, 200, path);
    }
    const before = v.read('.codex-autorunner/tickets/TICKET-001.md');
    const attempts: [string, string, unknown][] = [
      ['POST', '/api/tickets', { title: 'sneaky' }],
      ['PATCH', '/api/tickets/TICKET-001.md', { fields: { done: true } }],
      ['POST', '/api/flow/start', {}],
    ];
    for (const [method, path, body] of attempts) {
      const res = await v.call(method, path, {
        token: 'look-only',
        body,
        headers: { 'if-match': sha(before) },
      });
      assert.equal(res.status, 403, `${method} ${path}`);
      const err = await json(res);
      assert.equal(err.error, 'forbidden');
      assert.match(String(err.message), /read-only/);
    }
    assert.deepEqual(v.read('.codex-autorunner/tickets/TICKET-001.md'), before, 'nothing changed on disk');
    assert.equal(
      (await v.call('POST', '/api/tickets', { token: 'full-token', body: { title: 'real' } })).status,
      201,
    );
    assert.equal((await v.call('GET', '/api/tickets', { token: 'not-it' })).status, 401);
  });

  test('a loopback server without a token answers without auth', async () => {
    const open = repo();
    const res = await open.call('GET', '/api/health');
    assert.equal(res.status, 200);
  });
});

describe('Host and Origin checks', () => {
  const r = repo();

  test('a loopback bind refuses foreign Host headers (DNS rebinding)', async () => {
    for (const host of ['evil.example', 'evil.example:4173', '127.0.0.1.evil.example', '10.0.0.5:4173']) {
      const res = await r.call('GET', '/api/health', { headers: { host } });
      assert.equal(res.status, 421, host);
      assert.equal((await json(res)).error, 'host_not_allowed');
    }
    for (const host of ['127.0.0.1:4173', 'localhost:4173', 'localhost', '[::1]:4173']) {
      const res = await r.call('GET', '/api/health', { headers: { host } });
      assert.equal(res.status, 200, host);
    }
  });

  test('configured allowed_hosts extend the list', async () => {
    const extra = repo({ allowedHosts: ['car.internal'] });
    assert.equal(
      (await extra.call('GET', '/api/health', { headers: { host: 'car.internal:4173' } })).status,
      200,
    );
    assert.equal(
      (await extra.call('GET', '/api/health', { headers: { host: 'other.internal' } })).status,
      421,
    );
  });

  test('a cross-site page cannot write: a foreign Origin is refused for POST, nothing is created', async () => {
    const res = await r.call('POST', '/api/tickets', {
      body: { title: 'csrf' },
      headers: { origin: 'https://evil.example', host: '127.0.0.1:4173' },
    });
    assert.equal(res.status, 403);
    assert.equal((await json(res)).error, 'origin_not_allowed');
    assert.equal((await json(await r.call('GET', '/api/tickets'))).total, 0);
    const same = await r.call('POST', '/api/tickets', {
      body: { title: 'same origin' },
      headers: { origin: 'http://127.0.0.1:4173', host: '127.0.0.1:4173' },
    });
    assert.equal(same.status, 201);
  });

  test('a form-encoded body (what a cross-site form can send) is refused with 415', async () => {
    const res = await r.call('POST', '/api/flow/reply', {
      body: 'text=hi',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
    });
    assert.equal(res.status, 415);
  });

  test('CORS is closed by default and opens only for configured origins', async () => {
    const closed = await r.call('OPTIONS', '/api/tickets', {
      headers: { origin: 'https://ui.example', 'access-control-request-method': 'PUT' },
    });
    assert.equal(closed.headers.get('access-control-allow-origin'), null);
    const open = repo({ allowedOrigins: ['https://ui.example'], token: 'tok' });
    const pre = await open.call('OPTIONS', '/api/tickets', {
      headers: { origin: 'https://ui.example', 'access-control-request-method': 'PUT' },
    });
    assert.equal(pre.status, 204);
    assert.equal(pre.headers.get('access-control-allow-origin'), 'https://ui.example');
    const get = await open.call('GET', '/api/health', {
      headers: { origin: 'https://ui.example' },
      token: 'tok',
    });
    assert.equal(get.headers.get('access-control-allow-origin'), 'https://ui.example');
    const other = await open.call('GET', '/api/health', {
      headers: { origin: 'https://x.example' },
      token: 'tok',
    });
    assert.equal(other.headers.get('access-control-allow-origin'), null);
  });
});

describe('token choice', () => {
  test('loopback needs none; any other bind gets CAR_WEB_TOKEN, the named variable, or a generated one', () => {
    assert.deepEqual(chooseToken({}, '', '127.0.0.1'), { token: null, source: 'none' });
    assert.deepEqual(chooseToken({ CAR_WEB_TOKEN: 'a' }, 'MY_TOK', '127.0.0.1'), {
      token: 'a',
      source: 'CAR_WEB_TOKEN',
    });
    assert.deepEqual(chooseToken({ MY_TOK: 'b' }, 'MY_TOK', '0.0.0.0'), {
      token: 'b',
      source: 'auth_token_env',
    });
    const gen = chooseToken({}, 'MY_TOK', '0.0.0.0');
    assert.equal(gen.source, 'generated');
    assert.ok(gen.token && gen.token.length >= 40);
    assert.notEqual(chooseToken({}, '', '::').token, gen.token);
    assert.ok(isLoopbackHost('localhost') && isLoopbackHost('::1') && isLoopbackHost('127.1.2.3'));
    assert.ok(!isLoopbackHost('0.0.0.0') && !isLoopbackHost('::') && !isLoopbackHost('192.168.1.2'));
  });

  test('workers do not inherit the API tokens', () => {
    const env = envWithoutToken(
      { CAR_WEB_TOKEN: 'a', MY_TOK: 'b', CAR_WEB_VIEWER_TOKEN: 'c', PATH: '/bin' },
      'MY_TOK',
      'CAR_WEB_VIEWER_TOKEN',
    );
    assert.deepEqual(env, { PATH: '/bin' });
  });
});

describe('request bodies', () => {
  const r = repo();

  test('a body over 1 MiB is refused with 413 and nothing is written', async () => {
    r.ticket('TICKET-001.md', TICKET);
    const before = sha(r.read('.codex-autorunner/tickets/TICKET-001.md'));
    const big = `${TICKET}${'x'.repeat(1024 * 1024)}`;
    const res = await r.call('PUT', '/api/tickets/TICKET-001.md', {
      body: { content: big, base_hash: before },
    });
    assert.equal(res.status, 413);
    assert.equal((await json(res)).error, 'payload_too_large');
    assert.equal(sha(r.read('.codex-autorunner/tickets/TICKET-001.md')), before);
  });

  test('an invalid body is a 400 naming the field', async () => {
    const cases: [string, string, unknown, string][] = [
      ['POST', '/api/tickets', { title: 7 }, 'title'],
      ['POST', '/api/tickets', { agent: 'nobody' }, 'agent'],
      ['POST', '/api/tickets', { titel: 'typo' }, ''],
      ['PUT', '/api/tickets/TICKET-001.md', { content: 5 }, 'content'],
      ['PUT', '/api/tickets/TICKET-001.md', { content: 'x', base_hash: 'abc' }, 'base_hash'],
      ['PATCH', '/api/tickets/TICKET-001.md', { fields: { 'bad key': 1 } }, 'fields.bad key'],
      ['PATCH', '/api/tickets/TICKET-001.md', { fields: { title: { nested: 1 } } }, 'fields.title'],
      ['POST', '/api/flow/reply', { text: '   ' }, 'text'],
      ['POST', '/api/flow/start', { max_total_turns: 0 }, 'max_total_turns'],
    ];
    for (const [method, path, body, field] of cases) {
      const res = await r.call(method, path, { body });
      assert.equal(res.status, 400, `${method} ${path} ${JSON.stringify(body)}`);
      const out = await json<{ error: string; issues: { field: string }[] }>(res);
      assert.equal(out.error, 'invalid_body');
      if (field) assert.equal(out.issues[0]?.field, field, JSON.stringify(out));
      else assert.match(JSON.stringify(out), /titel/);
    }
    const bad = await r.call('POST', '/api/tickets', { body: '{"title": ' });
    assert.equal(bad.status, 400);
    assert.equal((await json(bad)).error, 'invalid_json');
    const query = await r.call('GET', '/api/tickets?limit=5000');
    assert.equal(query.status, 400);
    assert.equal((await json<{ issues: { field: string }[] }>(query)).issues[0]?.field, 'limit');
  });
});

describe('paths from requests stay inside the repo', () => {
  const r = repo();
  const outside = outsideDir();
  const secret = '---\nagent: codex\ndone: false\ntitle: TOP SECRET\n---\nsecret body\n';
  writeFileSync(join(outside, 'secret.md'), secret);
  writeFileSync(join(r.repo.dir, 'README.md'), 'readme\n');
  r.ticket('TICKET-001.md', TICKET);
  symlinkSync(join(outside, 'secret.md'), join(r.paths.ticketsDir, 'TICKET-009.md'));
  symlinkSync(join(outside, 'gone.md'), join(r.paths.ticketsDir, 'TICKET-010.md'));
  const escapes = [
    '/api/tickets/..%2f..%2fREADME.md',
    '/api/tickets/%2e%2e%2f%2e%2e%2fREADME.md',
    '/api/tickets/..%2F..%2F..%2Fetc%2Fpasswd',
    '/api/tickets/%2Fetc%2Fpasswd',
    '/api/tickets/TICKET-001..%2f..%2f..%2fREADME.md',
    '/api/tickets/TICKET-001%5c..%5c..%5cREADME.md',
    '/api/tickets/TICKET-001%00.md',
    '/api/tickets/../../README.md',
    '/api/contextspace/..%2fconfig',
    '/api/contextspace/%2e%2e%2f%2e%2e%2fREADME.md',
  ];

  test('traversal, encoded traversal, absolute paths and backslashes are refused', async () => {
    for (const path of escapes) {
      const res = await r.call('GET', path);
      assert.ok([400, 404].includes(res.status), `${path}: ${res.status}`);
      assert.doesNotMatch(await res.text(), /readme|root:/, path);
    }
  });

  test('writes through such paths are refused and touch nothing', async () => {
    const readme = sha(r.read('README.md'));
    for (const path of escapes) {
      const res = await r.call('PUT', path, { body: { content: TICKET, base_hash: readme } });
      assert.ok([400, 404].includes(res.status), `${path}: ${res.status}`);
    }
    assert.equal(sha(r.read('README.md')), readme);
  });

  test('a ticket that is a link to a file outside the repo is neither shown nor written', async () => {
    const get = await r.call('GET', '/api/tickets/TICKET-009.md');
    assert.equal(get.status, 403);
    assert.doesNotMatch(await get.text(), /SECRET|secret body/);
    const put = await r.call('PUT', '/api/tickets/TICKET-009.md', {
      body: { content: TICKET, base_hash: sha(secret) },
    });
    assert.equal(put.status, 403);
    const patch = await r.call('PATCH', '/api/tickets/TICKET-009.md', {
      body: { fields: { done: true }, base_hash: sha(secret) },
    });
    assert.equal(patch.status, 403);
    assert.equal(readFileSync(join(outside, 'secret.md'), 'utf8'), secret);
    const dangling = await r.call('PUT', '/api/tickets/TICKET-010.md', {
      body: { content: TICKET, base_hash: sha('') },
    });
    assert.equal(dangling.status, 403);
    const list = await r.call('GET', '/api/tickets');
    const text = await list.text();
    assert.doesNotMatch(text, /SECRET/);
    assert.deepEqual(
      (JSON.parse(text) as { tickets: { name: string }[] }).tickets.map((t) => t.name),
      ['TICKET-001.md'],
    );
  });

  test('a contextspace doc linked outside the repo is refused', async () => {
    const doc = join(r.paths.contextspaceDir, 'spec.md');
    rmSync(doc);
    symlinkSync(join(outside, 'secret.md'), doc);
    const get = await r.call('GET', '/api/contextspace/spec');
    assert.equal(get.status, 403);
    const put = await r.call('PUT', '/api/contextspace/spec', {
      body: { content: 'x', base_hash: sha(secret) },
    });
    assert.equal(put.status, 403);
    assert.equal(readFileSync(join(outside, 'secret.md'), 'utf8'), secret);
  });
});
