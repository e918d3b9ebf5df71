// Notice derivation, splitting and the watcher's exactly-once enqueueing, against a real run store.
import assert from 'node:assert/strict';
import { after, test } from 'node:test';
import { openChatStore } from '../../src/core/notify/chat-store.ts';
import { noticeFor } from '../../src/core/notify/notices.ts';
import { DISCORD_MAX_CHARS, redact, splitText, TELEGRAM_MAX_CHARS } from '../../src/core/notify/text.ts';
import { collectNotices } from '../../src/core/notify/watcher.ts';
import { repoPaths } from '../../src/core/paths.ts';
import { parseCommand } from '../../src/integrations/chat/commands.ts';
import { makeCarRepo } from '../helpers/cli.ts';
import { openStore } from './harness.ts';

const cleanups: (() => unknown)[] = [];
after(async () => {
  for (const c of cleanups.reverse()) await c();
});

test('splitText: limits, newline then space breaks, surrogate pairs kept whole, nothing lost', () => {
  assert.deepEqual(splitText('', 10), []);
  assert.deepEqual(splitText('short', 10), ['short']);
  assert.deepEqual(splitText('aaaa\nbbbb\ncccc', 10), ['aaaa\nbbbb\n', 'cccc']);
  assert.deepEqual(splitText('aaaa bbbb cccc', 10), ['aaaa bbbb ', 'cccc']);
  assert.deepEqual(splitText('x'.repeat(25), 10), ['x'.repeat(10), 'x'.repeat(10), 'x'.repeat(5)]);
  const emoji = `${'a'.repeat(9)}😀b`;
  const parts = splitText(emoji, 10);
  assert.deepEqual(parts, ['a'.repeat(9), '😀b']);
  const long = `${'word '.repeat(2000)}\n${'z'.repeat(9000)}`;
  for (const limit of [TELEGRAM_MAX_CHARS, DISCORD_MAX_CHARS]) {
    const p = splitText(long, limit);
    assert.equal(p.join(''), long);
    assert.ok(p.every((x) => x.length <= limit && x.length > 0));
  }
  assert.equal(redact('token=abc123 and abc123', ['abc123']), 'token=[redacted] and [redacted]');
});

test('parseCommand: /cmd@bot, /flow <action>, plain text', () => {
  assert.deepEqual(parseCommand('/status@car_bot'), { name: 'status', args: '' });
  assert.deepEqual(parseCommand('/reply use   blue\nand green'), {
    name: 'reply',
    args: 'use   blue\nand green',
  });
  assert.deepEqual(parseCommand('/flow resume'), { name: 'resume', args: '' });
  assert.deepEqual(parseCommand('/flow reply yes'), { name: 'reply', args: 'yes' });
  assert.equal(parseCommand('just text'), null);
});

test('watcher: each run event becomes one notice per bound chat, however often it looks; binding skips history', async () => {
  const repo = await makeCarRepo();
  cleanups.push(() => repo.cleanup());
  const store = openStore(repo.dir);
  cleanups.push(() => store.close());
  const chats = openChatStore(repoPaths(repo.dir).dbFile);
  cleanups.push(() => chats.close());
  const old = store.createRun();
  store.appendEvent(old.id, { type: 'flow_failed', data: { reason_code: 'agent_error', reason: 'old' } });
  chats.bind('telegram', '1', 'u', store.listRuns());
  chats.bind('discord', '2', 'u', store.listRuns());
  const opts = {
    repo: 'demo',
    targets: [
      { platform: 'telegram' as const, maxChars: 4096 },
      { platform: 'discord' as const, maxChars: 2000 },
    ],
    kinds: new Set(['paused', 'failed', 'completed', 'stopped', 'dispatch', 'recovered']),
  };
  assert.equal(collectNotices(store, chats, opts), 0, 'history before /bind is not replayed');

  const run = store.createRun();
  store.appendEvents(run.id, [
    { type: 'turn_started', data: {} },
    { type: 'dispatch', data: { seq: 1, mode: 'pause', title: 'Pick a colour', body: 'x'.repeat(3000) } },
    { type: 'flow_paused', data: { reason_code: 'dispatch', reason: 'Pick a colour', dispatch_seq: 1 } },
  ]);
  // telegram: one part; discord: the 3000-char body splits in two, buttons on the last part
  assert.equal(collectNotices(store, chats, opts), 3);
  assert.equal(collectNotices(store, chats, opts), 0);
  store.appendEvent(run.id, {
    type: 'flow_completed',
    data: { reason_code: 'all_done', reason: 'All tickets done.' },
  });
  assert.equal(collectNotices(store, chats, opts), 2);
  assert.equal(collectNotices(store, chats, opts), 0);
  // even a lost cursor cannot enqueue twice: the dedupe key is per chat, run, event and part
  chats.db.prepare('DELETE FROM chat_cursors WHERE run_id = ?').run(run.id);
  assert.equal(collectNotices(store, chats, opts), 0);

  const rows = chats.list();
  const discord = rows.filter((r) => r.platform === 'discord');
  assert.deepEqual(
    discord.map((r) => r.text.length <= 2000),
    [true, true, true],
  );
  assert.match(discord[0]!.text, /^car needs you \(demo, run [0-9a-f]{8}\): Pick a colour/);
  assert.deepEqual(discord[0]!.buttons, []);
  assert.deepEqual(
    discord[1]!.buttons.map((b) => b.action),
    ['stop'],
  );
  assert.equal(rows.filter((r) => r.platform === 'telegram').length, 2);
});

test('noticeFor: pause reasons, notify dispatches, recoveries; other events are silent', () => {
  const ctx = { repo: 'r', dispatch: () => null };
  const ev = (type: string, data: Record<string, unknown>) => ({
    runId: 'abcdef123456',
    seq: 9,
    turnId: null,
    type,
    at: '',
    data,
  });
  assert.match(
    noticeFor(ev('flow_paused', { reason_code: 'user_ticket', reason: 'TICKET-020 is yours' }), ctx)!.text,
    /human step: TICKET-020/,
  );
  assert.match(
    noticeFor(ev('flow_paused', { reason_code: 'max_turns', reason: 'budget' }), ctx)!.text,
    /max_turns - budget/,
  );
  assert.match(
    noticeFor(ev('flow_failed', { reason_code: 'missing_required_context', reason: 'x' }), ctx)!.text,
    /failed \(r, run abcdef12\)/,
  );
  assert.equal(noticeFor(ev('dispatch', { mode: 'pause', title: 't' }), ctx), null);
  assert.equal(noticeFor(ev('dispatch', { mode: 'turn_summary', title: 't' }), ctx), null);
  assert.match(
    noticeFor(ev('dispatch', { mode: 'notify', title: 'FYI', body: 'details' }), ctx)!.text,
    /FYI\n\ndetails/,
  );
  assert.match(noticeFor(ev('recovered', { interrupted_turns: 1 }), ctx)!.text, /worker died/);
  assert.equal(noticeFor(ev('recovered', { interrupted_turns: 0 }), ctx), null);
  const switched = noticeFor(
    ev('quota_fallback', {
      ticket: '.codex-autorunner/tickets/TICKET-010.md',
      from: 'codex',
      to: 'opencode',
    }),
    ctx,
  );
  assert.equal(switched?.kind, 'waiting');
  assert.match(switched?.text ?? '', /codex's usage limit is used up, so opencode works TICKET-010\.md/);
  assert.equal(noticeFor(ev('quota_fallback_over', {}), ctx), null);
  assert.equal(noticeFor(ev('turn_started', {}), ctx), null);
  const pr = (kind: string) =>
    noticeFor(ev('pull_request', { kind, repo: 'acme/w', number: 3, url: 'u', text: `PR #3 ${kind}` }), ctx);
  for (const kind of ['opened', 'checks_failed', 'changes_requested', 'merged', 'closed', 'merge_refused']) {
    assert.equal(pr(kind)?.kind, 'pull_request', kind);
    assert.match(pr(kind)?.text ?? '', new RegExp(`^r: PR #3 ${kind}$`), kind);
  }
  assert.equal(pr('updated'), null, "car pr open again is the person's own doing");
});

test("the outbox keeps each chat's order: nothing of a chat is due while an earlier message of it waits", async () => {
  const repo = await makeCarRepo();
  cleanups.push(() => repo.cleanup());
  openStore(repo.dir).close(); // migrates
  let now = 1_000_000;
  const chats = openChatStore(repoPaths(repo.dir).dbFile, { now: () => now });
  cleanups.push(() => chats.close());
  const first = chats.enqueue({ platform: 'discord', chatId: '1', dedupeKey: 'a', text: 'first' })!;
  chats.enqueue({ platform: 'discord', chatId: '1', dedupeKey: 'b', text: 'second' });
  chats.enqueue({ platform: 'discord', chatId: '2', dedupeKey: 'c', text: 'elsewhere' });
  // the first message was rate limited for a second
  assert.ok(chats.claim(first));
  chats.reschedule(first, now + 1000, 'rate limited', true);
  assert.deepEqual(
    chats.due(['discord']).map((m) => m.text),
    ['elsewhere'],
    'the second waits behind the first; the other chat is not held',
  );
  now += 1000;
  assert.deepEqual(
    chats.due(['discord']).map((m) => m.text),
    ['first', 'second', 'elsewhere'],
  );
});

test("watcher: a lane run's question reaches the chat, naming the lane and its ticket", async () => {
  const repo = await makeCarRepo();
  cleanups.push(() => repo.cleanup());
  const store = openStore(repo.dir);
  cleanups.push(() => store.close());
  const chats = openChatStore(repoPaths(repo.dir).dbFile);
  cleanups.push(() => chats.close());
  chats.bind('telegram', '1', 'u', store.listRuns());
  const parent = store.createRun({ state: { lanes: { integration: 'main', lanes: [], merged: [] } } });
  const lane = store.createRun({
    metadata: { parent_run_id: parent.id, lane: 2, ticket: '.codex-autorunner/tickets/TICKET-004-api.md' },
  });
  store.appendEvents(lane.id, [
    { type: 'dispatch', data: { seq: 1, mode: 'pause', title: 'Which port?', body: 'Which port?' } },
    { type: 'flow_paused', data: { reason_code: 'dispatch', reason: 'Which port?', dispatch_seq: 1 } },
  ]);
  const opts = {
    repo: 'demo',
    targets: [{ platform: 'telegram' as const, maxChars: 4096 }],
    kinds: new Set(['paused', 'dispatch']),
  };
  assert.equal(collectNotices(store, chats, opts), 1);
  const [row] = chats.list();
  assert.match(row!.text, /^car needs you \(demo, lane 2: TICKET-004-api\): Which port\?/);
  // the lane's buttons steer its run; FlowControl passes them to the run that drives the lanes
  assert.ok(row!.buttons.every((b) => b.runId === lane.id));
});
