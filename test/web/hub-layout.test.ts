// The hub page's layout in a real browser (issue 29, items 10 and 12): on a phone every section's link
// in the header is whole (the hub adds a sixth), and the repo table's rows are separated by lines.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { demoTicket, git, makeHub, type TestHub, writeTicket } from '../hub/helpers.ts';
import { browserSuite, shot } from './browser.ts';

// The browser global used inside evaluate (the root tsconfig has no DOM lib, on purpose).
declare function getComputedStyle(el: unknown): { borderBottomWidth: string; borderBottomStyle: string };

let hub: TestHub;
const suite = browserSuite(async (cleanups) => {
  hub = await makeHub();
  cleanups.push(hub.cleanup);
  const alpha = hub.gitRepo('alpha');
  writeTicket(alpha, 'TICKET-010.md', demoTicket(1, ['done']));
  git(alpha, ['add', '-A']);
  git(alpha, ['commit', '-q', '-m', 'plan']);
  hub.gitRepo('beta');
  hub.gitRepo('gamma');
  assert.equal((await hub.run(['hub', 'scan'])).code, 0);
  return { root: hub.root };
});

for (const [device, size] of [
  ['desktop', { width: 1280, height: 800 }],
  ['phone', { width: 390, height: 844 }],
] as const) {
  test(`the hub: every header link whole, rows separated by lines (${device})`, {
    skip: suite.skip,
    timeout: 60_000,
  }, async () => {
    const page = await suite.browser().context.newPage();
    await page.setViewportSize(size);
    await page.goto(suite.server().url);
    const table = page.getByTestId('hub-repos');
    await table.locator('[data-repo="gamma"]').waitFor();
    // a hub's root has no queue of its own: its menu is the hub's pages (issue 29 item 2, issue 22)
    const links = page.locator('header nav a');
    assert.deepEqual(await links.allTextContents(), ['Hub', 'Inbox', 'Live', 'Chat']);
    const cut = (await page.evaluate(`(() => {
      const nav = document.querySelector('header nav').getBoundingClientRect();
      return [...document.querySelectorAll('header nav a')]
        .map((a) => ({ text: a.textContent.trim(), r: a.getBoundingClientRect() }))
        .filter(({ r }) => r.right > Math.min(nav.right, innerWidth) + 0.5 || r.left < nav.left - 0.5)
        .map(({ text }) => text);
    })()`)) as string[];
    assert.deepEqual(cut, [], 'no header link is cut off');
    const borders = await table.locator('tbody td').evaluateAll((tds) =>
      tds.map((td) => {
        const s = getComputedStyle(td);
        return `${s.borderBottomWidth} ${s.borderBottomStyle}`;
      }),
    );
    assert.ok(borders.length >= 3);
    for (const b of borders) assert.equal(b, '1px solid');
    await page.screenshot({ path: shot(`hub-${device}.png`) });
    await page.close();
  });
}

test('no page errors or CSP violations in the browser', { skip: suite.skip }, () => {
  assert.deepEqual(suite.browser().errors, []);
});
