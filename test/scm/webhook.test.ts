// POST /api/scm/github/webhook: deliveries signed with the webhook secret (HMAC-SHA256 of the raw body)
// make car read the PR through the fake GitHub API and follow it; unsigned, badly signed and replayed
// deliveries are refused and change nothing. The route needs no bearer token; the rest of /api does.
import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { createApp } from '../../src/surfaces/http/app.ts';
import { prRepo, TICKETS } from './helpers.ts';

const SECRET = 'webhook-secret-for-tests';
const API_TOKEN = 'car-api-token-0123456789';

const sign = (body: string, secret = SECRET) =>
  `sha256=${createHmac('sha256', secret).update(body).digest('hex')}`;

test('signed deliveries are followed; unsigned, wrongly signed and replayed ones are refused', async (t) => {
  const r = await prRepo();
  t.after(() => r.cleanup());
  assert.equal((await r.car(['pr', 'open', '--ticket', '2'])).code, 0);
  const sha = r.repo.git(['rev-parse', 'HEAD']).trim();
  const ticketPath = join(r.repo.dir, TICKETS, 'TICKET-001.md');
  const closed = readFileSync(ticketPath, 'utf8');

  const app = createApp({
    root: r.repo.dir,
    env: { ...r.env, CAR_GITHUB_WEBHOOK_SECRET: SECRET },
    token: API_TOKEN,
  });
  t.after(() => app.close());
  const deliver = (body: string, headers: Record<string, string>) =>
    app.request('/api/scm/github/webhook', {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...headers },
      body,
    });

  r.gh.addCheckRun({
    head_sha: sha,
    name: 'ci',
    status: 'completed',
    conclusion: 'failure',
    output: { title: 'tests failed', summary: null, text: 'AssertionError: 1 !== 2' },
  });
  const body = JSON.stringify({
    action: 'completed',
    repository: { full_name: 'acme/widgets' },
    check_run: { id: 1, head_sha: sha, pull_requests: [{ number: 1 }] },
  });
  const event = { 'x-github-event': 'check_run', 'x-github-delivery': 'd-1' };

  const unsigned = await deliver(body, event);
  assert.equal(unsigned.status, 401);
  assert.equal(((await unsigned.json()) as { error: string }).error, 'unsigned');
  const forged = await deliver(body, { ...event, 'x-hub-signature-256': sign(body, 'not-the-secret') });
  assert.equal(forged.status, 401);
  assert.equal(((await forged.json()) as { error: string }).error, 'bad_signature');
  const tampered = await deliver(body.replace('"number":1', '"number":2'), {
    ...event,
    'x-hub-signature-256': sign(body),
  });
  assert.equal(tampered.status, 401, 'the signature is over the exact bytes');
  assert.equal(readFileSync(ticketPath, 'utf8'), closed, 'nothing changed');
  assert.ok(!r.gh.calls.some((c) => c.path === '/repos/acme/widgets/pulls/1' && c.method === 'GET'));

  const ok = await deliver(body, { ...event, 'x-hub-signature-256': sign(body) });
  assert.equal(ok.status, 200, await ok.clone().text());
  const res = (await ok.json()) as { followed: { number: number; notices: { kind: string }[] }[] };
  assert.deepEqual(
    res.followed.map((f) => [f.number, f.notices.map((n) => n.kind)]),
    [[1, ['checks_failed']]],
  );
  assert.equal(readFileSync(ticketPath, 'utf8'), closed.replace(/^done: true$/m, 'done: false'));

  const replay = await deliver(body, { ...event, 'x-hub-signature-256': sign(body) });
  assert.equal(replay.status, 409);
  assert.equal(((await replay.json()) as { error: string }).error, 'replayed');

  // a ping (or any event car does not follow) is taken and ignored
  const ping = JSON.stringify({ zen: 'Keep it logically awesome.', hook_id: 1 });
  const pong = await deliver(ping, {
    'x-github-event': 'ping',
    'x-github-delivery': 'd-2',
    'x-hub-signature-256': sign(ping),
  });
  assert.equal(pong.status, 200);
  assert.deepEqual(((await pong.json()) as { followed: unknown[] }).followed, []);

  // the rest of the API still needs the bearer token
  assert.equal((await app.request('/api/tickets')).status, 401);
});

test('without the secret configured, deliveries are refused', async (t) => {
  const r = await prRepo();
  t.after(() => r.cleanup());
  const app = createApp({ root: r.repo.dir, env: r.env });
  t.after(() => app.close());
  const body = '{}';
  const res = await app.request('/api/scm/github/webhook', {
    method: 'POST',
    headers: {
      'x-github-event': 'ping',
      'x-github-delivery': 'd-1',
      'x-hub-signature-256': sign(body),
    },
    body,
  });
  assert.equal(res.status, 503);
  assert.match(((await res.json()) as { message: string }).message, /set CAR_GITHUB_WEBHOOK_SECRET/);
});
