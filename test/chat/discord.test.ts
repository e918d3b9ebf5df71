// Discord end to end: the built CLI, `node dist/car.js chat run --discord`, in a child process, with
// @discordjs/core + rest + ws against a local fake REST API and Gateway (HELLO, IDENTIFY, READY,
// MESSAGE_CREATE, INTERACTION_CREATE), and real workers (also run from dist); SIGTERM stops it (exit 0).
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { FlowControl } from '../../src/control/flow-control.ts';
import { loadConfig } from '../../src/core/config/index.ts';
import { repoPaths } from '../../src/core/paths.ts';
import { SLASH_COMMANDS } from '../../src/integrations/chat/commands.ts';
import { createRepoState } from '../../src/integrations/git/index.ts';
import { startFakeDiscord } from '../fakes/discord-api.ts';
import { carEnv, output, tempHome } from '../helpers/built-car.ts';
import { serving, startChat, stopChat, waitForLog, withOutput } from './built-chat.ts';
import { askingRepo, filesContaining, openStore } from './harness.ts';

const GUILD = '1200000000000000001';
const CHANNEL = '1200000000000000002';
const OTHER_CHANNEL = '1200000000000000003';
const ALICE = '1200000000000000010';
const MALLORY = '1200000000000000066';

const cleanups: (() => unknown)[] = [];
after(async () => {
  for (const c of cleanups.reverse()) await c();
});

test('discord: gateway commands, pause notice with buttons, Stop button, reply resumes to completion, strangers ignored', async () => {
  const dc = await startFakeDiscord();
  cleanups.push(() => dc.close());
  const repo = await askingRepo(
    [
      'discord_bot:',
      `  api_root: ${dc.url}`,
      `  allowed_user_ids: ['${ALICE}']`,
      `  allowed_guild_ids: ['${GUILD}']`,
      `  allowed_channel_ids: ['${CHANNEL}']`,
      'notifications:',
      '  min_interval_ms: 0',
      '',
    ].join('\n'),
  );
  cleanups.push(() => repo.cleanup());
  const home = tempHome();
  cleanups.push(home.cleanup);
  const car = startChat(
    ['chat', 'run', '--discord', '--poll-ms', '100'],
    { cwd: repo.dir, env: carEnv(home.home, { CAR_DISCORD_BOT_TOKEN: dc.token }) },
    cleanups,
  );
  await serving(car);
  const waitFor = <T>(check: () => T | undefined | false | null, ms: number, what: string) =>
    withOutput(car, dc.waitFor(check, ms, what));
  assert.equal(dc.identifies.length, 1);
  assert.equal(dc.identifies[0]!.token, '<valid>');
  assert.equal(dc.identifies[0]!.intents, 37377);

  dc.userMessage({ channelId: CHANNEL, guildId: GUILD, userId: MALLORY, content: '/bind hunter2' });
  dc.userMessage({ channelId: OTHER_CHANNEL, guildId: GUILD, userId: ALICE, content: '/bind' });
  dc.userMessage({ channelId: CHANNEL, guildId: GUILD, userId: ALICE, content: '/bind' });
  await waitFor(() => dc.messages.find((m) => /now gets notices/.test(m.content)), 10_000, '/bind answer');
  assert.equal(dc.messages.length, 1);
  assert.equal(dc.messages[0]!.channel_id, CHANNEL);
  await waitForLog(
    car,
    `user ${MALLORY} in channel ${CHANNEL} (user not in allowed_user_ids)`,
    'the ignored stranger',
  );
  await waitForLog(
    car,
    `channel ${OTHER_CHANNEL} (channel not in allowed_channel_ids)`,
    'the ignored channel',
  );
  assert.ok(!car.stderr.includes('hunter2'));

  // a pause with no worker (requested from the CLI side): notice with Resume/Stop buttons
  const { config } = loadConfig(repo.dir, {});
  const control = new FlowControl(repoPaths(repo.dir), config, createRepoState(repo.dir));
  cleanups.push(() => control.close());
  const { run: first } = await control.prepareStart();
  await control.request(first.id, 'pause');
  const paused = await waitFor(
    () => dc.messages.find((m) => m.content.startsWith('car paused')),
    10_000,
    'the pause notice',
  );
  assert.match(paused.content, /pause_requested/);
  const ids = paused.components?.[0]?.components.map((c) => c.custom_id);
  assert.deepEqual(ids, [`car:resume:${first.id}`, `car:stop:${first.id}`]);

  // a stranger's click does nothing; Alice's Stop stops the run
  dc.buttonClick({ channelId: CHANNEL, guildId: GUILD, userId: MALLORY, customId: `car:stop:${first.id}` });
  dc.buttonClick({ channelId: CHANNEL, guildId: GUILD, userId: ALICE, customId: `car:stop:${first.id}` });
  await waitFor(
    () => dc.messages.find((m) => m.content.startsWith('car run stopped')),
    10_000,
    'stop notice',
  );
  assert.equal(dc.interactionResponses.length, 1, 'only the allowed click was answered');
  assert.equal(dc.interactionResponses[0]!.body.type, 4);
  const store = openStore(repo.dir);
  cleanups.push(() => store.close());
  assert.equal(store.getRun(first.id)!.status, 'stopped');

  // a fresh run from chat; the demo agent asks; the reply in the channel resumes it to completion
  dc.userMessage({ channelId: CHANNEL, guildId: GUILD, userId: ALICE, content: '/start' });
  const ask = await waitFor(
    () => dc.messages.find((m) => m.content.startsWith('car needs you')),
    30_000,
    'ask',
  );
  assert.match(ask.content, /Which colour should the button be\?/);
  dc.userMessage({ channelId: CHANNEL, guildId: GUILD, userId: ALICE, content: 'Orange.' });
  await waitFor(
    () => dc.messages.find((m) => m.content.startsWith('car run completed')),
    60_000,
    'completion',
  );
  const run = store.latestRun()!;
  assert.notEqual(run.id, first.id);
  assert.equal(run.status, 'completed');
  assert.equal(readFileSync(join(repo.dir, 'answer.txt'), 'utf8'), 'answered');
  const types = store.listEvents(run.id, { limit: 10_000 }).map((e) => e.type);
  assert.ok(types.indexOf('chat_reply') < types.indexOf('reply_archived'));
  assert.equal(types.filter((t) => t === 'turn_started').length, 2);

  // slash commands were registered in the allowed guild at start-up (none globally), and run like
  // typed ones: an ephemeral acknowledgement at once, the answer in the channel
  assert.deepEqual(
    dc.commands.get(GUILD)?.map((c) => c.name),
    SLASH_COMMANDS.map((c) => c.name),
  );
  assert.equal(dc.commands.has('global'), false);
  assert.match(car.stderr, /chat: discord: registered 10 slash commands in 1 guild/);
  const acks = dc.interactionResponses.length;
  dc.slashCommand({ channelId: CHANNEL, guildId: GUILD, userId: ALICE, name: 'status' });
  await waitFor(
    () => dc.messages.find((m) => /^run [0-9a-f]{8}: completed \(all_done\)/.test(m.content)),
    10_000,
    '/status as a slash command',
  );
  assert.equal(dc.interactionResponses.length, acks + 1);
  assert.equal(dc.interactionResponses.at(-1)!.body.type, 4);

  // SIGTERM: a graceful stop, exit 0
  await stopChat(car);

  // one notice per event, nothing repeated in the polls after the completion up to the stop
  for (const prefix of ['car paused', 'car run stopped', 'car needs you', 'car run completed']) {
    assert.equal(dc.messages.filter((m) => m.content.startsWith(prefix)).length, 1, prefix);
  }
  // every create carried a nonce with enforce_nonce, and the bot's own messages never triggered it
  assert.ok(dc.createRequests.every((r) => r.nonce !== null && !r.deduped));
  assert.ok(!car.stdout.includes(dc.token) && !car.stderr.includes(dc.token), output(car));
  assert.deepEqual(filesContaining(repo.dir, dc.token), []);
});
