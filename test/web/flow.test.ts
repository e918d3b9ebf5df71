// The web UI in a real browser against a real `car serve`: token prompt, ticket create and edit (with a
// conflicting edit on disk), a demo-agent run whose log streams in live, a dispatch answered from the
// inbox, the run resuming to completion, the contextspace editor and the usage chart.
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import type { Locator, Page } from 'playwright-core';
import { initRepo } from '../../src/core/init.ts';
import { repoPaths } from '../../src/core/paths.ts';
import { makeGitRepo } from '../helpers/git-repo.ts';
import { demoTicket } from '../http/helpers.ts';
import { browserSuite, shot } from './browser.ts';

const TOKEN = 'web-test-token-7f3a';
let root: string;

const suite = browserSuite(async (cleanups) => {
  const repo = makeGitRepo();
  cleanups.push(repo.cleanup);
  root = repo.dir;
  initRepo(root);
  const paths = repoPaths(root);
  // slow the demo agent down a little so the log visibly streams
  writeFileSync(
    join(paths.stateDir, 'repo.override.yml'),
    'agents:\n  demo:\n    backend: demo\n    step_delay_ms: 120\n',
  );
  writeFileSync(
    join(paths.ticketsDir, 'TICKET-010-start.md'),
    demoTicket(
      'Lay the groundwork',
      [
        'say Starting the groundwork now',
        'write src/ground.txt groundwork\\n',
        // long enough that the page sees the first line before the last, even on a loaded machine
        'sleep 2500',
        'say Groundwork laid',
        'done',
        'commit ground: lay it',
      ],
      { verify: 'test -f src/ground.txt' },
    ),
  );
  writeFileSync(
    join(paths.ticketsDir, 'TICKET-020-ask.md'),
    demoTicket('Pick a colour', [
      'say I need a decision',
      'ask Which colour should the button be? | Blue | Red',
      'write src/colour.txt chosen\\n',
      'done',
      'commit colour: apply the answer',
    ]),
  );
  repo.commitAll('tickets');
  return { root, env: { CAR_WEB_TOKEN: TOKEN } };
});

const skip = suite.skip;
const browser = () => suite.browser();
const server = () => suite.server();

/** Waits until the text box holds `text` (the editor loads asynchronously). */
async function untilValue(box: Locator, text: string): Promise<void> {
  const deadline = Date.now() + 10_000;
  while (!(await box.inputValue()).includes(text)) {
    if (Date.now() > deadline) assert.fail(`the editor never showed ${JSON.stringify(text)}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

async function logSeqs(page: Page): Promise<number[]> {
  return page.$$eval('[data-testid=event-log] [data-seq]', (els) =>
    els.map((e) => Number(e.getAttribute('data-seq'))),
  );
}

test('token prompt, then create and edit a ticket (a conflicting disk edit is reported, not overwritten)', {
  skip,
  timeout: 60_000,
}, async () => {
  const page = await browser().context.newPage();
  await page.goto(server().url);
  await page.getByLabel('token').fill(TOKEN);
  await page.getByRole('button', { name: 'Continue' }).click();
  const open = page.getByRole('region', { name: 'Open tickets' });
  await open.getByText('Lay the groundwork').waitFor();
  assert.equal(await open.locator('a.next').getAttribute('data-ticket'), 'TICKET-010-start.md');

  await page.getByRole('button', { name: 'New ticket' }).click();
  const form = page.getByRole('form', { name: 'new ticket' });
  await form.getByLabel('Title').fill('Created in the browser');
  await form.getByLabel('Agent').selectOption('demo');
  await form.getByRole('button', { name: 'Create' }).click();
  await page.waitForURL(/\/tickets\/TICKET-\d+-created-in-the-browser\.md$/);
  const editor = page.getByLabel('ticket markdown');
  await untilValue(editor, 'Created in the browser');
  const name = decodeURIComponent(new URL(page.url()).pathname.split('/').pop()!);
  await page.reload(); // the server answers the app's own routes with the app
  await untilValue(editor, 'Created in the browser');
  const file = join(repoPaths(root).ticketsDir, name);

  // a lint error comes back inline and nothing is written
  const text = await editor.inputValue();
  await editor.fill(text.replace('done: false', 'done: "nope"'));
  await page.getByRole('button', { name: 'Save', exact: true }).click();
  await page.getByLabel('lint findings').getByText('done').first().waitFor();
  assert.match(readFileSync(file, 'utf8'), /done: false/);

  // a clean save goes through
  await editor.fill(`${text}\nEdited in the browser.\n`);
  await page.getByRole('button', { name: 'Save', exact: true }).click();
  await page.getByText('Saved.').waitFor();
  assert.match(readFileSync(file, 'utf8'), /Edited in the browser\./);

  // someone edits the file on disk; the browser's next save gets 409 and offers to load the disk's text
  writeFileSync(file, readFileSync(file, 'utf8').replace('Edited in the browser.', 'Edited on disk.'));
  await editor.fill(`${await editor.inputValue()}More from the browser.\n`);
  await page.getByRole('button', { name: 'Save', exact: true }).click();
  await page.getByRole('alert').getByText('Changed on disk').waitFor();
  assert.match(readFileSync(file, 'utf8'), /Edited on disk\./);
  assert.doesNotMatch(readFileSync(file, 'utf8'), /More from the browser/);
  await page.screenshot({ path: shot('editor-conflict.png') });
  await page.getByRole('button', { name: "Discard mine, load the disk's" }).click();
  await untilValue(editor, 'Edited on disk.');
  await page.close();
});

test('start a run: the log streams live; the dispatch is answered from the inbox and the run completes', {
  skip,
  timeout: 120_000,
}, async () => {
  const page = await browser().context.newPage();
  await page.goto(server().url);
  await page.getByRole('region', { name: 'Open tickets' }).getByText('Lay the groundwork').waitFor();
  await page.screenshot({ path: shot('board.png') });

  await page.getByRole('button', { name: 'Start', exact: true }).click();
  await page.waitForURL(/\/runs\/[^/]+$/);
  const log = page.getByTestId('event-log');
  await log.getByText('Starting the groundwork now').first().waitFor();
  const early = Math.max(...(await logSeqs(page)));
  await log.getByText('Groundwork laid').first().waitFor();
  const later = Math.max(...(await logSeqs(page)));
  assert.ok(later > early, `new events arrived while watching (${early} → ${later})`);
  await log.getByText('tool_call').first().waitFor();
  await page.screenshot({ path: shot('run-live.png') });

  // the second ticket asks; the run pauses and the inbox shows the question
  await page.getByTestId('run-status').getByText('paused').waitFor({ timeout: 60_000 });
  await page.getByRole('link', { name: /Inbox/ }).click();
  const item = page.locator('article.item');
  await item.getByText('Which colour should the button be?').first().waitFor();
  await page.screenshot({ path: shot('inbox.png') });
  // the agent offered ready answers: one click replies and resumes
  await item.getByRole('group', { name: 'answers' }).getByRole('button', { name: 'Blue' }).click();

  await page.waitForURL(/\/runs\/[^/]+$/);
  await page.getByTestId('run-status').getByText('completed').waitFor({ timeout: 60_000 });
  await log.getByText('flow_completed').first().waitFor();
  await page.screenshot({ path: shot('run-completed.png') });

  // the verified ticket shows why car closed it
  await page.goto(`${server().url}/tickets/TICKET-010-start.md`);
  const evidence = page.getByRole('region', { name: 'evidence' });
  await evidence.getByText('test -f src/ground.txt').waitFor();
  await evidence
    .getByText(/exit 0/)
    .first()
    .waitFor();
  await page.screenshot({ path: shot('ticket-evidence.png') });

  const tickets = repoPaths(root).ticketsDir;
  assert.match(readFileSync(join(tickets, 'TICKET-020-ask.md'), 'utf8'), /done: true/);
  assert.equal(readFileSync(join(root, 'src/colour.txt'), 'utf8'), 'chosen\n');

  await page.getByRole('link', { name: 'Usage' }).click();
  await page.getByRole('img', { name: 'tokens per day' }).locator('rect').first().waitFor();
  await page.getByLabel('group by').selectOption('ticket');
  await page.getByRole('img', { name: 'tokens per ticket' }).locator('rect').nth(2).waitFor();
  await page.screenshot({ path: shot('usage.png') });
  await page.close();
});

test('a run page whose first look at the run is late still shows every event (no page fetched before the count)', {
  skip,
  timeout: 90_000,
}, async () => {
  writeFileSync(
    join(repoPaths(root).ticketsDir, 'TICKET-030-late.md'),
    demoTicket('Arrive late', [
      'say First words',
      'sleep 1500',
      'say Last words',
      'done',
      'commit late: arrive',
    ]),
  );
  const page = await browser().context.newPage();
  // the page's first GET of the run is held until "Last words" is on disk: the log's first page, if
  // asked for before the run's count arrives, is older than that count and would stay short
  let held = false;
  await page.route(/\/api\/runs\/[^/?]+$/, async (route) => {
    if (held || route.request().method() !== 'GET') return route.continue();
    held = true;
    const events = `${route.request().url()}/events?after=0&limit=200`;
    const deadline = Date.now() + 60_000;
    while (!(await (await route.fetch({ url: events })).text()).includes('Last words')) {
      if (Date.now() > deadline) return route.abort();
      await new Promise((r) => setTimeout(r, 50));
    }
    await route.continue();
  });
  await page.goto(server().url);
  await page.getByRole('region', { name: 'Open tickets' }).getByText('Arrive late').waitFor();
  await page.getByRole('button', { name: 'Start', exact: true }).click();
  await page.waitForURL(/\/runs\/[^/]+$/);
  const log = page.getByTestId('event-log');
  await log.getByText('Last words').first().waitFor();
  await log.getByText('First words').first().waitFor();
  await page.getByTestId('run-status').getByText('completed').waitFor({ timeout: 60_000 });
  await log.getByText('flow_completed').first().waitFor();
  assert.ok(held, 'the run page asked for the run');
  // the log's rows at its end (it follows the run) and at its top: every one an event, none missing
  const rows = async () => {
    assert.equal(await log.locator('.ev.muted').count(), 0, 'no row is a placeholder or shown as lost');
    const seqs = await logSeqs(page);
    const lo = Math.min(...seqs);
    assert.deepEqual(
      seqs.toSorted((a, b) => a - b),
      Array.from({ length: seqs.length }, (_, i) => lo + i),
    );
    return seqs;
  };
  const end = await rows();
  await page.getByRole('button', { name: 'Top', exact: true }).click();
  await log.locator('[data-seq="1"]').waitFor();
  const top = await rows();
  assert.ok(Math.max(...end) > Math.max(...top) || top.length === end.length, 'both ends were seen');
  await page.close();
});

test('contextspace: edit and save a document', { skip, timeout: 60_000 }, async () => {
  const page = await browser().context.newPage();
  await page.goto(`${server().url}/contextspace`);
  const area = page.getByRole('textbox', { name: /document/ });
  await area.waitFor();
  await area.fill('# Decisions\n\n- The button is blue.\n');
  await page.getByRole('button', { name: 'Save', exact: true }).click();
  await page.getByText('Saved.').waitFor();
  const docs = repoPaths(root).contextspaceDir;
  const saved = ['active_context.md', 'decisions.md', 'spec.md'].map((f) => {
    try {
      return readFileSync(join(docs, f), 'utf8');
    } catch {
      return '';
    }
  });
  assert.ok(saved.includes('# Decisions\n\n- The button is blue.\n'), 'the document was written');
  await page.close();
});

test('no page errors or CSP violations in the browser', { skip }, () => {
  assert.deepEqual(browser().errors, []);
});
