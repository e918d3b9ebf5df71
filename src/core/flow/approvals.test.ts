// The approval gate against a real SQLite file, with a second connection standing in for the process
// that answers (CLI, server, chat bot): one answer wins, the expiry and a stopped turn settle what nobody
// answered, and approvals a dead worker left are expired.
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { openRunStore, type RunStore } from '../store/run-store.ts';
import { approvalGate, expireOrphanedApprovals, supervised, wakeApprovalWaiter } from './approvals.ts';
import type { FlowProgress } from './flow-types.ts';
import type { ApprovalSettings } from './settings.ts';

const dir = mkdtempSync(join(tmpdir(), 'car-approvals-'));
after(() => rmSync(dir, { recursive: true, force: true }));
let n = 0;

function setup(timeoutMs = 60_000) {
  const root = join(dir, `repo-${++n}`);
  mkdirSync(root);
  const db = join(root, 'car.db');
  const store = openRunStore(db);
  const other: RunStore = openRunStore(db);
  const run = store.createRun();
  const asked: FlowProgress[] = [];
  const host = {
    runId: run.id,
    root,
    store,
    now: Date.now,
    activeTurnId: null,
    progress: (p: FlowProgress) => asked.push(p),
  };
  const settings: ApprovalSettings = { all: true, agents: {}, timeoutMs, onTimeout: 'decline' };
  const gate = approvalGate(
    host,
    { path: '.codex-autorunner/tickets/TICKET-001.md', agent: 'codex' },
    settings,
  );
  const close = () => {
    store.close();
    other.close();
  };
  return { store, other, run, gate, asked, root, close };
}

const pendingOf = async (store: RunStore) => {
  for (;;) {
    const [a] = store.listApprovals({ status: ['pending'] });
    if (a) return a;
    await new Promise((r) => setImmediate(r));
  }
};

test('an answer from another connection reaches the waiting turn once; a second answer changes nothing', async () => {
  const t = setup();
  const decision = t.gate.ask({ kind: 'command', title: 'run ls', command: 'ls' });
  const a = await pendingOf(t.other);
  assert.equal(a.command, 'ls');
  assert.equal(a.workerPid, process.pid);
  assert.deepEqual(t.asked, [{ type: 'approval', id: a.id, title: 'run ls', expiresAt: a.expiresAt }]);
  const answered = t.other.settleApproval(a.id, {
    status: 'answered',
    decision: 'decline',
    answeredBy: 'cli:me',
  });
  assert.equal(answered?.answeredBy, 'cli:me');
  wakeApprovalWaiter(t.root, a);
  assert.equal(await decision, 'decline');
  assert.equal(
    t.other.settleApproval(a.id, { status: 'answered', decision: 'accept', answeredBy: 'web' }),
    null,
    'settled already',
  );
  assert.equal(t.store.getApproval(a.id)?.decision, 'decline');
  const events = t.store.listEvents(t.run.id).map((e) => e.type);
  assert.deepEqual(events, ['approval_requested']);
  t.close();
});

test('nobody answers: the configured decision on expiry, recorded; a late answer is refused', async () => {
  const t = setup(30);
  assert.equal(await t.gate.ask({ kind: 'file_change', title: 'change a.txt', diff: '+a' }), 'decline');
  const [a] = t.store.listApprovals();
  assert.equal(a?.status, 'expired');
  assert.equal(a?.answeredBy, 'car');
  assert.equal(a?.diff, '+a');
  assert.equal(
    t.other.settleApproval(a!.id, {
      status: 'answered',
      decision: 'accept',
      answeredBy: 'web',
      onlyBefore: new Date().toISOString(),
    }),
    null,
  );
  const expired = t.store.listEvents(t.run.id, { types: ['approval_expired'] });
  assert.deepEqual(expired[0]?.data, { id: a!.id, decision: 'decline', why: 'timeout' });
  t.close();
});

test('a stopped turn cancels its question; approvals a dead worker left are expired by recovery', async () => {
  const t = setup();
  const stop = new AbortController();
  const decision = t.gate.ask({ kind: 'permission', title: 'allow?' }, stop.signal);
  const a = await pendingOf(t.other);
  stop.abort();
  assert.equal(await decision, 'cancel');
  assert.equal(t.store.getApproval(a.id)?.status, 'cancelled');

  const left = t.store.createApproval({
    id: 'deadbeef',
    runId: t.run.id,
    turnId: null,
    ticket: null,
    agent: 'codex',
    kind: 'command',
    title: 'run make',
    workerPid: 999_999,
    expiresAt: new Date(Date.now() + 60_000).toISOString(),
  });
  const events = expireOrphanedApprovals(t.store, t.run.id);
  assert.deepEqual(
    events.map((e) => e.data),
    [{ id: left.id, decision: 'cancel', why: 'worker_gone' }],
  );
  assert.equal(t.store.getApproval(left.id)?.status, 'expired');
  assert.deepEqual(expireOrphanedApprovals(t.store, t.run.id), [], 'nothing is expired twice');
  t.close();
});

test('who is supervised: the ticket, else its agent, else the repo-wide mode', () => {
  const s: ApprovalSettings = {
    all: true,
    agents: { codex: 'yolo', claude: 'ask' },
    timeoutMs: 1,
    onTimeout: 'decline',
  };
  assert.equal(supervised(s, 'codex', null), false);
  assert.equal(supervised(s, 'codex', 'ask'), true);
  assert.equal(supervised(s, 'opencode', null), true);
  assert.equal(supervised({ ...s, all: false }, 'claude', null), true);
  assert.equal(supervised({ ...s, all: false }, 'claude', 'yolo'), false);
  assert.equal(supervised({ ...s, all: false }, 'opencode', null), false);
});
