// Large data in a real browser: a board of 1,000 tickets and a run of 100,000 events render and scroll
// without freezing (windowed lists, events paged by sequence number), and the UI fits a phone screen.
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import type { Page } from 'playwright-core';
import { initRepo } from '../../src/core/init.ts';
import { repoPaths } from '../../src/core/paths.ts';
import { openRunStore } from '../../src/core/store/run-store.ts';
import type { NewEvent } from '../../src/core/store/types.ts';
import { newTicketId, renderNewTicket } from '../../src/core/tickets/index.ts';
import { makeGitRepo } from '../helpers/git-repo.ts';
import { browserSuite, shot } from './browser.ts';

// The browser globals used inside page.evaluate (the root tsconfig has no DOM lib, on purpose).
declare const document: { documentElement: { scrollWidth: number } };
declare const window: { innerWidth: number };
declare function requestAnimationFrame(callback: () => void): number;

const TICKETS = 1000;
const EVENTS = 100_000;
let runId: string;
let waitingRunId: string;
let ticketsDir: string;

const suite = browserSuite(async (cleanups) => {
  const repo = makeGitRepo();
  cleanups.push(repo.cleanup);
  initRepo(repo.dir);
  const paths = repoPaths(repo.dir);
  ticketsDir = paths.ticketsDir;
  for (let i = 1; i <= TICKETS; i++) {
    const done = i <= 400;
    const text = renderNewTicket(
      { ticket_id: newTicketId(), agent: 'demo', done, title: `Ticket number ${i}` },
      'Do the thing.\n',
    );
    // some open tickets are broken (done must be a boolean)
    const body = i > 400 && i % 100 === 50 ? text.replace(/done: (true|false)/, 'done: "maybe"') : text;
    writeFileSync(join(paths.ticketsDir, `TICKET-${String(i).padStart(4, '0')}.md`), body);
  }
  const store = openRunStore(paths.dbFile, { maxEventsPerType: EVENTS });
  const run = store.createRun({});
  runId = run.id;
  const kinds: ((n: number) => NewEvent)[] = [
    (n) => ({ type: 'tool_call', data: { name: 'shell', input: `npm test -- --shard ${n}` } }),
    (n) => ({ type: 'agent_delta', data: { text: `streamed text ${n} ` } }),
    (n) => ({ type: 'agent_message', data: { text: `Message ${n}: the agent explains what it did next.` } }),
    (n) => ({ type: 'file_change', data: { path: `src/file-${n % 97}.ts`, kind: 'modify' } }),
  ];
  for (let n = 0; n < EVENTS; ) {
    const batch: NewEvent[] = [];
    for (let k = 0; k < 1000; k++, n++) batch.push(kinds[n % kinds.length]!(n + 1));
    store.appendEvents(run.id, batch);
  }
  store.updateRun(run.id, { status: 'completed', reasonCode: 'all_done', reason: 'seeded' });
  // a run waiting out codex's used-up plan, after 123 456 tokens
  const waiting = store.createRun({
    state: {
      tokens: 123_456,
      tokenLimit: null,
      quotaWait: { agent: 'codex', until: '2026-11-25T03:00:30.000Z', message: 'usage limit' },
    },
  });
  waitingRunId = waiting.id;
  store.updateRun(waiting.id, { status: 'running' });
  store.close();
  return { root: repo.dir };
});

const skip = suite.skip;
const browser = () => suite.browser();
const server = () => suite.server();

/** How long the page's main thread takes to answer: a frozen page answers late. */
async function responsiveMs(page: Page): Promise<number> {
  const t = Date.now();
  await page.evaluate(() => new Promise((r) => requestAnimationFrame(() => r(null))));
  return Date.now() - t;
}

async function scrollList(page: Page, label: string, top: number | 'end'): Promise<void> {
  await page.getByRole('list', { name: label }).evaluate((el, to) => {
    el.scrollTop = to === 'end' ? el.scrollHeight : to;
    el.dispatchEvent(new Event('scroll'));
  }, top);
}

test('a board of 1,000 tickets renders a window of them and scrolls to the last one', {
  skip,
  timeout: 60_000,
}, async (t) => {
  const page = await browser().context.newPage();
  const started = Date.now();
  await page.goto(server().url);
  const open = page.getByRole('region', { name: 'Open tickets' });
  await open.getByText('Ticket number 401', { exact: true }).waitFor();
  const loadMs = Date.now() - started;
  assert.match((await page.locator('h1').first().textContent()) ?? '', /1000/);
  const rows = await page.locator('a.ticket').count();
  assert.ok(rows < 150, `only a window of tickets is in the DOM (${rows})`);
  assert.equal(await open.locator('a.next').getAttribute('data-ticket'), 'TICKET-0401.md');
  await page.getByRole('region', { name: 'Invalid tickets' }).getByText('Ticket number 950').waitFor();

  await scrollList(page, 'Open tickets', 'end');
  await open.getByText('Ticket number 1000', { exact: true }).waitFor();
  assert.ok((await responsiveMs(page)) < 500, 'the page stays responsive');
  await page.screenshot({ path: shot('board-1000.png') });
  t.diagnostic(`board with ${TICKETS} tickets shown in ${loadMs} ms, ${rows} rows in the DOM`);
  await page.close();
});

test('a run of 100,000 events opens at once and scrolls anywhere, loading pages on demand', {
  skip,
  timeout: 90_000,
}, async (t) => {
  const page = await browser().context.newPage();
  const requests: string[] = [];
  page.on('request', (r) => {
    if (r.url().includes('/events?')) requests.push(new URL(r.url()).search);
  });
  const started = Date.now();
  await page.goto(`${server().url}/runs/${runId}`);
  const log = page.getByTestId('event-log');
  await log.locator('[data-seq="1"]').waitFor();
  const openMs = Date.now() - started;
  assert.match((await page.locator('.toolbar .small').first().textContent()) ?? '', /100000 events/);

  const timings: number[] = [];
  for (const seq of [50_000, 99_990, 12_345]) {
    const t = Date.now();
    await scrollList(page, 'run events', (seq - 1) * 24);
    await log.locator(`[data-seq="${seq}"]`).waitFor();
    timings.push(Date.now() - t);
    assert.ok((await responsiveMs(page)) < 500, 'the page stays responsive');
  }
  await scrollList(page, 'run events', 'end');
  await log.locator(`[data-seq="${EVENTS}"]`).waitFor();
  const inDom = await log.locator('[data-seq]').count();
  assert.ok(inDom < 200, `only a window of events is in the DOM (${inDom})`);
  assert.ok(requests.length < 20, `events were paged on demand (${requests.length} requests)`);
  assert.ok(
    requests.every((q) => /limit=500/.test(q)),
    'every request is one bounded page',
  );
  await log.locator(`[data-seq="${EVENTS}"]`).click();
  await page.getByText(`#${EVENTS} file_change`).waitFor();
  await page.screenshot({ path: shot('run-100k.png') });
  t.diagnostic(
    `run with ${EVENTS} events: first rows in ${openMs} ms; jumps shown in ${timings.join('/')} ms; ${requests.length} page requests`,
  );
  await page.close();
});

test('one event type of the 100,000: the filtered log opens at its start and jumps to its end', {
  skip,
  timeout: 60_000,
}, async () => {
  const page = await browser().context.newPage();
  const requests: string[] = [];
  page.on('request', (r) => {
    if (r.url().includes('/events?')) requests.push(new URL(r.url()).search);
  });
  await page.goto(`${server().url}/runs/${runId}`);
  const log = page.getByTestId('event-log');
  await log.locator('[data-seq="1"]').waitFor();
  const filter = page.getByTestId('event-filter');
  // the types and their counts come with the run's details, which may land after the first events
  const option = filter.locator('option[value="agent_message"]');
  await option.waitFor({ state: 'attached' });
  assert.equal((await option.textContent())?.trim(), 'agent_message (25,000)');
  await filter.selectOption('agent_message');
  // every fourth event is an agent message: seq 3, 7, 11, ...
  await log.locator('[data-seq="3"]').waitFor();
  const shown = await log
    .locator('[data-seq]')
    .evaluateAll((rows) => rows.map((r) => r.querySelector('.type')?.textContent));
  assert.ok(shown.length > 5 && shown.every((t) => t === 'agent_message'), shown.join(','));
  assert.equal(await log.locator('[data-seq="1"]').count(), 0, 'other types are filtered out');

  await scrollList(page, 'run events', 'end');
  await log.locator('[data-seq="99999"]').waitFor();
  assert.ok((await responsiveMs(page)) < 500, 'the page stays responsive');
  const filtered = requests.filter((q) => q.includes('types=agent_message'));
  assert.ok(filtered.length <= 4, `pages fetched by offset, not walked (${filtered.length} requests)`);
  assert.ok(
    filtered.some((q) => /offset=24500/.test(q)),
    filtered.join(' '),
  );

  // back to every event
  await filter.selectOption('');
  await log.locator('[data-seq="1"]').waitFor();
  await page.close();
});

test('phone-sized screen (390×844): board and run view fit the width', {
  skip,
  timeout: 60_000,
}, async () => {
  const page = await browser().context.newPage();
  await page.setViewportSize({ width: 390, height: 844 });
  await page.goto(server().url);
  await page
    .getByRole('region', { name: 'Open tickets' })
    .getByText('Ticket number 401', { exact: true })
    .waitFor();
  const overflow = () => page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
  assert.ok((await overflow()) <= 0, 'no horizontal scrolling on the board');
  await page.screenshot({ path: shot('phone-board.png') });
  await page.goto(`${server().url}/runs/${runId}`);
  await page.getByTestId('event-log').locator('[data-seq="1"]').waitFor();
  assert.ok((await overflow()) <= 0, 'no horizontal scrolling on the run view');
  await page.screenshot({ path: shot('phone-run.png') });
  await page.close();
});

test('the board and the flow bar revalidate: a 304 keeps what is shown, an edited ticket shows on the next poll', {
  skip,
  timeout: 60_000,
}, async () => {
  const page = await browser().context.newPage();
  const isList = (url: string) => new URL(url).pathname === '/api/tickets';
  await page.goto(server().url);
  const open = page.getByRole('region', { name: 'Open tickets' });
  await open.getByText('Ticket number 401', { exact: true }).waitFor();
  // the polls ask with the ETags they got; unchanged answers come back empty (304) and are reused
  const [list, status] = await Promise.all([
    page.waitForResponse((r) => isList(r.url()) && r.status() === 304),
    page.waitForResponse((r) => r.url().endsWith('/api/flow/status') && r.status() === 304),
  ]);
  assert.ok(list.request().headers()['if-none-match'], 'the board sent its ETag');
  assert.ok(status.request().headers()['if-none-match'], 'the flow bar sent its ETag');
  // by the next polls, the answers of these were shown
  await Promise.all([
    page.waitForRequest((r) => isList(r.url())),
    page.waitForRequest((r) => r.url().endsWith('/api/flow/status')),
  ]);
  assert.equal(await page.getByRole('alert').count(), 0, 'no error shown');
  assert.equal(await open.getByText('Ticket number 401', { exact: true }).count(), 1);
  assert.match((await page.getByTestId('flow-status').textContent()) ?? '', /running/);
  assert.match((await page.locator('header').textContent()) ?? '', /400\/1000 done/);

  // edited on disk: the next poll gets a 200 with the new board
  const name = join(ticketsDir, 'TICKET-0401.md');
  writeFileSync(name, readFileSync(name, 'utf8').replace('Ticket number 401', 'Ticket number 401, edited'));
  const changed = page.waitForResponse((r) => isList(r.url()) && r.status() === 200);
  await open.getByText('Ticket number 401, edited', { exact: true }).waitFor();
  assert.ok((await changed).request().headers()['if-none-match'], 'asked with the old ETag');
  await page.close();
});

test('no page errors or CSP violations in the browser', { skip }, () => {
  assert.deepEqual(browser().errors, []);
});

test('a run waiting out a used-up plan says so, with the tokens it used', {
  skip,
  timeout: 30_000,
}, async () => {
  const page = await browser().context.newPage();
  await page.goto(`${server().url}/runs/${waitingRunId}`);
  const banner = page.getByTestId('quota-wait');
  await banner.waitFor();
  assert.match(
    (await banner.textContent()) ?? '',
    /Waiting for codex's usage limit to reset; the run goes on by itself at/,
  );
  assert.match((await page.getByTestId('run-figures').textContent()) ?? '', /123,456 tokens/);
  await page.close();
});
