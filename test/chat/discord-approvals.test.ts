// Approvals answered from Discord (issue 17): the built `car chat run --discord` (@discordjs/core against
// the fake REST API and Gateway) and a supervised ACP agent (the fake, `approval_policy: ask`) in the
// run's worker. Each approval is a message with Approve / Approve for session / Deny buttons; a stranger's
// click is ignored, Alice's answers it (as `discord:<user id>`), the agent goes on without what was denied.
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { startFakeDiscord } from '../fakes/discord-api.ts';
import { carEnv, output, tempHome } from '../helpers/built-car.ts';
import { makeCarRepo, ticketText, tid } from '../helpers/cli.ts';
import { SUPERVISED_ACP_AGENT } from '../helpers/supervised-acp.ts';
import { serving, startChat, stopChat, withOutput } from './built-chat.ts';
import { openStore } from './harness.ts';

const GUILD = '1200000000000000001';
const CHANNEL = '1200000000000000002';
const ALICE = '1200000000000000010';
const MALLORY = '1200000000000000066';

const cleanups: (() => unknown)[] = [];
after(async () => {
  for (const c of cleanups.reverse()) await c();
});

test('discord: approval buttons answer a supervised agent; a stranger is ignored; a late click is refused', async () => {
  const dc = await startFakeDiscord();
  cleanups.push(() => dc.close());
  const repo = await makeCarRepo();
  cleanups.push(() => repo.cleanup());
  repo.ticket('TICKET-010.md', ticketText({ id: tid(1), agent: 'fake', title: 'supervised' }));
  repo.write(
    '.codex-autorunner/repo.override.yml',
    [
      'discord_bot:',
      `  api_root: ${dc.url}`,
      `  allowed_user_ids: ['${ALICE}']`,
      `  allowed_guild_ids: ['${GUILD}']`,
      `  allowed_channel_ids: ['${CHANNEL}']`,
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
  const car = startChat(
    ['chat', 'run', '--discord', '--poll-ms', '100'],
    { cwd: repo.dir, env: carEnv(home.home, { CAR_DISCORD_BOT_TOKEN: dc.token }) },
    cleanups,
  );
  await serving(car);
  const waitFor = <T>(check: () => T | undefined | false | null, ms: number, what: string) =>
    withOutput(car, dc.waitFor(check, ms, what));
  const store = openStore(repo.dir);
  cleanups.push(() => store.close());

  dc.userMessage({ channelId: CHANNEL, guildId: GUILD, userId: ALICE, content: '/bind' });
  await waitFor(() => dc.messages.find((m) => /now gets notices/.test(m.content)), 10_000, '/bind answer');
  dc.userMessage({ channelId: CHANNEL, guildId: GUILD, userId: ALICE, content: '/start' });
  const asks = await waitFor(
    () =>
      dc.messages.find((m) => m.content.startsWith('car asks you') && /touch denied\.txt/.test(m.content)),
    30_000,
    'the approval message',
  );
  const [first] = store.listApprovals({ status: ['pending'] });
  assert.ok(first);
  assert.deepEqual(
    asks.components?.[0]?.components.map((c) => [c.label, c.custom_id]),
    [
      ['Approve', `car:approve:${first.runId}:${first.id}`],
      ['Approve for session', `car:session:${first.runId}:${first.id}`],
      ['Deny', `car:deny:${first.runId}:${first.id}`],
    ],
  );

  const deny = `car:deny:${first.runId}:${first.id}`;
  dc.buttonClick({ channelId: CHANNEL, guildId: GUILD, userId: MALLORY, customId: deny });
  dc.buttonClick({ channelId: CHANNEL, guildId: GUILD, userId: ALICE, customId: deny });
  await waitFor(
    () => dc.messages.find((m) => m.content.startsWith(`Denied ${first.id}`)),
    10_000,
    'the denial',
  );
  assert.equal(dc.interactionResponses.length, 1, 'only the allowed click was answered');

  const edit = await waitFor(
    () => dc.messages.find((m) => m.content.startsWith('car asks you') && /wants to Edit /.test(m.content)),
    30_000,
    'the edit approval message',
  );
  const session = edit.components?.[0]?.components[1]?.custom_id ?? '';
  assert.match(session, /^car:session:/);
  dc.buttonClick({ channelId: CHANNEL, guildId: GUILD, userId: ALICE, customId: session });
  await waitFor(
    () => dc.messages.find((m) => m.content.startsWith('car run completed')),
    60_000,
    'completion',
  );

  dc.buttonClick({ channelId: CHANNEL, guildId: GUILD, userId: ALICE, customId: deny });
  await waitFor(
    () => dc.messages.find((m) => new RegExp(`already answered by discord:${ALICE}`).test(m.content)),
    10_000,
    'the late click',
  );
  assert.deepEqual(
    store
      .listApprovals({})
      .reverse()
      .map((a) => [a.kind, a.decision, a.answeredBy]),
    [
      ['command', 'decline', `discord:${ALICE}`],
      ['file_change', 'accept_for_session', `discord:${ALICE}`],
    ],
  );
  assert.equal(existsSync(join(repo.dir, 'denied.txt')), false);
  await stopChat(car);
  assert.ok(!car.stdout.includes(dc.token) && !car.stderr.includes(dc.token), output(car));
});
