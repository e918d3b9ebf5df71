// Approvals routed to a person (a supervised session: `approval_policy: ask`). The worker records what
// the agent asks in the `approvals` table with an `approval_requested` event and waits; a person answers
// from another process (CLI, server, chat bot) by settling the row, then touches the approval's wake file
// (`runs/<run>/approvals/<id>`). The worker watches that folder (inotify: no polling while nobody
// answers; a slow look every WAKE_CHECK_MS covers a watch that cannot be set up or misses a write).
// The expiry, a stopped turn and a person race on the row: whoever settles it first wins (a conditional
// update), so an approval is answered once.
import { randomBytes } from 'node:crypto';
import { type FSWatcher, mkdirSync, rmSync, watch, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { ApprovalDecision, ApprovalGate, ApprovalQuestion } from '../agent.ts';
import type { Approval } from '../store/approvals.ts';
import type { RunStore } from '../store/run-store.ts';
import type { FlowEvent } from './events.ts';
import type { FlowProgress } from './flow-types.ts';
import { type RunPaths, runPaths } from './run-paths.ts';
import type { ApprovalSettings } from './settings.ts';

/** A slow second look for an answer, in case the folder watch missed it (or could not be set up). */
const WAKE_CHECK_MS = 5000;
/** Command lines and diffs beyond this are cut in the store (the agent still gets its answer). */
const MAX_DIFF_CHARS = 200_000;

/** What the gate needs of the run (RunContext provides it). */
export interface ApprovalHost {
  readonly runId: string;
  readonly root: string;
  readonly store: RunStore;
  readonly now: () => number;
  readonly activeTurnId: number | null;
  progress(progress: FlowProgress): void;
}

/** Whether a ticket's session asks a person: the ticket's `approval_policy`, else its agent's, else config. */
export function supervised(settings: ApprovalSettings, agent: string, ticketPolicy: string | null): boolean {
  if (ticketPolicy === 'ask') return true;
  if (ticketPolicy !== null) return false;
  const own = settings.agents[agent];
  return own === undefined ? settings.all : own === 'ask';
}

/** The folder a worker watches for answers to its run's approvals. */
export function approvalsDir(paths: RunPaths): string {
  return join(paths.runDir, 'approvals');
}

/** Tells the waiting worker that approval `approval` was settled (after the row was written). */
export function wakeApprovalWaiter(root: string, approval: Pick<Approval, 'id' | 'runId'>): void {
  const dir = approvalsDir(runPaths(root, approval.runId));
  try {
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, approval.id), '');
  } catch {
    // the worker's slow look finds the answer anyway
  }
}

const DECISIONS: readonly ApprovalDecision[] = ['accept', 'accept_for_session', 'decline', 'cancel'];

/** The gate of one ticket's session: questions are recorded against the run, its ticket and agent. */
export function approvalGate(
  host: ApprovalHost,
  ticket: { path: string; agent: string },
  settings: ApprovalSettings,
): ApprovalGate {
  return {
    ask: (question, signal) => ask(host, ticket, settings, question, signal),
  };
}

async function ask(
  host: ApprovalHost,
  ticket: { path: string; agent: string },
  settings: ApprovalSettings,
  question: ApprovalQuestion,
  signal: AbortSignal | undefined,
): Promise<ApprovalDecision> {
  if (signal?.aborted) return 'cancel';
  const { store } = host;
  const id = randomBytes(4).toString('hex');
  const expiresAt = new Date(host.now() + settings.timeoutMs).toISOString();
  const approval = store.transaction(() => {
    const created = store.createApproval({
      id,
      runId: host.runId,
      turnId: host.activeTurnId,
      ticket: ticket.path,
      agent: ticket.agent,
      kind: question.kind,
      title: question.title,
      command: question.command ?? null,
      cwd: question.cwd ?? null,
      paths: question.paths ?? [],
      diff: question.diff ? question.diff.slice(0, MAX_DIFF_CHARS) : null,
      reason: question.reason ?? null,
      workerPid: process.pid,
      expiresAt,
    });
    store.appendEvent(host.runId, {
      type: 'approval_requested',
      turnId: host.activeTurnId,
      data: {
        id,
        kind: question.kind,
        title: question.title,
        command: question.command ?? null,
        ticket: ticket.path,
        agent: ticket.agent,
        expires_at: expiresAt,
      },
    } satisfies FlowEvent);
    return created;
  });
  host.progress({ type: 'approval', id, title: question.title, expiresAt });
  try {
    return await waitForAnswer(host, approval, settings, signal);
  } finally {
    rmSync(join(approvalsDir(runPaths(host.root, host.runId)), id), { force: true });
  }
}

function waitForAnswer(
  host: ApprovalHost,
  approval: Approval,
  settings: ApprovalSettings,
  signal: AbortSignal | undefined,
): Promise<ApprovalDecision> {
  const { store } = host;
  const dir = approvalsDir(runPaths(host.root, host.runId));
  return new Promise((resolve) => {
    let watcher: FSWatcher | null = null;
    let done = false;
    const finish = (decision: ApprovalDecision) => {
      if (done) return;
      done = true;
      watcher?.close();
      clearInterval(slowLook);
      clearTimeout(expiry);
      signal?.removeEventListener('abort', onAbort);
      resolve(decision);
    };
    const look = (): boolean => {
      const row = store.getApproval(approval.id);
      if (!row || row.status === 'pending') return false;
      finish(row.decision && DECISIONS.includes(row.decision) ? row.decision : 'cancel');
      return true;
    };
    /** car settles it (expiry, stopped turn) unless a person did first. */
    const settleByCar = (decision: ApprovalDecision, why: 'timeout' | 'turn_ended') => {
      if (done) return;
      const settled = store.transaction(() => {
        const row = store.settleApproval(approval.id, {
          status: why === 'timeout' ? 'expired' : 'cancelled',
          decision,
          answeredBy: 'car',
          note: why === 'timeout' ? 'nobody answered in time' : 'the turn ended first',
        });
        if (row) {
          store.appendEvent(host.runId, {
            type: 'approval_expired',
            turnId: host.activeTurnId,
            data: { id: approval.id, decision, why },
          } satisfies FlowEvent);
        }
        return row;
      });
      if (settled) finish(decision);
      else look();
    };
    const onAbort = () => settleByCar('cancel', 'turn_ended');
    try {
      mkdirSync(dir, { recursive: true });
      watcher = watch(dir, (_event, name) => {
        if (name === null || String(name) === approval.id) look();
      });
      watcher.on('error', () => {
        watcher?.close();
        watcher = null;
      });
    } catch {
      watcher = null; // the slow look answers instead
    }
    const slowLook = setInterval(look, WAKE_CHECK_MS);
    const expiry = setTimeout(
      () => settleByCar(settings.onTimeout, 'timeout'),
      Math.max(0, Date.parse(approval.expiresAt) - host.now()),
    );
    signal?.addEventListener('abort', onAbort, { once: true });
    look(); // answered between the insert and the watch
  });
}

/**
 * Approvals a dead worker left pending on `runId` are expired (the turn that asked is interrupted by
 * recovery; its agent is gone, so an answer could reach nobody). Returns the events to record.
 */
export function expireOrphanedApprovals(store: RunStore, runId: string): FlowEvent[] {
  const events: FlowEvent[] = [];
  for (const a of store.listApprovals({ runId, status: ['pending'] })) {
    const row = store.settleApproval(a.id, {
      status: 'expired',
      decision: 'cancel',
      answeredBy: 'car',
      note: 'the worker that asked died',
    });
    if (row) {
      events.push({ type: 'approval_expired', data: { id: a.id, decision: 'cancel', why: 'worker_gone' } });
    }
  }
  return events;
}
