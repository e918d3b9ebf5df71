// Approvals answered from Telegram (issue 17): the built `car chat run --telegram` with the real grammY
// client against the fake Bot API, and a supervised ACP agent (the fake, `approval_policy: ask`) in the
// run's worker. Each approval is a notice with Approve / Approve for session / Deny; a stranger's press is
// ignored, the pending approval outlives a restart of the chat service, an allowed press answers it (as
// `telegram:<user id>`), and a late press is refused.
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { startFakeTelegram } from '../fakes/telegram-api.ts';
import { type CarChild, carEnv, output, tempHome } from '../helpers/built-car.ts';
import { makeCarRepo, ticketText, tid } from '../helpers/cli.ts';
import { SUPERVISED_ACP_AGENT } from '../helpers/supervised-acp.ts';
import { serving, startChat, stopChat, withOutput } from './built-chat.ts';
import { openStore } from './harness.ts';

const CHAT = 5001;
const ALICE = 5001;
const MALLORY = 6666;

const cleanups: (() => unknown)[] = [];
after(async () => {
  for (const c of cleanups.reverse()) await c();
});

test('telegram: approval buttons answer a supervised agent; strangers ignored; survives a restart; late press refused', async () => {
  const tg = await startFakeTelegram();
  cleanups.push(() => tg.close());
  const repo = await makeCarRepo();
  cleanups.push(() => repo.cleanup());
  repo.ticket('TICKET-010.md', ticketText({ id: tid(1), agent: 'fake', title: 'supervised' }));
  repo.write(
    '.codex-autorunner/repo.override.yml',
    [
      'telegram_bot:',
      `  api_root: ${tg.url}`,
      `  allowed_user_ids: [${ALICE}]`,
      `  allowed_chat_ids: [${CHAT}]`,
      '  poll_timeout_seconds: 1',
      'notifications:',
      '  min_interval_ms: 0',
      'git:',
      '  auto_commit: true',
      ...SUPERVISED_ACP_AGENT,
      '',
    ].join('\n'),
  );
  repo.commitAll('plan');
  const home = tempHome();
  cleanups.push(home.cleanup);
  const env = carEnv(home.home, { CAR_TELEGRAM_BOT_TOKEN: tg.token });
  const chat = () =>
    startChat(['chat', 'run', '--telegram', '--poll-ms', '100'], { cwd: repo.dir, env }, cleanups);
  let car: CarChild = chat();
  await serving(car);
  const waitFor = <T>(check: () => T | undefined | false | null, ms: number, what: string) =>
    withOutput(car, tg.waitFor(check, ms, what));
  const store = openStore(repo.dir);
  cleanups.push(() => store.close());

  tg.userMessage({ chatId: CHAT, userId: ALICE, text: '/bind' });
  tg.userMessage({ chatId: CHAT, userId: ALICE, text: '/start' });
  const asks = await waitFor(
    () => tg.sent.find((m) => m.text.startsWith('car asks you') && /touch denied\.txt/.test(m.text)),
    30_000,
    'the approval notice',
  );
  const [first] = store.listApprovals({ status: ['pending'] });
  assert.ok(first, 'the approval is pending in the store');
  assert.deepEqual(
    asks.reply_markup?.inline_keyboard?.map((row) => row.map((b) => [b.text, b.callback_data])),
    [
      [
        ['Approve', `car:approve:${first.runId}:${first.id}`],
        ['Approve for session', `car:session:${first.runId}:${first.id}`],
        ['Deny', `car:deny:${first.runId}:${first.id}`],
      ],
    ],
  );

  // a stranger's press does nothing
  tg.buttonPress({ chatId: CHAT, userId: MALLORY, data: `car:approve:${first.runId}:${first.id}` });
  // the chat service restarts while the approval waits; the old message's buttons still work
  await stopChat(car);
  assert.equal(store.getApproval(first.id)?.status, 'pending', 'the stranger answered nothing');
  car = chat();
  await serving(car);
  tg.buttonPress({ chatId: CHAT, userId: ALICE, data: `car:deny:${first.runId}:${first.id}` });
  await waitFor(() => tg.sent.find((m) => m.text.startsWith(`Denied ${first.id}`)), 10_000, 'the denial');

  const edit = await waitFor(
    () => tg.sent.find((m) => m.text.startsWith('car asks you') && /wants to Edit /.test(m.text)),
    30_000,
    'the edit approval notice',
  );
  const data = edit.reply_markup?.inline_keyboard?.[0]?.[1]?.callback_data ?? '';
  assert.match(data, /^car:session:/);
  tg.buttonPress({ chatId: CHAT, userId: ALICE, data });
  await waitFor(() => tg.sent.find((m) => m.text.startsWith('car run completed')), 60_000, 'the completion');

  // a late press on the first approval is refused and changes nothing
  tg.buttonPress({ chatId: CHAT, userId: ALICE, data: `car:approve:${first.runId}:${first.id}` });
  await waitFor(
    () => tg.sent.find((m) => /already answered by telegram:5001/.test(m.text)),
    10_000,
    'the late press',
  );
  const answered = store.listApprovals({}).reverse();
  assert.deepEqual(
    answered.map((a) => [a.kind, a.status, a.decision, a.answeredBy]),
    [
      ['command', 'answered', 'decline', `telegram:${ALICE}`],
      ['file_change', 'answered', 'accept_for_session', `telegram:${ALICE}`],
    ],
  );
  assert.equal(existsSync(join(repo.dir, 'denied.txt')), false, 'the denied command was not run');
  await stopChat(car);
  assert.ok(!car.stdout.includes(tg.token) && !car.stderr.includes(tg.token), output(car));
});
