// A hub's root in a real browser (issue 29 point 2, issue 22): the root has no tickets, runs or flow of its
// own, so its pages offer nothing that fails (no New ticket answering 500, no Start): the menu is the hub's
// pages, a repo's page asked for by URL says this is a hub and links that page of each repo, and each
// repo's details page links its pages (served by this server under /repos/<id>). Desktop and phone.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { demoTicket, git, makeHub, type TestHub, writeTicket } from '../hub/helpers.ts';
import { browserSuite, shot } from './browser.ts';

// page.evaluate runs in the browser; the test's tsconfig has no DOM types
declare const document: { documentElement: { scrollWidth: number } };

let hub: TestHub;
let alphaDir: string;
const suite = browserSuite(async (cleanups) => {
  hub = await makeHub();
  cleanups.push(hub.cleanup);
  alphaDir = hub.gitRepo('alpha');
  writeTicket(alphaDir, 'TICKET-010.md', demoTicket(1, ['done']));
  git(alphaDir, ['add', '-A']);
  git(alphaDir, ['commit', '-q', '-m', 'plan']);
  hub.gitRepo('beta');
  assert.equal((await hub.run(['hub', 'scan'])).code, 0);
  return { root: hub.root };
});

const PHONE = { width: 390, height: 844 };
const DESKTOP = { width: 1280, height: 800 };

/** The API paths the page asked for, as the page goes. */
function apiCalls(page: import('playwright-core').Page): string[] {
  const seen: string[] = [];
  page.on('request', (req) => {
    const path = new URL(req.url()).pathname;
    if (path.startsWith('/api/')) seen.push(`${req.method()} ${path}`);
  });
  return seen;
}

test("a hub's root offers only the hub: repo pages say it is a hub, with no ticket or flow controls", {
  skip: suite.skip,
  timeout: 60_000,
}, async () => {
  const page = await suite.browser().context.newPage();
  await page.setViewportSize(DESKTOP);
  const calls = apiCalls(page);
  await page.goto(suite.server().url);
  await page.getByTestId('hub-repos').locator('[data-repo="alpha"]').waitFor();
  const nav = page.getByRole('navigation');
  // the hub's project manager agent sees every repo: its Chat page is the hub's too
  assert.deepEqual(await nav.getByRole('link').allTextContents(), ['Hub', 'Inbox', 'Live', 'Chat']);
  assert.equal(await page.getByLabel('flow').count(), 0, 'no flow bar (no Start)');

  for (const path of ['/tickets', '/runs', '/contextspace', '/usage']) {
    await page.goto(`${suite.server().url}${path}`);
    await page.getByTestId('hub-root').getByRole('heading', { name: 'This is a hub' }).waitFor();
    assert.equal(await page.getByRole('button', { name: 'New ticket' }).count(), 0, path);
    assert.equal(await page.getByRole('button', { name: 'Start' }).count(), 0, path);
    await page.getByTestId('hub-root').getByRole('link', { name: 'alpha' }).waitFor();
  }
  await page.screenshot({ path: shot('hub-root-tickets.png') });
  await page.setViewportSize(PHONE);
  await page.screenshot({ path: shot('hub-root-tickets-phone.png') });
  // nothing asked the root for a repo's data
  const repoCalls = calls.filter((c) => /\/api\/(tickets|flow|runs|contextspace|usage)/.test(c));
  assert.deepEqual(repoCalls, []);
  await page.getByTestId('hub-root').getByRole('link', { name: 'Hub', exact: true }).click();
  await page.waitForURL(/\/hub$/);
  await page.close();
});

test("a repo's details on the Hub page link its pages; an unknown repo is not found", {
  skip: suite.skip,
  timeout: 60_000,
}, async () => {
  const page = await suite.browser().context.newPage();
  await page.setViewportSize(DESKTOP);
  await page.goto(`${suite.server().url}/hub`);
  const row = page.getByTestId('hub-repos').locator('[data-repo="alpha"]');
  await row.getByRole('link', { name: 'details' }).click();
  await page.waitForURL(/\/hub\/alpha$/);
  const facts = page.getByTestId('hub-repo');
  await facts.getByText(alphaDir).waitFor();
  await facts.getByText('0/1 done').waitFor();
  const command = await page.getByTestId('open-command').textContent();
  assert.equal(command, `car --repo ${alphaDir} serve --port 0`);
  await page.getByTestId('open-repo').getByRole('link', { name: 'Runs' }).waitFor();
  assert.equal(
    await page.getByTestId('open-repo').getByRole('link', { name: 'Runs' }).getAttribute('href'),
    '/repos/alpha/runs',
  );
  await page.screenshot({ path: shot('hub-repo.png') });
  await page.setViewportSize(PHONE);
  await page.screenshot({ path: shot('hub-repo-phone.png') });
  const width = await page.evaluate(() => document.documentElement.scrollWidth);
  assert.ok(width <= PHONE.width, `the repo page fits the phone's width (${width}px)`);
  await page.setViewportSize(DESKTOP);

  await page.goto(`${suite.server().url}/hub/nope`);
  await page.getByTestId('not-found').getByRole('heading', { name: 'No repo "nope" in this hub' }).waitFor();
  await page.screenshot({ path: shot('hub-repo-not-found.png') });
  await page.close();
});

test('no page errors or CSP violations in the browser', { skip: suite.skip }, () => {
  assert.deepEqual(suite.browser().errors, []);
});
