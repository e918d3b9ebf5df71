// The hub pages show each repo's pull requests (car pr open) as the repos' stores record them: a pill in
// the hub table (open PRs, failing checks, changes asked for) and the newest PR on the repo's page.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { repoPaths } from '../../src/core/paths.ts';
import { openRunStore } from '../../src/core/store/run-store.ts';
import { makeHub, type TestHub } from '../hub/helpers.ts';
import { browserSuite, shot } from './browser.ts';

let hub: TestHub;
const suite = browserSuite(async (cleanups) => {
  hub = await makeHub();
  cleanups.push(hub.cleanup);
  const alpha = hub.gitRepo('alpha');
  hub.gitRepo('beta');
  assert.equal((await hub.run(['hub', 'scan'])).code, 0);
  const store = openRunStore(repoPaths(alpha).dbFile);
  for (const number of [4, 5]) {
    store.prs().upsert({
      repoSlug: 'acme/alpha',
      number,
      url: `https://github.example/acme/alpha/pull/${number}`,
      headBranch: `work-${number}`,
      baseBranch: 'main',
      headSha: null,
      ticketPath: null,
      ticketId: null,
      targetTicketId: null,
      tickets: [],
      draft: false,
    });
  }
  store.prs().update('acme/alpha', 5, { checks: 'failure' });
  store.close();
  return { root: hub.root };
});

for (const [label, viewport] of [
  ['desktop', { width: 1280, height: 860 }],
  ['phone', { width: 390, height: 844 }],
] as const) {
  test(`hub (${label}): a repo's open pull requests and failing checks`, {
    skip: suite.skip,
    timeout: 60_000,
  }, async () => {
    const page = await suite.browser().context.newPage();
    await page.setViewportSize(viewport);
    await page.goto(`${suite.server().url}/hub`);
    const table = page.getByTestId('hub-repos');
    await table.locator('[data-repo="alpha"]').getByText('2 PRs · 1 failing').waitFor();
    assert.equal(await table.locator('[data-repo="beta"]').getByText(/PR/).count(), 0, 'beta has none');
    await page.screenshot({ path: shot(`hub-prs-${label}.png`), fullPage: true });

    await page.goto(`${suite.server().url}/hub/alpha`);
    const prs = page.getByTestId('repo-prs');
    await prs.getByText(/2 open, 1 failing checks/).waitFor();
    assert.equal(
      await prs.getByRole('link', { name: '#5' }).getAttribute('href'),
      'https://github.example/acme/alpha/pull/5',
    );
    await page.screenshot({ path: shot(`hub-repo-prs-${label}.png`), fullPage: true });
    await page.goto(`${suite.server().url}/hub/beta`);
    await page.getByTestId('repo-prs').getByText('none yet (car pr open)').waitFor();
    await page.close();
  });
}
