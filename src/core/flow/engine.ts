// The ticket flow: one agent turn per step, decided from what is on disk. Each step re-reads the
// tickets, picks the ticket to work, builds the prompt, runs one turn, archives what the agent left
// (dispatch, summary), re-reads the ticket and applies the stop rules. Every decision is persisted
// (run state + an event) before the next side effect, so a killed process resumes without losing or
// repeating a ticket transition.
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { AgentEvent, AgentResolver, AgentSession, TurnError, TurnResult, TurnUsage } from '../agent.ts';
import { writeFileAtomic } from '../fs/atomic.ts';
import { RUNTIME_PATHS, STATE_DIR } from '../paths.ts';
import { abortableSleep } from '../sleep.ts';
import type { RunStore } from '../store/run-store.ts';
import type { JsonObject, NewEvent, RunPatch, RunStatus } from '../store/types.ts';
import {
  type LintIssue,
  loadTicketQueue,
  parseTicket,
  setFrontmatterField,
  type Ticket,
  type TicketCache,
} from '../tickets/index.ts';
import { planCommands, ticketVerifyCommands } from '../verify/commands.ts';
import {
  EVIDENCE_VERSION,
  type EvidenceCommand,
  type EvidenceFinding,
  type EvidenceRecord,
  evidenceMetadata,
  evidenceRelPath,
  writeEvidence,
} from '../verify/evidence.ts';
import { commandPassed, describeExit, runVerifyCommand } from '../verify/run-command.ts';
import { findTampering, type TamperFinding, ticketVerifyFinding } from '../verify/tamper.ts';
import type { Awaiting } from './awaiting.ts';
import { buildContextIncludes } from './context-includes.ts';
import { buildContextspaceBlock } from './contextspace.ts';
import {
  archiveDispatch,
  DispatchFrontmatterError,
  nextDispatchSeq,
  writeDispatch,
  writeTurnSummary,
} from './dispatch.ts';
import type { FileChange, RepoSnapshot, RepoState } from './ports.ts';
import { buildPrompt, tailExcerpt } from './prompt.ts';
import { archiveReply, listRepliesAfter, renderRepliesBlock } from './replies.ts';
import { ensureRunDirs, type RunPaths, runPaths } from './run-paths.ts';
import type { FlowSettings } from './settings.ts';
import {
  budgetTokens,
  type EngineState,
  loadState,
  newTicketProgress,
  newVerifyProgress,
  type QuotaWait,
  type TicketProgress,
  type TokenBudget,
  tightestTokenBudget,
  type VerifyProgress,
} from './state.ts';

export type OutcomeStatus = Extract<RunStatus, 'paused' | 'completed' | 'failed' | 'stopped'>;

/** How a run left the loop; `reasonCode` is machine-readable and stable. */
export interface FlowOutcome {
  status: OutcomeStatus;
  reasonCode: string;
  reason: string;
  details?: JsonObject;
}

/** Live progress for a terminal (the run store has the full record). */
export type FlowProgress =
  | { type: 'ticket'; ticket: string; title: string | null; agent: string; turn: number; totalTurns: number }
  | { type: 'agent'; text: string }
  | { type: 'tool'; name: string }
  | { type: 'turn_end'; status: TurnResult['status']; ticket: string }
  | { type: 'ticket_done'; ticket: string }
  | { type: 'verify'; ticket: string; passed: boolean; attempt: number; summary: string }
  | { type: 'dispatch'; mode: string; title: string | null }
  | { type: 'note'; text: string };

/** Why the caller aborted the signal: stop ends the run, pause makes it resumable. */
export type AbortReason = 'stop' | 'pause';

export interface FlowDeps {
  root: string;
  store: RunStore;
  repo: RepoState;
  resolveAgent: AgentResolver;
  settings: FlowSettings;
  /** Agent ids a ticket may name (configured agents + `user`). */
  knownAgents: ReadonlySet<string>;
  /** Abort with reason 'stop' | 'pause' to end the turn in flight. */
  signal?: AbortSignal;
  onProgress?: (progress: FlowProgress) => void;
  /** Names the engine's open waits, for a report when one can never end (control/run-guard.ts). */
  awaiting?: Awaiting;
  /** Waits between network retries; tests pass an instant one. */
  sleep?: (ms: number, signal?: AbortSignal) => Promise<void>;
  now?: () => number;
}

/** Requests other processes leave for the running engine in `runs.metadata.requested`. */
export type ControlRequest = 'pause' | 'stop';

type Step = { kind: 'continue' } | { kind: 'end'; outcome: FlowOutcome };
/** The verify gate reopened the ticket; `ticket` is it as now on disk. */
type Reopened = { kind: 'reopened'; ticket: Ticket };
/** What a passing verification ran and found (the evidence's commands and findings). */
interface VerifiedRecord {
  commands: EvidenceCommand[];
  findings: EvidenceFinding[];
}

const CONTINUE: Step = { kind: 'continue' };
const EVENT_BATCH = 256;
const LAST_OUTPUT_KEEP_CHARS = 64 * 1024;
const EVENT_FLUSH_MS = 100;
const DUPLICATE_CODES = new Set(['duplicate-index', 'duplicate-ticket-id']);
/** Providers' reset times are to the second: start a little after, not a little before. */
const QUOTA_MARGIN_MS = 30_000;
/** How often a quota wait looks for pause and stop requests. */
const QUOTA_POLL_MS = 2_000;
/** A used-up plan whose reset nobody said is taken for used up this long. */
const UNKNOWN_RESET_MS = 3600_000;

function agentEventToStore(event: AgentEvent, turnId: number): NewEvent {
  const { type, ...data } = event;
  const map: Record<AgentEvent['type'], string> = {
    message_delta: 'agent_delta',
    message: 'agent_message',
    tool_call: 'tool_call',
    tool_result: 'tool_result',
    file_change: 'file_change',
    command_output: 'command_output',
    usage: 'usage',
    status: 'agent_status',
    error: 'agent_error',
  };
  return { type: map[type], turnId, data: data as JsonObject };
}

function issueLines(issues: readonly LintIssue[]): string[] {
  return issues
    .filter((i) => i.severity === 'error')
    .map((i) => `${i.file}${i.line ? `:${i.line}` : ''}: ${i.field ? `${i.field}: ` : ''}${i.message}`);
}

export class FlowEngine {
  readonly #deps: FlowDeps;
  readonly #now: () => number;
  readonly #sleep: (ms: number, signal?: AbortSignal) => Promise<void>;
  /** Parsed tickets by file, reused while the file's stat stamp is unchanged. */
  readonly #ticketCache: TicketCache = new Map();
  /** The tree as the last look left it; reused until a turn or a commit may have changed it. */
  #known: RepoSnapshot | null = null;
  /** Live agent sessions by ticket id, reused while the ticket's agent and profile stay the same. */
  readonly #sessions = new Map<string, { agent: string; profile: string | null; session: AgentSession }>();

  constructor(deps: FlowDeps) {
    this.#deps = deps;
    this.#now = deps.now ?? Date.now;
    this.#sleep = deps.sleep ?? abortableSleep;
  }

  /** Works the run until it pauses, completes, fails or is stopped. */
  async run(runId: string): Promise<FlowOutcome> {
    const { store } = this.#deps;
    const run = store.getRun(runId);
    if (!run) throw new Error(`no such run: ${runId}`);
    const state = loadState(run.state, this.#deps.settings.maxTotalTurns);
    const paths = runPaths(this.#deps.root, runId);
    const ctx: RunContext = { runId, state, paths, idleMs: 0 };
    this.#known = null; // the repo may have changed while the run was paused
    try {
      const recovered = await this.#recover(ctx);
      if (recovered) return this.#finish(ctx, recovered);
      await this.#afterVerifyPause(ctx);
      this.#persist(
        ctx,
        { status: 'running', startedAt: run.startedAt ?? new Date(this.#now()).toISOString() },
        [{ type: run.startedAt ? 'flow_resumed' : 'flow_started', data: { total_turns: state.totalTurns } }],
      );
      for (;;) {
        const requested = store.getRun(runId)?.metadata.requested as ControlRequest | undefined;
        if (requested === 'stop') return this.#finish(ctx, stopped());
        if (requested === 'pause') {
          return this.#finish(
            ctx,
            await this.#pause(ctx, 'pause_requested', 'Paused on request; resume to continue.'),
          );
        }
        const aborted = this.#abortOutcome(ctx);
        if (aborted) return this.#finish(ctx, aborted);
        const started = this.#now();
        const step = await this.#wait('flow step', this.#step(ctx));
        // the step's post-turn work is done; only a crash inside it leaves a non-idle phase behind
        state.phase = 'idle';
        state.activeMs += this.#now() - started - ctx.idleMs;
        ctx.idleMs = 0;
        if (step.kind === 'end') return this.#finish(ctx, step.outcome);
        this.#persist(ctx);
      }
    } finally {
      await this.#wait('closing agent sessions', this.#closeSessions());
    }
  }

  // --- recovery --------------------------------------------------------------------------------

  /**
   * A process that died mid-run leaves a `running` turn and a non-idle phase. Record the turn as
   * interrupted, undo what a killed commit leaves behind, and archive a dispatch the agent managed to
   * write, so nothing it said is lost. Returns an outcome when the dispatch asked to pause.
   */
  async #recover(ctx: RunContext): Promise<FlowOutcome | null> {
    const { store, repo } = this.#deps;
    const interrupted = store.interruptRunningTurns(ctx.runId);
    const phase = ctx.state.phase;
    if (interrupted === 0 && phase === 'idle') return null;
    const events: NewEvent[] = [{ type: 'recovered', data: { interrupted_turns: interrupted, phase } }];
    if (phase === 'committing' && (await repo.removeStaleIndexLock())) {
      events.push({ type: 'git_index_lock_removed', data: { reason: 'car was killed while committing' } });
    }
    ctx.state.phase = 'idle';
    this.#persist(ctx, {}, events);
    if (phase !== 'turn' && phase !== 'post_turn') return null;
    const dispatch = await this.#archiveDispatch(ctx, { recovered: true });
    if ('outcome' in dispatch) return dispatch.outcome;
    if (dispatch.archived?.mode === 'pause') {
      return this.#pause(ctx, 'dispatch', dispatch.archived.title ?? 'The agent asked for input.', {
        dispatch_seq: dispatch.archived.seq,
      });
    }
    return null;
  }

  // --- one step --------------------------------------------------------------------------------

  async #step(ctx: RunContext): Promise<Step> {
    const { settings, store } = this.#deps;
    const { state, paths } = ctx;

    ensureRunDirs(paths);
    const reply = await archiveReply(paths);
    if (reply)
      store.appendEvent(ctx.runId, { type: 'reply_archived', data: { seq: reply.seq, title: reply.title } });

    const queue = loadTicketQueue(join(this.#deps.root, '.codex-autorunner', 'tickets'), {
      cache: this.#ticketCache,
      repoRoot: this.#deps.root,
      agents: this.#deps.knownAgents,
    });
    const duplicates = queue.issues.filter((i) => DUPLICATE_CODES.has(i.code));
    if (duplicates.length > 0) {
      return end(
        await this.#pause(
          ctx,
          'duplicate_tickets',
          'Duplicate ticket numbers or ids; rename one and resume.',
          {
            issues: issueLines(duplicates),
          },
        ),
      );
    }
    if (queue.tickets.length === 0) {
      return end(
        await this.#pause(ctx, 'no_tickets', 'No tickets yet. Add one (car ticket new) and resume.'),
      );
    }

    // The ticket being worked: finished (record it once), pinned (commit barrier, repair) or gone.
    let current = state.ticket ? queue.tickets.find((t) => t.relPath === state.ticket?.path) : undefined;
    if (state.ticket && !current) {
      store.appendEvent(ctx.runId, { type: 'ticket_vanished', data: { ticket: state.ticket.path } });
      this.#clearTicket(ctx);
    }
    if (current && state.ticket && current.isDone) {
      const settled = await this.#settleDone(ctx, current);
      if (settled.kind === 'end') return settled;
      if (settled.kind === 'reopened') {
        // the gate set `done: false` on disk: work on the ticket as it is now
        const at = queue.tickets.indexOf(current);
        current = settled.ticket;
        if (at !== -1) queue.tickets[at] = settled.ticket;
      }
      if (!state.ticket) current = undefined;
    }

    const pinned =
      state.ticket && (state.ticket.commitPending || state.ticket.lintErrors) ? current : undefined;
    const ticket = pinned ?? queue.tickets.find((t) => !t.isDone);
    if (!ticket) return end({ status: 'completed', reasonCode: 'all_done', reason: 'All tickets done.' });
    if (state.ticket?.path !== ticket.relPath) await this.#selectTicket(ctx, ticket);
    const progress = state.ticket!;

    const verifyShape = ticketVerifyCommands(ticket.frontmatter?.verify).error;
    const errors = ticket.issues.filter((i) => i.severity === 'error');
    if (verifyShape && !progress.lintErrors) {
      return end(
        await this.#pause(
          ctx,
          'ticket_invalid',
          `Ticket frontmatter invalid: ${ticket.relPath}: ${verifyShape}. Fix it and resume.`,
          { ticket: ticket.relPath, issues: [`${ticket.relPath}: verify: ${verifyShape}`] },
        ),
      );
    }
    if (errors.length > 0 && !progress.lintErrors) {
      return end(
        await this.#pause(
          ctx,
          'ticket_invalid',
          `Ticket frontmatter invalid: ${ticket.relPath}. Fix it and resume.`,
          {
            ticket: ticket.relPath,
            issues: issueLines(errors),
          },
        ),
      );
    }
    if (progress.agent === 'user') {
      return end(
        await this.#pause(
          ctx,
          'user_ticket',
          `Waiting for a person: ${ticket.relPath} is a user ticket. Do it, mark it done (car ticket done ${ticket.index}) and resume.`,
          { ticket: ticket.relPath },
        ),
      );
    }
    // The budgets only stop another agent turn: a run whose last turn finished the queue completes.
    if (state.totalTurns >= state.turnLimit) {
      return end(
        await this.#pause(
          ctx,
          'max_turns',
          `Max turns reached (${state.totalTurns}). Review the tickets and resume.`,
        ),
      );
    }
    const budget = tightestTokenBudget(state, settings);
    if (budget && budget.used >= budget.limit) return end(await this.#budgetPause(ctx, ticket, budget));
    if (settings.maxWallclockSeconds !== null && state.activeMs >= settings.maxWallclockSeconds * 1000) {
      return end(
        await this.#pause(
          ctx,
          'max_wallclock',
          `Wall-clock budget of ${settings.maxWallclockSeconds}s used. Resume to continue.`,
        ),
      );
    }
    return this.#turn(ctx, ticket, progress);
  }

  /**
   * The current ticket says done. The verify gate decides first (acceptance commands + tamper checks;
   * a failure reopens the ticket); then the work must be committed (commit barrier); then the
   * transition is recorded with its evidence.
   */
  async #settleDone(ctx: RunContext, ticket: Ticket): Promise<Step | { kind: 'reopened'; ticket: Ticket }> {
    const { settings, repo, store } = this.#deps;
    const progress = ctx.state.ticket!;
    let verified: VerifiedRecord | null = null;
    // A person closes their own ticket: no gate (nobody to send back to work on it).
    if (progress.agent !== 'user') {
      const gate = await this.#verifyGate(ctx, ticket, progress);
      if (gate.kind !== 'passed') return gate.step;
      verified = gate.record;
    }
    let dirty = settings.requireCommit && (await this.#snapshot()).dirty;
    if (dirty && settings.autoCommit) {
      await this.#commit(ctx, ticket, 'ticket_done');
      dirty = (await this.#snapshot()).dirty;
    }
    if (dirty) {
      // No agent commits for a person: a user ticket done on a dirty tree goes straight to the human.
      const byHand = progress.agent === 'user';
      if (byHand || progress.commitAttempts >= settings.maxCommitRetries) {
        const status = await repo.statusLines(RUNTIME_PATHS);
        return end(
          await this.#pause(
            ctx,
            'commit_barrier',
            byHand
              ? `${ticket.relPath} is done but the tree has uncommitted changes. Commit them and resume.`
              : `${ticket.relPath} is done but its work is not committed after ${progress.commitAttempts} attempt(s). Commit by hand and resume.`,
            { ticket: ticket.relPath, status: status.slice(0, 20) },
          ),
        );
      }
      if (!progress.commitPending) {
        store.appendEvent(ctx.runId, { type: 'commit_barrier', data: { ticket: ticket.relPath } });
      }
      progress.commitPending = true;
      return CONTINUE;
    }
    const snap = await this.#snapshot();
    const record: EvidenceRecord = {
      version: EVIDENCE_VERSION,
      run_id: ctx.runId,
      ticket: ticket.relPath,
      ticket_id: ticket.ticketId,
      title: ticket.title ?? null,
      verified_at: new Date(this.#now()).toISOString(),
      commit: snap.head,
      base_commit: progress.verify?.baseHead ?? null,
      dirty: snap.dirty,
      commands: verified?.commands ?? [],
      findings: verified?.findings ?? [],
      failed_attempts: progress.verify?.failures ?? 0,
      turns: progress.turns,
    };
    const evidenceId = safeFileName(ticket.ticketId);
    writeEvidence(ctx.paths, { ...record, ticket_id: evidenceId }, { durable: settings.durableWrites });
    const evidencePath = evidenceRelPath(ctx.paths, evidenceId);
    // Recorded together with clearing the ticket, in one transaction: exactly once, even across a crash.
    this.#clearTicket(ctx);
    store.transaction(() => {
      store.addArtifact({
        runId: ctx.runId,
        kind: 'evidence',
        path: evidencePath,
        metadata: evidenceMetadata(record) as unknown as JsonObject,
      });
      this.#persist(ctx, {}, [
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
    this.#deps.onProgress?.({ type: 'ticket_done', ticket: ticket.relPath });
    await this.#closeSession(progress.id);
    return CONTINUE;
  }

  // --- the verify gate -------------------------------------------------------------------------

  /**
   * Runs the ticket's acceptance commands (as fixed when the ticket was selected) and the tamper
   * checks on its diff. A pass is remembered against the content it checked, so the commit that
   * follows does not run everything again. A failure sets `done: false`, counts, feeds the next
   * prompt, and after `max_failures` pauses for a human.
   */
  async #verifyGate(
    ctx: RunContext,
    ticket: Ticket,
    progress: TicketProgress,
  ): Promise<{ kind: 'passed'; record: VerifiedRecord } | { kind: 'blocked'; step: Step | Reopened }> {
    const { settings, repo, store, root } = this.#deps;
    const vs = settings.verify;
    progress.verify ??= newVerifyProgress(
      await repo.head(),
      ticket.frontmatter?.verify ?? null,
      planCommands(vs.commands, ticket.frontmatter?.verify),
    );
    const v = progress.verify;
    // Same HEAD and a clean tree: nothing changed since the ticket was picked, so the diff is empty.
    const now = await this.#snapshot();
    const files =
      now.head === v.baseHead && !now.dirty ? [] : await repo.diffFiles(v.baseHead, RUNTIME_PATHS);
    const key = await contentKey(root, files);
    if (v.passedKey === key && v.passed)
      return { kind: 'passed', record: v.passed as unknown as VerifiedRecord };

    const raw: TamperFinding[] = [];
    const verifyEdit = ticketVerifyFinding(ticket.relPath, v.ticketVerify, ticket.frontmatter?.verify);
    if (verifyEdit) raw.push(verifyEdit);
    if (vs.tamperChecks) {
      const base = v.baseHead;
      raw.push(
        ...(await findTampering({
          files,
          ticketPath: ticket.relPath,
          ticketsDir: `${STATE_DIR}/tickets`,
          verifyCommands: v.commands.map((c) => c.command),
          oldText: async (path) => (base ? repo.fileAt(base, path) : null),
          newText: (path) => readFile(join(root, path), 'utf8').catch(() => null),
        })),
      );
    }
    const findings: EvidenceFinding[] = raw
      .map((f) => ({ ...f, action: vs.policy[f.kind] }))
      .filter((f) => f.action !== 'ignore');
    const blocking = findings.filter((f) => f.action === 'block');
    if (findings.length > 0) {
      store.appendEvents(
        ctx.runId,
        findings.map((f) => ({
          type: 'tamper_finding',
          data: { ticket: ticket.relPath, kind: f.kind, file: f.file, detail: f.detail, action: f.action },
        })),
      );
    }
    const fresh = findings.filter(
      (f) => f.action === 'notify' && !v.notified.includes(`${f.kind} ${f.file}`),
    );
    if (fresh.length > 0) await this.#notifyFindings(ctx, ticket, fresh);

    // Findings that block make running the commands moot; they are run once those are fixed.
    const commands: EvidenceCommand[] = [];
    let failed: {
      planned: VerifyProgress['commands'][number];
      result: Awaited<ReturnType<typeof runVerifyCommand>>;
    } | null = null;
    if (blocking.length === 0) {
      for (const planned of v.commands) {
        const result = await this.#wait(
          `verify command: ${planned.command}`,
          runVerifyCommand(planned.command, {
            cwd: root,
            timeoutMs: vs.timeoutMs,
            maxOutputBytes: vs.maxOutputBytes,
            env: { CAR_VERIFY: '1', CAR_RUN_ID: ctx.runId, CAR_TICKET: ticket.relPath },
            unsetEnv: vs.unsetEnv,
            ...(this.#deps.signal ? { signal: this.#deps.signal } : {}),
          }),
        );
        const aborted = this.#abortOutcome(ctx);
        if (aborted) return { kind: 'blocked', step: end(aborted) };
        const entry: EvidenceCommand = {
          command: planned.command,
          source: planned.source,
          exit_code: result.exitCode,
          signal: result.signal,
          timed_out: result.timedOut,
          duration_ms: result.durationMs,
          output_bytes: result.outputBytes,
          output_sha256: result.outputSha256,
          output_tail: result.output,
        };
        commands.push(entry);
        const { output_tail: _tail, ...summary } = entry;
        store.appendEvent(ctx.runId, {
          type: 'verify_command',
          data: { ticket: ticket.relPath, ...summary, passed: commandPassed(result) },
        });
        if (!commandPassed(result)) {
          failed = { planned, result };
          break;
        }
      }
    }

    const record: VerifiedRecord = { commands, findings };
    if (blocking.length === 0 && failed === null) {
      v.passedKey = key;
      v.passed = record as unknown as JsonObject;
      v.feedback = null;
      this.#persist(ctx, {}, [
        {
          type: 'verify_passed',
          data: { ticket: ticket.relPath, commands: commands.length, findings: findings.length },
        },
      ]);
      this.#deps.onProgress?.({
        type: 'verify',
        ticket: ticket.relPath,
        passed: true,
        attempt: v.failures + 1,
        summary: `${commands.length} command(s) passed`,
      });
      return { kind: 'passed', record };
    }

    // Reopen: the file first, then the record (a crash in between costs one repeat check, not a count).
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
      findings: blocking.map(({ kind, file, detail }) => ({ kind, file, detail })),
    };
    progress.commitPending = false;
    writeFileAtomic(ticket.path, setFrontmatterField(readFileSync(ticket.path, 'utf8'), 'done', false));
    this.#known = null;
    const summary = failed
      ? `${failed.planned.command}: ${describeExit(failed.result)}`
      : `${blocking.length} blocking tamper finding(s)`;
    this.#persist(ctx, {}, [
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
          findings: blocking.map(({ kind, file, detail }) => ({ kind, file, detail })),
        },
      },
    ]);
    this.#deps.onProgress?.({
      type: 'verify',
      ticket: ticket.relPath,
      passed: false,
      attempt: v.failures,
      summary,
    });
    if (v.failures >= vs.maxFailures) {
      v.humanPause = true;
      return {
        kind: 'blocked',
        step: end(
          await this.#pause(
            ctx,
            'verify_failed',
            `${ticket.relPath} failed verification ${v.failures} time(s) (last: ${summary}). It is reopened; fix it or adjust its verify commands, then resume.`,
            {
              ticket: ticket.relPath,
              failures: v.failures,
              command: failed?.planned.command ?? null,
              findings: blocking.map(({ kind, file, detail }) => ({ kind, file, detail })),
            },
          ),
        ),
      };
    }
    const reopened = parseTicket(readFileSync(ticket.path, 'utf8'), {
      path: ticket.path,
      relPath: ticket.relPath,
      agents: this.#deps.knownAgents,
    });
    return { kind: 'blocked', step: { kind: 'reopened', ticket: reopened } };
  }

  /** Tells the human about findings the policy does not block on (a notify dispatch). */
  async #notifyFindings(ctx: RunContext, ticket: Ticket, findings: EvidenceFinding[]): Promise<void> {
    const v = ctx.state.ticket?.verify;
    await writeDispatch(ctx.paths, {
      mode: 'notify',
      title: `Review ${ticket.name}: ${findings.length} finding(s) in the agent's diff`,
      body:
        `car's tamper checks noticed these changes while verifying ${ticket.relPath}. They do not block the ticket (policy: notify); have a look.\n\n` +
        findings.map((f) => `- ${f.kind}: ${f.file}: ${f.detail}`).join('\n'),
    });
    await this.#archiveDispatch(ctx, { runner: true, reason: 'tamper_finding' });
    if (v) v.notified.push(...findings.map((f) => `${f.kind} ${f.file}`));
  }

  /**
   * A person resumed a run that paused on `verify_failed`: whatever they left (a fixed ticket, edited
   * verify commands, a reviewed diff) is the new baseline, and the ticket gets a fresh set of attempts.
   */
  async #afterVerifyPause(ctx: RunContext): Promise<void> {
    const progress = ctx.state.ticket;
    const v = progress?.verify;
    if (!progress || !v?.humanPause) return;
    let verifyValue: unknown = v.ticketVerify;
    try {
      const text = readFileSync(join(this.#deps.root, progress.path), 'utf8');
      verifyValue =
        parseTicket(text, {
          path: join(this.#deps.root, progress.path),
          relPath: progress.path,
          agents: this.#deps.knownAgents,
        }).frontmatter?.verify ?? null;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
    }
    progress.verify = {
      ...newVerifyProgress(
        await this.#deps.repo.head(),
        verifyValue,
        planCommands(this.#deps.settings.verify.commands, verifyValue),
      ),
      feedback: v.feedback,
    };
    this.#persist(ctx, {}, [
      { type: 'verify_rebaselined', data: { ticket: progress.path, previous_failures: v.failures } },
    ]);
  }

  async #selectTicket(ctx: RunContext, ticket: Ticket): Promise<void> {
    const previous = ctx.state.ticket;
    if (previous) void this.#closeSession(previous.id);
    const agent = (ticket.agent ?? '').toLowerCase();
    // The verify baseline is what was there before any turn on the ticket: HEAD and its verify commands.
    const verifyValue = ticket.frontmatter?.verify ?? null;
    const verify = newVerifyProgress(
      (await this.#snapshot()).head,
      verifyValue,
      planCommands(this.#deps.settings.verify.commands, verifyValue),
    );
    ctx.state.ticket = newTicketProgress(
      ticket.relPath,
      ticket.ticketId,
      agent,
      ticket.profile ?? null,
      verify,
    );
    this.#persist(ctx, {}, [
      { type: 'ticket_selected', data: { ticket: ticket.relPath, ticket_id: ticket.ticketId, agent } },
    ]);
  }

  #clearTicket(ctx: RunContext): void {
    const id = ctx.state.ticket?.id;
    if (id) delete ctx.state.threads[id];
    ctx.state.ticket = null;
  }

  // --- the turn --------------------------------------------------------------------------------

  async #turn(ctx: RunContext, ticket: Ticket, progress: TicketProgress): Promise<Step> {
    const { settings, store } = this.#deps;
    const { state, paths } = ctx;

    await this.#pickAgent(ctx, ticket, progress);
    if (state.quotaWait) {
      // Only the agent whose plan is used up waits; a ticket for another agent goes ahead.
      const waited =
        state.quotaWait.agent === progress.agent ? await this.#waitForQuota(ctx, state.quotaWait) : null;
      if (waited) return end(waited);
      state.quotaWait = null;
    }

    const includes = await buildContextIncludes(
      this.#deps.root,
      ticket.context.map((c) => ({
        path: c.path,
        required: c.required,
        ...(c.maxBytes !== null ? { max_bytes: c.maxBytes } : {}),
      })),
    );
    if (includes.missingRequired.length > 0) {
      return end({
        status: 'failed',
        reasonCode: 'missing_required_context',
        reason: `Required context missing for ${ticket.relPath}: ${includes.missingRequired.join(', ')}`,
        details: { ticket: ticket.relPath, missing: includes.missingRequired },
      });
    }

    let opened: { session: AgentSession; reused: boolean };
    try {
      opened = await this.#openSession(ctx, progress);
    } catch (err) {
      return end(
        await this.#pause(
          ctx,
          'agent_unavailable',
          `Cannot start agent "${progress.agent}" for ${ticket.relPath}: ${(err as Error).message}`,
          {
            ticket: ticket.relPath,
          },
        ),
      );
    }

    const replies = await listRepliesAfter(paths, state.replySeq);
    const prompt = buildPrompt({
      variant: opened.reused ? 'existing_session' : 'full',
      ticketPath: ticket.relPath,
      ticketText: ticket.raw,
      runtimePaths: { dispatchDir: paths.rel.dispatchDir, dispatchFile: paths.rel.dispatchFile },
      requestedContext: includes.block,
      contextspace: opened.reused ? '' : await buildContextspaceBlock(this.#deps.root),
      humanReplies: renderRepliesBlock(replies),
      previousOutput: state.lastOutput,
      previousOutputMaxChars: settings.previousOutputMaxChars,
      commitRequired: progress.commitPending
        ? { attemptsRemaining: settings.maxCommitRetries - progress.commitAttempts }
        : null,
      lintErrors: progress.lintErrors,
      loopGuard: progress.noChange > 0 ? { noChangeTurns: progress.noChange } : null,
      verifyFailed: progress.verify?.feedback ?? null,
      checkpointWarning: state.checkpointError,
    });

    const { head: headBefore, fingerprint: fingerprintBefore } = await this.#snapshot();
    this.#known = null; // the turn is about to change the tree
    const kind = progress.commitPending ? 'commit' : progress.lintErrors ? 'lint_repair' : 'agent';
    state.totalTurns += 1;
    progress.turns += 1;
    if (progress.commitPending) progress.commitAttempts += 1;
    state.phase = 'turn';
    const turn = store.transaction(() => {
      const t = store.beginTurn({
        runId: ctx.runId,
        agent: progress.agent,
        ticketPath: ticket.relPath,
        ticketId: ticket.ticketId,
        kind,
      });
      this.#persist(ctx, {}, [
        {
          type: 'turn_started',
          turnId: t.id,
          data: {
            turn: t.seq,
            ticket: ticket.relPath,
            agent: progress.agent,
            kind,
            prompt_bytes: prompt.bytes,
            sections: prompt.sections,
          },
        },
      ]);
      return t;
    });
    this.#deps.onProgress?.({
      type: 'ticket',
      ticket: ticket.relPath,
      title: ticket.title ?? null,
      agent: progress.agent,
      turn: progress.turns,
      totalTurns: state.totalTurns,
    });

    const budget = tightestTokenBudget(state, settings);
    const { result, usage, overBudget } = await this.#runAgentTurn(
      ctx,
      opened.session,
      prompt.text,
      ticket,
      turn.id,
      budget,
    );
    state.phase = 'post_turn';
    const tokens = budgetTokens(usage);
    progress.tokens = (progress.tokens ?? 0) + tokens;
    state.tokens += tokens;
    store.transaction(() => {
      store.finishTurn(turn.id, {
        status: result.status,
        ...(result.usage ? { usage: result.usage as JsonObject } : {}),
        ...(result.error ? { error: `${result.error.kind}: ${result.error.message}` } : {}),
        outputExcerpt: result.finalText,
      });
      this.#persist(ctx, {}, [
        {
          type: 'turn_finished',
          turnId: turn.id,
          data: { turn: turn.seq, status: result.status, error: result.error ?? null },
        },
      ]);
    });
    this.#deps.onProgress?.({ type: 'turn_end', status: result.status, ticket: ticket.relPath });
    if (opened.session.threadId) {
      state.threads[progress.id] = {
        agent: progress.agent,
        profile: progress.profile,
        threadId: opened.session.threadId,
      };
    }

    if (result.status === 'cancelled' || result.status === 'interrupted') {
      const aborted = this.#abortOutcome(ctx);
      if (aborted) return end(aborted);
    }
    // A turn cut short by its budget pauses here; one that finished anyway is filed as usual and the
    // next step's budget check pauses.
    if (overBudget && budget && result.status !== 'completed') {
      return end(await this.#budgetPause(ctx, ticket, { ...budget, used: budget.used + tokens }));
    }
    if (result.status !== 'completed') return this.#afterFailedTurn(ctx, ticket, progress, result);

    progress.networkRetries = 0;
    progress.stallRetries = 0;
    return this.#afterTurn(ctx, ticket, progress, result, {
      headBefore,
      fingerprintBefore,
      consumedReplies: replies.map((r) => r.seq),
    });
  }

  async #afterFailedTurn(
    ctx: RunContext,
    ticket: Ticket,
    progress: TicketProgress,
    result: TurnResult,
  ): Promise<Step> {
    const { settings, store } = this.#deps;
    const message = result.error?.message ?? `turn ${result.status}`;
    if (result.error?.kind === 'quota') return this.#quotaExhausted(ctx, ticket, progress, result.error);
    if (result.error?.kind === 'stalled' && (progress.stallRetries ?? 0) < settings.maxStallRetries) {
      // A wedged agent (no events for the idle timeout): retry in a fresh process on the same thread,
      // as a person would, before asking one.
      progress.stallRetries = (progress.stallRetries ?? 0) + 1;
      store.appendEvent(ctx.runId, {
        type: 'stall_retry',
        data: { ticket: ticket.relPath, attempt: progress.stallRetries, error: message.slice(0, 2000) },
      });
      this.#deps.onProgress?.({
        type: 'note',
        text: `agent stalled; retrying in a fresh process (${message})`,
      });
      await this.#closeSession(progress.id);
      this.#persist(ctx);
      return CONTINUE;
    }
    if (result.error?.kind === 'network' && progress.networkRetries < settings.maxNetworkRetries) {
      progress.networkRetries += 1;
      // exponential backoff, 1 s → 30 s; CAR retried at once and burned its retries in a blip
      const delay = Math.min(30_000, 1000 * 2 ** (progress.networkRetries - 1));
      store.appendEvent(ctx.runId, {
        type: 'network_retry',
        data: { attempt: progress.networkRetries, delay_ms: delay, error: message },
      });
      this.#persist(ctx);
      await this.#wait('network retry backoff', this.#sleep(delay, this.#deps.signal));
      return CONTINUE;
    }
    return end(
      await this.#pause(
        ctx,
        'agent_error',
        `Agent turn failed on ${ticket.relPath}: ${message}. Fix the cause and resume.`,
        {
          ticket: ticket.relPath,
          error: (result.error ?? { kind: 'unknown', message }) as unknown as JsonObject,
        },
      ),
    );
  }

  /**
   * The agent's plan is used up. With a known reset within `max_quota_wait_seconds` the ticket's next
   * turn waits for it (the run goes on by itself, overnight too); otherwise a person decides.
   */
  async #quotaExhausted(
    ctx: RunContext,
    ticket: Ticket,
    progress: TicketProgress,
    error: TurnError,
  ): Promise<Step> {
    const { settings, store } = this.#deps;
    const resetsAt = error.retryAt ? Date.parse(error.retryAt) : Number.NaN;
    const waitMs = resetsAt + QUOTA_MARGIN_MS - this.#now();
    const known = Number.isFinite(resetsAt);
    // remembered for the run: tickets for this agent start on its fallback until then
    ctx.state.exhausted[progress.agent] = new Date(
      known ? resetsAt + QUOTA_MARGIN_MS : this.#now() + UNKNOWN_RESET_MS,
    ).toISOString();
    if (await this.#pickAgent(ctx, ticket, progress)) {
      this.#persist(ctx);
      return CONTINUE;
    }
    if (known && waitMs <= settings.maxQuotaWaitSeconds * 1000) {
      const until = new Date(this.#now() + Math.max(0, waitMs)).toISOString();
      ctx.state.quotaWait = { agent: progress.agent, until, message: error.message.slice(0, 500) };
      store.appendEvent(ctx.runId, {
        type: 'quota_wait',
        data: {
          ticket: ticket.relPath,
          agent: progress.agent,
          until,
          wait_seconds: Math.round(Math.max(0, waitMs) / 1000),
          error: error.message.slice(0, 2000),
        },
      });
      this.#deps.onProgress?.({
        type: 'note',
        text: `${progress.agent}'s usage limit is used up; waiting until ${until}, then going on (car flow stop ends the run)`,
      });
      this.#persist(ctx);
      return CONTINUE;
    }
    const when = known ? `; it resets at ${new Date(resetsAt).toISOString()}` : '';
    const tooFar =
      known && settings.maxQuotaWaitSeconds > 0 ? ', later than ticket_flow.max_quota_wait_seconds' : '';
    return end(
      await this.#pause(
        ctx,
        'quota_exhausted',
        `${progress.agent}'s usage limit is used up${when}${tooFar}. Resume once it has reset (car flow resume).`,
        {
          ticket: ticket.relPath,
          agent: progress.agent,
          resets_at: known ? new Date(resetsAt).toISOString() : null,
          error: error.message.slice(0, 2000),
        },
      ),
    );
  }

  /**
   * Which agent works the ticket's next turn: while the ticket's own agent has its plan used up and a
   * `quota_fallback` is configured (and is not used up itself), the fallback; once the plan has reset,
   * the ticket's own again. Returns whether it switched. The thread of the agent left is not resumed.
   */
  async #pickAgent(ctx: RunContext, ticket: Ticket, progress: TicketProgress): Promise<boolean> {
    const now = this.#now();
    const exhausted = (agent: string) => {
      const until = ctx.state.exhausted[agent];
      return until !== undefined && Date.parse(until) > now;
    };
    const switchTo = async (agent: string, profile: string | null, type: string) => {
      this.#deps.store.appendEvent(ctx.runId, {
        type,
        data: { ticket: ticket.relPath, from: progress.agent, to: agent },
      });
      this.#deps.onProgress?.({
        type: 'note',
        text:
          type === 'quota_fallback'
            ? `${progress.agent}'s usage limit is used up; ${agent} takes over ${ticket.relPath}`
            : `${agent}'s usage limit has reset; it takes ${ticket.relPath} back`,
      });
      await this.#closeSession(progress.id);
      progress.agent = agent;
      progress.profile = profile;
    };
    if (progress.primary) {
      if (exhausted(progress.primary.agent)) return false;
      const { agent, profile } = progress.primary;
      delete progress.primary;
      await switchTo(agent, profile, 'quota_fallback_over');
      return true;
    }
    const fallback = this.#deps.settings.quotaFallback[progress.agent];
    if (!exhausted(progress.agent) || !fallback || fallback === progress.agent) return false;
    if (!this.#deps.knownAgents.has(fallback) || exhausted(fallback)) return false;
    progress.primary = { agent: progress.agent, profile: progress.profile };
    await switchTo(fallback, null, 'quota_fallback');
    return true;
  }

  /**
   * Waits out a quota wait before the agent's next turn, looking for pause and stop requests meanwhile.
   * Returns an outcome when one ended the wait; the time waited is not working time.
   */
  async #waitForQuota(ctx: RunContext, wait: QuotaWait): Promise<FlowOutcome | null> {
    const until = Date.parse(wait.until);
    const started = this.#now();
    try {
      for (;;) {
        const left = until - this.#now();
        if (!(left > 0)) break;
        const requested = this.#deps.store.getRun(ctx.runId)?.metadata.requested as
          | ControlRequest
          | undefined;
        if (requested === 'stop') return stopped();
        if (requested === 'pause') {
          // a person steps in: the next turn tries at once (they may have raised the plan)
          ctx.state.quotaWait = null;
          return await this.#pause(ctx, 'pause_requested', 'Paused on request; resume to continue.');
        }
        await this.#wait('quota reset wait', this.#sleep(Math.min(left, QUOTA_POLL_MS), this.#deps.signal));
        const aborted = this.#abortOutcome(ctx);
        if (aborted) return aborted;
      }
    } finally {
      ctx.idleMs += this.#now() - started;
    }
    ctx.state.quotaWait = null;
    this.#deps.store.appendEvent(ctx.runId, { type: 'quota_wait_over', data: { agent: wait.agent } });
    return null;
  }

  async #afterTurn(
    ctx: RunContext,
    ticket: Ticket,
    progress: TicketProgress,
    result: TurnResult,
    before: { headBefore: string | null; fingerprintBefore: string; consumedReplies: number[] },
  ): Promise<Step> {
    const { settings, repo } = this.#deps;
    const { state, paths } = ctx;

    // git looks at the tree while car files the turn's records, which live under the excluded runtime
    // paths: the git process runs on another core instead of after them.
    const snapshotting = repo.snapshot(RUNTIME_PATHS);
    const dispatch = await this.#archiveDispatch(ctx, {}).catch(async (err: unknown) => {
      await snapshotting.catch(() => {});
      throw err;
    });
    if ('outcome' in dispatch) {
      await snapshotting.catch(() => {});
      return end(dispatch.outcome);
    }
    const summarySeq = await nextDispatchSeq(paths);
    await writeTurnSummary(paths, summarySeq, result.finalText, { durable: settings.durableWrites }).catch(
      async (err: unknown) => {
        await snapshotting.catch(() => {});
        throw err;
      },
    );
    const after_ = await snapshotting;
    // A turn that left the tree exactly as it found it changed nothing: no need to ask git for a diff.
    const stat =
      after_.fingerprint === before.fingerprintBefore
        ? { filesChanged: 0, insertions: 0, deletions: 0 }
        : await repo.diffStat(before.headBefore, RUNTIME_PATHS);
    // The next step starts from this tree unless car commits first (which forgets it).
    this.#known = after_;
    const fingerprintAfter = after_.fingerprint;
    const events: NewEvent[] = [
      {
        type: 'diff_updated',
        data: {
          ticket: ticket.relPath,
          files_changed: stat.filesChanged,
          insertions: stat.insertions,
          deletions: stat.deletions,
        },
      },
    ];
    // Replies count as seen only once a turn that carried them succeeded.
    if (before.consumedReplies.length > 0)
      state.replySeq = Math.max(state.replySeq, ...before.consumedReplies);
    if (result.finalText.trim()) {
      // keep a generous tail; the prompt builder cuts it to previous_output_max_chars and labels the cut
      state.lastOutput = {
        ticket: ticket.relPath,
        text: tailExcerpt(result.finalText, LAST_OUTPUT_KEEP_CHARS).text,
      };
    }
    state.checkpointError = null;

    let after: Ticket | null = null;
    try {
      after = parseTicket(readFileSync(ticket.path, 'utf8'), {
        path: ticket.path,
        relPath: ticket.relPath,
        agents: this.#deps.knownAgents,
      });
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
    }

    // Loop guard: a turn that only talked to the human is not "no progress" (CAR counted it).
    const talked = dispatch.archived !== null || before.consumedReplies.length > 0;
    if (fingerprintAfter !== before.fingerprintBefore) progress.noChange = 0;
    else if (!talked && !progress.commitPending && !progress.lintErrors && !after?.isDone)
      progress.noChange += 1;

    if (after) {
      const errors = after.issues.filter((i) => i.severity === 'error');
      if (errors.length > 0) {
        progress.lintRetries += 1;
        if (progress.lintRetries > settings.maxLintRetries) {
          this.#persist(ctx, {}, events);
          return end(
            await this.#pause(
              ctx,
              'ticket_invalid',
              `Ticket frontmatter still invalid after ${settings.maxLintRetries} repair turn(s): ${ticket.relPath}. Fix it and resume.`,
              {
                ticket: ticket.relPath,
                issues: issueLines(errors),
              },
            ),
          );
        }
        progress.lintErrors = issueLines(errors);
        events.push({
          type: 'lint_repair',
          data: { ticket: ticket.relPath, attempt: progress.lintRetries, errors: progress.lintErrors },
        });
      } else {
        // repaired: later damage to the same ticket gets the full number of repair turns again
        progress.lintErrors = null;
        progress.lintRetries = 0;
      }
    }
    this.#persist(ctx, {}, events);

    if (dispatch.archived?.mode === 'pause') {
      return end(
        await this.#pause(ctx, 'dispatch', dispatch.archived.title ?? 'The agent asked for input.', {
          ticket: ticket.relPath,
          dispatch_seq: dispatch.archived.seq,
        }),
      );
    }
    if (progress.noChange >= settings.loopGuardTurns) {
      const title = 'Ticket loop detected (no repo change)';
      await writeDispatch(paths, {
        mode: 'pause',
        title,
        body: `${progress.noChange} consecutive turns on ${ticket.relPath} changed nothing in the repo. Check the ticket, reply with guidance, and resume.`,
      });
      const archived = await this.#archiveDispatch(ctx, { runner: true });
      return end(
        await this.#pause(ctx, 'loop_no_diff', title, {
          ticket: ticket.relPath,
          no_change_turns: progress.noChange,
          ...('archived' in archived && archived.archived ? { dispatch_seq: archived.archived.seq } : {}),
        }),
      );
    }
    if (
      settings.autoCommit &&
      after &&
      !after.isDone &&
      !progress.lintErrors &&
      (await this.#snapshot()).dirty
    ) {
      await this.#commit(ctx, after, 'checkpoint');
    }
    return CONTINUE;
  }

  /** Archives a staged DISPATCH.md; an invalid one pauses the run and stays in place for a person to fix. */
  async #archiveDispatch(
    ctx: RunContext,
    meta: JsonObject,
  ): Promise<{ archived: Awaited<ReturnType<typeof archiveDispatch>> } | { outcome: FlowOutcome }> {
    try {
      const archived = await archiveDispatch(ctx.paths, await nextDispatchSeq(ctx.paths));
      if (archived) {
        this.#deps.store.appendEvent(ctx.runId, {
          type: 'dispatch',
          data: {
            seq: archived.seq,
            mode: archived.mode,
            title: archived.title,
            body: archived.body.slice(0, 4000),
            attachments: archived.attachments,
            ...(archived.options.length > 0 ? { options: archived.options } : {}),
            ...meta,
          },
        });
        this.#deps.onProgress?.({ type: 'dispatch', mode: archived.mode, title: archived.title });
      }
      return { archived };
    } catch (err) {
      if (!(err instanceof DispatchFrontmatterError)) throw err;
      return {
        outcome: await this.#pause(
          ctx,
          'invalid_dispatch',
          `${ctx.paths.rel.dispatchFile} has invalid frontmatter: ${err.message}. Fix it and resume.`,
        ),
      };
    }
  }

  async #commit(ctx: RunContext, ticket: Ticket, why: 'checkpoint' | 'ticket_done'): Promise<void> {
    const { repo, store, settings } = this.#deps;
    const message = settings.commitMessageTemplate
      .replaceAll('{run_id}', ctx.runId)
      .replaceAll('{turn}', String(ctx.state.totalTurns))
      .replaceAll('{ticket}', ticket.name)
      .replaceAll('{agent}', ctx.state.ticket?.agent ?? '');
    ctx.state.phase = 'committing';
    this.#known = null;
    this.#persist(ctx);
    try {
      const sha = await this.#wait('git commit', repo.commitAll(message, RUNTIME_PATHS));
      store.appendEvent(ctx.runId, { type: 'auto_commit', data: { why, ticket: ticket.relPath, sha } });
    } catch (err) {
      ctx.state.checkpointError = (err as Error).message.slice(0, 2000);
      store.appendEvent(ctx.runId, {
        type: 'auto_commit_failed',
        data: { why, ticket: ticket.relPath, error: ctx.state.checkpointError },
      });
    }
    ctx.state.phase = 'idle';
    this.#persist(ctx);
  }

  /** The tree now: what the end of the previous turn saw (nothing has run since), or a fresh look. */
  async #snapshot(): Promise<RepoSnapshot> {
    this.#known ??= await this.#deps.repo.snapshot(RUNTIME_PATHS);
    return this.#known;
  }

  // --- agent plumbing --------------------------------------------------------------------------

  async #openSession(
    ctx: RunContext,
    progress: TicketProgress,
  ): Promise<{ session: AgentSession; reused: boolean }> {
    const live = this.#sessions.get(progress.id);
    if (live && live.agent === progress.agent && live.profile === progress.profile)
      return { session: live.session, reused: true };
    if (live) await this.#closeSession(progress.id);
    const agent = this.#deps.resolveAgent(progress.agent);
    const binding = ctx.state.threads[progress.id];
    const resumable = binding && binding.agent === progress.agent && binding.profile === progress.profile;
    const options = {
      cwd: this.#deps.root,
      ticketPath: progress.path,
      ticketId: progress.id,
      runId: ctx.runId,
    };
    let session: AgentSession;
    let reused = false;
    if (resumable) {
      try {
        session = await this.#wait(
          `${progress.agent} session start (thread resume) for ${progress.path}`,
          agent.startSession({ ...options, threadId: binding.threadId }),
        );
        reused = true;
      } catch (err) {
        // a thread the backend no longer knows: start fresh once, as CAR does
        this.#deps.store.appendEvent(ctx.runId, {
          type: 'thread_reset',
          data: { ticket: progress.path, error: (err as Error).message },
        });
        delete ctx.state.threads[progress.id];
        session = await this.#wait(
          `${progress.agent} session start for ${progress.path}`,
          agent.startSession(options),
        );
      }
    } else {
      session = await this.#wait(
        `${progress.agent} session start for ${progress.path}`,
        agent.startSession(options),
      );
    }
    this.#sessions.set(progress.id, { agent: progress.agent, profile: progress.profile, session });
    return { session, reused };
  }

  /**
   * Runs one turn, streaming its events into the store. A turn whose streamed usage crosses `budget` is
   * interrupted (`overBudget`); `usage` is the turn's usage as reported at its end or last streamed.
   */
  async #runAgentTurn(
    ctx: RunContext,
    session: AgentSession,
    prompt: string,
    ticket: Ticket,
    turnId: number,
    budget: TokenBudget | null,
  ): Promise<{ result: TurnResult; usage: TurnUsage | undefined; overBudget: boolean }> {
    const { store } = this.#deps;
    // The turn stops for the caller's abort or for its budget; the caller's signal lives as long as the
    // run, so it is forwarded with a listener removed after the turn (AbortSignal.any would pile up).
    const turnAbort = new AbortController();
    let overBudget = false;
    const outer = this.#deps.signal;
    const forward = () => turnAbort.abort(outer?.reason);
    if (outer?.aborted) forward();
    else outer?.addEventListener('abort', forward, { once: true });
    let streamed: TurnUsage | undefined;
    const buffer: NewEvent[] = [];
    let timer: NodeJS.Timeout | undefined;
    const flush = () => {
      if (timer) clearTimeout(timer);
      timer = undefined;
      if (buffer.length > 0) store.appendEvents(ctx.runId, buffer.splice(0));
    };
    const onEvent = (event: AgentEvent) => {
      buffer.push(agentEventToStore(event, turnId));
      if (buffer.length >= EVENT_BATCH) flush();
      else timer ??= setTimeout(flush, EVENT_FLUSH_MS);
      if (event.type === 'message') this.#deps.onProgress?.({ type: 'agent', text: event.text });
      else if (event.type === 'tool_call') this.#deps.onProgress?.({ type: 'tool', name: event.name });
      else if (event.type === 'usage') {
        streamed = event.usage;
        if (budget && !turnAbort.signal.aborted && budget.used + budgetTokens(streamed) > budget.limit) {
          overBudget = true;
          turnAbort.abort('budget');
        }
      }
    };
    const request = { prompt, signal: turnAbort.signal, onEvent, ...ticketOverrides(ticket) };
    let result: TurnResult;
    try {
      result = await this.#wait(
        `${ctx.state.ticket?.agent ?? 'agent'} turn on ${ticket.relPath}`,
        session.runTurn(request),
      );
    } catch (err) {
      result = {
        status: 'failed',
        finalText: '',
        error: { kind: 'unknown', message: (err as Error).message },
      };
    } finally {
      outer?.removeEventListener('abort', forward);
      flush();
    }
    return { result, usage: result.usage ?? streamed, overBudget };
  }

  /** Pauses on a used-up token budget; resuming grants the same budget again (FlowControl.resume). */
  async #budgetPause(ctx: RunContext, ticket: Ticket, budget: TokenBudget): Promise<FlowOutcome> {
    const what = budget.scope === 'ticket' ? `${ticket.relPath}'s token budget` : "the run's token budget";
    const key = budget.scope === 'ticket' ? 'max_tokens_per_ticket' : 'max_tokens_per_run';
    return this.#pause(
      ctx,
      'token_budget',
      `${what} is used up (${budget.used} of ${budget.limit} tokens, ticket_flow.${key}). Resume to grant it again.`,
      { ticket: ticket.relPath, scope: budget.scope, used: budget.used, limit: budget.limit },
    );
  }

  async #closeSession(ticketId: string): Promise<void> {
    const live = this.#sessions.get(ticketId);
    if (!live) return;
    this.#sessions.delete(ticketId);
    await this.#wait(
      `${live.agent} session close`,
      live.session.close().catch(() => {}),
    );
  }

  /** Awaits `work`, named in `deps.awaiting` while it lasts (what a drained event loop left waiting). */
  #wait<T>(label: string, work: Promise<T>): Promise<T> {
    return this.#deps.awaiting ? this.#deps.awaiting.on(label, work) : work;
  }

  async #closeSessions(): Promise<void> {
    for (const id of [...this.#sessions.keys()]) await this.#closeSession(id);
  }

  // --- run state -------------------------------------------------------------------------------

  #abortOutcome(ctx: RunContext): FlowOutcome | null {
    const signal = this.#deps.signal;
    if (!signal?.aborted) return null;
    const reason = signal.reason as AbortReason;
    if (reason === 'pause') {
      return {
        status: 'paused',
        reasonCode: 'interrupted',
        reason: `Interrupted during ${ctx.state.ticket?.path ?? 'the run'}; resume to continue.`,
      };
    }
    return stopped();
  }

  async #pause(
    ctx: RunContext,
    reasonCode: string,
    reason: string,
    details?: JsonObject,
  ): Promise<FlowOutcome> {
    ctx.state.pauseContext = {
      fingerprint: (await this.#snapshot()).fingerprint,
      replySeq: ctx.state.replySeq,
    };
    return { status: 'paused', reasonCode, reason, ...(details ? { details } : {}) };
  }

  #finish(ctx: RunContext, outcome: FlowOutcome): FlowOutcome {
    const terminal = outcome.status !== 'paused';
    const run = this.#deps.store.getRun(ctx.runId);
    const metadata = { ...(run?.metadata ?? {}) };
    delete metadata.requested;
    this.#persist(
      ctx,
      {
        status: outcome.status,
        reasonCode: outcome.reasonCode,
        reason: outcome.reason,
        reasonDetails: outcome.details ?? null,
        metadata,
        ...(terminal ? { finishedAt: new Date(this.#now()).toISOString() } : {}),
      },
      [
        {
          type: `flow_${outcome.status}`,
          data: { reason_code: outcome.reasonCode, reason: outcome.reason, ...(outcome.details ?? {}) },
        },
      ],
    );
    return outcome;
  }

  /** Writes the state (and optional run fields and events) in one transaction. */
  #persist(ctx: RunContext, patch: RunPatch = {}, events: NewEvent[] = []): void {
    const { store } = this.#deps;
    store.transaction(() => {
      store.updateRun(ctx.runId, { ...patch, state: ctx.state as unknown as JsonObject });
      if (events.length > 0) store.appendEvents(ctx.runId, events);
    });
  }
}

interface RunContext {
  runId: string;
  state: EngineState;
  paths: RunPaths;
  /** Time the current step spent waiting for a quota reset, which is not working time. */
  idleMs: number;
}

function end(outcome: FlowOutcome): Step {
  return { kind: 'end', outcome };
}

function stopped(): FlowOutcome {
  return { status: 'stopped', reasonCode: 'stop_requested', reason: 'Stopped on request.' };
}

function ticketOverrides(ticket: Ticket): { model?: string; reasoning?: string; profile?: string } {
  const out: { model?: string; reasoning?: string; profile?: string } = {};
  if (ticket.model) out.model = ticket.model;
  if (ticket.reasoning) out.reasoning = ticket.reasoning;
  if (ticket.profile) out.profile = ticket.profile;
  return out;
}

/** Ticket ids are file-name safe already; anything else is made so. */
function safeFileName(id: string): string {
  return id.replace(/[^A-Za-z0-9._-]/g, '_');
}

/**
 * What the tree holds that differs from the ticket's base commit: changed paths and the bytes now at
 * each. The same before and after the agent commits, so a verification is not repeated for a commit.
 */
async function contentKey(root: string, files: readonly FileChange[]): Promise<string> {
  const hash = createHash('sha256');
  const sorted = [...files].sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
  for (const f of sorted) {
    const status = f.status === 'deleted' ? 'deleted' : 'present';
    let digest = 'missing';
    if (status === 'present') {
      try {
        digest = createHash('sha256')
          .update(await readFile(join(root, f.path)))
          .digest('hex');
      } catch {
        // a directory (embedded repo) or gone since the diff: the path alone has to do
      }
    }
    hash.update(`${f.oldPath ?? ''}\0${f.path}\0${status}\0${digest}\0`);
  }
  return hash.digest('hex');
}
