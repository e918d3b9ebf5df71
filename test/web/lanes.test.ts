// Lanes and dependencies on the web board, in a real browser against a real `car serve` over a repo the
// built CLI ran with two lanes (issue 16, item 5): a shell-script agent merges TICKET-001 in one lane while
// TICKET-002 asks a question in the other (DISPATCH.md), so the run pauses `lanes_waiting`; tickets 003..005
// depend on them. The board shows the Lanes panel (integration branch, busy lanes, merge queue, merged, the
// waiting lane's reason with its run), each ticket's `waits for`, the lane of a ticket with a link to the
// lane's run; the Inbox lists the paused lane run; the driving run's events read as sentences. The merge
// queue's order is checked on a status answer with queued and merging lanes (no paused run has them).
// Last, Reply in the Inbox reaches the lane, the run goes on and merges every ticket. Desktop (1280×800)
// and phone (390×844).
import assert from 'node:assert/strict';
import { rmSync, writeFileSync } from 'node:fs';
import { test } from 'node:test';
import type { Page } from 'playwright-core';
import { json, makeBuiltCarRepo } from '../helpers/built-car.ts';
import { TICKETS_DIR, tid } from '../helpers/cli.ts';
import { ASKING_AGENT, scriptAgentConfig } from '../helpers/script-agent.ts';
import { browserSuite, shot } from './browser.ts';

// page.evaluate runs in the browser; the test's tsconfig has no DOM types
declare const document: { documentElement: { scrollWidth: number; clientWidth: number } };

const DESKTOP = { width: 1280, height: 800 };
const PHONE = { width: 390, height: 844 };

interface Status {
  run_id: string;
  reason_code: string;
  lanes: {
    integration: string;
    merged: string[];
    open: { lane: number; ticket: string; run_id: string; reason_code: string; phase: string }[];
  };
}

let status: Status;

const suite = browserSuite(async (cleanups) => {
  const r = await makeBuiltCarRepo();
  const script = `${r.dir}-agent.sh`;
  cleanups.push(() => {
    r.cleanup();
    rmSync(script, { force: true });
  });
  writeFileSync(script, ASKING_AGENT);
  r.write('.codex-autorunner/config.yml', scriptAgentConfig(script));
  const deps: Record<string, string> = {
    'TICKET-003': 'depends_on: [1, 2]\n',
    'TICKET-004': 'depends_on: 3\n',
    'TICKET-005': 'depends_on: [2, 3]\n',
  };
  for (const [i, name] of ['TICKET-001', 'TICKET-002', 'TICKET-003', 'TICKET-004', 'TICKET-005'].entries()) {
    r.write(
      `${TICKETS_DIR}/${name}.md`,
      `---\nticket_id: ${tid(i + 1)}\nagent: script\ndone: false\ntitle: Work ${name}\n${deps[name] ?? ''}---\n\nDo ${name}.\n`,
    );
  }
  r.commitAll('plan');
  const ran = await r.run(['run', '--lanes', '2']);
  assert.equal(ran.code, 5, `the run pauses\n${ran.stdout}\n${ran.stderr}`);
  status = json<Status>(await r.run(['flow', 'status', '--json']));
  assert.equal(status.reason_code, 'lanes_waiting');
  assert.equal(status.lanes.open.length, 1);
  return { root: r.dir, env: r.env };
});
const { skip, browser, server } = suite;

async function open(path: string, viewport = DESKTOP): Promise<Page> {
  const page = await browser().context.newPage();
  await page.setViewportSize(viewport);
  await page.goto(`${server().url}${path}`);
  return page;
}

async function noSidewaysScroll(page: Page): Promise<void> {
  const { scroll, client } = (await page.evaluate(
    '({ scroll: document.documentElement.scrollWidth, client: document.documentElement.clientWidth })',
  )) as { scroll: number; client: number };
  assert.ok(scroll <= client, `no sideways scroll (${scroll} > ${client})`);
}

for (const [label, viewport] of [
  ['desktop', DESKTOP],
  ['phone', PHONE],
] as const) {
  test(`board (${label}): the Lanes panel, what each ticket waits for, and the lane of a ticket with its run`, {
    skip,
    timeout: 60_000,
  }, async () => {
    const waiting = status.lanes.open[0]!;
    const page = await open('/', viewport);
    const panel = page.getByRole('region', { name: 'Lanes' });
    await panel.waitFor();
    assert.equal(await panel.getByTestId('lanes-integration').textContent(), status.lanes.integration);
    assert.equal(await panel.getByTestId('lanes-busy').textContent(), '1 of 2 lanes busy');
    assert.equal(await panel.getByTestId('lanes-merged').textContent(), '1 merged');
    await panel.getByTestId('merge-queue-empty').waitFor();
    const lane = panel.locator(`li[data-lane="${waiting.lane}"]`);
    assert.match(
      (await lane.textContent()) ?? '',
      new RegExp(`lane ${waiting.lane}\\s+TICKET-002\\s+waiting`),
    );
    assert.ok(
      ((await lane.getByTestId('lane-reason').textContent()) ?? '').trim().length > 0,
      'the reason shows',
    );
    assert.equal(
      await lane.getByRole('link', { name: 'Reply' }).getAttribute('href'),
      `/runs/${waiting.run_id}`,
      "Reply opens the lane's run",
    );

    const openCol = page.getByRole('region', { name: 'Open tickets' });
    const row = (name: string) => openCol.locator(`.rowwrap:has([data-ticket="${name}.md"])`);
    await row('TICKET-005').waitFor();
    assert.equal(await row('TICKET-003').getByTestId('waits').textContent(), 'waits for TICKET-002');
    assert.equal(await row('TICKET-004').getByTestId('waits').textContent(), 'waits for TICKET-003');
    assert.equal(
      await row('TICKET-005').getByTestId('waits').textContent(),
      'waits for TICKET-002, TICKET-003',
    );
    assert.equal(
      await row('TICKET-003').getByTestId('waits').getAttribute('title'),
      'depends on TICKET-001 (done), TICKET-002',
    );
    const laneLink = row('TICKET-002').getByTestId('lane-of');
    assert.equal(await laneLink.textContent(), `lane ${waiting.lane} · waiting`);
    assert.equal(await laneLink.getAttribute('href'), `/runs/${waiting.run_id}`);
    assert.equal(await row('TICKET-001').count(), 0, 'the merged ticket is done');
    await page
      .getByRole('region', { name: 'Done tickets' })
      .locator('[data-ticket="TICKET-001.md"]')
      .waitFor();
    await noSidewaysScroll(page);
    await page.screenshot({ path: shot(`lanes-board-${label}.png`) });

    await laneLink.click();
    await page.waitForURL(`**/runs/${waiting.run_id}`);
    await page
      .getByTestId('run-lane')
      .getByText(`run ${status.run_id.slice(0, 8)}`)
      .waitFor();

    // the filter still works with the panel and the new row parts
    await page.goBack();
    await page.getByLabel('filter tickets').fill('TICKET-005');
    await openCol.getByText('waits for TICKET-002, TICKET-003').waitFor();
    assert.equal(await openCol.locator('a.ticket').count(), 1);
    await page.close();
  });
}

test("a lane's diff: the waiting lane's branch so far; a merged ticket's commits beside its evidence", {
  skip,
  timeout: 60_000,
}, async () => {
  const waiting = status.lanes.open[0]!;
  const page = await open('/');
  const lane = page.getByRole('region', { name: 'Lanes' }).locator(`li[data-lane="${waiting.lane}"]`);
  await lane.getByTestId('lane-diff').click();
  await page.waitForURL('**/tickets/TICKET-002.md/work');
  const diff = page.getByTestId('work-diff');
  await diff.getByText(`Lane ${waiting.lane} works it on`).waitFor();
  await diff.getByText(new RegExp(`car/lane/${status.run_id.slice(0, 8)}/TICKET-002`)).waitFor();
  await page.getByTestId('work-evidence').getByText('Not closed yet').waitFor();
  await page.screenshot({ path: shot('lanes-work-lane.png') });

  await page.goto(`${server().url}/tickets/TICKET-001.md/work`);
  await diff.locator('.d2h-file-list').waitFor();
  const files = (await diff.locator('.d2h-file-list .d2h-file-name').allTextContents()).map((t) => t.trim());
  assert.ok(files.includes('work/TICKET-001.txt'), files.join(', '));
  await diff.getByText('work on TICKET-001').waitFor();
  await page.getByTestId('work-evidence').getByText('verified').waitFor();
  await page.screenshot({ path: shot('lanes-work-merged.png') });
  await page.close();
});

test('the Inbox lists the paused lane run with its question, its lane and the run that drives it', {
  skip,
  timeout: 60_000,
}, async () => {
  const waiting = status.lanes.open[0]!;
  const page = await open('/inbox');
  const item = page.locator(`article[data-run="${waiting.run_id}"]`);
  await item.waitFor();
  await item.getByText('Which port should the server use?').waitFor();
  await item.getByRole('button', { name: 'Reply and resume' }).waitFor();
  assert.equal(
    await item.getByTestId('lane-of-run').textContent(),
    `lane ${waiting.lane} of run ${status.run_id.slice(0, 8)}`,
  );
  await page.screenshot({ path: shot('lanes-inbox.png') });
  await page.setViewportSize(PHONE);
  await noSidewaysScroll(page);
  await page.screenshot({ path: shot('lanes-inbox-phone.png') });
  await page.close();
});

test("the driving run's lane events read as sentences", { skip, timeout: 60_000 }, async () => {
  const page = await open(`/runs/${status.run_id}`);
  await page.getByText(/^lane \d started TICKET-001$/).waitFor();
  await page.getByText(/^lane \d started TICKET-002$/).waitFor();
  await page.getByText(/^merging TICKET-001 \(lane \d\) onto /).waitFor();
  await page.getByText(/^merged TICKET-001 in \d+ ms \([0-9a-f]{8}\)$/).waitFor();
  await page.screenshot({ path: shot('lanes-run-events.png') });
  await page.setViewportSize(PHONE);
  await page.screenshot({ path: shot('lanes-run-events-phone.png') });
  await page.close();
});

test('the merge queue lists the merging lane first, then the queued ones in queue order; no lanes, no panel', {
  skip,
  timeout: 60_000,
}, async () => {
  const page = await browser().context.newPage();
  await page.setViewportSize(DESKTOP);
  const lane = (n: number, ticket: string, phase: string, queued_at: number | null) => ({
    lane: n,
    ticket: `${TICKETS_DIR}/${ticket}.md`,
    phase,
    run_id: `${String(n).repeat(8)}-0000-4000-8000-000000000000`,
    status: 'running',
    reason_code: null,
    reason: null,
    branch: `car/lane/x/${ticket}`,
    worktree: `.codex-autorunner/lanes/${ticket}`,
    merge_attempts: phase === 'queued' && n === 3 ? 1 : 0,
    queued_at,
    blocked: null,
  });
  let lanes: unknown = {
    count: 4,
    integration: status.lanes.integration,
    merged: status.lanes.merged,
    open: [
      lane(1, 'TICKET-003', 'queued', 20),
      lane(2, 'TICKET-004', 'working', null),
      lane(3, 'TICKET-005', 'queued', 10),
      lane(4, 'TICKET-002', 'merging', 5),
    ],
  };
  await page.route('**/api/flow/status', async (route) => {
    try {
      const res = await route.fetch();
      const body = (await res.json()) as Record<string, unknown>;
      await route.fulfill({ response: res, json: { ...body, lanes } });
    } catch {
      // a poll in flight as the page closed (the test is over): nothing to answer
      await route.abort().catch(() => {});
    }
  });
  await page.goto(server().url);
  const queue = page.getByTestId('merge-queue');
  await queue.waitFor();
  const items = (await queue.locator('li').allTextContents()).map((t) => t.replace(/\s+/g, ' ').trim());
  assert.deepEqual(items, ['1. TICKET-002 lane 4 merging', '2. TICKET-005 lane 3', '3. TICKET-003 lane 1']);
  assert.equal(await page.getByTestId('lanes-busy').textContent(), '4 of 4 lanes busy');
  const openCol = page.getByRole('region', { name: 'Open tickets' });
  const laneOf = (name: string) =>
    openCol.locator(`.rowwrap:has([data-ticket="${name}.md"])`).getByTestId('lane-of').textContent();
  assert.equal(await laneOf('TICKET-003'), 'lane 1 · queued to merge');
  assert.equal(await laneOf('TICKET-004'), 'lane 2 · working');
  assert.equal(await laneOf('TICKET-002'), 'lane 4 · merging');
  await page.screenshot({ path: shot('lanes-queue.png') });
  await page.setViewportSize(PHONE);
  await page.screenshot({ path: shot('lanes-queue-phone.png'), fullPage: true });

  lanes = null;
  await page.setViewportSize(DESKTOP);
  await page.reload();
  await openCol.locator('[data-ticket="TICKET-003.md"]').waitFor();
  await page.getByText('Work TICKET-005').waitFor();
  assert.equal(await page.getByTestId('lanes').count(), 0, 'no lanes: no panel');
  assert.equal(await openCol.getByTestId('lane-of').count(), 0);
  await page.unrouteAll({ behavior: 'ignoreErrors' });
  await page.close();
});

// last: it resumes the run
test('Reply in the Inbox reaches the lane; the run goes on and merges every ticket', {
  skip,
  timeout: 120_000,
}, async () => {
  const waiting = status.lanes.open[0]!;
  const page = await open('/inbox');
  const item = page.locator(`article[data-run="${waiting.run_id}"]`);
  await item.getByLabel('reply').fill('use port 8080');
  await item.getByRole('button', { name: 'Reply and resume' }).click();
  await page.waitForURL(`**/runs/${waiting.run_id}`);
  await page.getByText('use port 8080').first().waitFor();
  await page.getByRole('link', { name: 'Tickets' }).click();
  const panel = page.getByRole('region', { name: 'Lanes' });
  await panel.getByTestId('lanes-merged').getByText('5 merged').waitFor({ timeout: 90_000 });
  assert.equal(await panel.getByTestId('lanes-busy').textContent(), '0 of 2 lanes busy');
  await panel.getByTestId('merge-queue-empty').waitFor();
  // the board's own poll of the tickets follows (it may come after the flow status's)
  await page
    .getByRole('region', { name: 'Open tickets' })
    .locator('h2 span')
    .getByText('0', { exact: true })
    .waitFor();
  assert.equal(await page.getByRole('region', { name: 'Open tickets' }).locator('a.ticket').count(), 0);
  await page.screenshot({ path: shot('lanes-board-done.png') });
  await page.close();
});

test('no page errors or CSP violations in the browser', { skip }, () => {
  assert.deepEqual(browser().errors, []);
});
