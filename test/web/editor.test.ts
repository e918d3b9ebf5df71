// The ticket and contextspace editors in a real browser (issue 29, items 3 and 11): unsaved edits are not
// lost to a link, the back button or a reload; findings follow the typing and name the line to fix; a
// conflicting edit on disk can be compared and overwritten on purpose, not only discarded.
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import type { Dialog, Locator, Page } from 'playwright-core';
import { initRepo } from '../../src/core/init.ts';
import { repoPaths } from '../../src/core/paths.ts';
import { makeGitRepo } from '../helpers/git-repo.ts';
import { waitFor } from '../helpers/wait.ts';
import { demoTicket } from '../http/helpers.ts';
import { browserSuite, shot } from './browser.ts';

// The browser globals used inside page.evaluate (the root tsconfig has no DOM lib, on purpose).
declare const window: { scrollTo(x: number, y: number): void };
interface TextArea {
  value: string;
  selectionStart: number;
  selectionEnd: number;
  setSelectionRange(start: number, end: number): void;
}

let ticketsDir: string;
let contextDir: string;

const suite = browserSuite(async (cleanups) => {
  const repo = makeGitRepo();
  cleanups.push(repo.cleanup);
  initRepo(repo.dir);
  const paths = repoPaths(repo.dir);
  ticketsDir = paths.ticketsDir;
  contextDir = paths.contextspaceDir;
  for (const [name, title] of [
    ['TICKET-010-leave.md', 'Leave with edits'],
    ['TICKET-020-lint.md', 'Lint while typing'],
    ['TICKET-030-conflict.md', 'Edited on both sides'],
  ] as const) {
    writeFileSync(join(ticketsDir, name), demoTicket(title, ['done']));
  }
  repo.commitAll('tickets');
  return { root: repo.dir };
});

const skip = suite.skip;
const browser = () => suite.browser();
const server = () => suite.server();

async function untilValue(box: Locator, text: string): Promise<void> {
  const deadline = Date.now() + 10_000;
  while (!(await box.inputValue()).includes(text)) {
    if (Date.now() > deadline) assert.fail(`the editor never showed ${JSON.stringify(text)}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** Types at the end of the text box, as a person does (key events: the page gets a user gesture). */
async function typeAtEnd(page: Page, box: Locator, text: string): Promise<void> {
  await box.click();
  await page.keyboard.press('Control+End');
  await page.keyboard.type(text);
}

/** Answers the next dialog with `accept`; resolves with it, or fails when none comes within 10 s. */
function nextDialog(page: Page, accept: boolean): Promise<Dialog> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      page.off('dialog', answer);
      reject(new Error('the page asked nothing before leaving'));
    }, 10_000);
    const answer = (d: Dialog) => {
      clearTimeout(timer);
      void (accept ? d.accept() : d.dismiss());
      resolve(d);
    };
    page.once('dialog', answer);
  });
}

test('unsaved ticket edits survive a link, the back button and a reload unless the user agrees to lose them', {
  skip,
  timeout: 90_000,
}, async () => {
  const page = await browser().context.newPage();
  await page.goto(server().url);
  await page.getByRole('region', { name: 'Open tickets' }).getByText('Leave with edits').click();
  await page.waitForURL(/TICKET-010-leave\.md$/);
  const editor = page.getByLabel('ticket markdown');
  await untilValue(editor, 'Leave with edits');
  const ticketUrl = page.url();

  // nothing typed: leaving does not ask
  let asked = 0;
  const count = () => asked++;
  page.on('dialog', count);
  await page.getByRole('link', { name: '← board' }).click();
  await page.waitForURL(`${server().url}/`);
  await page.goBack();
  await page.waitForURL(ticketUrl);
  await untilValue(editor, 'Leave with edits');
  assert.equal(asked, 0, 'no question without edits');
  page.off('dialog', count);

  await typeAtEnd(page, editor, 'Half-written note.');
  await page.getByText('unsaved changes').waitFor();

  // a link asks; staying keeps the page and the text
  let dialog = nextDialog(page, false);
  await page.getByRole('link', { name: '← board' }).click();
  assert.equal((await dialog).type(), 'confirm');
  assert.match((await dialog).message(), /unsaved edits/);
  assert.equal(page.url(), ticketUrl);
  assert.match(await editor.inputValue(), /Half-written note\.$/);

  // so does a header link
  dialog = nextDialog(page, false);
  await page.getByRole('link', { name: 'Runs' }).click();
  await dialog;
  assert.equal(page.url(), ticketUrl);

  // the back button asks too; staying puts the page back where it was
  dialog = nextDialog(page, false);
  await page.goBack();
  await dialog;
  await page.waitForURL(ticketUrl);
  assert.match(await editor.inputValue(), /Half-written note\.$/);
  await page.screenshot({ path: shot('editor-unsaved-stay.png') });

  // a reload gets the browser's own prompt; dismissed, nothing is lost
  dialog = nextDialog(page, false);
  await page.reload({ timeout: 5_000 }).catch(() => {});
  assert.equal((await dialog).type(), 'beforeunload');
  assert.match(await editor.inputValue(), /Half-written note\.$/);

  // agreeing leaves, and the file on disk is as it was
  dialog = nextDialog(page, true);
  await page.getByRole('link', { name: '← board' }).click();
  await dialog;
  await page.waitForURL(`${server().url}/`);
  assert.doesNotMatch(readFileSync(join(ticketsDir, 'TICKET-010-leave.md'), 'utf8'), /Half-written/);
  await page.close();
});

test('unsaved contextspace edits: switching documents asks first', { skip, timeout: 60_000 }, async () => {
  const page = await browser().context.newPage();
  await page.goto(`${server().url}/contextspace/decisions`);
  const area = page.getByRole('textbox', { name: 'decisions document' });
  await area.waitFor();
  await typeAtEnd(page, area, '- Keep the button blue.');
  const dialog = nextDialog(page, false);
  await page.locator('a[href="/contextspace/spec"]').click();
  await dialog;
  assert.match(page.url(), /\/contextspace\/decisions$/);
  assert.match(await area.inputValue(), /Keep the button blue\.$/);
  await page.getByRole('button', { name: 'Save', exact: true }).click();
  await page.getByText('Saved.').waitFor();
  assert.match(readFileSync(join(contextDir, 'decisions.md'), 'utf8'), /Keep the button blue/);
  // saved: no question
  let asked = false;
  page.once('dialog', (d) => {
    asked = true;
    void d.dismiss();
  });
  await page.locator('a[href="/contextspace/spec"]').click();
  await page.waitForURL(/\/contextspace\/spec$/);
  assert.equal(asked, false);
  await page.close();
});

for (const [device, size] of [
  ['desktop', { width: 1280, height: 800 }],
  ['phone', { width: 390, height: 844 }],
] as const) {
  test(`findings follow the typing and name the line to fix; the link selects it (${device})`, {
    skip,
    timeout: 60_000,
  }, async () => {
    const page = await browser().context.newPage();
    await page.setViewportSize(size);
    const name = 'TICKET-020-lint.md';
    await page.goto(`${server().url}/tickets/${name}`);
    const editor = page.getByLabel('ticket markdown');
    await untilValue(editor, 'Lint while typing');
    const original = await editor.inputValue();
    const lines = original.split('\n');
    const at = lines.findIndex((l) => l.startsWith('done: false'));
    assert.ok(at > 0 && lines[at + 1] !== '---', 'a key follows done: the parser gives up on a later line');
    // an unclosed quote, typed: the findings appear without saving
    await editor.click();
    await page.evaluate(() => window.scrollTo(0, 0));
    const offset = lines.slice(0, at).join('\n').length + 1 + 'done: '.length;
    await editor.evaluate((el: TextArea, o: number) => el.setSelectionRange(o, o + 5), offset);
    await page.keyboard.type('"nope');
    const findings = page.getByLabel('lint findings');
    const finding = findings.getByRole('listitem').filter({ hasText: 'Missing closing "quote' });
    await finding.waitFor({ timeout: 5_000 });
    assert.match((await finding.textContent()) ?? '', new RegExp(`line ${at + 1}:`));
    assert.equal(readFileSync(join(ticketsDir, name), 'utf8'), original, 'nothing was saved');
    await page.screenshot({ path: shot(`editor-lint-${device}.png`), fullPage: device === 'phone' });

    // the link selects the line with the quote, not the closing fence
    await finding.getByRole('button', { name: `line ${at + 1}` }).click();
    const selected = await editor.evaluate((el: TextArea) =>
      el.value.slice(el.selectionStart, el.selectionEnd),
    );
    assert.equal(selected, 'done: "nope');

    // fixed by typing: the findings go away, again without saving
    await page.keyboard.type('done: false');
    await findings.waitFor({ state: 'detached', timeout: 5_000 });
    await typeAtEnd(page, editor, 'More.\n');
    await page.getByTestId('editor-state').getByText('unsaved changes · lints clean').waitFor();
    await page.close();
  });
}

for (const [device, size] of [
  ['desktop', { width: 1280, height: 800 }],
  ['phone', { width: 390, height: 844 }],
] as const) {
  test(`a conflicting disk edit: the difference is shown, and "keep mine" saves over it (${device})`, {
    skip,
    timeout: 60_000,
  }, async () => {
    const page = await browser().context.newPage();
    await page.setViewportSize(size);
    const name = 'TICKET-030-conflict.md';
    const file = join(ticketsDir, name);
    await page.goto(`${server().url}/tickets/${name}`);
    const editor = page.getByLabel('ticket markdown');
    await untilValue(editor, 'Edited on both sides');
    await typeAtEnd(page, editor, `\nMine from the ${device}.\n`);
    writeFileSync(file, `${readFileSync(file, 'utf8')}\nTheirs on disk (${device}).\n`);
    await page.getByRole('button', { name: 'Save', exact: true }).click();
    const banner = page.getByRole('alert').filter({ hasText: 'Changed on disk' });
    await banner.waitFor();
    assert.match(await editor.inputValue(), new RegExp(`Mine from the ${device}\\.`), 'edits kept');

    await banner.getByRole('button', { name: 'Show the difference' }).click();
    const diff = page.getByLabel('difference');
    await diff.getByText(`- Theirs on disk (${device}).`).waitFor();
    await diff.getByText(`+ Mine from the ${device}.`).waitFor();
    await page.screenshot({ path: shot(`editor-conflict-diff-${device}.png`), fullPage: true });

    await banner.getByRole('button', { name: 'Keep mine, save anyway' }).click();
    await page.getByText('Saved.').waitFor();
    // "Saved." may still be on the page from before: the file itself says when the save landed
    await waitFor('the kept edit on disk', () =>
      readFileSync(file, 'utf8').includes(`Mine from the ${device}.`),
    );
    const now = readFileSync(file, 'utf8');
    assert.match(now, new RegExp(`Mine from the ${device}\\.`));
    assert.doesNotMatch(now, /Theirs on disk/);
    assert.equal(await banner.count(), 0);
    await page.close();
  });
}

test('no page errors or CSP violations in the browser', { skip }, () => {
  assert.deepEqual(browser().errors, []);
});
