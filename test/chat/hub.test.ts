// One bot for a whole hub: the real `car chat run` in a hub's root (a child process) with the real grammY
// client against the local fake Bot API, two registered repos whose demo agents each ask a question, and
// real detached workers. Notices name their repo; a reply goes to the repo the chat follows, or the one
// named, or the only one waiting; buttons find their run's repo.
import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { repoPaths } from '../../src/core/paths.ts';
import { openRunStore } from '../../src/core/store/run-store.ts';
import { startFakeTelegram } from '../fakes/telegram-api.ts';
import { demoTicket, git, makeHub, writeTicket } from '../hub/helpers.ts';

const MAIN = fileURLToPath(new URL('../../src/surfaces/cli/main.ts', import.meta.url));
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

  let log = '';
  const child: ChildProcess = spawn(
    process.execPath,
    // run in the hub's root, where `car chat run` serves the hub (tsx named by path: the cwd has none)
    ['--import', import.meta.resolve('tsx'), MAIN, 'chat', 'run', '--telegram', '--poll-ms', '100'],
    {
      cwd: hub.root,
      env: { ...process.env, CAR_TELEGRAM_BOT_TOKEN: tg.token, CAR_TELEGRAM_CHAT_ID: String(ALICE) },
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  child.stdout!.on('data', (c: Buffer) => (log += c.toString()));
  child.stderr!.on('data', (c: Buffer) => (log += c.toString()));
  const exited = new Promise((r) => child.once('exit', r));
  cleanups.push(async () => {
    child.kill('SIGTERM');
    await exited;
  });
  const say = (text: string) => tg.userMessage({ chatId: ALICE, userId: ALICE, text });
  const withLog = <T>(p: Promise<T>) =>
    p.catch((err: Error) => {
      throw new Error(`${err.message}\n--- car chat run:\n${log}`);
    });
  const answer = (re: RegExp, what: string) =>
    withLog(tg.waitFor(() => tg.sent.find((m) => re.test(m.text)), 30_000, what));

  await withLog(tg.waitFor(() => /serving every repo of the hub/.test(log), 30_000, 'start-up'));
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

  // one notice per event across the hub, all in the one chat
  await new Promise((r) => setTimeout(r, 400));
  assert.equal(tg.sent.filter((m) => m.text.startsWith('car needs you')).length, 2);
  assert.equal(tg.sent.filter((m) => m.text.startsWith('car run completed')).length, 2);
  assert.ok(!log.includes(tg.token), 'the token is never logged');

  // `car chat status` in the hub's root reads the hub's chat state
  const status = await hub.run(['chat', 'status', '--json']);
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
});
