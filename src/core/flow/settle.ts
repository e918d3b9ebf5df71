// Settling the ticket being worked once it says `done: true`: the verify gate decides (a failure reopens
// it), then its work must be committed (commit barrier), then the transition is recorded with its
// evidence, exactly once, even across a crash.
import { readFileSync } from 'node:fs';
import { RUNTIME_PATHS } from '../paths.ts';
import type { JsonObject } from '../store/types.ts';
import { parseTicket, setTicketFileField, type Ticket, TicketEditError } from '../tickets/index.ts';
import {
  EVIDENCE_VERSION,
  type EvidenceRecord,
  evidenceMetadata,
  evidenceRelPath,
  writeEvidence,
} from '../verify/evidence.ts';
import { describeExit } from '../verify/run-command.ts';
import { commitTree } from './commit.ts';
import type { FlowOutcome } from './flow-types.ts';
import type { RunContext } from './run-context.ts';
import type { TicketProgress } from './state.ts';
import { type GateVerdict, runVerifyGate, type VerifiedRecord } from './verify-gate.ts';

/** Go on with `current` (the run's ticket as now on disk; undefined once settled or gone), or end. */
export type Settled = { current: Ticket | undefined } | { outcome: FlowOutcome };

/** Settles the run's ticket if it is done; a vanished ticket is recorded and forgotten. */
export async function settleCurrent(ctx: RunContext, tickets: Ticket[]): Promise<Settled> {
  const progress = ctx.state.ticket;
  if (!progress) return { current: undefined };
  const current = tickets.find((t) => t.relPath === progress.path);
  if (!current) {
    ctx.event({ type: 'ticket_vanished', data: { ticket: progress.path } });
    ctx.clearTicket();
    return { current: undefined };
  }
  if (!current.isDone) return { current };
  const settled = await settleDone(ctx, current, progress);
  if ('outcome' in settled) return settled;
  if (settled.reopened) {
    // the gate set `done: false` on disk: work on the ticket as it is now
    const at = tickets.indexOf(current);
    if (at !== -1) tickets[at] = settled.reopened;
  }
  return { current: ctx.state.ticket ? (settled.reopened ?? current) : undefined };
}

async function settleDone(
  ctx: RunContext,
  ticket: Ticket,
  progress: TicketProgress,
): Promise<{ outcome: FlowOutcome } | { reopened: Ticket | null }> {
  const { settings, repo } = ctx;
  let verified: VerifiedRecord | null = null;
  // A person closes their own ticket: no gate (nobody to send back to work on it).
  if (progress.agent !== 'user') {
    const verdict = await runVerifyGate(ctx, ticket, progress);
    if (verdict.kind === 'aborted') return { outcome: verdict.outcome };
    if (verdict.kind === 'failed') return reopen(ctx, ticket, progress, verdict);
    verified = verdict.record;
  }
  let dirty = settings.requireCommit && (await ctx.snapshot()).dirty;
  if (dirty && settings.autoCommit) {
    await commitTree(ctx, ticket, 'ticket_done');
    dirty = (await ctx.snapshot()).dirty;
  }
  if (dirty) {
    // No agent commits for a person: a user ticket done on a dirty tree goes straight to the human.
    const byHand = progress.agent === 'user';
    if (byHand || progress.commitAttempts >= settings.maxCommitRetries) {
      const status = await repo.statusLines(RUNTIME_PATHS);
      return {
        outcome: await ctx.pause(
          'commit_barrier',
          byHand
            ? `${ticket.relPath} is done but the tree has uncommitted changes. Commit them and resume.`
            : `${ticket.relPath} is done but its work is not committed after ${progress.commitAttempts} attempt(s). Commit by hand and resume.`,
          // agent `user`: the person's ticket (FlowControl.finishUserTicket may commit its own edit)
          { ticket: ticket.relPath, agent: progress.agent, status: status.slice(0, 20) },
        ),
      };
    }
    if (!progress.commitPending) ctx.event({ type: 'commit_barrier', data: { ticket: ticket.relPath } });
    progress.commitPending = true;
    return { reopened: null };
  }
  await recordDone(ctx, ticket, progress, verified);
  return { reopened: null };
}

/** Writes the evidence and, in one transaction, its artifact row, `ticket_verified` and `ticket_done`. */
async function recordDone(
  ctx: RunContext,
  ticket: Ticket,
  progress: TicketProgress,
  verified: VerifiedRecord | null,
): Promise<void> {
  const { store } = ctx;
  const snap = await ctx.snapshot();
  const record: EvidenceRecord = {
    version: EVIDENCE_VERSION,
    run_id: ctx.runId,
    ticket: ticket.relPath,
    ticket_id: ticket.ticketId,
    title: ticket.title ?? null,
    verified_at: new Date(ctx.now()).toISOString(),
    commit: snap.head,
    base_commit: progress.verify?.baseHead ?? null,
    dirty: snap.dirty,
    commands: verified?.commands ?? [],
    findings: verified?.findings ?? [],
    failed_attempts: progress.verify?.failures ?? 0,
    turns: progress.turns,
  };
  const evidenceId = safeFileName(ticket.ticketId);
  writeEvidence(ctx.paths, { ...record, ticket_id: evidenceId }, { durable: ctx.settings.durableWrites });
  const evidencePath = evidenceRelPath(ctx.paths, evidenceId);
  // Recorded together with clearing the ticket, in one transaction: exactly once, even across a crash.
  ctx.clearTicket();
  store.transaction(() => {
    store.addArtifact({
      runId: ctx.runId,
      kind: 'evidence',
      path: evidencePath,
      metadata: evidenceMetadata(record) as unknown as JsonObject,
    });
    ctx.persist({}, [
      {
        type: 'ticket_verified',
        data: {
          ticket: ticket.relPath,
          ticket_id: ticket.ticketId,
          commit: record.commit,
          commands: record.commands.map((c) => ({
            command: c.command,
            exit_code: c.exit_code,
            duration_ms: c.duration_ms,
            output_sha256: c.output_sha256,
          })),
          findings: record.findings.length,
          failed_attempts: record.failed_attempts,
          evidence: evidencePath,
        },
      },
      {
        type: 'ticket_done',
        data: { ticket: ticket.relPath, ticket_id: ticket.ticketId, turns: progress.turns },
      },
    ]);
  });
  ctx.progress({ type: 'ticket_done', ticket: ticket.relPath });
  await ctx.sessions.close(progress.id);
}

/**
 * A failed verification: `done: false` goes back into the file, the failure counts and feeds the next
 * prompt; after `max_failures` a person decides. The file first, then the record (a crash in between
 * costs one repeat check, not a count).
 */
async function reopen(
  ctx: RunContext,
  ticket: Ticket,
  progress: TicketProgress,
  verdict: Extract<GateVerdict, { kind: 'failed' }>,
): Promise<{ outcome: FlowOutcome } | { reopened: Ticket }> {
  const vs = ctx.settings.verify;
  const v = progress.verify!;
  const { failed, blocking } = verdict;
  const findings = blocking.map(({ kind, file, detail }) => ({ kind, file, detail }));
  v.failures += 1;
  v.passedKey = null;
  v.passed = null;
  v.feedback = {
    attempt: v.failures,
    maxFailures: vs.maxFailures,
    command: failed
      ? {
          command: failed.planned.command,
          exit: describeExit(failed.result),
          output: failed.result.output,
          outputBytes: failed.result.outputBytes,
        }
      : null,
    findings,
  };
  progress.commitPending = false;
  try {
    setTicketFileField(ticket.path, 'done', false, ticket.relPath);
  } catch (err) {
    if (!(err instanceof TicketEditError)) throw err;
    return {
      outcome: await ctx.pause('ticket_invalid', `${err.message}. Fix it and resume.`, {
        ticket: ticket.relPath,
      }),
    };
  }
  ctx.forgetTree();
  const summary = failed
    ? `${failed.planned.command}: ${describeExit(failed.result)}`
    : `${blocking.length} blocking tamper finding(s)`;
  ctx.persist({}, [
    {
      type: 'verify_failed',
      data: {
        ticket: ticket.relPath,
        attempt: v.failures,
        max_failures: vs.maxFailures,
        command: failed?.planned.command ?? null,
        exit_code: failed?.result.exitCode ?? null,
        timed_out: failed?.result.timedOut ?? false,
        output_tail: failed ? failed.result.output.slice(-2000) : null,
        findings,
      },
    },
  ]);
  ctx.progress({ type: 'verify', ticket: ticket.relPath, passed: false, attempt: v.failures, summary });
  if (v.failures >= vs.maxFailures) {
    v.humanPause = true;
    return {
      outcome: await ctx.pause(
        'verify_failed',
        `${ticket.relPath} failed verification ${v.failures} time(s) (last: ${summary}). It is reopened; fix it or adjust its verify commands, then resume.`,
        { ticket: ticket.relPath, failures: v.failures, command: failed?.planned.command ?? null, findings },
      ),
    };
  }
  const reopened = parseTicket(readFileSync(ticket.path, 'utf8'), {
    path: ticket.path,
    relPath: ticket.relPath,
    agents: ctx.deps.knownAgents,
  });
  return { reopened };
}

/** Ticket ids are file-name safe already; anything else is made so. */
function safeFileName(id: string): string {
  return id.replace(/[^A-Za-z0-9._-]/g, '_');
}
