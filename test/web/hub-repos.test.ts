// The web UI as a hub's control plane (issue 22), in a real browser against one real `car serve` at a hub's
// root: every repo's pages under /repos/<id> (the same views, each repo's own API under /repos/<id>/api),
// switching repo keeps the view, an unknown repo is not found; the hub inbox gathers every paused run of
// every repo, newest first, with a badge kept live over the hub's stream, and a question is answered in
// place; an approval a supervised agent of another repo asks for shows there too and is approved in place;
// the live view shows each working run with its ticket and the agent's last line. Desktop and phone.
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import type { Page } from 'playwright-core';
import { repoPaths } from '../../src/core/paths.ts';
import { openRunStore } from '../../src/core/store/run-store.ts';
import { ticketText, tid } from '../helpers/cli.ts';
import { SUPERVISED_ACP_CONFIG } from '../helpers/supervised-acp.ts';
import { waitFor } from '../helpers/wait.ts';
import { git, makeHub, type TestHub, writeTicket } from '../hub/helpers.ts';
import { browserSuite, shot } from './browser.ts';

// page.evaluate runs in the browser; the test's tsconfig has no DOM types
declare const document: { documentElement: { scrollWidth: number } };

const PHONE = { width: 390, height: 844 };
const DESKTOP = { width: 1280, height: 800 };

function ticket(n: number, title: string, script: string[]): string {
  const id = `tkt_${n.toString(16).padStart(32, '0')}`;
  return `---\nticket_id: ${id}\nagent: demo\ndone: false\ntitle: ${title}\n---\n\n\`\`\`car-demo\n${script.join('\n')}\n\`\`\`\n`;
}

let hub: TestHub;
const suite = browserSuite(async (cleanups) => {
  hub = await makeHub();
  cleanups.push(hub.cleanup);
  const alpha = hub.gitRepo('alpha');
  writeTicket(
    alpha,
    'TICKET-010-db.md',
    ticket(1, 'Pick the database', [
      'ask Which database should the cache use? | Postgres | SQLite',
      'write db.txt chosen\\n',
      'done',
      'commit db: apply the answer',
    ]),
  );
  writeTicket(alpha, 'TICKET-020-docs.md', ticket(2, 'Write the docs', ['done']));
  git(alpha, ['add', '-A']);
  git(alpha, ['commit', '-q', '-m', 'plan']);
  const beta = hub.gitRepo('beta');
  writeTicket(
    beta,
    'TICKET-010-slow.md',
    ticket(3, 'Take a while', [
      'say Reading the code',
      'say Working on the parser now',
      'sleep 30000',
      'done',
    ]),
  );
  git(beta, ['add', '-A']);
  git(beta, ['commit', '-q', '-m', 'plan']);
  const broken = hub.gitRepo('gamma');
  const delta = hub.gitRepo('delta');
  assert.equal((await hub.run(['hub', 'scan'])).code, 0);
  // delta: a supervised agent (the fake ACP agent, approval_policy: ask) asks before it acts
  writeFileSync(join(delta, '.codex-autorunner', 'config.yml'), SUPERVISED_ACP_CONFIG);
  writeTicket(delta, 'TICKET-010.md', ticketText({ id: tid(4), agent: 'fake', title: 'Supervised work' }));
  git(delta, ['add', '-A']);
  git(delta, ['commit', '-q', '-m', 'plan']);
  // a repo whose config car cannot read (with a run store, so the inbox looks at it)
  openRunStore(repoPaths(broken).dbFile).close();
  writeFileSync(join(broken, '.codex-autorunner', 'config.yml'), 'ticket_flow: [not, a, mapping\n');
  cleanups.push(async () => {
    // no worker outlives the test
    for (const id of ['alpha', 'beta', 'delta']) {
      await fetch(`${suite.server().url}/repos/${id}/api/flow/stop`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: '{}',
      }).catch(() => {});
    }
  });
  return { root: hub.root };
});

async function post(page: Page, path: string, body: unknown = {}): Promise<void> {
  const res = await page.request.post(`${suite.server().url}${path}`, { data: body });
  assert.ok(res.ok(), `POST ${path}: ${res.status()} ${await res.text()}`);
}

async function fits(page: Page, what: string): Promise<void> {
  const width = await page.evaluate('document.documentElement.scrollWidth');
  assert.ok((width as number) <= PHONE.width, `${what} fits the phone's width (${width}px)`);
}

test("each repo's pages under /repos/<id> from the hub's one server; switching repo keeps the view", {
  skip: suite.skip,
  timeout: 90_000,
}, async () => {
  const page = await suite.browser().context.newPage();
  await page.setViewportSize(DESKTOP);
  await page.goto(`${suite.server().url}/hub`);
  const row = page.getByTestId('hub-repos').locator('[data-repo="alpha"]');
  await row.getByRole('link', { name: 'alpha', exact: true }).click();
  await page.waitForURL(/\/repos\/alpha$/);
  await page.getByText('Pick the database').waitFor();
  await page.getByText('Write the docs').waitFor();
  assert.equal(await page.getByText('Take a while').count(), 0, "beta's ticket is not on alpha's board");
  assert.equal(await page.getByTestId('repo-switcher').inputValue(), 'alpha');
  await page.screenshot({ path: shot('hub-repos-board.png') });

  // the repo's own nav stays inside the repo
  await page.getByRole('navigation').getByRole('link', { name: 'Runs' }).click();
  await page.waitForURL(/\/repos\/alpha\/runs$/);
  // switching repo keeps the view
  await page.getByTestId('repo-switcher').selectOption('beta');
  await page.waitForURL(/\/repos\/beta\/runs$/);
  await page.getByRole('heading', { name: 'Runs' }).waitFor();
  await page.getByRole('navigation').getByRole('link', { name: 'Tickets' }).click();
  await page.waitForURL(/\/repos\/beta$/);
  await page.getByText('Take a while').waitFor();
  assert.equal(await page.getByText('Pick the database').count(), 0);
  // a ticket of beta opens under beta
  await page.getByText('Take a while').click();
  await page.waitForURL(/\/repos\/beta\/tickets\/TICKET-010-slow\.md$/);
  await page.getByRole('link', { name: '← board' }).waitFor();
  await page.getByTestId('repo-switcher').selectOption('alpha');
  await page.waitForURL(/\/repos\/alpha$/, { timeout: 10_000 });
  await page.getByText('Pick the database').waitFor();

  await page.setViewportSize(PHONE);
  await page.screenshot({ path: shot('hub-repos-board-phone.png') });
  await fits(page, "a hub repo's board");
  await page.setViewportSize(DESKTOP);

  // an unknown repo, and an unknown page of a known one
  await page.goto(`${suite.server().url}/repos/nope/runs`);
  await page.getByTestId('not-found').waitFor();
  await page.getByTestId('not-found').getByText('Repo nope').waitFor();
  await page.screenshot({ path: shot('hub-repos-not-found.png') });
  // a repo that cannot be opened says why
  await page.goto(`${suite.server().url}/repos/gamma/runs`);
  await page
    .getByTestId('repo-error')
    .getByText(/config\.yml/)
    .waitFor();
  await page.screenshot({ path: shot('hub-repos-error.png') });
  await page.goto(`${suite.server().url}/repos/alpha/nothing`);
  await page.getByTestId('not-found').getByText('The page /repos/alpha/nothing').waitFor();
  // a repo page asked for at the root lists the repos, each linking to that page
  await page.goto(`${suite.server().url}/runs`);
  await page.getByTestId('hub-root').getByRole('link', { name: 'beta' }).click();
  await page.waitForURL(/\/repos\/beta\/runs$/);
  await page.close();
});

test('the hub inbox gathers every paused run with a live badge; a question is answered in place', {
  skip: suite.skip,
  timeout: 120_000,
}, async () => {
  const page = await suite.browser().context.newPage();
  await page.setViewportSize(DESKTOP);
  await page.goto(`${suite.server().url}/inbox`);
  await page.getByTestId('inbox-empty').waitFor();
  // the repo whose runs cannot be read is named, not hidden
  await page
    .getByTestId('inbox-repo-error')
    .getByText(/^gamma: .*config\.yml/)
    .waitFor();
  await page.screenshot({ path: shot('hub-inbox-empty.png') });

  // a run in alpha pauses on its question: the badge comes without a reload (the hub's stream)
  await post(page, '/repos/alpha/api/flow/start');
  const badge = page.getByRole('navigation').getByTestId('inbox-badge');
  await badge.waitFor({ timeout: 60_000 });
  assert.equal(await badge.textContent(), '1');
  const card = page.locator('article[data-repo="alpha"]');
  await card.getByRole('heading', { name: /Which database/ }).waitFor();
  await card.getByTestId('item-repo').waitFor();
  assert.equal(await card.getAttribute('data-reason'), 'dispatch');
  await page.screenshot({ path: shot('hub-inbox.png') });
  await page.setViewportSize(PHONE);
  await page.screenshot({ path: shot('hub-inbox-phone.png') });
  await fits(page, 'the hub inbox');
  await page.setViewportSize(DESKTOP);

  // the hub inbox badge shows on a repo's pages too
  await page.goto(`${suite.server().url}/repos/beta`);
  await page.getByTestId('hub-inbox-badge').waitFor();
  assert.equal(await page.getByTestId('hub-inbox-badge').textContent(), '1');
  await page.getByTestId('hub-inbox-link').click();
  await page.waitForURL(/\/inbox$/);

  // answered in place: the item leaves the inbox and the badge goes
  await page.locator('article[data-repo="alpha"]').getByRole('button', { name: 'SQLite' }).click();
  await page.getByTestId('inbox-empty').waitFor({ timeout: 60_000 });
  await badge.waitFor({ state: 'detached', timeout: 30_000 });
  await page.close();
});

test("a supervised agent's approval in another repo shows in the hub inbox and is approved in place", {
  skip: suite.skip,
  timeout: 120_000,
}, async () => {
  const page = await suite.browser().context.newPage();
  await page.setViewportSize(DESKTOP);
  // alpha's run, answered in the last test, goes on to its next ticket (and would pause again): stopped
  await post(page, '/repos/alpha/api/flow/stop');
  await page.goto(`${suite.server().url}/inbox`);
  await page.getByTestId('inbox-empty').waitFor({ timeout: 60_000 });
  await post(page, '/repos/delta/api/flow/start');

  // the command it asks to run, with its repo, counted by the badge
  const command = page.locator('article.approval[data-repo="delta"][data-kind="command"]');
  await command.getByTestId('approval-command').getByText('touch denied.txt').waitFor({ timeout: 60_000 });
  await command.getByRole('heading', { name: 'Run a command?' }).waitFor();
  assert.equal(await command.getByTestId('item-repo').textContent(), 'delta');
  const badge = page.getByRole('navigation').getByTestId('inbox-badge');
  // the badge counts what the inbox lists, the approval among it (under load another repo's run may have
  // paused meanwhile: it is counted too)
  const items = page.locator('main article.item');
  let seen = '';
  await waitFor('the badge to count the approval', async () => {
    const [shown, listed] = [await badge.textContent().catch(() => null), await items.count()];
    seen = `badge ${shown ?? 'absent'}, ${listed} item(s) listed`;
    return shown === String(listed);
  }).catch((err: Error) => {
    throw new Error(`${err.message} (${seen})`);
  });
  await page.screenshot({ path: shot('hub-inbox-approval.png'), fullPage: true });
  await page.setViewportSize(PHONE);
  await page.screenshot({ path: shot('hub-inbox-approval-phone.png'), fullPage: true });
  await fits(page, 'an approval in the hub inbox');
  await page.setViewportSize(DESKTOP);
  const commandId = await command.getAttribute('data-approval');
  await command.getByRole('button', { name: 'Approve', exact: true }).click();
  await command.waitFor({ state: 'detached', timeout: 30_000 });

  // then the edit, as a diff: approved for the session, and the run goes on to its end
  const edit = page.locator('article.approval[data-repo="delta"][data-kind="file_change"]');
  await edit.getByTestId('approval-diff').waitFor({ timeout: 60_000 });
  const editId = await edit.getAttribute('data-approval');
  await edit.getByRole('button', { name: 'Approve for this session' }).click();
  await edit.waitFor({ state: 'detached', timeout: 30_000 });
  await page.getByTestId('inbox-empty').waitFor({ timeout: 60_000 });
  await badge.waitFor({ state: 'detached', timeout: 30_000 });
  await waitFor('the run to complete', async () => {
    const res = await page.request.get(`${suite.server().url}/repos/delta/api/flow/status`);
    return ((await res.json()) as { run: { status: string } | null }).run?.status === 'completed';
  });
  const res = await page.request.get(`${suite.server().url}/repos/delta/api/approvals?all=1`);
  const answered = (
    (await res.json()) as { approvals: { id: string; decision: string; answered_by: string }[] }
  ).approvals;
  assert.deepEqual(answered.map((a) => [a.id, a.decision, a.answered_by]).reverse(), [
    [commandId, 'accept', 'web'],
    [editId, 'accept_for_session', 'web'],
  ]);
  await page.close();
});

test('the live view shows each working run with its ticket and the agent last line', {
  skip: suite.skip,
  timeout: 120_000,
}, async () => {
  const page = await suite.browser().context.newPage();
  await page.setViewportSize(DESKTOP);
  await page.goto(`${suite.server().url}/live`);
  await page.getByTestId('live-empty').waitFor({ timeout: 60_000 });
  await page.screenshot({ path: shot('hub-live-empty.png') });
  await post(page, '/repos/beta/api/flow/start');
  const item = page.getByTestId('hub-live').locator('[data-repo="beta"]');
  await item.getByTestId('live-line').getByText('Working on the parser now').waitFor({ timeout: 60_000 });
  assert.equal(await item.getByTestId('live-ticket').textContent(), 'TICKET-010-slow.md');
  await page.screenshot({ path: shot('hub-live.png') });
  await page.setViewportSize(PHONE);
  await page.screenshot({ path: shot('hub-live-phone.png') });
  await fits(page, 'the live view');
  // the run's own page under the repo, its log streamed live through /repos/beta/api/runs/<id>/stream
  await page.setViewportSize(DESKTOP);
  await item.getByRole('link', { name: /^run / }).click();
  await page.waitForURL(/\/repos\/beta\/runs\/[^/]+$/);
  await page.getByTestId('run-status').getByText('running').waitFor();
  await page.getByTestId('event-log').getByText('Working on the parser now').first().waitFor();
  await post(page, '/repos/beta/api/flow/stop');
  // the stop reaches the page by the stream
  await page.getByTestId('run-status').getByText('stopped').waitFor({ timeout: 60_000 });
  await page.goto(`${suite.server().url}/live`);
  await page.getByTestId('live-empty').waitFor({ timeout: 60_000 });
  await page.close();
});

test('no page errors or CSP violations in the browser', { skip: suite.skip }, () => {
  assert.deepEqual(suite.browser().errors, []);
});
