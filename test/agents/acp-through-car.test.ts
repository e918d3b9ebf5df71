// Any ACP agent by config alone: `car run` (the built CLI, `node dist/car.js`) drives the fake ACP agent
// through the resolver and the real engine, records its events, applies the stop rules, and leaves no
// agent process behind.
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { type BuiltCarRepo, json, makeBuiltCarRepo } from '../helpers/built-car.ts';
import { TICKETS_DIR, ticketText, tid } from '../helpers/cli.ts';
import { assertGroupsGone, readPids } from '../helpers/processes.ts';

const FAKE = fileURLToPath(new URL('../fakes/acp-agent.mjs', import.meta.url));
const repos: BuiltCarRepo[] = [];
after(() => {
  for (const r of repos) r.cleanup();
});

test('an ACP agent configured by command alone works tickets through car run', async () => {
  const r = await makeBuiltCarRepo();
  repos.push(r);
  const pidFile = join(r.dir, '.git', 'fake-acp-pids');
  r.write(
    '.codex-autorunner/config.yml',
    [
      'version: 2',
      'mode: repo',
      'agents:',
      '  fake:',
      '    backend: acp',
      `    command: [${JSON.stringify(process.execPath)}, ${JSON.stringify(FAKE)}]`,
      '    env:',
      `      FAKE_PID_FILE: ${JSON.stringify(pidFile)}`,
      '',
    ].join('\n'),
  );
  r.write(`${TICKETS_DIR}/TICKET-010.md`, ticketText({ id: tid(1), agent: 'fake', title: 'talk only' }));
  r.commitAll('plan');

  // The fake only talks and never changes the repo: two such turns trip the loop guard.
  const run = await r.run(['run']);
  assert.equal(run.code, 5, `${run.stdout}\n${run.stderr}`);
  const status = json<{ run: { run_id: string; reason_code: string; total_turns: number } }>(
    await r.run(['flow', 'status', '--json']),
  );
  assert.equal(status.run.reason_code, 'loop_no_diff');
  assert.equal(status.run.total_turns, 2);
  const events = (await r.run(['flow', 'events', '--json', '--type', 'agent_message', 'usage'])).stdout
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l) as { type: string; data: Record<string, unknown> });
  assert.ok(events.some((e) => e.type === 'agent_message' && /^Hello world/.test(String(e.data.text))));
  assert.ok(events.some((e) => e.type === 'usage'));
  const show = json<{ turns: { status: string; agent: string }[] }>(
    await r.run(['flow', 'show', status.run.run_id, '--json']),
  );
  assert.deepEqual(
    show.turns.map((t) => [t.agent, t.status]),
    [
      ['fake', 'completed'],
      ['fake', 'completed'],
    ],
  );
  const pids = readPids(pidFile);
  assert.equal(pids.length, 1, 'one agent process served both turns of the ticket');
  await assertGroupsGone(pids);
});
