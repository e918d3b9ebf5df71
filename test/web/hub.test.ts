// The hub page in a real browser against a real `car serve` at a hub's root: every registered repo with
// its state and tickets, and Scan picking up a checkout made outside car.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { demoTicket, git, makeHub, type TestHub, writeTicket } from '../hub/helpers.ts';
import { browserSuite, shot } from './browser.ts';

let hub: TestHub;
const suite = browserSuite(async (cleanups) => {
  hub = await makeHub();
  cleanups.push(hub.cleanup);
  const alpha = hub.gitRepo('alpha');
  writeTicket(alpha, 'TICKET-010.md', demoTicket(1, ['done']));
  writeTicket(alpha, 'TICKET-020.md', demoTicket(2, ['done']));
  git(alpha, ['add', '-A']);
  git(alpha, ['commit', '-q', '-m', 'plan']);
  hub.gitRepo('beta');
  assert.equal((await hub.run(['hub', 'scan'])).code, 0);
  return { root: hub.root };
});

test('the hub page lists every repo with its state and tickets; Scan adds a checkout made outside car', {
  skip: suite.skip,
  timeout: 60_000,
}, async () => {
  const page = await suite.browser().context.newPage();
  await page.goto(suite.server().url);
  // the Hub tab appears because this server runs at a hub's root
  await page.getByRole('link', { name: 'Hub' }).click();
  const table = page.getByTestId('hub-repos');
  await table.locator('[data-repo="alpha"]').waitFor();
  const row = (id: string) => table.locator(`[data-repo="${id}"]`);
  assert.match((await row('alpha').textContent()) ?? '', /alpha\s*details.*idle.*0\/2/s);
  assert.match((await row('beta').textContent()) ?? '', /beta\s*details.*idle.*0\/0/s);

  hub.gitRepo('gamma');
  await page.getByRole('button', { name: 'Scan' }).click();
  await row('gamma').waitFor();
  assert.equal(await table.locator('[data-repo]').count(), 3);
  await page.screenshot({ path: shot('hub.png') });
  await page.close();
});
