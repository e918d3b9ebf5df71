// The flow commands end to end, in-process, with the demo agent: a clean pause is reported as a pause
// (not a crash), the CLI can reply and resume it (CAR could not), and history is readable.
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { type CarRepo, json, makeCarRepo, ticketText, tid } from '../helpers/cli.ts';

const repos: CarRepo[] = [];
after(() => {
  for (const r of repos) r.cleanup();
});

async function demoRepo(): Promise<CarRepo> {
  const r = await makeCarRepo();
  repos.push(r);
  const script = (lines: string[]) => `\n\`\`\`car-demo\n${lines.join('\n')}\n\`\`\`\n`;
  r.ticket(
    'TICKET-010.md',
    ticketText(
      { id: tid(1), agent: 'demo', title: 'one' },
      script(['write one.txt 1', 'done', 'commit one']),
    ),
  );
  r.ticket(
    'TICKET-020.md',
    ticketText(
      { id: tid(2), agent: 'demo', title: 'two' },
      script(['ask Which colour?', 'write two.txt 2', 'done', 'commit two']),
    ),
  );
  r.commitAll('plan');
  return r;
}

interface Status {
  run: { run_id: string; status: string; reason_code: string | null; total_turns: number } | null;
  worker: { status: string };
  tickets: { total: number; done: number; next: string | null; blocked: number };
  recommended_action: string;
}

test('car run pauses on a dispatch (exit 5); status calls it a pause; reply + resume finishes the queue', async () => {
  const r = await demoRepo();
  const first = await r.run(['run']);
  assert.equal(first.code, 5, first.stderr);
  assert.match(first.stdout, /dispatch \(pause\): Which colour\?/);
  assert.match(first.stdout, /run paused \(dispatch\)/);

  const paused = json<Status>(await r.run(['flow', 'status', '--json']));
  assert.equal(paused.run?.status, 'paused');
  assert.equal(paused.run?.reason_code, 'dispatch');
  assert.equal(paused.worker.status, 'none', 'a clean pause has no worker, and that is not a crash');
  assert.match(paused.recommended_action, /car flow reply/);
  assert.deepEqual(paused.tickets, {
    total: 2,
    done: 1,
    next: '.codex-autorunner/tickets/TICKET-020.md',
    blocked: 0,
    invalid: [],
  });

  const reply = await r.run(['flow', 'reply', 'Blue,', 'please']);
  assert.equal(reply.code, 0, reply.stderr);
  const runId = paused.run!.run_id;
  assert.equal(
    readFileSync(join(r.dir, `.codex-autorunner/runs/${runId}/USER_REPLY.md`), 'utf8').trim(),
    'Blue, please',
  );

  const resumed = await r.run(['flow', 'resume', '--foreground']);
  assert.equal(resumed.code, 0, resumed.stderr);
  assert.match(resumed.stdout, /run completed \(all_done\)/);
  assert.ok(existsSync(join(r.dir, 'two.txt')));

  const runs = json<{ runs: { run_id: string; status: string }[] }>(await r.run(['flow', 'runs', '--json']));
  assert.deepEqual(
    runs.runs.map((x) => [x.run_id, x.status]),
    [[runId, 'completed']],
    'the paused run was resumed, not replaced',
  );
  const events = (await r.run(['flow', 'events', '--json', '--type', 'reply_archived', 'ticket_done'])).stdout
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l) as { type: string; seq: number });
  assert.deepEqual(
    events.map((e) => e.type),
    ['ticket_done', 'reply_archived', 'ticket_done'],
  );
  const show = json<{ turns: { status: string }[] }>(await r.run(['flow', 'show', runId, '--json']));
  assert.equal(show.turns.length, 3);
  const manifest = JSON.parse(
    readFileSync(join(r.dir, `.codex-autorunner/runs/${runId}/manifest.json`), 'utf8'),
  );
  assert.equal(manifest.status, 'completed');
  assert.equal(manifest.tickets_done.length, 2);
});

test('pause and stop with no live worker take effect at once; stop is terminal', async () => {
  const r = await demoRepo();
  assert.equal((await r.run(['run'])).code, 5);
  const stop = json<{ status: string; immediate: boolean }>(await r.run(['flow', 'stop', '--json']));
  assert.deepEqual(stop, { ...stop, status: 'stopped', immediate: true });
  const again = await r.run(['flow', 'resume']);
  assert.equal(again.code, 4, 'a stopped run cannot be resumed');
  assert.match(again.stderr, /stopped, not paused/);
  const pause = await r.run(['flow', 'pause']);
  assert.equal(pause.code, 4);
});

test('flow commands before any run explain themselves', async () => {
  const r = await makeCarRepo();
  repos.push(r);
  const status = json<Status>(await r.run(['flow', 'status', '--json']));
  assert.equal(status.run, null);
  assert.match(status.recommended_action, /car flow start/);
  const show = await r.run(['flow', 'events']);
  assert.equal(show.code, 2);
  assert.match(show.stderr, /no runs yet/);
});
