// Approvals routed to a person (issue 17) with an ACP agent: an agent entry with `approval_policy: ask`
// makes car hand each `session/request_permission` to a person; `car run` (the built CLI) waits while
// `car flow deny|approve` (another process) answers, and the agent gets the option the answer picks.
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { type BuiltCarRepo, json, makeBuiltCarRepo, startCar } from '../helpers/built-car.ts';
import { TICKETS_DIR, ticketText, tid } from '../helpers/cli.ts';
import { SUPERVISED_ACP_CONFIG } from '../helpers/supervised-acp.ts';
import { waitFor } from '../helpers/wait.ts';

const repos: BuiltCarRepo[] = [];
after(() => {
  for (const r of repos) r.cleanup();
});

interface ApprovalJson {
  id: string;
  kind: string;
  title: string;
  command: string | null;
  paths: string[];
  diff: string | null;
  status: string;
  decision: string | null;
  agent: string | null;
}

async function pendingOf(r: BuiltCarRepo, kind: string): Promise<ApprovalJson> {
  let found: ApprovalJson | undefined;
  await waitFor(`a pending ${kind} approval`, async () => {
    const list = json<{ approvals: ApprovalJson[] }>(await r.run(['flow', 'approvals', '--json'])).approvals;
    found = list.find((a) => a.kind === kind);
    return found !== undefined;
  });
  return found!;
}

test('an ACP agent asks a person: a denied command is skipped, an approved edit is made', async () => {
  const r = await makeBuiltCarRepo();
  repos.push(r);
  r.write('.codex-autorunner/config.yml', SUPERVISED_ACP_CONFIG);
  r.write(`${TICKETS_DIR}/TICKET-010.md`, ticketText({ id: tid(1), agent: 'fake', title: 'supervised' }));
  r.commitAll('plan');

  const run = startCar(['run'], { cwd: r.dir, env: r.env });
  const command = await pendingOf(r, 'command');
  assert.equal(command.command, 'touch denied.txt');
  assert.equal(command.agent, 'fake');
  const deny = await r.run(['flow', 'deny', command.id]);
  assert.equal(deny.code, 0, deny.stderr);

  const edit = await pendingOf(r, 'file_change');
  assert.match(edit.title, /TICKET-010\.md/);
  assert.match(edit.diff ?? '', /^-done: false$/m);
  assert.match(edit.diff ?? '', /^\+done: true$/m);
  const approve = await r.run(['flow', 'approve', edit.id, '--session']);
  assert.equal(approve.code, 0, approve.stderr);

  const exit = await run.exited;
  const output = `${run.stdout}\n${run.stderr}`;
  assert.equal(exit.code, 0, output);
  assert.equal(existsSync(join(r.dir, 'denied.txt')), false, 'the denied command was not run');
  assert.equal(readFileSync(join(r.dir, 'work/acp.txt'), 'utf8'), 'done\n');
  assert.match(readFileSync(join(r.dir, TICKETS_DIR, 'TICKET-010.md'), 'utf8'), /^done: true$/m);

  const all = json<{ approvals: ApprovalJson[] }>(await r.run(['flow', 'approvals', '--all', '--json']));
  assert.deepEqual(all.approvals.map((a) => [a.kind, a.status, a.decision]).reverse(), [
    ['command', 'answered', 'decline'],
    ['file_change', 'answered', 'accept_for_session'],
  ]);
  // the agent was told which option each answer picked, and said what it did
  const messages = (
    await r.run(['flow', 'events', '--json', '--type', 'agent_message', 'agent_status'])
  ).stdout
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l) as { type: string; data: { text?: string; message?: string } });
  const text = messages.map((m) => m.data.text ?? m.data.message ?? '').join('\n');
  assert.match(text, /permission decline \(reject_once\): touch denied\.txt/);
  assert.match(text, /permission accept_for_session \(allow_always\)/);
  assert.match(text, /going on without it/);
});
