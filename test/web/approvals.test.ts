// Approvals in the web Inbox (issue 17), in a real browser against a real `car serve`: a supervised ACP
// agent (the fake, `approval_policy: ask`) run by the server's worker asks to run a command and to edit
// the ticket; the Inbox shows the command and the diff, Deny and "Approve for this session" answer them
// (recorded as answered by `web`), the agent goes on without the denied command, and a second answer is
// refused. Desktop and phone screenshots, and the empty Inbox.
import assert from 'node:assert/strict';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import type { Page } from 'playwright-core';
import { initRepo } from '../../src/core/init.ts';
import { repoPaths } from '../../src/core/paths.ts';
import { ticketText, tid } from '../helpers/cli.ts';
import { makeGitRepo } from '../helpers/git-repo.ts';
import { SUPERVISED_ACP_CONFIG } from '../helpers/supervised-acp.ts';
import { waitFor } from '../helpers/wait.ts';
import { browserSuite, shot } from './browser.ts';

let root: string;

const suite = browserSuite(async (cleanups) => {
  const repo = makeGitRepo();
  cleanups.push(repo.cleanup);
  root = repo.dir;
  initRepo(root);
  writeFileSync(join(root, '.codex-autorunner/config.yml'), SUPERVISED_ACP_CONFIG);
  writeFileSync(
    join(repoPaths(root).ticketsDir, 'TICKET-010.md'),
    ticketText({ id: tid(1), agent: 'fake', title: 'Supervised work' }),
  );
  repo.commitAll('plan');
  return { root };
});

const skip = suite.skip;
const PHONE = { width: 390, height: 844 };
const DESKTOP = { width: 1280, height: 800 };

interface ApiApproval {
  id: string;
  status: string;
  decision: string | null;
  answered_by: string | null;
}

async function approvals(page: Page, all = false): Promise<ApiApproval[]> {
  const res = await page.request.get(`${suite.server().url}/api/approvals${all ? '?all=1' : ''}`);
  return ((await res.json()) as { approvals: ApiApproval[] }).approvals;
}

async function both(page: Page, name: string): Promise<void> {
  await page.setViewportSize(DESKTOP);
  await page.screenshot({ path: shot(`${name}.png`), fullPage: true });
  await page.setViewportSize(PHONE);
  await page.screenshot({ path: shot(`${name}-phone.png`), fullPage: true });
  await page.setViewportSize(DESKTOP);
}

test('the Inbox shows what the agent asks and answers it: Deny, then Approve for this session', {
  skip,
  timeout: 120_000,
}, async () => {
  const page = await suite.browser().context.newPage();
  await page.setViewportSize(DESKTOP);
  await page.goto(`${suite.server().url}/inbox`);
  await page.getByTestId('inbox-empty').waitFor();
  await both(page, 'approvals-inbox-empty');

  const start = await page.request.post(`${suite.server().url}/api/flow/start`, { data: {} });
  assert.equal(start.status(), 202, await start.text());

  // the command, shown as it would run; Deny
  const command = page.locator('article.approval[data-kind="command"]');
  await command.getByTestId('approval-command').getByText('touch denied.txt').waitFor({ timeout: 60_000 });
  await command.getByRole('heading', { name: 'Run a command?' }).waitFor();
  // the header's Inbox badge counts what waits, approvals too
  assert.equal(await page.getByTestId('inbox-badge').textContent(), '1');
  await both(page, 'approvals-command');
  const commandId = await command.getAttribute('data-approval');
  await command.getByRole('button', { name: 'Deny' }).click();
  await command.waitFor({ state: 'detached' });

  // the edit, shown as a diff; Approve for this session
  const edit = page.locator('article.approval[data-kind="file_change"]');
  const diff = edit.getByTestId('approval-diff');
  await diff.waitFor({ timeout: 60_000 });
  assert.match((await diff.textContent()) ?? '', /-done: false\n\+done: true/);
  assert.equal(await diff.locator('span.add', { hasText: '+done: true' }).count(), 1);
  await both(page, 'approvals-diff');
  const editId = await edit.getAttribute('data-approval');
  await edit.getByRole('button', { name: 'Approve for this session' }).click();
  await edit.waitFor({ state: 'detached' });

  await waitFor('the run to complete', async () => {
    const res = await page.request.get(`${suite.server().url}/api/flow/status`);
    return ((await res.json()) as { run: { status: string } }).run.status === 'completed';
  });
  assert.equal(existsSync(join(root, 'denied.txt')), false, 'the denied command was not run');
  assert.match(readFileSync(join(root, '.codex-autorunner/tickets/TICKET-010.md'), 'utf8'), /^done: true$/m);
  const answered = await approvals(page, true);
  assert.deepEqual(answered.map((a) => [a.id, a.status, a.decision, a.answered_by]).reverse(), [
    [commandId, 'answered', 'decline', 'web'],
    [editId, 'answered', 'accept_for_session', 'web'],
  ]);
  assert.deepEqual(await approvals(page), []);

  // an answer to a settled approval is refused and changes nothing
  const again = await page.request.post(`${suite.server().url}/api/approvals/${commandId}`, {
    data: { decision: 'accept' },
  });
  assert.equal(again.status(), 409);
  assert.match(((await again.json()) as { message: string }).message, /already answered by web/);
  const bad = await page.request.post(`${suite.server().url}/api/approvals/${commandId}`, {
    data: { decision: 'maybe' },
  });
  assert.equal(bad.status(), 400);
  const unknown = await page.request.post(`${suite.server().url}/api/approvals/00000000`, {
    data: { decision: 'accept' },
  });
  assert.equal(unknown.status(), 404);

  await page.getByTestId('inbox-empty').waitFor();
  assert.deepEqual(suite.browser().errors, []);
  await page.close();
});
