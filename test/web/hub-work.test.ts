// A ticket's work and the hub's git state in a real browser (issue 22 point 3), against one `car serve` at a
// hub's root after a real run: the ticket's diff drawn by diff2html (file list, syntax highlighting, split
// and unified) with the verify evidence beside it; no work yet and an unknown ticket have their own pages;
// the Hub page shows each checkout's branch and uncommitted files. Desktop and phone.
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { car } from '../helpers/cli.ts';
import { demoTicket, git, makeHub, type TestHub, writeTicket } from '../hub/helpers.ts';
import { browserSuite, shot } from './browser.ts';

const PHONE = { width: 390, height: 844 };
const DESKTOP = { width: 1280, height: 800 };

let hub: TestHub;
const suite = browserSuite(async (cleanups) => {
  hub = await makeHub();
  cleanups.push(hub.cleanup);
  const alpha = hub.gitRepo('alpha');
  const beta = hub.gitRepo('beta');
  writeTicket(
    alpha,
    'TICKET-010.md',
    demoTicket(1, [
      'write src/parser.ts export function parse(input: string): string {\\n  const trimmed = input.trim();\\n  return trimmed;\\n}\\n',
      'write README.md # test repo\\n\\nParses input.\\n',
      'done',
      'commit parser: trim the input',
    ]).replace('title: ticket 1', 'title: Parse the input\nverify: test -f src/parser.ts'),
  );
  writeTicket(alpha, 'TICKET-020.md', demoTicket(2, ['done']).replace('agent: demo', 'agent: user'));
  git(alpha, ['add', '-A']);
  git(alpha, ['commit', '-q', '-m', 'plan']);
  assert.equal((await hub.run(['hub', 'scan'])).code, 0);
  git(alpha, ['add', '-A']);
  git(alpha, ['commit', '-q', '-m', 'car init']);
  const run = await car(['run'], { cwd: alpha });
  assert.match(run.stdout + run.stderr, /user_ticket/, `car run: ${run.stdout} ${run.stderr}`);
  writeFileSync(join(beta, 'README.md'), '# changed\n');
  return { root: hub.root };
});

test('the hub page shows each checkout: branch, upstream, uncommitted files', {
  skip: suite.skip,
  timeout: 60_000,
}, async () => {
  const page = await suite.browser().context.newPage();
  await page.setViewportSize(DESKTOP);
  await page.goto(`${suite.server().url}/hub`);
  const row = (id: string) => page.getByTestId('hub-repos').locator(`[data-repo="${id}"]`);
  await row('beta').getByTestId('git').getByText('uncommitted').waitFor();
  assert.match((await row('alpha').getByTestId('git').textContent()) ?? '', /main\s*no upstream\s*clean/);
  assert.match(
    (await row('beta').getByTestId('git').textContent()) ?? '',
    /main\s*no upstream\s*2 uncommitted/,
  );
  await page.screenshot({ path: shot('hub-git.png') });
  await page.setViewportSize(PHONE);
  await page.screenshot({ path: shot('hub-git-phone.png') });
  await page.setViewportSize(DESKTOP);
  await row('beta').getByRole('link', { name: 'details' }).click();
  await page.getByTestId('dirty-files').waitFor();
  assert.match((await page.getByTestId('dirty-files').textContent()) ?? '', / M README\.md/);
  await page.close();
});

test("a ticket's work: its diff with file list, highlighting, split and unified, and the evidence beside it", {
  skip: suite.skip,
  timeout: 60_000,
}, async () => {
  const page = await suite.browser().context.newPage();
  await page.setViewportSize(DESKTOP);
  await page.goto(`${suite.server().url}/repos/alpha/tickets/TICKET-010.md`);
  await page.getByTestId('work-link').click();
  await page.waitForURL(/\/repos\/alpha\/tickets\/TICKET-010\.md\/work$/);
  const diff = page.getByTestId('work-diff');
  await diff.locator('.d2h-file-list').waitFor();
  assert.deepEqual(
    (await diff.locator('.d2h-file-list .d2h-file-name').allTextContents()).map((t) => t.trim()).sort(),
    ['.codex-autorunner/tickets/TICKET-010.md', 'README.md', 'src/parser.ts'],
  );
  await diff.getByText('parser: trim the input').waitFor();
  // split: two sides; highlighted TypeScript
  assert.ok((await diff.locator('.d2h-file-side-diff').count()) >= 2);
  await diff.locator('.hljs-keyword').first().waitFor();
  const evidence = page.getByTestId('work-evidence');
  await evidence.getByText('test -f src/parser.ts').waitFor();
  await evidence.getByText('exit 0').waitFor();
  await evidence.getByText('verified').waitFor();
  await page.screenshot({ path: shot('hub-ticket-work.png'), fullPage: true });

  await page.getByRole('button', { name: 'Unified' }).click();
  await diff.locator('.d2h-file-diff').first().waitFor();
  assert.equal(await diff.locator('.d2h-file-side-diff').count(), 0);
  await page.setViewportSize(PHONE);
  await page.reload();
  await diff.locator('.d2h-file-diff').first().waitFor();
  await page.screenshot({ path: shot('hub-ticket-work-phone.png'), fullPage: true });
  const width = await page.evaluate('document.documentElement.scrollWidth');
  assert.ok((width as number) <= PHONE.width, `the work page fits the phone's width (${width}px)`);
  await page.close();
});

test('a ticket with no work yet, and one that does not exist, say so', {
  skip: suite.skip,
  timeout: 60_000,
}, async () => {
  const page = await suite.browser().context.newPage();
  await page.setViewportSize(DESKTOP);
  await page.goto(`${suite.server().url}/repos/alpha/tickets/TICKET-020.md/work`);
  await page.getByTestId('no-work').waitFor();
  await page.screenshot({ path: shot('hub-ticket-work-none.png') });
  await page.goto(`${suite.server().url}/repos/alpha/tickets/TICKET-999.md/work`);
  await page.getByTestId('not-found').getByText('Ticket TICKET-999.md').waitFor();
  await page.screenshot({ path: shot('hub-ticket-work-not-found.png') });
  await page.close();
});

test('no page errors or CSP violations in the browser', { skip: suite.skip }, () => {
  assert.deepEqual(suite.browser().errors, []);
});
