// The outbox survives kill -9: the built CLI's `car chat run` (`node dist/car.js`) runs as a child
// process, is killed while a send is in flight, and a restart delivers what was not delivered without
// repeating what was; SIGTERM then stops it (exit 0).
import assert from 'node:assert/strict';
import { after, test } from 'node:test';
import { openChatStore } from '../../src/core/notify/chat-store.ts';
import { repoPaths } from '../../src/core/paths.ts';
import { startFakeDiscord } from '../fakes/discord-api.ts';
import { startFakeTelegram } from '../fakes/telegram-api.ts';
import { type CarChild, carEnv, output, runCar, tempHome } from '../helpers/built-car.ts';
import { type CarRepo, makeCarRepo } from '../helpers/cli.ts';
import { waitFor } from '../helpers/wait.ts';
import { startChat, stopChat, withOutput } from './built-chat.ts';
import { filesContaining, openStore } from './harness.ts';

const cleanups: (() => unknown)[] = [];
after(async () => {
  for (const c of cleanups.reverse()) await c();
});

function carChat(root: string, flag: string, env: NodeJS.ProcessEnv): CarChild {
  return startChat(['--repo', root, 'chat', 'run', flag, '--poll-ms', '100'], { cwd: root, env }, cleanups);
}

function envWith(extra: Record<string, string>): NodeJS.ProcessEnv {
  const home = tempHome();
  cleanups.push(home.cleanup);
  return carEnv(home.home, extra);
}

async function chatStatus<T>(root: string, env: NodeJS.ProcessEnv): Promise<T> {
  const r = await runCar(['--repo', root, 'chat', 'status', '--json'], { cwd: root, env });
  assert.equal(r.code, 0, r.stderr);
  return JSON.parse(r.stdout) as T;
}

const both = (car: CarChild) => car.stdout + car.stderr;

/** A repo with one run whose log holds five notify dispatches, and `chatId` bound on `platform`. */
async function seeded(
  yaml: string,
  platform: 'telegram' | 'discord',
  chatId: string,
): Promise<{ repo: CarRepo; runId: string }> {
  const repo = await makeCarRepo();
  cleanups.push(() => repo.cleanup());
  repo.write('.codex-autorunner/repo.override.yml', yaml);
  repo.commitAll('chat config');
  const store = openStore(repo.dir);
  const chats = openChatStore(repoPaths(repo.dir).dbFile);
  chats.bind(platform, chatId, 'test', []);
  const run = store.createRun();
  for (let i = 1; i <= 5; i++) {
    store.appendEvent(run.id, {
      type: 'dispatch',
      data: { seq: i, mode: 'notify', title: `note ${i}`, body: '' },
    });
  }
  chats.close();
  store.close();
  return { repo, runId: run.id };
}

const notes = (texts: string[]) => texts.map((t) => /: (note \d)$/.exec(t)?.[1] ?? t);

/** The outbox's counts by status. */
function counts(root: string): [string, number][] {
  const chats = openChatStore(repoPaths(root).dbFile);
  try {
    return chats.counts().map((c) => [c.status, c.count]);
  } finally {
    chats.close();
  }
}

/** Waits until the outbox holds `n` messages, all sent (car marked the last one delivered). */
async function allSent(car: CarChild, root: string, n: number): Promise<void> {
  const chats = openChatStore(repoPaths(root).dbFile);
  const done = () => {
    const c = chats.counts();
    return c.length === 1 && c[0]!.status === 'sent' && c[0]!.count === n;
  };
  try {
    await withOutput(car, waitFor(`${n} outbox rows marked sent`, done, 30_000));
  } finally {
    chats.close();
  }
}

test('telegram: kill -9 mid-send; the restart sends the rest and nothing twice', async () => {
  const tg = await startFakeTelegram();
  cleanups.push(() => tg.close());
  const { repo } = await seeded(
    `telegram_bot:\n  api_root: ${tg.url}\n  allowed_user_ids: [1]\n  allowed_chat_ids: [1]\n  poll_timeout_seconds: 1\nnotifications:\n  min_interval_ms: 0\n`,
    'telegram',
    '4242',
  );
  const env = envWith({ CAR_TELEGRAM_BOT_TOKEN: tg.token });
  tg.holdSendsFrom = 2;
  const first = carChat(repo.dir, '--telegram', env);
  await withOutput(
    first,
    tg.waitFor(() => tg.held() === 1, 30_000, 'a held third send'),
  );
  assert.deepEqual(notes(tg.sent.map((m) => m.text)), ['note 1', 'note 2']);
  first.child.kill('SIGKILL');
  await first.exited;

  const mid = await chatStatus<{ waiting: { status: string }[] }>(repo.dir, env);
  assert.deepEqual(
    mid.waiting.map((w) => w.status),
    ['pending', 'pending', 'sending'],
    'the killed send is left "sending"',
  );

  tg.holdSendsFrom = null;
  const second = carChat(repo.dir, '--telegram', env);
  await withOutput(
    second,
    tg.waitFor(() => tg.sent.length >= 5, 30_000, 'all five notices'),
  );
  await allSent(second, repo.dir, 5);
  const status = await chatStatus<{ outbox: { status: string; count: number }[]; waiting: unknown[] }>(
    repo.dir,
    env,
  );
  assert.deepEqual(
    status.outbox.map((c) => [c.status, c.count]),
    [['sent', 5]],
  );

  await stopChat(second);
  // nothing sent twice, up to the stop
  assert.deepEqual(notes(tg.sent.map((m) => m.text)), ['note 1', 'note 2', 'note 3', 'note 4', 'note 5']);
  assert.ok(tg.sent.every((m) => m.chat_id === '4242'));
  assert.deepEqual(counts(repo.dir), [['sent', 5]]);
  const chats = openChatStore(repoPaths(repo.dir).dbFile);
  assert.deepEqual(
    chats.list().map((m) => m.crashResends),
    [0, 0, 1, 0, 0],
  );
  chats.close();
  assert.match(second.stderr, /1 message\(s\) interrupted mid-send by a crash will be sent again/);
  for (const car of [first, second]) assert.ok(!both(car).includes(tg.token), output(car));
  assert.deepEqual(filesContaining(repo.dir, tg.token), []);
});

test('discord: kill -9 after Discord accepted a message; the resend carries the same nonce and is not posted twice', async () => {
  const dc = await startFakeDiscord();
  cleanups.push(() => dc.close());
  const { repo } = await seeded(
    `discord_bot:\n  api_root: ${dc.url}\n  allowed_user_ids: ['1']\nnotifications:\n  min_interval_ms: 0\n`,
    'discord',
    '1100000000000000042',
  );
  const env = envWith({ CAR_DISCORD_BOT_TOKEN: dc.token });
  dc.holdResponsesFrom = 2;
  const first = carChat(repo.dir, '--discord', env);
  await withOutput(
    first,
    dc.waitFor(() => dc.held() === 1, 30_000, 'a held third create'),
  );
  assert.equal(dc.messages.length, 3, 'Discord has the third message; car never saw the answer');
  first.child.kill('SIGKILL');
  await first.exited;

  dc.holdResponsesFrom = null;
  const second = carChat(repo.dir, '--discord', env);
  await withOutput(
    second,
    dc.waitFor(() => dc.createRequests.length >= 6, 30_000, 'the remaining sends'),
  );
  await allSent(second, repo.dir, 5);
  await chatStatus(repo.dir, env);

  await stopChat(second);
  // nothing posted twice, up to the stop
  assert.deepEqual(notes(dc.messages.map((m) => m.content)), [
    'note 1',
    'note 2',
    'note 3',
    'note 4',
    'note 5',
  ]);
  assert.deepEqual(
    dc.createRequests.map((r) => r.deduped),
    [false, false, false, true, false, false],
    'the resent third message was answered from the nonce',
  );
  const nonces = dc.createRequests.map((r) => r.nonce);
  assert.equal(nonces[2], nonces[3]);
  assert.equal(new Set(nonces).size, 5);
  assert.equal(dc.identifies.length, 2, 'each process identified on the gateway');
  assert.deepEqual(counts(repo.dir), [['sent', 5]]);
  for (const car of [first, second]) assert.ok(!both(car).includes(dc.token), output(car));
  assert.deepEqual(filesContaining(repo.dir, dc.token), []);
});
