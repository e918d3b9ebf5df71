// One bot for a whole hub: the built CLI's `car chat run` (`node dist/car.js`, a child process) in a hub's
// root with the real grammY client against the local fake Bot API, two registered repos whose demo agents
// each ask a question, and real detached workers (from dist too). Notices name their repo; a reply goes to
// the repo the chat follows, or the one named, or the only one waiting; buttons find their run's repo.
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { repoPaths } from '../../src/core/paths.ts';
import { openRunStore } from '../../src/core/store/run-store.ts';
import { startFakeTelegram } from '../fakes/telegram-api.ts';
import { carEnv, output, runCar, tempHome } from '../helpers/built-car.ts';
import { demoTicket, git, makeHub, writeTicket } from '../hub/helpers.ts';
import { startChat, stopChat, withOutput } from './built-chat.ts';

const ALICE = 7001;

const cleanups: (() => unknown)[] = [];
after(async () => {
  for (const c of cleanups.reverse()) await c();
});

function latestRun(dir: string) {
  const store = openRunStore(repoPaths(dir).dbFile);
  try {
    return store.latestRun();
  } finally {
    store.close();
  }
}

test('hub chat: one bot serves every repo; notices name the repo, replies and buttons reach the right one', async () => {
  const tg = await startFakeTelegram();
  cleanups.push(() => tg.close());
  const hub = await makeHub();
  cleanups.push(() => hub.cleanup());
  const dirs: Record<string, string> = {};
  for (const name of ['alpha', 'beta']) {
    const dir = hub.gitRepo(name);
    writeTicket(
      dir,
      'TICKET-010.md',
      demoTicket(1, [`ask Which colour for ${name}?`, 'write answer.txt answered', 'done', `commit ${name}`]),
    );
    git(dir, ['add', '-A']);
    git(dir, ['commit', '-q', '-m', 'plan']);
    assert.equal((await hub.run(['hub', 'add', dir])).code, 0);
    dirs[name] = dir;
  }
  writeFileSync(
    join(hub.root, 'codex-autorunner.override.yml'),
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

  const home = tempHome();
  cleanups.push(home.cleanup);
  const env = carEnv(home.home, { CAR_TELEGRAM_BOT_TOKEN: tg.token, CAR_TELEGRAM_CHAT_ID: String(ALICE) });
  // run in the hub's root, where `car chat run` serves the hub
  const car = startChat(['chat', 'run', '--telegram', '--poll-ms', '100'], { cwd: hub.root, env }, cleanups);
  const say = (text: string) => tg.userMessage({ chatId: ALICE, userId: ALICE, text });
  const withLog = <T>(p: Promise<T>) => withOutput(car, p);
  const answer = (re: RegExp, what: string) =>
    withLog(tg.waitFor(() => tg.sent.find((m) => re.test(m.text)), 30_000, what));

  await withLog(car.waitForOutput(/car chat: serving every repo of the hub /));
  say('/repos');
  const repos = await answer(/^alpha: no runs\nbeta: no runs$/, '/repos');
  assert.ok(repos);

  // the env chat follows every repo: start both, one notice each, naming its repo
  say('/start alpha');
  say('/start beta');
  await answer(/^\[alpha\] (created|reusing) run/, '/start alpha');
  await answer(/^\[beta\] (created|reusing) run/, '/start beta');
  const alphaNotice = await answer(/^car needs you \(alpha, run/, 'the alpha pause notice');
  await answer(/^car needs you \(beta, run/, 'the beta pause notice');
  assert.match(alphaNotice.text, /Which colour for alpha\?/);

  // two runs wait: a plain message is not guessed at
  say('Blue.');
  await answer(
    /^Runs wait in alpha, beta: reply to its notice, or \/reply <repo> <text>\.$/,
    'the ambiguity answer',
  );

  // a reply to a notice goes to that notice's run, in its repo only
  tg.userMessage({ chatId: ALICE, userId: ALICE, text: 'Blue for alpha.', replyTo: alphaNotice.message_id });
  await answer(/^car run completed \(alpha, run/, 'alpha completed');
  assert.equal(latestRun(dirs.alpha!)?.status, 'completed');
  assert.equal(latestRun(dirs.beta!)?.status, 'paused');
  assert.equal(readFileSync(join(dirs.alpha!, 'answer.txt'), 'utf8'), 'answered');

  // following one repo: plain text is its reply; a button press finds its run's repo
  say('/bind beta');
  await answer(/^This chat now follows beta\.$/, '/bind beta');
  say('/status');
  await answer(/^\[beta\] run [0-9a-f]{8}: paused \(dispatch\)/, '/status of the followed repo');
  const betaRun = latestRun(dirs.beta!)!;
  const statuses = () => tg.sent.filter((m) => m.text.startsWith('[beta] run ')).length;
  tg.buttonPress({ chatId: ALICE, userId: ALICE, data: `car:status:${betaRun.id}` });
  await withLog(tg.waitFor(() => statuses() === 2, 10_000, 'the status button, answered from beta'));
  say('Green for beta.');
  await answer(/^car run completed \(beta, run/, 'beta completed');
  assert.equal(latestRun(dirs.beta!)?.status, 'completed');
  // one more command answered: the service polled and delivered again after the last notice
  say('/repos');
  await answer(
    /^alpha: completed \(run [0-9a-f]{8}\)\n\* beta: completed \(run [0-9a-f]{8}\)$/,
    '/repos after both runs',
  );

  // SIGTERM: a graceful stop, exit 0
  await stopChat(car);

  // one notice per event across the hub, all in the one chat, nothing repeated up to the stop
  assert.equal(tg.sent.filter((m) => m.text.startsWith('car needs you')).length, 2);
  assert.equal(tg.sent.filter((m) => m.text.startsWith('car run completed')).length, 2);
  assert.ok(tg.sent.every((m) => m.chat_id === String(ALICE)));
  assert.ok(!car.stdout.includes(tg.token) && !car.stderr.includes(tg.token), 'the token is never logged');

  // `car chat status` in the hub's root reads the hub's chat state
  const status = await runCar(['chat', 'status', '--json'], { cwd: hub.root, env });
  assert.equal(status.code, 0, status.stderr);
  const s = JSON.parse(status.stdout) as {
    bindings: { chat_id: string; repo: string | null }[];
    outbox: { status: string }[];
  };
  assert.deepEqual(
    s.bindings.map((b) => [b.chat_id, b.repo]),
    [[String(ALICE), 'beta']],
  );
  assert.deepEqual(
    s.outbox.map((c) => c.status),
    ['sent'],
  );
  assert.ok(!status.stdout.includes(tg.token), output(car));
});
