// One server at a hub's root answers every repo's own API under /repos/<id>/api (issue 22 point 1): the same
// answers a server in the repo gives, behind the hub's token; unknown, missing and uninitialized repos are
// refused with their own codes; a write through the prefix lands in that repo only.
import assert from 'node:assert/strict';
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { createApp } from '../../src/surfaces/http/app.ts';
import { demoTicket, makeHub, type TestHub, writeTicket } from '../hub/helpers.ts';

const hubs: TestHub[] = [];
after(() => {
  for (const h of hubs) h.cleanup();
});

const TOKEN = 'hub-token-for-tests';
const auth = { authorization: `Bearer ${TOKEN}` };

test('a hub server answers each repo API under /repos/<id>/api with the hub token', async () => {
  const h = await makeHub();
  hubs.push(h);
  const alpha = h.gitRepo('alpha');
  const beta = h.gitRepo('beta');
  h.gitRepo('gone');
  writeTicket(alpha, 'TICKET-010.md', demoTicket(1, ['done']));
  writeTicket(beta, 'TICKET-010.md', demoTicket(2, ['done']));
  writeTicket(beta, 'TICKET-020.md', demoTicket(3, ['done']));
  assert.equal((await h.run(['hub', 'scan'])).code, 0);
  rmSync(join(h.root, 'repos/gone'), { recursive: true });

  const hubApp = createApp({ root: h.root, token: TOKEN });
  const own = createApp({ root: alpha, token: TOKEN });
  try {
    // no token: refused before anything about the repo is said
    const anon = await hubApp.request('/repos/alpha/api/tickets');
    assert.equal(anon.status, 401);
    const anonUnknown = await hubApp.request('/repos/nope/api/tickets');
    assert.equal(
      anonUnknown.status,
      401,
      'an unknown id is not told apart from a known one without the token',
    );

    const viaHub = await hubApp.request('/repos/alpha/api/tickets', { headers: auth });
    assert.equal(viaHub.status, 200);
    const direct = await own.request('/api/tickets', { headers: auth });
    const a = (await viaHub.json()) as { tickets: { name: string }[] };
    const b = (await direct.json()) as { tickets: { name: string }[] };
    assert.deepEqual(a, b, 'the same answer as the repo server gives');
    const betaTickets = (await (
      await hubApp.request('/repos/beta/api/tickets', { headers: auth })
    ).json()) as {
      tickets: unknown[];
    };
    assert.equal(betaTickets.tickets.length, 2);

    // ETags hold through the prefix
    const etag = viaHub.headers.get('etag');
    assert.ok(etag);
    const again = await hubApp.request('/repos/alpha/api/tickets', {
      headers: { ...auth, 'if-none-match': etag },
    });
    assert.equal(again.status, 304);

    // a write lands in that repo only
    const made = await hubApp.request('/repos/beta/api/tickets', {
      method: 'POST',
      headers: { ...auth, 'content-type': 'application/json' },
      body: JSON.stringify({ title: 'from the hub', body: 'made through /repos/beta' }),
    });
    assert.equal(made.status, 201, await made.clone().text());
    const after = (await (await hubApp.request('/repos/beta/api/tickets', { headers: auth })).json()) as {
      tickets: unknown[];
    };
    assert.equal(after.tickets.length, 3);
    const alphaAfter = (await (
      await hubApp.request('/repos/alpha/api/tickets', { headers: auth })
    ).json()) as {
      tickets: unknown[];
    };
    assert.equal(alphaAfter.tickets.length, 1);

    const repo = (await (await hubApp.request('/repos/alpha/api/repo', { headers: auth })).json()) as {
      root: string;
      hub: boolean;
    };
    assert.equal(repo.root, alpha);
    assert.equal(repo.hub, false);

    const unknown = await hubApp.request('/repos/nope/api/tickets', { headers: auth });
    assert.equal(unknown.status, 404);
    assert.equal(((await unknown.json()) as { error: string }).error, 'repo_not_found');
    const gone = await hubApp.request('/repos/gone/api/tickets', { headers: auth });
    assert.equal(gone.status, 404);
    assert.equal(((await gone.json()) as { error: string }).error, 'repo_missing');
    const noRoute = await hubApp.request('/repos/alpha/api/nothing-here', { headers: auth });
    assert.equal(noRoute.status, 404);
    assert.equal(((await noRoute.json()) as { error: string }).error, 'not_found');

    // the hub's own root still has no tickets
    const root = await hubApp.request('/api/tickets', { headers: auth });
    assert.equal(root.status, 409);

    // a repo server has no /repos
    const notHub = await own.request('/repos/alpha/api/tickets', { headers: auth });
    assert.equal(notHub.status, 404);
    assert.equal(((await notHub.json()) as { error: string }).error, 'not_a_hub');
  } finally {
    hubApp.close();
    own.close();
  }
});
