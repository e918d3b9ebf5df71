// A chat message routed to the project manager agent: the built `car chat run --telegram` with the real
// grammY client against the local fake Bot API, and the REAL codex app-server as the PMA against the local
// fake Responses API. In a bound chat with no run waiting, a plain message goes to the PMA, which calls
// car's ticket_create over MCP; its answer comes back to the chat through the outbox.
import assert from 'node:assert/strict';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { after, test } from 'node:test';
import Database from 'better-sqlite3';
import { mcpToolCallReply, messageReply } from '../fakes/responses-api.ts';
import { startFakeTelegram } from '../fakes/telegram-api.ts';
import { runCar } from '../helpers/built-car.ts';
import { assertNothingLeft, codexQueue, TICKETS_DIR } from '../helpers/codex-queue.ts';
import { serving, startChat, stopChat, withOutput } from './built-chat.ts';

const ALICE = 5001; // a private chat: the chat id is the user id

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
