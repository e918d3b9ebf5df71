// The web Chat page in a real browser, against `car serve` (built) whose project manager agent is the
// REAL codex app-server, offline (the local fake Responses API): the scripted model calls car's
// ticket_create over MCP, and its answer streams into the page. Empty, streaming, answered and failed
// states are shown and photographed, desktop and phone.
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import type { Page } from 'playwright-core';
import { errorReply, type FakeReply, mcpToolCallReply, messageReply } from '../fakes/responses-api.ts';
import { type CodexQueue, codexQueue, TICKETS_DIR } from '../helpers/codex-queue.ts';
import { browserSuite, shot } from './browser.ts';

let q: CodexQueue;

const suite = browserSuite(async (cleanups) => {
  q = await codexQueue(0);
  cleanups.push(() => q.cleanup());
  return { root: q.repo.dir, env: q.env };
});

/** The answer's first words, then the model thinks a while before the rest: the page shows them meanwhile. */
function slowAnswer(): FakeReply {
  const reply = messageReply(['Created TICKET-001 ', '(Write the README). It runs next.'], 'msg_web');
  if (reply.kind !== 'sse') throw new Error('sse reply expected');
  // created, item added, first delta: then silence
  return { kind: 'slow', reply, after: 3, silentMs: 2_000 };
}

async function open(page: Page, size: { width: number; height: number }) {
  await page.setViewportSize(size);
  await page.goto(`${suite.server().url}/chat`);
  await page.getByRole('heading', { name: 'Chat' }).waitFor();
}

test('the Chat page: empty, a streamed answer after car’s MCP tool made a ticket, then a failed turn', {
  skip: suite.skip,
  timeout: 180_000,
}, async () => {
  const page = await suite.browser().context.newPage();
  const phone = { width: 390, height: 844 };
  const desktop = { width: 1280, height: 800 };

  await open(page, phone);
  await page.getByTestId('chat-empty').waitFor();
  await page.screenshot({ path: shot('chat-empty-phone.png') });
  await open(page, desktop);
  await page.getByTestId('chat-empty').waitFor();
  await page.screenshot({ path: shot('chat-empty-desktop.png') });
  assert.equal(await page.getByRole('link', { name: 'Chat' }).getAttribute('aria-current'), 'page');

  q.fake.enqueue(
    mcpToolCallReply('car', 'ticket_create', { title: 'Write the README', agent: 'codex' }, 'call_web'),
    slowAnswer(),
  );
  await page.getByLabel('message text').fill('Plan the README work');
  await page.keyboard.press('Enter');

  // streamed: the first words are on the page while the turn still runs
  const live = page.getByTestId('chat-streaming');
  await live.getByText('Created TICKET-001').waitFor({ timeout: 120_000 });
  assert.equal(await page.getByRole('button', { name: 'Working…' }).isDisabled(), true);
  await live.getByText('car.ticket_create').waitFor();
  await page.screenshot({ path: shot('chat-streaming-desktop.png') });

  const answer = page.getByTestId('chat-assistant').last();
  await answer.getByText('It runs next.').waitFor({ timeout: 60_000 });
  assert.equal(await answer.locator('p').innerText(), 'Created TICKET-001 (Write the README). It runs next.');
  assert.ok(existsSync(join(q.repo.dir, TICKETS_DIR, 'TICKET-001-write-the-readme.md')));
  await page.screenshot({ path: shot('chat-answer-desktop.png') });

  // the transcript is kept: a reload shows it
  await page.reload();
  await page.getByTestId('chat-assistant').getByText('It runs next.').waitFor();
  await page.setViewportSize(phone);
  await page.screenshot({ path: shot('chat-answer-phone.png'), fullPage: true });

  // a turn the model fails is said so, in the page and in the transcript
  q.fake.enqueue(errorReply(500, 'the model is down'));
  await page.setViewportSize(desktop);
  await page.getByLabel('message text').fill('And now?');
  await page.getByRole('button', { name: 'Send' }).click();
  const failed = page.getByTestId('chat-error');
  await failed.waitFor({ timeout: 120_000 });
  assert.match(await failed.innerText(), /Error/);
  assert.equal(await page.getByTestId('chat-send-error').count(), 0, 'said once, in the transcript');
  await page.screenshot({ path: shot('chat-error-desktop.png') });
  assert.deepEqual(suite.browser().errors, []);
  await page.close();
});
