// Approvals routed to a person (issue 17) with the REAL `codex app-server`, offline: a ticket with
// `approval_policy: ask` makes car open a supervised thread (codex's `untrusted` policy asks before every
// command and patch); car records each question in SQLite and the turn waits until `car flow approve|deny`
// (another process) answers, the question expires, or the worker dies.
import assert from 'node:assert/strict';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { userInfo } from 'node:os';
import { join } from 'node:path';
import { afterEach, test } from 'node:test';
import {
  execCommandReply,
  type FakeReply,
  messageReply,
  type RecordedRequest,
} from '../fakes/responses-api.ts';
import { json, runCar, startCar } from '../helpers/built-car.ts';
import {
  assertAllDone,
  assertNothingLeft,
  type CodexQueue,
  codexQueue,
  latestRun,
  TICKETS_DIR,
  WORK_COMMAND,
} from '../helpers/codex-queue.ts';
import { waitFor } from '../helpers/wait.ts';

const queues: CodexQueue[] = [];
afterEach(async () => {
  for (const q of queues.splice(0)) await q.cleanup();
});

interface ApprovalJson {
  id: string;
  run_id: string;
  kind: string;
  title: string;
  command: string | null;
  diff: string | null;
  status: string;
  decision: string | null;
  answered_by: string | null;
  note: string | null;
  ticket: string | null;
}

/**
 * The fake model of one turn: after the turn's prompt it runs `steps[0]`, after that command's output
 * `steps[1]`, ... and then answers. Steps are counted from the turn's last user message, so a resumed
 * thread (whose history codex sends again) starts the script over.
 */
function stepsModel(steps: string[]): (req: RecordedRequest) => FakeReply {
  return (req) => {
    const input = req.body?.input ?? [];
    const lastUser = input.findLastIndex((i) => i.type === 'message' && i.role === 'user');
    const done = input.slice(lastUser + 1).filter((i) => i.type === 'function_call_output').length;
    const step = steps[done];
    return step === undefined
      ? messageReply('Finished.', `msg_${req.n}`)
      : execCommandReply(step, `call_${req.n}`);
  };
}

/** One open codex ticket that asks a person (`approval_policy: ask`), and the model scripted by `steps`. */
async function supervisedQueue(steps: string[], config = ''): Promise<CodexQueue> {
  const q = await codexQueue(1);
  queues.push(q);
  const file = join(q.repo.dir, TICKETS_DIR, q.tickets[0]!);
  writeFileSync(
    file,
    readFileSync(file, 'utf8').replace('done: false\n', 'done: false\napproval_policy: ask\n'),
  );
  if (config) writeFileSync(join(q.repo.dir, '.codex-autorunner/config.yml'), config);
  q.repo.commitAll('supervised');
  q.fake.setFallback(stepsModel(steps));
  return q;
}

async function approvals(q: CodexQueue, all = false): Promise<ApprovalJson[]> {
  const r = await runCar(['flow', 'approvals', '--json', ...(all ? ['--all'] : [])], {
    cwd: q.repo.dir,
    env: q.env,
  });
  assert.equal(r.code, 0, r.stderr);
  return json<{ approvals: ApprovalJson[] }>(r).approvals;
}

/** Waits until an approval whose command matches `pattern` is pending, and returns it. */
async function pending(q: CodexQueue, pattern: RegExp): Promise<ApprovalJson> {
  let found: ApprovalJson | undefined;
  await waitFor(`a pending approval for ${pattern}`, async () => {
    found = (await approvals(q)).find((a) => pattern.test(a.command ?? a.title));
    return found !== undefined;
  });
  return found!;
}

async function events(
  q: CodexQueue,
  types: string[],
): Promise<Array<{ type: string; data: Record<string, unknown> }>> {
  const r = await runCar(['flow', 'events', '--json', '--type', ...types], { cwd: q.repo.dir, env: q.env });
  assert.equal(r.code, 0, r.stderr);
  return r.stdout
    .trim()
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l) as { type: string; data: Record<string, unknown> });
}

test('a denied command is not run and the agent goes on; an approved one runs (answers from the CLI)', async () => {
  const q = await supervisedQueue(['echo secret > denied.txt', WORK_COMMAND]);
  const run = startCar(['run'], { cwd: q.repo.dir, env: q.env });

  const first = await pending(q, /denied\.txt/);
  assert.equal(first.kind, 'command');
  assert.match(first.ticket ?? '', /TICKET-010\.md$/);
  assert.equal(first.status, 'pending');
  await run.waitForOutput(`approval ${first.id}`); // `car run` says what waits and how to answer
  const deny = await runCar(['flow', 'deny', first.id, '--json'], { cwd: q.repo.dir, env: q.env });
  assert.equal(deny.code, 0, deny.stderr);
  assert.equal(json<{ approval: ApprovalJson }>(deny).approval.decision, 'decline');

  // the model was told and went on: its next command asks in turn
  const second = await pending(q, /git commit/);
  const again = await runCar(['flow', 'deny', first.id], { cwd: q.repo.dir, env: q.env });
  assert.equal(again.code, 4, 'a second answer is refused');
  assert.match(again.stderr, /already answered by cli:/);
  const approve = await runCar(['flow', 'approve', second.id], { cwd: q.repo.dir, env: q.env });
  assert.equal(approve.code, 0, approve.stderr);
  assert.match(approve.stdout, new RegExp(`approved ${second.id}`));

  const exit = await run.exited;
  const output = `${run.stdout}\n${run.stderr}`;
  assert.equal(exit.code, 0, output);
  assert.equal(existsSync(join(q.repo.dir, 'denied.txt')), false, 'the denied command did not run');
  assertAllDone(q, output);
  assert.equal((await latestRun(q)).status, 'completed');

  const all = await approvals(q, true);
  const user = `cli:${userInfo().username}`;
  assert.deepEqual(all.map((a) => [a.id, a.status, a.decision, a.answered_by]).reverse(), [
    [first.id, 'answered', 'decline', user],
    [second.id, 'answered', 'accept', user],
  ]);
  const recorded = await events(q, ['approval_requested', 'approval_answered']);
  assert.deepEqual(
    recorded.map((e) => [e.type, e.data.id]),
    [
      ['approval_requested', first.id],
      ['approval_answered', first.id],
      ['approval_requested', second.id],
      ['approval_answered', second.id],
    ],
  );
  // codex reported the refused command to the model, which saw it before its next step
  const toldModel = q.fake.requests.some((r) =>
    (r.body?.input ?? []).some(
      (i) => i.type === 'function_call_output' && /reject|declin|denied/i.test(JSON.stringify(i.output)),
    ),
  );
  assert.ok(toldModel, 'the model was told the command was declined');
  await assertNothingLeft(q.repo.dir);
});

test('a patch asks with its diff; approved from the CLI for the session, codex applies it', async () => {
  const patch = [
    "apply_patch <<'EOF'",
    '*** Begin Patch',
    '*** Add File: notes/plan.md',
    '+first line',
    '+second line',
    '*** End Patch',
    'EOF',
  ].join('\n');
  const q = await supervisedQueue([patch, WORK_COMMAND]);
  const run = startCar(['run'], { cwd: q.repo.dir, env: q.env });
  const change = await pending(q, /notes\/plan\.md/);
  assert.equal(change.kind, 'file_change');
  assert.equal(change.title, 'change notes/plan.md');
  assert.match(change.diff ?? '', /^\+\+\+ b\/notes\/plan\.md$/m);
  assert.match(change.diff ?? '', /^\+first line\n\+second line$/m);
  const ok = await runCar(['flow', 'approve', change.id, '--session'], { cwd: q.repo.dir, env: q.env });
  assert.equal(ok.code, 0, ok.stderr);
  const work = await pending(q, /git commit/);
  assert.equal((await runCar(['flow', 'approve', work.id], { cwd: q.repo.dir, env: q.env })).code, 0);
  const exit = await run.exited;
  const output = `${run.stdout}\n${run.stderr}`;
  assert.equal(exit.code, 0, output);
  assert.equal(readFileSync(join(q.repo.dir, 'notes/plan.md'), 'utf8'), 'first line\nsecond line\n');
  assertAllDone(q, output);
  const [, first] = await approvals(q, true);
  assert.equal(first?.decision, 'accept_for_session');
});

test('an unanswered approval expires to approvals.on_timeout (the wait is no stall), and a late answer is refused', async () => {
  // the wait (12 s) outlasts the stall timeout (5 s): a wait for a person is not a stall
  const q = await supervisedQueue(
    [WORK_COMMAND],
    'approvals:\n  timeout_seconds: 12\n  on_timeout: accept\napp_server:\n  turn_stall_timeout_seconds: 5\n',
  );
  const r = await runCar(['run'], { cwd: q.repo.dir, env: q.env });
  const output = `${r.stdout}\n${r.stderr}`;
  assert.equal(r.code, 0, output);
  assertAllDone(q, output);
  assert.equal(
    (await events(q, ['stall_retry'])).length,
    0,
    JSON.stringify(
      await events(q, ['approval_requested', 'approval_expired', 'stall_retry', 'turn_finished']),
    ),
  );
  const [expired] = await approvals(q, true);
  assert.equal(expired?.status, 'expired', JSON.stringify(expired));
  assert.equal(expired?.decision, 'accept');
  assert.equal(expired?.answered_by, 'car');
  const late = await runCar(['flow', 'approve', expired!.id], { cwd: q.repo.dir, env: q.env });
  assert.equal(late.code, 4);
  assert.match(late.stderr, /expired/);
  const recorded = await events(q, ['approval_expired']);
  assert.deepEqual(
    recorded.map((e) => e.data),
    [{ id: expired!.id, decision: 'accept', why: 'timeout' }],
  );
});

test('a worker killed while an approval waits: the approval expires, the next run interrupts the turn', async () => {
  const q = await supervisedQueue([WORK_COMMAND]);
  const first = startCar(['run'], { cwd: q.repo.dir, env: q.env });
  const asked = await pending(q, /git commit/);
  first.child.kill('SIGKILL');
  await first.exited;

  // nobody can answer it now: the agent that asked is gone
  const refused = await runCar(['flow', 'approve', asked.id], { cwd: q.repo.dir, env: q.env });
  assert.equal(refused.code, 4, refused.stdout);
  assert.match(refused.stderr, /the worker that asked .* is gone/);

  const second = startCar(['run'], { cwd: q.repo.dir, env: q.env });
  const again = await pending(q, /git commit/);
  assert.notEqual(again.id, asked.id);
  const ok = await runCar(['flow', 'approve', again.id], { cwd: q.repo.dir, env: q.env });
  assert.equal(ok.code, 0, ok.stderr);
  const exit = await second.exited;
  const output = `${second.stdout}\n${second.stderr}`;
  assert.equal(exit.code, 0, output);
  assert.match(second.stdout, /^recovering run /m, output);
  assertAllDone(q, output);

  const all = await approvals(q, true);
  const old = all.find((a) => a.id === asked.id);
  assert.equal(old?.status, 'expired');
  assert.equal(old?.decision, 'cancel');
  assert.equal(old?.note, 'the worker that asked died');
  const turns = await runCar(['flow', 'show', await latestRunId(q), '--json'], {
    cwd: q.repo.dir,
    env: q.env,
  });
  assert.equal(turns.code, 0, turns.stderr);
  const statuses = json<{ turns: Array<{ status: string }> }>(turns).turns.map((t) => t.status);
  assert.deepEqual(statuses, ['interrupted', 'completed']);
  await assertNothingLeft(q.repo.dir);
});

async function latestRunId(q: CodexQueue): Promise<string> {
  const r = await runCar(['flow', 'status', '--json'], { cwd: q.repo.dir, env: q.env });
  return json<{ run: { run_id: string } }>(r).run.run_id;
}
