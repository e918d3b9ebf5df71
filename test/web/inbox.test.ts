// What a paused run waits for, in a real browser against a real `car serve` (issue 29): the Inbox shows
// the pause of now with its own action (an answered question never comes back), Reply is the main action
// on a question and Resume asks first, a user ticket is marked done and the run resumed with one click,
// Pause shows "pausing after this turn" at once, Stop asks first, Start is off when every ticket is done,
// the run view shows a reply's text, evidence shows local times and links its run, and the new-ticket
// form starts on the repo's default agent and marks agents that are not installed. Desktop and phone.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import type { Page } from 'playwright-core';
import { initRepo } from '../../src/core/init.ts';
import { repoPaths } from '../../src/core/paths.ts';
import { newTicketId, renderNewTicket } from '../../src/core/tickets/index.ts';
import { makeGitRepo } from '../helpers/git-repo.ts';
import { demoTicket } from '../http/helpers.ts';
import { browserSuite, shot } from './browser.ts';

// page.evaluate runs in the browser; the test's tsconfig has no DOM types
declare const document: { documentElement: { scrollWidth: number } };

let root: string;

const suite = browserSuite(async (cleanups) => {
  const repo = makeGitRepo();
  cleanups.push(repo.cleanup);
  root = repo.dir;
  initRepo(root);
  const tickets = repoPaths(root).ticketsDir;
  writeFileSync(
    join(tickets, 'TICKET-010-db.md'),
    demoTicket(
      'Pick the database',
      [
        'ask Which database should the cache use? | Postgres | SQLite',
        'write src/db.txt chosen\\n',
        'done',
        'commit db: apply the answer',
      ],
      { verify: 'test -f src/db.txt' },
    ),
  );
  writeFileSync(
    join(tickets, 'TICKET-020-approve.md'),
    renderNewTicket(
      { ticket_id: newTicketId(), agent: 'user', done: false, title: 'Approve the release' },
      'Read the changelog and approve it.\n',
    ),
  );
  writeFileSync(
    join(tickets, 'TICKET-030-slow.md'),
    demoTicket('Take a while', [
      'say Working on it',
      'sleep 6000',
      'say Finished',
      'done',
      'commit slow: done',
    ]),
  );
  repo.commitAll('tickets');
  // the repo's default agent for new tickets is the demo agent; codex is not on the server's PATH (npm puts
  // node_modules/.bin, where the dev dependency's codex is, on the PATH of `npm test`)
  const path = (process.env.PATH ?? '')
    .split(':')
    .filter((dir) => !dir.includes('node_modules/.bin'))
    .join(':');
  return { root, env: { CAR__TICKET_FLOW__DEFAULT_AGENT: 'demo', PATH: path } };
});

const skip = suite.skip;
const browser = () => suite.browser();
const server = () => suite.server();

const PHONE = { width: 390, height: 844 };
const DESKTOP = { width: 1280, height: 800 };

interface ApiRun {
  run_id: string;
  status: string;
  reason_code: string | null;
  created_at: string;
  paused_at: string | null;
  current_ticket: string | null;
}

async function latestRun(page: Page): Promise<ApiRun> {
  const res = await page.request.get(`${server().url}/api/flow/status`);
  return ((await res.json()) as { run: ApiRun }).run;
}

async function runCount(page: Page): Promise<number> {
  const res = await page.request.get(`${server().url}/api/runs?limit=500`);
  return ((await res.json()) as { runs: unknown[] }).runs.length;
}

/** Polls the latest run until `want` holds. */
async function until(page: Page, what: string, want: (run: ApiRun) => boolean): Promise<ApiRun> {
  const deadline = Date.now() + 60_000;
  for (;;) {
    const run = await latestRun(page);
    if (run && want(run)) return run;
    if (Date.now() > deadline)
      assert.fail(`the run never got to ${what} (${run?.status} ${run?.reason_code})`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

async function api(page: Page, path: string, body: unknown): Promise<void> {
  const res = await page.request.post(`${server().url}${path}`, { data: body });
  assert.ok(res.ok(), `POST ${path}: ${res.status()} ${await res.text()}`);
}

// Each test starts from the state it needs, reached through the API (or by hand, as a person at a shell
// would) when an earlier test did not get there: every test fails for its own point only.

/** The run waits for the user ticket. */
async function atUserTicket(page: Page): Promise<ApiRun> {
  const run = await until(page, 'a pause', (r) => r.status === 'paused');
  if (run.reason_code === 'dispatch') await api(page, '/api/flow/reply', { text: 'SQLite', resume: true });
  return until(page, 'the user ticket', (r) => r.status === 'paused' && r.reason_code === 'user_ticket');
}

/** One step on from wherever the run is, as a person would take it; false while the run works. */
async function stepOn(page: Page, run: ApiRun): Promise<boolean> {
  if (run.status === 'paused' && run.reason_code === 'dispatch') {
    await api(page, '/api/flow/reply', { text: 'SQLite', resume: true });
  } else if (run.status === 'paused' && run.reason_code === 'user_ticket') {
    // by hand: car ticket done 20, git commit, car flow resume
    const file = join(repoPaths(root).ticketsDir, 'TICKET-020-approve.md');
    writeFileSync(file, readFileSync(file, 'utf8').replace('done: false', 'done: true'));
    execFileSync('git', ['commit', '-qam', 'approved'], { cwd: root });
    await api(page, '/api/flow/resume', {});
  } else if (run.status === 'paused') {
    await api(page, '/api/flow/resume', {});
  } else if (run.status === 'stopped' || run.status === 'failed' || run.status === 'completed') {
    await api(page, '/api/flow/start', {});
  } else return false;
  await new Promise((r) => setTimeout(r, 300));
  return true;
}

/** The run works on a slow ticket (another one is added when every ticket is done already). */
async function atSlowTicket(page: Page): Promise<void> {
  const slow = (r: ApiRun) => r.status === 'running' && /-slow\.md$/.test(r.current_ticket ?? '');
  const status = (await (await page.request.get(`${server().url}/api/flow/status`)).json()) as {
    tickets: { total: number; done: number };
  };
  if (status.tickets.done === status.tickets.total) {
    const n = 10 * (status.tickets.total + 1);
    writeFileSync(
      join(repoPaths(root).ticketsDir, `TICKET-0${n}-slow.md`),
      demoTicket('Take a while again', ['say Working on it', 'sleep 6000', 'done', `commit slow ${n}: done`]),
    );
    execFileSync('git', ['add', '-A'], { cwd: root });
    execFileSync('git', ['commit', '-qm', `slow ticket ${n}`], { cwd: root });
  }
  for (const deadline = Date.now() + 60_000; ; ) {
    const run = await latestRun(page);
    if (slow(run)) return;
    if (Date.now() > deadline)
      assert.fail(`the run never got to the slow ticket (${run.status} ${run.reason_code})`);
    if (!(await stepOn(page, run))) await new Promise((r) => setTimeout(r, 100));
  }
}

/** Every ticket is done. */
async function allDone(page: Page): Promise<void> {
  for (const deadline = Date.now() + 60_000; ; ) {
    const run = await latestRun(page);
    if (run.status === 'completed') return;
    if (Date.now() > deadline) assert.fail(`the run never completed (${run.status} ${run.reason_code})`);
    if (!(await stepOn(page, run))) await new Promise((r) => setTimeout(r, 100));
  }
}

/** The page's time convention (lib/format.ts `time`), computed in the browser: local time with the zone. */
// a string, not a function: the test runner's transform would give a function helpers the page lacks
const localTime = (page: Page, iso: string): Promise<string> =>
  page.evaluate(`(() => {
    const d = new Date(${JSON.stringify(iso)});
    const p = (n) => String(n).padStart(2, '0');
    const part = new Intl.DateTimeFormat('en-US', { timeZoneName: 'short' })
      .formatToParts(d).find((x) => x.type === 'timeZoneName');
    return d.getFullYear() + '-' + p(d.getMonth() + 1) + '-' + p(d.getDate()) + ' ' + p(d.getHours()) + ':' +
      p(d.getMinutes()) + ':' + p(d.getSeconds()) + ' ' + (part ? part.value : 'local time');
  })()`);

test('a question: Reply is the main action, Resume asks first; the Inbox answers it', {
  skip,
  timeout: 120_000,
}, async () => {
  const page = await browser().context.newPage();
  await page.setViewportSize(DESKTOP);
  await page.goto(server().url);
  await page.getByRole('region', { name: 'Open tickets' }).getByText('Pick the database').waitFor();
  await page.getByRole('button', { name: 'Start', exact: true }).click();
  await page.waitForURL(/\/runs\/[^/]+$/);
  await page.getByTestId('run-status').getByText('paused').waitFor({ timeout: 60_000 });

  const flowbar = page.getByLabel('flow');
  await flowbar.getByTestId('flow-status').getByText('paused').waitFor();
  // the run waits for an answer: Reply leads, Resume asks before spending a turn without one
  const replyButton = flowbar.getByRole('button', { name: 'Reply', exact: true });
  await replyButton.waitFor();
  assert.match((await replyButton.getAttribute('class')) ?? '', /primary/);
  await flowbar.getByRole('button', { name: 'Resume', exact: true }).click();
  const confirm = page.getByRole('alertdialog', { name: 'resume without answering?' });
  await confirm.waitFor();
  await page.screenshot({ path: shot('inbox-resume-confirm.png') });
  await page.setViewportSize(PHONE);
  await page.screenshot({ path: shot('inbox-resume-confirm-phone.png') });
  await page.setViewportSize(DESKTOP);
  await confirm.getByRole('button', { name: 'Cancel' }).click();
  await confirm.waitFor({ state: 'detached' });
  assert.equal((await latestRun(page)).status, 'paused', 'asking resumed nothing');

  // Reply goes to the Inbox, where the question is with its ready answers; the badge counts it
  await replyButton.click();
  await page.waitForURL(/\/inbox$/);
  assert.equal(await page.getByTestId('inbox-badge').textContent(), '1');
  const card = page.locator('article.item');
  await card.getByText('Which database should the cache use?').first().waitFor();
  await card.getByRole('group', { name: 'answers' }).getByRole('button', { name: 'SQLite' }).waitFor();
  await page.screenshot({ path: shot('inbox-question.png') });
  await card.getByLabel('reply').fill('SQLite, please: it is one file.');
  await card.getByRole('button', { name: 'Reply and resume' }).click();
  await page.waitForURL(/\/runs\/[^/]+$/);
  await page.getByTestId('event-log').getByText('SQLite, please: it is one file.').first().waitFor();
  await page.close();
});

test("the run view shows a reply's text, not its size", { skip, timeout: 120_000 }, async () => {
  const page = await browser().context.newPage();
  await page.setViewportSize(DESKTOP);
  const run = await atUserTicket(page);
  await page.goto(`${server().url}/runs/${run.run_id}`);
  await page.getByTestId('event-filter').selectOption('reply_written');
  const row = page.getByTestId('event-log').locator('[data-seq]').first();
  await row.waitFor();
  assert.match((await row.locator('.text').textContent()) ?? '', /^SQLite/);
  assert.doesNotMatch((await row.textContent()) ?? '', /bytes/);
  await page.getByTestId('event-filter').selectOption('');
  await page.getByRole('button', { name: 'Top', exact: true }).click();
  await page.getByTestId('event-log').getByText('reply_written').waitFor();
  await page.screenshot({ path: shot('run-reply-text.png') });
  await page.close();
});

test('after the answer the Inbox shows the user ticket the run waits for now, paused at its pause time; one click marks it done and resumes', {
  skip,
  timeout: 120_000,
}, async () => {
  const page = await browser().context.newPage();
  await page.setViewportSize(DESKTOP);
  const run = await atUserTicket(page);
  await page.goto(`${server().url}/inbox`);
  const card = page.locator(`article.item[data-run="${run.run_id}"]`);
  await card.getByRole('heading', { name: 'A user ticket is yours to do' }).waitFor();
  // nothing of the question answered before: no heading, no answers, no reply box
  assert.equal(await card.getByText('Which database').count(), 0);
  assert.equal(await card.getByRole('group', { name: 'answers' }).count(), 0);
  assert.equal(await card.getByLabel('reply').count(), 0);
  assert.equal(await page.getByTestId('inbox-badge').textContent(), '1');
  // "paused" is when it paused, not when the run was made
  const shown = await card.getByTestId('paused-at').textContent();
  assert.equal(shown, await localTime(page, run.paused_at!));
  assert.notEqual(shown, await localTime(page, run.created_at));
  await card.getByRole('link', { name: 'TICKET-020-approve.md' }).waitFor();
  await page.screenshot({ path: shot('inbox-user-ticket.png') });
  await page.setViewportSize(PHONE);
  await page.screenshot({ path: shot('inbox-user-ticket-phone.png'), fullPage: true });
  const width = await page.evaluate(() => document.documentElement.scrollWidth);
  assert.ok(width <= PHONE.width, `the inbox fits the phone's width (${width}px)`);
  await page.setViewportSize(DESKTOP);

  // the header offers the same action
  await page.getByLabel('flow').getByRole('button', { name: 'Mark done and resume' }).waitFor();
  await card.getByRole('button', { name: 'Mark done and resume' }).click();
  await page.waitForURL(/\/runs\/[^/]+$/);
  await page.getByTestId('event-log').getByText('user_ticket_done').first().waitFor({ timeout: 30_000 });
  // no pause on "uncommitted changes": the ticket's own edit was committed, the next ticket runs
  await page.getByTestId('event-log').getByText('Working on it').first().waitFor({ timeout: 60_000 });
  await page.close();
});

test('Pause shows "pausing after this turn" at once, while the turn still runs', {
  skip,
  timeout: 120_000,
}, async () => {
  const page = await browser().context.newPage();
  await page.setViewportSize(DESKTOP);
  await atSlowTicket(page);
  await page.goto(server().url);
  const flowbar = page.getByLabel('flow');
  await flowbar.getByTestId('flow-status').getByText('running').waitFor({ timeout: 30_000 });
  await flowbar.getByRole('button', { name: 'Pause', exact: true }).click();
  // at once, while the turn still runs (it sleeps 6 s)
  await flowbar.getByTestId('flow-status').getByText('pausing').waitFor({ timeout: 1500 });
  await flowbar.getByText('pausing after this turn').waitFor({ timeout: 500 });
  assert.equal(await flowbar.getByRole('button', { name: 'Pause', exact: true }).count(), 0);
  assert.equal((await latestRun(page)).status, 'running', 'the turn is still running');
  await page.screenshot({ path: shot('flowbar-pausing.png') });
  await page.setViewportSize(PHONE);
  await page.screenshot({ path: shot('flowbar-pausing-phone.png') });
  await page.setViewportSize(DESKTOP);
  await flowbar.getByTestId('flow-status').getByText('paused').waitFor({ timeout: 60_000 });
  await page.close();
});

/** The run is paused on a request (after the slow ticket's turn). */
async function pausedOnRequest(page: Page): Promise<ApiRun> {
  const run = await until(page, 'a pause or the slow ticket', (r) => r.status !== 'pending');
  if (run.status !== 'paused' || run.reason_code !== 'pause_requested') {
    await atSlowTicket(page);
    await api(page, '/api/flow/pause', {});
  }
  return until(
    page,
    'a pause on request',
    (r) => r.status === 'paused' && r.reason_code === 'pause_requested',
  );
}

test('Stop asks first; Cancel leaves the run as it is', { skip, timeout: 120_000 }, async () => {
  const page = await browser().context.newPage();
  await page.setViewportSize(DESKTOP);
  await pausedOnRequest(page);
  await page.goto(server().url);
  const flowbar = page.getByLabel('flow');
  await flowbar.getByTestId('flow-status').getByText('paused').waitFor();
  await flowbar.getByRole('button', { name: 'Stop', exact: true }).click();
  const confirm = page.getByRole('alertdialog', { name: 'stop the run?' });
  await confirm.waitFor({ timeout: 2000 });
  await page.screenshot({ path: shot('flowbar-stop-confirm.png') });
  await page.setViewportSize(PHONE);
  await page.screenshot({ path: shot('flowbar-stop-confirm-phone.png') });
  await page.setViewportSize(DESKTOP);
  await confirm.getByRole('button', { name: 'Cancel' }).click();
  await confirm.waitFor({ state: 'detached' });
  assert.equal((await latestRun(page)).status, 'paused');
  await page.close();
});

test('a run paused on request: the Inbox says so and offers Resume, not the answered question', {
  skip,
  timeout: 120_000,
}, async () => {
  const page = await browser().context.newPage();
  await page.setViewportSize(DESKTOP);
  const run = await pausedOnRequest(page);
  await page.goto(`${server().url}/inbox`);
  const card = page.locator(`article.item[data-run="${run.run_id}"]`);
  await card.getByRole('heading', { name: 'Paused on request' }).waitFor();
  assert.equal(await card.getByText('Which database').count(), 0);
  assert.equal(await card.getByLabel('reply').count(), 0);
  assert.equal(await card.getByTestId('paused-at').textContent(), await localTime(page, run.paused_at!));
  await page.screenshot({ path: shot('inbox-pause-requested.png') });
  await card.getByRole('button', { name: 'Resume', exact: true }).click();
  await page.waitForURL(/\/runs\/[^/]+$/);
  await page.getByTestId('run-status').getByText('completed').waitFor({ timeout: 60_000 });
  await page.close();
});

test('every ticket done: Start is off and says so (no empty run per click); the Inbox is empty', {
  skip,
  timeout: 60_000,
}, async () => {
  const page = await browser().context.newPage();
  await page.setViewportSize(DESKTOP);
  await allDone(page);
  await page.goto(server().url);
  const flowbar = page.getByLabel('flow');
  await flowbar.getByTestId('flow-status').getByText('completed').waitFor();
  await flowbar.getByTestId('start-why').getByText('all tickets done').waitFor();
  const start = flowbar.getByRole('button', { name: 'Start', exact: true });
  assert.equal(await start.isDisabled(), true);
  const before = await runCount(page);
  await start.click({ force: true });
  await start.click({ force: true });
  await new Promise((r) => setTimeout(r, 500));
  assert.equal(await runCount(page), before, 'no new run');
  assert.equal(await page.getByTestId('inbox-badge').count(), 0, 'nothing waits');
  await page.screenshot({ path: shot('flowbar-all-done.png') });

  await page.goto(`${server().url}/inbox`);
  await page.getByTestId('inbox-empty').waitFor();
  await page.close();
});

test('evidence shows local times and links its run', { skip, timeout: 60_000 }, async () => {
  const page = await browser().context.newPage();
  await page.setViewportSize(DESKTOP);
  await allDone(page);
  await page.goto(`${server().url}/tickets/TICKET-010-db.md`);
  const evidence = page.getByRole('region', { name: 'evidence' });
  await evidence.getByText('test -f src/db.txt').waitFor();
  const summary = (await evidence.locator('summary').first().textContent()) ?? '';
  assert.doesNotMatch(summary, /\d{4}-\d\d-\d\dT\d\d:\d\d/, `no raw ISO time in "${summary}"`);
  const at = await evidence.locator('summary time').first().getAttribute('datetime');
  assert.ok(summary.includes(await localTime(page, at!)), summary);
  await page.screenshot({ path: shot('ticket-evidence-times.png') });
  await evidence.locator('summary').first().getByRole('link', { name: /^run / }).click();
  await page.waitForURL(/\/runs\/[^/]+$/);
  await page.getByTestId('run-status').waitFor();
  await page.close();
});

test("new ticket: the repo's default agent is chosen and agents not installed are marked", {
  skip,
  timeout: 60_000,
}, async () => {
  const page = await browser().context.newPage();
  await page.setViewportSize(DESKTOP);
  await page.goto(server().url);
  await page.getByRole('button', { name: 'New ticket' }).click();
  const form = page.getByRole('form', { name: 'new ticket' });
  const agent = form.getByLabel('Agent');
  await agent.locator('option[value="demo"]').waitFor({ state: 'attached' });
  assert.equal(await agent.inputValue(), 'demo');
  assert.equal(await agent.locator('option[value="codex"]').textContent(), 'codex (not installed)');
  assert.equal(await agent.locator('option[value="demo"]').textContent(), 'demo');
  await agent.selectOption('codex');
  await form
    .getByTestId('agent-missing')
    .getByText(/codex is not installed here/)
    .waitFor();
  await page.screenshot({ path: shot('new-ticket-agents.png') });
  await page.setViewportSize(PHONE);
  await page.screenshot({ path: shot('new-ticket-agents-phone.png') });
  await page.close();
});

test('a user ticket marked done in the editor, then resumed: the commit pause offers to commit the ticket', {
  skip,
  timeout: 120_000,
}, async () => {
  const page = await browser().context.newPage();
  await page.setViewportSize(DESKTOP);
  await allDone(page);
  const name = 'TICKET-090-sign.md';
  writeFileSync(
    join(repoPaths(root).ticketsDir, name),
    renderNewTicket(
      { ticket_id: newTicketId(), agent: 'user', done: false, title: 'Sign the release' },
      'Sign it.\n',
    ),
  );
  execFileSync('git', ['add', '-A'], { cwd: root });
  execFileSync('git', ['commit', '-qm', 'sign ticket'], { cwd: root });
  await api(page, '/api/flow/start', {});
  await until(page, 'the user ticket', (r) => r.status === 'paused' && r.reason_code === 'user_ticket');

  // done in the editor, then resumed (as car flow resume would): the ticket's edit is uncommitted
  await page.goto(`${server().url}/tickets/${name}`);
  const editor = page.getByLabel('ticket markdown');
  for (const deadline = Date.now() + 10_000; !(await editor.inputValue()).includes('done: false'); ) {
    if (Date.now() > deadline) assert.fail('the editor never loaded');
    await new Promise((r) => setTimeout(r, 50));
  }
  await editor.fill((await editor.inputValue()).replace('done: false', 'done: true'));
  await page.getByRole('button', { name: 'Save', exact: true }).click();
  await page.getByText('Saved.').waitFor();
  await api(page, '/api/flow/resume', {});
  const run = await until(
    page,
    'the commit pause',
    (r) => r.status === 'paused' && r.reason_code === 'commit_barrier',
  );

  await page.goto(`${server().url}/inbox`);
  const card = page.locator(`article.item[data-run="${run.run_id}"]`);
  await card.getByRole('heading', { name: 'Work waits to be committed' }).waitFor();
  assert.match((await card.getByTestId('uncommitted').textContent()) ?? '', /TICKET-090-sign\.md/);
  await page.screenshot({ path: shot('inbox-commit-ticket.png') });
  await card.getByRole('button', { name: 'Commit the ticket and resume' }).click();
  await page.waitForURL(/\/runs\/[^/]+$/);
  await page.getByTestId('run-status').getByText('completed').waitFor({ timeout: 60_000 });
  assert.match(
    execFileSync('git', ['log', '-1', '--format=%s'], { cwd: root, encoding: 'utf8' }),
    /TICKET-090-sign\.md: done/,
  );
  await page.close();
});

test('no page errors or CSP violations in the browser', { skip }, () => {
  assert.deepEqual(browser().errors, []);
});
