// `/flow bootstrap <spec>` from Telegram, end to end: the built `car chat run --telegram` with the real
// grammY client against the local fake Bot API. The text becomes the contextspace spec, a planning ticket
// is added after the queue, and the run starts (its first ticket, a demo agent's question, pauses it).
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { startFakeTelegram } from '../fakes/telegram-api.ts';
import { carEnv, tempHome } from '../helpers/built-car.ts';
import { serving, startChat, withOutput } from './built-chat.ts';
import { askingRepo, openStore } from './harness.ts';

const ALICE = 5001;
const cleanups: (() => unknown)[] = [];
after(async () => {
  for (const c of cleanups.reverse()) await c();
});

test('telegram: /flow bootstrap <spec> writes the spec and a planning ticket and starts the run', async () => {
  const tg = await startFakeTelegram();
  cleanups.push(() => tg.close());
  const yaml = [
    'telegram_bot:',
    `  api_root: ${tg.url}`,
    `  allowed_user_ids: [${ALICE}]`,
    `  allowed_chat_ids: [${ALICE}]`,
    '  poll_timeout_seconds: 1',
    '',
  ].join('\n');
  const repo = await askingRepo(yaml);
  cleanups.push(() => repo.cleanup());
  const home = tempHome();
  cleanups.push(home.cleanup);
  const env = carEnv(home.home, { CAR_TELEGRAM_BOT_TOKEN: tg.token });
  const car = startChat(['chat', 'run', '--telegram', '--poll-ms', '100'], { cwd: repo.dir, env }, cleanups);
  await serving(car);
  const waitFor = <T>(check: () => T | undefined | false | null, what: string) =>
    withOutput(car, tg.waitFor(check, 30_000, what));

  tg.userMessage({ chatId: ALICE, userId: ALICE, text: '/flow bootstrap' });
  const started = await waitFor(
    () => tg.sent.find((m) => /run /.test(m.text)),
    'the plain /flow bootstrap answer',
  );
  assert.doesNotMatch(started.text, /spec/, 'without text it only starts the run, as CAR');
  const store = openStore(repo.dir);
  cleanups.push(() => store.close());
  await waitFor(() => store.latestRun()?.status === 'paused', 'the first run to pause on its question');

  tg.userMessage({
    chatId: ALICE,
    userId: ALICE,
    text: '/flow bootstrap # CSV export\nEvery report downloads as CSV.',
  });
  const answer = await waitFor(
    () => tg.sent.find((m) => /Wrote the spec/.test(m.text)),
    'the bootstrap answer',
  );
  assert.match(
    answer.text,
    /Wrote the spec to \.codex-autorunner\/contextspace\/spec\.md and TICKET-011-plan\.md; \w+ run /,
  );
  assert.equal(
    readFileSync(join(repo.dir, '.codex-autorunner/contextspace/spec.md'), 'utf8'),
    '# CSV export\nEvery report downloads as CSV.\n',
  );
  assert.ok(readdirSync(join(repo.dir, '.codex-autorunner/tickets')).includes('TICKET-011-plan.md'));

  tg.userMessage({ chatId: ALICE, userId: ALICE, text: '/flow bootstrap # Something else' });
  const refused = await waitFor(() => tg.sent.find((m) => /Cannot plan that/.test(m.text)), 'the refusal');
  assert.match(refused.text, /already holds a different spec/);
});
