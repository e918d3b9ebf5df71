// Telegram end to end: the built CLI, `node dist/car.js chat run --telegram`, in a child process, with the
// real grammY client against a local fake Bot API and the real demo agent in real detached workers (also
// run from dist). A pause notice arrives once; a plain reply in the chat becomes USER_REPLY, resumes the
// run and is seen by the agent's next prompt; strangers are ignored; SIGTERM stops the service (exit 0).
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { type FakeTelegram, startFakeTelegram } from '../fakes/telegram-api.ts';
import { type CarChild, carEnv, output, runCar, tempHome } from '../helpers/built-car.ts';
import type { CarRepo } from '../helpers/cli.ts';
import { serving, startChat, stopChat, waitForLog, withOutput } from './built-chat.ts';
import { askingRepo, filesContaining, openStore } from './harness.ts';

const CHAT = 5001;
const ALICE = 5001; // a private chat: the chat id is the user id
const MALLORY = 6666;

const cleanups: (() => unknown)[] = [];
after(async () => {
  for (const c of cleanups.reverse()) await c();
});

const yaml = (apiRoot: string) =>
  [
    'telegram_bot:',
    `  api_root: ${apiRoot}`,
    `  allowed_user_ids: [${ALICE}]`,
    `  allowed_chat_ids: [${CHAT}]`,
    '  poll_timeout_seconds: 1',
    'notifications:',
    '  min_interval_ms: 0',
    '',
  ].join('\n');

/** The repo and a `car chat run --telegram` serving it, from the built CLI. */
async function served(
  tg: FakeTelegram,
  ask?: string,
): Promise<{ repo: CarRepo; car: CarChild; env: NodeJS.ProcessEnv }> {
  const repo = await askingRepo(yaml(tg.url), ask);
  cleanups.push(() => repo.cleanup());
  const home = tempHome();
  cleanups.push(home.cleanup);
  const env = carEnv(home.home, { CAR_TELEGRAM_BOT_TOKEN: tg.token });
  const car = startChat(['chat', 'run', '--telegram', '--poll-ms', '100'], { cwd: repo.dir, env }, cleanups);
  await serving(car);
  return { repo, car, env };
}

test('telegram: bind, pause notice once, reply resumes the run and reaches the next prompt, strangers ignored, token nowhere', async () => {
  const tg = await startFakeTelegram();
  cleanups.push(() => tg.close());
  const { repo, car, env } = await served(tg);
  const waitFor = <T>(check: () => T | undefined | false | null, ms: number, what: string) =>
    withOutput(car, tg.waitFor(check, ms, what));

  // a stranger in the allowed chat is ignored (and logged without what they wrote)
  tg.userMessage({ chatId: CHAT, userId: MALLORY, text: '/bind secret-words' });
  tg.userMessage({ chatId: CHAT, userId: ALICE, text: '/bind' });
  await waitFor(() => tg.sent.find((m) => /now gets notices/.test(m.text)), 10_000, 'the /bind answer');
  assert.equal(tg.sent.length, 1, 'only the allowed user got an answer');
  await waitForLog(
    car,
    /chat: telegram: ignored an update from user 6666 in chat 5001 \(user not in allowed_user_ids\)\n/,
    'the ignored stranger',
  );
  assert.ok(!car.stderr.includes('secret-words'), 'message text is not logged');

  // start a run from chat: the demo agent asks, the run pauses, the notice carries the question
  tg.userMessage({ chatId: CHAT, userId: ALICE, text: '/start' });
  const notice = await waitFor(
    () => tg.sent.find((m) => m.text.startsWith('car needs you')),
    30_000,
    'the pause notice',
  );
  assert.match(notice.text, /Which colour should the button be\?/);
  assert.match(notice.text, /Reply to this chat/);
  const store = openStore(repo.dir);
  cleanups.push(() => store.close());
  const run = store.latestRun()!;
  assert.equal(run.status, 'paused');
  assert.equal(run.reasonCode, 'dispatch');
  assert.deepEqual(
    notice.reply_markup?.inline_keyboard?.[0]?.map((b) => b.callback_data),
    [`car:stop:${run.id}`],
  );

  // a stranger's reply changes nothing
  tg.userMessage({ chatId: CHAT, userId: MALLORY, text: 'Red!' });
  // the reply: plain text in the bound chat
  tg.userMessage({ chatId: CHAT, userId: ALICE, text: 'Make it teal, please.' });
  await waitFor(
    () => tg.sent.find((m) => m.text.startsWith('car run completed')),
    60_000,
    'the completion notice',
  );

  const done = store.getRun(run.id)!;
  assert.equal(done.status, 'completed');
  assert.equal(readFileSync(join(repo.dir, 'answer.txt'), 'utf8'), 'answered');
  const events = store.listEvents(run.id, { limit: 10_000 });
  const types = events.map((e) => e.type);
  const chatReply = events.filter((e) => e.type === 'chat_reply');
  assert.equal(chatReply.length, 1, 'only the allowed reply was taken');
  assert.deepEqual(chatReply[0]!.data, { platform: 'telegram', chat_id: '5001', user_id: '5001', bytes: 21 });
  const archived = types.indexOf('reply_archived');
  assert.ok(archived > types.indexOf('chat_reply'), 'the reply was archived by the resumed run');
  // the turn after the reply carried the human_replies section (the demo agent only moves past `ask`
  // when its prompt has [USER_REPLY n], which the completed run proves as well)
  const turns = events.filter((e) => e.type === 'turn_started');
  assert.equal(turns.length, 2);
  const replyBytes = (i: number) =>
    (turns[i]!.data.sections as { name: string; bytes: number }[]).find((x) => x.name === 'human_replies')
      ?.bytes ?? 0;
  assert.ok(
    replyBytes(1) >= replyBytes(0) + Buffer.byteLength('Make it teal, please.'),
    `human_replies grew by the reply: ${replyBytes(0)} -> ${replyBytes(1)}`,
  );
  const history = join(repo.dir, '.codex-autorunner/runs', run.id, 'reply_history');
  const [first] = readdirSync(history);
  assert.match(readFileSync(join(history, first!, 'USER_REPLY.md'), 'utf8'), /Make it teal, please\./);

  // /status and a button press: answered, callback acknowledged (the service polled and delivered
  // again after the completion notice, so a repeated notice would have gone out with these answers)
  tg.userMessage({ chatId: CHAT, userId: ALICE, text: '/status' });
  await waitFor(
    () => tg.sent.find((m) => /^run [0-9a-f]{8}: completed \(all_done\)/.test(m.text)),
    10_000,
    '/status',
  );
  tg.buttonPress({ chatId: CHAT, userId: ALICE, data: `car:status:${run.id}` });
  await waitFor(() => tg.callbackAnswers.length === 1, 10_000, 'the callback answer');
  const statusAnswers = () => tg.sent.filter((m) => /^run [0-9a-f]{8}: completed/.test(m.text)).length;
  await waitFor(() => statusAnswers() === 2, 10_000, 'the status button, answered');

  // SIGTERM: a graceful stop, exit 0
  await stopChat(car);

  // one notice per event: one pause notice, one completion notice, nothing repeated up to the stop
  assert.equal(tg.sent.filter((m) => m.text.startsWith('car needs you')).length, 1);
  assert.equal(tg.sent.filter((m) => m.text.startsWith('car run completed')).length, 1);
  assert.ok(tg.sent.every((m) => m.chat_id === String(CHAT)));
  assert.ok(!tg.sent.some((m) => m.text.includes('Red!')));

  // the token is in no output or log line, no store file, no worker log, and no outbox row
  assert.ok(!car.stdout.includes(tg.token) && !car.stderr.includes(tg.token), output(car));
  assert.deepEqual(filesContaining(repo.dir, tg.token), []);
  const status = await runCar(['chat', 'status', '--json'], { cwd: repo.dir, env });
  assert.equal(status.code, 0, status.stderr);
  const parsed = JSON.parse(status.stdout) as {
    platforms: { telegram: { token_set: boolean } };
    outbox: { status: string; count: number }[];
    bindings: unknown[];
  };
  assert.equal(parsed.platforms.telegram.token_set, true);
  assert.equal(parsed.bindings.length, 1);
  assert.deepEqual(
    parsed.outbox.map((c) => c.status),
    ['sent'],
    'every queued message was delivered',
  );
  assert.ok(!status.stdout.includes(tg.token) && !status.stderr.includes(tg.token));
});

test('telegram: a question with ready answers shows them as buttons; pressing one is the reply', async () => {
  const tg = await startFakeTelegram();
  cleanups.push(() => tg.close());
  const { repo, car } = await served(tg, 'Which colour? | Blue | Red, like the logo');
  const waitFor = <T>(check: () => T | undefined | false | null, ms: number, what: string) =>
    withOutput(car, tg.waitFor(check, ms, what));
  tg.userMessage({ chatId: CHAT, userId: ALICE, text: '/bind' });
  tg.userMessage({ chatId: CHAT, userId: ALICE, text: '/start' });
  const notice = await waitFor(
    () => tg.sent.find((m) => m.text.startsWith('car needs you')),
    30_000,
    'the pause notice',
  );
  assert.match(notice.text, /Pick an answer, or reply/);
  const store = openStore(repo.dir);
  cleanups.push(() => store.close());
  const run = store.latestRun()!;
  // one answer a row, then the run's controls
  assert.deepEqual(
    notice.reply_markup?.inline_keyboard?.map((row) => row.map((b) => [b.text, b.callback_data])),
    [
      [['Blue', `car:answer:${run.id}:0`]],
      [['Red, like the logo', `car:answer:${run.id}:1`]],
      [['Stop', `car:stop:${run.id}`]],
    ],
  );
  tg.buttonPress({ chatId: CHAT, userId: ALICE, data: `car:answer:${run.id}:1` });
  await waitFor(
    () => tg.sent.find((m) => m.text.startsWith('car run completed')),
    60_000,
    'the completion notice',
  );
  const events = store.listEvents(run.id, { limit: 10_000 });
  const reply = events.find((e) => e.type === 'chat_reply');
  assert.deepEqual(reply?.data, {
    platform: 'telegram',
    chat_id: String(CHAT),
    user_id: String(ALICE),
    bytes: Buffer.byteLength('Red, like the logo'),
  });
  const history = join(repo.dir, '.codex-autorunner/runs', run.id, 'reply_history');
  const [first] = readdirSync(history);
  assert.match(readFileSync(join(history, first!, 'USER_REPLY.md'), 'utf8'), /Red, like the logo/);
  // a second press on the answered question changes nothing
  tg.buttonPress({ chatId: CHAT, userId: ALICE, data: `car:answer:${run.id}:0` });
  await waitFor(
    () => tg.sent.find((m) => /no longer waits for that answer/.test(m.text)),
    10_000,
    'the late press',
  );
  await stopChat(car);
  assert.ok(!car.stdout.includes(tg.token) && !car.stderr.includes(tg.token), output(car));
});
