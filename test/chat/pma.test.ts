// A chat message routed to the project manager agent: the built `car chat run --telegram` with the real
// grammY client against the local fake Bot API, and the REAL codex app-server as the PMA against the local
// fake Responses API. In a bound chat with no run waiting, a plain message goes to the PMA, which calls
// car's ticket_create over MCP; its answer comes back to the chat through the outbox.
import assert from 'node:assert/strict';
import { readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, test } from 'node:test';
import Database from 'better-sqlite3';
import { startFakeDiscord } from '../fakes/discord-api.ts';
import { mcpToolCallReply, messageReply } from '../fakes/responses-api.ts';
import { startFakeTelegram } from '../fakes/telegram-api.ts';
import { runCar } from '../helpers/built-car.ts';
import { assertNothingLeft, codexQueue, TICKETS_DIR } from '../helpers/codex-queue.ts';
import { makeHub } from '../hub/helpers.ts';
import { serving, startChat, stopChat, withOutput } from './built-chat.ts';

const ALICE = 5001; // a private chat: the chat id is the user id
const GUILD = '1200000000000000001';
const CHANNEL = '1200000000000000002';
const DC_ALICE = '1200000000000000010';

const cleanups: (() => unknown)[] = [];
after(async () => {
  for (const c of cleanups.reverse()) await c();
});

test('telegram: a plain message in a bound chat with no run waiting goes to the PMA, which makes a ticket', async () => {
  const tg = await startFakeTelegram();
  cleanups.push(() => tg.close());
  const q = await codexQueue(0);
  cleanups.push(() => q.cleanup());
  q.repo.write(
    '.codex-autorunner/repo.override.yml',
    [
      'telegram_bot:',
      `  api_root: ${tg.url}`,
      `  allowed_user_ids: [${ALICE}]`,
      `  allowed_chat_ids: [${ALICE}]`,
      '  poll_timeout_seconds: 1',
      'notifications:',
      '  min_interval_ms: 0',
      '',
    ].join('\n'),
  );
  const env = { ...q.env, CAR_TELEGRAM_BOT_TOKEN: tg.token };
  const car = startChat(
    ['chat', 'run', '--telegram', '--poll-ms', '100'],
    { cwd: q.repo.dir, env },
    cleanups,
  );
  await serving(car);
  const waitFor = <T>(check: () => T | undefined | false | null, ms: number, what: string) =>
    withOutput(car, tg.waitFor(check, ms, what));

  // not bound yet: the message is not the PMA's
  tg.userMessage({ chatId: ALICE, userId: ALICE, text: 'hello?' });
  await waitFor(() => tg.sent.find((m) => /No run is waiting/.test(m.text)), 10_000, 'the unbound answer');
  assert.equal(q.fake.requests.length, 0, 'the agent was not asked');

  tg.userMessage({ chatId: ALICE, userId: ALICE, text: '/bind' });
  await waitFor(() => tg.sent.find((m) => /now gets notices/.test(m.text)), 10_000, 'the /bind answer');

  q.fake.enqueue(
    mcpToolCallReply('car', 'ticket_create', { title: 'Write the README', agent: 'codex' }, 'call_tg'),
    messageReply('Created TICKET-001 (Write the README).', 'msg_tg'),
  );
  tg.userMessage({ chatId: ALICE, userId: ALICE, text: 'Please plan the README work' });
  // the bot answers other commands while the agent works
  tg.userMessage({ chatId: ALICE, userId: ALICE, text: '/status' });
  await waitFor(() => tg.sent.find((m) => /^No runs yet/.test(m.text)), 30_000, 'the /status answer');
  const answer = await waitFor(
    () => tg.sent.find((m) => m.text === 'Created TICKET-001 (Write the README).'),
    120_000,
    "the PMA's answer",
  );
  assert.equal(answer.chat_id, String(ALICE));

  const tickets = readdirSync(join(q.repo.dir, TICKETS_DIR)).filter((f) => f.startsWith('TICKET-'));
  assert.deepEqual(tickets, ['TICKET-001-write-the-readme.md']);
  const lint = await runCar(['ticket', 'lint'], { cwd: q.repo.dir, env: q.env });
  assert.equal(lint.code, 0, lint.stdout + lint.stderr);

  await stopChat(car);
  // the conversation is this user's in this chat, kept in car.db, and the bot token reached no agent
  const db = new Database(join(q.repo.dir, '.codex-autorunner/car.db'), { readonly: true });
  try {
    assert.deepEqual(db.prepare('SELECT conversation, agent FROM pma_threads').all(), [
      { conversation: `telegram:${ALICE}:${ALICE}`, agent: 'codex' },
    ]);
    assert.deepEqual(db.prepare('SELECT role, text FROM pma_messages ORDER BY id').all(), [
      { role: 'user', text: 'Please plan the README work' },
      { role: 'assistant', text: 'Created TICKET-001 (Write the README).' },
    ]);
  } finally {
    db.close();
  }
  assert.ok(
    !q.fake.requests.some((r) => JSON.stringify(r.body).includes(tg.token)),
    'the bot token is not in what the model saw',
  );
  await assertNothingLeft(q.repo.dir);
});

test("discord in a hub: the hub's PMA answers a plain message in a bound channel and acts on the repo it names", async () => {
  const dc = await startFakeDiscord();
  cleanups.push(() => dc.close());
  const q = await codexQueue(0);
  cleanups.push(() => q.cleanup());
  const hub = await makeHub();
  cleanups.push(() => hub.cleanup());
  const alpha = hub.gitRepo('alpha');
  assert.equal((await hub.run(['hub', 'add', alpha])).code, 0);
  writeFileSync(
    join(hub.root, '.codex-autorunner/repo.override.yml'),
    [
      'discord_bot:',
      `  api_root: ${dc.url}`,
      `  allowed_user_ids: ['${DC_ALICE}']`,
      `  allowed_guild_ids: ['${GUILD}']`,
      `  allowed_channel_ids: ['${CHANNEL}']`,
      '  register_commands: false',
      'notifications:',
      '  min_interval_ms: 0',
      '',
    ].join('\n'),
  );
  const env = { ...q.env, CAR_DISCORD_BOT_TOKEN: dc.token };
  const car = startChat(['chat', 'run', '--discord', '--poll-ms', '100'], { cwd: hub.root, env }, cleanups);
  await serving(car);
  const waitFor = <T>(check: () => T | undefined | false | null, ms: number, what: string) =>
    withOutput(car, dc.waitFor(check, ms, what));

  dc.userMessage({ channelId: CHANNEL, guildId: GUILD, userId: DC_ALICE, content: '/bind' });
  await waitFor(
    () => dc.messages.find((m) => /now follows every repo of the hub/.test(m.content)),
    10_000,
    '/bind',
  );
  q.fake.enqueue(
    mcpToolCallReply(
      'car',
      'ticket_create',
      { repo: 'alpha', title: 'From Discord', agent: 'codex' },
      'c_dc',
    ),
    messageReply('Queued TICKET-001 in alpha.', 'msg_dc'),
  );
  dc.userMessage({ channelId: CHANNEL, guildId: GUILD, userId: DC_ALICE, content: 'Plan the docs in alpha' });
  await waitFor(
    () => dc.messages.find((m) => m.content === 'Queued TICKET-001 in alpha.'),
    120_000,
    "the hub PMA's answer",
  );
  assert.deepEqual(
    readdirSync(join(alpha, TICKETS_DIR)).filter((f) => f.startsWith('TICKET-')),
    ['TICKET-001-from-discord.md'],
  );
  assert.match(
    JSON.stringify(q.fake.requests[0]!.body?.input ?? []),
    /project manager agent \(PMA\) for the hub/,
  );
  await stopChat(car);
});
