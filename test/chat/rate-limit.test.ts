// 429s through the real client libraries: the outbox waits out `retry_after` (Telegram's
// parameters.retry_after, Discord's Retry-After), keeps the message's order and does not lose it.
import assert from 'node:assert/strict';
import { after, test } from 'node:test';
import { loadConfig } from '../../src/core/config/index.ts';
import { openChatStore } from '../../src/core/notify/chat-store.ts';
import { Deliverer } from '../../src/core/notify/deliver.ts';
import { repoPaths } from '../../src/core/paths.ts';
import type { ChatCommands } from '../../src/integrations/chat/commands.ts';
import { DiscordAdapter } from '../../src/integrations/chat/discord.ts';
import { TelegramAdapter } from '../../src/integrations/chat/telegram.ts';
import { startFakeDiscord } from '../fakes/discord-api.ts';
import { startFakeTelegram } from '../fakes/telegram-api.ts';
import { makeCarRepo } from '../helpers/cli.ts';
import { openStore } from './harness.ts';

const cleanups: (() => unknown)[] = [];
after(async () => {
  for (const c of cleanups.reverse()) await c();
});

async function chatStoreIn() {
  const repo = await makeCarRepo();
  cleanups.push(() => repo.cleanup());
  openStore(repo.dir).close();
  const chats = openChatStore(repoPaths(repo.dir).dbFile);
  cleanups.push(() => chats.close());
  return { chats, config: loadConfig(repo.dir, {}).config };
}

const noCommands = {} as ChatCommands;

/** Drains (one pass at a time, like the service loop) until `n` rows are sent. */
async function drainUntilSent(deliverer: Deliverer, chats: ReturnType<typeof openChatStore>, n: number) {
  const deadline = Date.now() + 10_000;
  while (chats.list({ status: 'sent' }).length < n) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${n} sent`);
    await deliverer.drain();
    await new Promise((r) => setTimeout(r, 25));
  }
}

test('telegram: a 429 with retry_after 1 holds delivery for a second, then both messages go in order', async () => {
  const tg = await startFakeTelegram();
  cleanups.push(() => tg.close());
  const { chats, config } = await chatStoreIn();
  const adapter = new TelegramAdapter({
    token: tg.token,
    config: { ...config.telegram_bot, api_root: tg.url },
    commands: noCommands,
    answer: () => {},
    log: () => {},
  });
  const logs: string[] = [];
  const deliverer = new Deliverer(chats, [adapter], { minIntervalMs: 0, log: (l) => logs.push(l) });
  chats.enqueue({ platform: 'telegram', chatId: '7', dedupeKey: 'a', text: 'first' });
  chats.enqueue({ platform: 'telegram', chatId: '7', dedupeKey: 'b', text: 'second' });
  tg.rateLimitNext(1, 1);
  await drainUntilSent(deliverer, chats, 2);
  const sends = tg.calls.filter((c) => c.method === 'sendMessage');
  assert.deepEqual(
    sends.map((c) => c.status),
    [429, 200, 200],
  );
  const waited = sends[1]!.at - sends[0]!.at;
  assert.ok(waited >= 1000, `retried after ${waited} ms`);
  assert.deepEqual(
    tg.sent.map((m) => m.text),
    ['first', 'second'],
  );
  assert.equal(chats.list()[0]!.attempts, 1, 'a rate limit does not use up an attempt');
  assert.ok(logs.some((l) => /rate limited; retrying outbox #1 in 1000 ms/.test(l)));
  assert.ok(!logs.join('\n').includes(tg.token));
});

test('telegram: a 500 is retried with backoff; a 400 fails at once without retries', async () => {
  const tg = await startFakeTelegram();
  cleanups.push(() => tg.close());
  const { chats, config } = await chatStoreIn();
  const adapter = new TelegramAdapter({
    token: tg.token,
    config: { ...config.telegram_bot, api_root: tg.url },
    commands: noCommands,
    answer: () => {},
    log: () => {},
  });
  // backoff 500 ms ±20%, then 1000 ms ±20%: the second gap beats the first by far more than a loaded
  // machine's polling lag
  const deliverer = new Deliverer(chats, [adapter], { minIntervalMs: 0, backoffBaseMs: 500 });
  chats.enqueue({ platform: 'telegram', chatId: '7', dedupeKey: 'a', text: 'hello' });
  tg.failNext(2);
  await drainUntilSent(deliverer, chats, 1);
  const sends = tg.calls.filter((c) => c.method === 'sendMessage');
  assert.deepEqual(
    sends.map((c) => c.status),
    [500, 500, 200],
  );
  assert.ok(sends[1]!.at - sends[0]!.at >= 150, 'backed off');
  assert.ok(sends[2]!.at - sends[1]!.at >= sends[1]!.at - sends[0]!.at - 50, 'backoff grows');
  assert.equal(chats.list()[0]!.attempts, 3);

  chats.enqueue({ platform: 'telegram', chatId: '7', dedupeKey: 'b', text: 'x'.repeat(5000) });
  await deliverer.drain();
  const failed = chats.list({ status: 'failed' });
  assert.equal(failed.length, 1);
  assert.match(failed[0]!.lastError ?? '', /message is too long/);
  assert.equal(failed[0]!.attempts, 1);
});

test('discord: a 429 with Retry-After 1 holds delivery for a second; the message is posted once', async () => {
  const dc = await startFakeDiscord();
  cleanups.push(() => dc.close());
  const { chats, config } = await chatStoreIn();
  const adapter = new DiscordAdapter({
    token: dc.token,
    config: { ...config.discord_bot, api_root: dc.url },
    commands: noCommands,
    slashCommands: [],
    answer: () => {},
    log: () => {},
  });
  const deliverer = new Deliverer(chats, [adapter], { minIntervalMs: 0 });
  chats.enqueue({ platform: 'discord', chatId: '1300', dedupeKey: 'a', text: 'first' });
  chats.enqueue({ platform: 'discord', chatId: '1300', dedupeKey: 'b', text: 'second' });
  dc.rateLimitNext(1, 1);
  await drainUntilSent(deliverer, chats, 2);
  const creates = dc.calls.filter((c) => c.method === 'POST' && c.path.endsWith('/messages'));
  assert.deepEqual(
    creates.map((c) => c.status),
    [429, 200, 200],
  );
  const waited = creates[1]!.at - creates[0]!.at;
  assert.ok(waited >= 1000, `retried after ${waited} ms`);
  assert.deepEqual(
    dc.messages.map((m) => m.content),
    ['first', 'second'],
  );
  assert.ok(creates.every((c) => c.auth === `Bot ${dc.token}`));
});
