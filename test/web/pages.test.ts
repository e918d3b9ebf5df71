// What a new user trips over, in a real browser (issue 29, items 7, 8, 9, 10 and 12): the token page,
// not-found pages for URLs that name nothing, one time convention for an event wherever it shows, the
// run view, usage chart and contextspace tabs on a phone, the board's filter and rows, page titles and
// the favicon. At 1280×800 and 390×844.
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import { test } from 'node:test';
import type { Page } from 'playwright-core';
import { initRepo } from '../../src/core/init.ts';
import { repoPaths } from '../../src/core/paths.ts';
import { openRunStore } from '../../src/core/store/run-store.ts';
import type { NewEvent } from '../../src/core/store/types.ts';
import { makeGitRepo } from '../helpers/git-repo.ts';
import { demoTicket } from '../http/helpers.ts';
import { browserSuite, shot } from './browser.ts';

const TOKEN = 'pages-test-token-51c2';
const DESKTOP = { width: 1280, height: 800 };
const PHONE = { width: 390, height: 844 };
/** The first event's time: 05:06:07 UTC is 10:36:07 in India (UTC+5:30, no daylight saving). */
const FIRST_AT = '2026-03-04T05:06:07.000Z';
const ZONE = 'Asia/Kolkata';

let repoName: string;
let runId: string;

const suite = browserSuite(async (cleanups) => {
  const repo = makeGitRepo();
  cleanups.push(repo.cleanup);
  initRepo(repo.dir);
  repoName = basename(repo.dir);
  const paths = repoPaths(repo.dir);
  writeFileSync(join(paths.ticketsDir, 'TICKET-010-first.md'), demoTicket('Lay the groundwork', ['done']));
  writeFileSync(
    join(paths.ticketsDir, 'TICKET-020-broken.md'),
    demoTicket('Half-broken ticket', ['done']).replace('done: false', 'done: "maybe"'),
  );
  repo.commitAll('tickets');

  const store = openRunStore(paths.dbFile);
  const run = store.createRun({});
  runId = run.id;
  const rel = (name: string) => `.codex-autorunner/tickets/${name}`;
  for (const [k, name] of ['TICKET-010-first.md', 'TICKET-020-broken.md'].entries()) {
    const turn = store.beginTurn({ runId: run.id, agent: 'demo', ticketPath: rel(name) });
    store.finishTurn(turn.id, {
      status: 'completed',
      usage: { inputTokens: 120_000 * (k + 1), cachedInputTokens: 1000, outputTokens: 4000 },
    });
  }
  const at = (s: number) => new Date(Date.parse(FIRST_AT) + s * 1000).toISOString();
  const types = ['agent_message', 'tool_call', 'orphan_agents_stopped', 'ticket_verified', 'tool_result'];
  const events: NewEvent[] = [{ type: 'flow_started', at: at(0), data: { message: 'started' } }];
  for (let i = 1; i < 80; i++) {
    events.push({ type: types[i % types.length]!, at: at(i), data: { message: `event number ${i}` } });
  }
  events.push({ type: 'flow_completed', at: at(80), data: { message: 'done' } });
  store.appendEvents(run.id, events);
  store.updateRun(run.id, { status: 'completed', reasonCode: 'all_done', reason: 'seeded' });
  store.close();
  return { root: repo.dir, env: { CAR_WEB_TOKEN: TOKEN } };
});

const skip = suite.skip;
const browser = () => suite.browser();
const server = () => suite.server();

// The browser globals used inside init scripts (the root tsconfig has no DOM lib, on purpose).
declare const localStorage: { setItem(k: string, v: string): void; removeItem(k: string): void };

/** A page signed in (the token in localStorage before the app starts), of the given size. */
async function signedIn(size = DESKTOP): Promise<Page> {
  const page = await browser().context.newPage();
  await page.addInitScript((token) => localStorage.setItem('car.token', token), TOKEN);
  await page.setViewportSize(size);
  return page;
}

async function open(path: string, size = DESKTOP): Promise<Page> {
  const page = await signedIn(size);
  await page.goto(`${server().url}${path}`);
  return page;
}

/** Whether the element's box lies wholly inside the viewport. */
async function inView(page: Page, selector: string): Promise<{ ok: boolean; box: unknown }> {
  return page.evaluate(`(() => {
    const r = document.querySelector(${JSON.stringify(selector)}).getBoundingClientRect();
    return {
      ok: r.top >= 0 && r.left >= 0 && r.bottom <= innerHeight && r.right <= innerWidth,
      box: { top: r.top, bottom: r.bottom, left: r.left, right: r.right, vh: innerHeight, vw: innerWidth },
    };
  })()`);
}

test('the token page: no Start or token noise before it; a wrong token is said so, the right one signs in', {
  skip,
  timeout: 60_000,
}, async () => {
  const page = await browser().context.newPage();
  await page.setViewportSize(DESKTOP);
  await page.goto(server().url);
  // a token kept from an earlier server is refused: the page says so
  await page.evaluate(() => localStorage.setItem('car.token', 'from-an-old-server'));
  await page.reload();
  const form = page.locator('form.token');
  await form.getByRole('status').getByText('The token kept in this browser was refused').waitFor();
  await page.evaluate(() => localStorage.removeItem('car.token'));
  await page.reload();
  await form.getByLabel('token').waitFor();
  assert.equal(await form.getByRole('status').count(), 0, 'no token kept, nothing refused');
  await page.waitForTimeout(500); // the polls that found the 401 have answered
  const header = page.locator('header');
  assert.equal(await header.getByRole('button').count(), 0, 'no Start (or any) button before signing in');
  assert.doesNotMatch((await page.locator('body').textContent()) ?? '', /valid bearer token is required/);
  assert.equal(await page.title(), `Sign in · car`);

  await form.getByLabel('token').fill('not-the-token');
  await form.getByRole('button', { name: 'Continue' }).click();
  const alert = form.getByRole('alert');
  await alert.getByText('That token was not accepted').waitFor();
  assert.equal(await form.getByLabel('token').inputValue(), 'not-the-token', 'what was typed is kept');
  await page.screenshot({ path: shot('token-wrong.png') });
  await page.setViewportSize(PHONE);
  await page.screenshot({ path: shot('token-wrong-phone.png') });
  await page.setViewportSize(DESKTOP);

  await form.getByLabel('token').fill(TOKEN);
  await form.getByRole('button', { name: 'Continue' }).click();
  await page.getByRole('region', { name: 'Open tickets' }).getByText('Lay the groundwork').waitFor();
  await header.getByRole('button', { name: 'Start' }).waitFor();
  assert.equal(await page.title(), `Tickets · ${repoName} · car`);
  await page.close();
});

for (const [device, size] of [
  ['desktop', DESKTOP],
  ['phone', PHONE],
] as const) {
  test(`a URL that names nothing is a not-found page, with nothing to edit (${device})`, {
    skip,
    timeout: 60_000,
  }, async () => {
    for (const [path, what, file] of [
      ['/tickets/TICKET-999-nope.md', 'Ticket TICKET-999-nope.md', 'ticket'],
      ['/runs/does-not-exist', 'Run “does-not-exist”', 'run'],
      ['/contextspace/bogus', 'Contextspace document “bogus”', 'contextspace'],
      ['/no/such/page', 'The page /no/such/page', 'page'],
    ] as const) {
      const page = await open(path, size);
      const notFound = page.getByTestId('not-found');
      await notFound.waitFor();
      assert.match((await notFound.textContent()) ?? '', new RegExp(`${what}\\s+does not exist`), path);
      await page.waitForTimeout(300);
      assert.equal(await page.getByRole('textbox').count(), 0, `${path}: nothing to type into`);
      assert.equal(await page.getByRole('button', { name: 'Save' }).count(), 0, `${path}: no Save`);
      assert.equal(await page.getByTestId('event-log').count(), 0, `${path}: no empty event log`);
      assert.equal(await page.title(), `Not found · ${repoName} · car`, path);
      await page.screenshot({ path: shot(`not-found-${file}-${device}.png`) });
      await page.close();
    }
  });
}

test('one time convention: local time with its zone in log rows, event detail, turns and runs', {
  skip,
  timeout: 60_000,
}, async () => {
  const page = await signedIn();
  const cdp = await page.context().newCDPSession(page);
  await cdp.send('Emulation.setTimezoneOverride', { timezoneId: ZONE });
  await page.goto(`${server().url}/runs/${runId}`);
  const log = page.getByTestId('event-log');
  const row = log.locator('[data-seq="1"]');
  await row.waitFor();
  assert.equal((await row.locator('.at').textContent())?.trim(), '10:36:07', 'the row shows local time');
  assert.equal((await page.getByTestId('time-zone').textContent())?.trim(), 'times in GMT+5:30');
  await row.click();
  assert.equal((await page.getByTestId('event-time').textContent())?.trim(), '2026-03-04 10:36:07 GMT+5:30');

  const full = /^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d GMT\+5:30$/;
  await page.getByText(/^Turns \(2\)$/).click();
  const turnTimes = await page.locator('.turns td:last-child').allTextContents();
  assert.equal(turnTimes.length, 2);
  for (const t of turnTimes) assert.match(t.trim(), full);
  await page.screenshot({ path: shot('times-run.png') });

  await page.getByRole('link', { name: 'Runs' }).click();
  const created = page.locator(`tr:has(a[href="/runs/${runId}"]) td:last-child`);
  await created.waitFor();
  assert.match(((await created.textContent()) ?? '').trim(), full);
  await page.close();
});

for (const [device, size] of [
  ['desktop', DESKTOP],
  ['phone', PHONE],
] as const) {
  test(`the run view shows event types whole and opens an event's detail in view (${device})`, {
    skip,
    timeout: 60_000,
  }, async () => {
    const page = await open(`/runs/${runId}`, size);
    const log = page.getByTestId('event-log');
    await log.locator('[data-seq="1"]').waitFor();
    // the types and their counts come with the run's details
    await page.getByTestId('event-filter').locator('option[value="orphan_agents_stopped"]').waitFor({
      state: 'attached',
    });
    const cut = await page.evaluate(`[...document.querySelectorAll('[data-testid=event-log] .type')]
      .filter((el) => el.scrollWidth > el.clientWidth).map((el) => el.textContent)`);
    assert.deepEqual(cut, [], 'no event type is cut off');
    // a row at the bottom of the log: its detail still opens on screen
    const rows = await log
      .locator('[data-seq]')
      .evaluateAll((els) => els.map((e) => Number(e.getAttribute('data-seq'))));
    const last = Math.max(...rows.filter((s) => s < 30));
    await log.locator(`[data-seq="${last}"]`).scrollIntoViewIfNeeded();
    await log.locator(`[data-seq="${last}"]`).click();
    const detail = page.getByTestId('event-detail');
    await detail.getByText(`event number ${last - 1}`).waitFor();
    const where = await inView(page, '[data-testid=event-detail]');
    assert.ok(where.ok, `the detail is on screen: ${JSON.stringify(where.box)}`);
    await page.screenshot({ path: shot(`run-detail-${device}.png`) });
    await page.keyboard.press('Escape');
    await detail.waitFor({ state: 'detached' });
    await page.close();
  });
}

test('usage chart on a phone: labels as large as the page text', { skip, timeout: 60_000 }, async () => {
  for (const [device, size] of [
    ['phone', PHONE],
    ['desktop', DESKTOP],
  ] as const) {
    const page = await open('/usage', size);
    await page.getByLabel('group by').selectOption('ticket');
    const chart = page.getByRole('img', { name: 'tokens per ticket' });
    await chart.locator('rect').nth(1).waitFor();
    const sizes = (await chart
      .locator('text')
      .evaluateAll((els) => els.map((e) => e.getBoundingClientRect().height))) as number[];
    assert.ok(sizes.length >= 4);
    for (const h of sizes) assert.ok(h >= 12, `${device}: label ${h.toFixed(1)} px high`);
    const labels = await chart.locator('text.label').allTextContents();
    assert.deepEqual(
      labels.map((l) => l.trim()),
      ['TICKET-010-first.md', 'TICKET-020-broken.md'],
    );
    await page.screenshot({ path: shot(`usage-${device}.png`) });
    await page.close();
  }
});

test('contextspace tabs on a phone: every tab reachable, and a hint when they are cut', {
  skip,
  timeout: 60_000,
}, async () => {
  const page = await open('/contextspace', PHONE);
  const tabs = page.getByRole('navigation', { name: 'documents' });
  await tabs.getByRole('link').nth(2).waitFor();
  const boxes = async () =>
    (await tabs
      .getByRole('link')
      .evaluateAll((els) => els.map((e) => e.getBoundingClientRect().right))) as number[];
  const width = async () => page.evaluate('innerWidth') as Promise<number>;
  const hint = page.getByText('more documents: scroll the tabs →');
  if (Math.max(...(await boxes())) > (await width())) await hint.waitFor();
  else assert.equal(await hint.isVisible(), false);
  for (const r of await boxes()) assert.ok(r <= (await width()), `a tab ends at ${r} px, on the screen`);
  await page.screenshot({ path: shot('contextspace-phone.png') });

  // narrower still, the tabs scroll and say so
  await page.setViewportSize({ width: 300, height: 700 });
  await hint.waitFor();
  assert.match((await tabs.getAttribute('data-more')) ?? '', /right/);
  await page.screenshot({ path: shot('contextspace-narrow.png') });
  await tabs.evaluate((el) => {
    el.scrollLeft = el.scrollWidth;
    el.dispatchEvent(new Event('scroll'));
  });
  await page.waitForFunction(`document.querySelector('nav[aria-label=documents]').dataset.more === 'left'`);
  await page.close();
});

test('board: a filter with no match says so; the agent, issue count and name are spaced', {
  skip,
  timeout: 60_000,
}, async () => {
  const page = await open('/');
  const row = page.locator('[data-ticket="TICKET-020-broken.md"] .line2');
  await row.waitFor();
  const gaps = (await page.evaluate(`(() => {
    const line = document.querySelector('[data-ticket="TICKET-020-broken.md"] .line2');
    const walker = document.createTreeWalker(line, NodeFilter.SHOW_TEXT);
    const chars = [];
    while (walker.nextNode()) {
      const n = walker.currentNode;
      for (let i = 0; i < n.data.length; i++) {
        if (!n.data[i].trim()) continue;
        const range = document.createRange();
        range.setStart(n, i);
        range.setEnd(n, i + 1);
        const b = range.getBoundingClientRect();
        chars.push({ ch: n.data[i], left: b.left, right: b.right });
      }
    }
    const out = [];
    chars.forEach((c, k) => {
      if (c.ch === '·') out.push([c.left - chars[k - 1].right, chars[k + 1].left - c.right]);
    });
    return out;
  })()`)) as [number, number][];
  assert.match((await row.textContent()) ?? '', /demo\s*·\s*1 issue\s*·\s*TICKET-020-broken\.md/);
  await page.screenshot({ path: shot('board-rows.png') });
  assert.equal(gaps.length, 2, 'two separators');
  for (const [before, after] of gaps) {
    assert.ok(before >= 3 && after >= 3, `a separator has room on both sides (${before}, ${after} px)`);
  }

  await page.getByLabel('filter tickets').fill('no-such-ticket');
  const none = page.getByTestId('no-match');
  await none.waitFor();
  assert.match((await none.textContent()) ?? '', /No ticket matches “no-such-ticket” \(of 2\)/);
  await page.screenshot({ path: shot('board-no-match.png') });
  await page.setViewportSize(PHONE);
  await page.screenshot({ path: shot('board-no-match-phone.png') });
  await none.getByRole('button', { name: 'Clear the filter' }).click();
  await page.getByRole('region', { name: 'Open tickets' }).getByText('Lay the groundwork').waitFor();
  assert.equal(await none.count(), 0);
  await page.close();
});

test('page titles name the page and the repo; the favicon is served', { skip, timeout: 60_000 }, async () => {
  const missing: string[] = [];
  const page = await signedIn();
  page.on('response', (r) => {
    if (r.status() === 404) missing.push(r.url());
  });
  await page.goto(server().url);
  await page.getByRole('region', { name: 'Open tickets' }).getByText('Lay the groundwork').waitFor();
  assert.equal(await page.title(), `Tickets · ${repoName} · car`);
  for (const [link, title] of [
    ['Runs', 'Runs'],
    ['Inbox', 'Inbox'],
    ['Context', 'Context'],
    ['Usage', 'Usage'],
  ] as const) {
    await page.locator('header nav').getByRole('link', { name: link }).click();
    await page.waitForFunction(`document.title === ${JSON.stringify(`${title} · ${repoName} · car`)}`);
  }
  await page.goto(`${server().url}/tickets/TICKET-010-first.md`);
  await page.getByLabel('ticket markdown').waitFor();
  assert.equal(await page.title(), `TICKET-010-first.md · ${repoName} · car`);
  await page.goto(`${server().url}/runs/${runId}`);
  await page.getByTestId('event-log').locator('[data-seq="1"]').waitFor();
  assert.equal(await page.title(), `Run ${runId.slice(0, 8)} · ${repoName} · car`);

  const icon = await page.request.get(`${server().url}/favicon.ico`);
  assert.equal(icon.status(), 200);
  assert.match(icon.headers()['content-type'] ?? '', /^image\//);
  assert.deepEqual(missing, [], 'nothing the pages asked for was missing');
  await page.close();
});

test('no page errors or CSP violations in the browser', { skip }, () => {
  assert.deepEqual(browser().errors, []);
});
