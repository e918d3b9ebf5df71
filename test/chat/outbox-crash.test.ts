// The outbox survives kill -9: the real `car chat run` runs as a child process, is killed while a send
// is in flight, and a restart delivers what was not delivered without repeating what was.
import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { openChatStore } from '../../src/core/notify/chat-store.ts';
import { repoPaths } from '../../src/core/paths.ts';
import { startFakeDiscord } from '../fakes/discord-api.ts';
import { startFakeTelegram } from '../fakes/telegram-api.ts';
import { type CarRepo, json, makeCarRepo } from '../helpers/cli.ts';
import { filesContaining, openStore } from './harness.ts';

const MAIN = join(fileURLToPath(new URL('../../src/surfaces/cli/main.ts', import.meta.url)));
const TSX = import.meta.resolve('tsx');

const cleanups: (() => unknown)[] = [];
after(async () => {
  for (const c of cleanups.reverse()) await c();
});

interface Child {
  proc: ChildProcess;
  output: () => string;
  exited: Promise<number | null>;
}

function carChat(root: string, flag: string, env: Record<string, string>): Child {
  const proc = spawn(
    process.execPath,
    ['--import', TSX, MAIN, '--repo', root, 'chat', 'run', flag, '--poll-ms', '100'],
    {
      env: { ...process.env, ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  let out = '';
  proc.stdout?.on('data', (d: Buffer) => {
    out += d.toString();
  });
  proc.stderr?.on('data', (d: Buffer) => {
    out += d.toString();
  });
  const exited = new Promise<number | null>((r) => proc.on('exit', (code) => r(code)));
  cleanups.push(() => {
    if (proc.exitCode === null && proc.signalCode === null) proc.kill('SIGKILL');
  });
  return { proc, output: () => out, exited };
}

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

test('telegram: kill -9 mid-send; the restart sends the rest and nothing twice', async () => {
  const tg = await startFakeTelegram();
  cleanups.push(() => tg.close());
  const { repo } = await seeded(
    `telegram_bot:\n  api_root: ${tg.url}\n  allowed_user_ids: [1]\n  allowed_chat_ids: [1]\n  poll_timeout_seconds: 1\nnotifications:\n  min_interval_ms: 0\n`,
    'telegram',
    '4242',
  );
  const env = { CAR_TELEGRAM_BOT_TOKEN: tg.token };
  tg.holdSendsFrom = 2;
  const first = carChat(repo.dir, '--telegram', env);
  await tg.waitFor(() => tg.held() === 1, 30_000, 'a held third send');
  assert.deepEqual(notes(tg.sent.map((m) => m.text)), ['note 1', 'note 2']);
  first.proc.kill('SIGKILL');
  await first.exited;

  const mid = json<{ waiting: { status: string }[] }>(await repo.run(['chat', 'status', '--json']));
  assert.deepEqual(
    mid.waiting.map((w) => w.status),
    ['pending', 'pending', 'sending'],
    'the killed send is left "sending"',
  );

  tg.holdSendsFrom = null;
  const second = carChat(repo.dir, '--telegram', env);
  await tg.waitFor(() => tg.sent.length >= 5, 30_000, 'all five notices');
  await new Promise((r) => setTimeout(r, 600));
  assert.deepEqual(notes(tg.sent.map((m) => m.text)), ['note 1', 'note 2', 'note 3', 'note 4', 'note 5']);
  assert.ok(tg.sent.every((m) => m.chat_id === '4242'));

  const status = json<{ outbox: { status: string; count: number }[]; waiting: unknown[] }>(
    await repo.run(['chat', 'status', '--json']),
  );
  assert.deepEqual(
    status.outbox.map((c) => [c.status, c.count]),
    [['sent', 5]],
  );
  const chats = openChatStore(repoPaths(repo.dir).dbFile);
  assert.deepEqual(
    chats.list().map((m) => m.crashResends),
    [0, 0, 1, 0, 0],
  );
  chats.close();

  second.proc.kill('SIGTERM');
  assert.equal(await second.exited, 0, second.output());
  assert.match(second.output(), /1 message\(s\) interrupted mid-send by a crash will be sent again/);
  for (const out of [first.output(), second.output()]) assert.ok(!out.includes(tg.token));
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
  const env = { CAR_DISCORD_BOT_TOKEN: dc.token };
  dc.holdResponsesFrom = 2;
  const first = carChat(repo.dir, '--discord', env);
  await dc.waitFor(() => dc.held() === 1, 30_000, 'a held third create');
  assert.equal(dc.messages.length, 3, 'Discord has the third message; car never saw the answer');
  first.proc.kill('SIGKILL');
  await first.exited;

  dc.holdResponsesFrom = null;
  const second = carChat(repo.dir, '--discord', env);
  await dc.waitFor(() => dc.createRequests.length >= 6, 30_000, 'the remaining sends');
  await new Promise((r) => setTimeout(r, 600));
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

  second.proc.kill('SIGTERM');
  assert.equal(await second.exited, 0, second.output());
  for (const out of [first.output(), second.output()]) assert.ok(!out.includes(dc.token));
  assert.deepEqual(filesContaining(repo.dir, dc.token), []);
});
