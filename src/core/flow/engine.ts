// The ticket flow: one agent turn per step, decided from what is on disk. A run recovers what a killed
// process left, then loops: check the stop rules, re-read replies and tickets, settle the ticket being
// worked, select the next, run a turn on it. Every decision is persisted (run state + an event) through
// RunContext before the next side effect, so a killed process resumes without losing or repeating a
// ticket transition. Each step lives in its own module; this file only orders them.

import { type DiskError, diskErrorOf } from '../fs/disk-error.ts';
import type { TicketCache } from '../tickets/index.ts';
import { checkBeforeTurn, controlOutcome } from './checks.ts';
import { waitForDisk } from './disk-wait.ts';
import { end, type FlowDeps, type FlowOutcome, type Step } from './flow-types.ts';
import { isOpenPrTicket, workOpenPrTicket } from './open-pr-ticket.ts';
import { recover } from './recover.ts';
import { archiveReply } from './replies.ts';
import { RunContext } from './run-context.ts';
import { ensureRunDirs, runPaths } from './run-paths.ts';
import { chooseTicket, likelyNext, readQueue } from './select.ts';
import { settleCurrent } from './settle.ts';
import { loadState } from './state.ts';
import { runTurn } from './turn.ts';
import { rebaselineAfterVerifyPause } from './verify-gate.ts';

export type {
  AbortReason,
  ControlRequest,
  FlowDeps,
  FlowOutcome,
  FlowProgress,
  OutcomeStatus,
} from './flow-types.ts';

export class FlowEngine {
  readonly #deps: FlowDeps;
  /** Parsed tickets by file, reused while the file's stat stamp is unchanged. */
  readonly #ticketCache: TicketCache = new Map();

  constructor(deps: FlowDeps) {
    this.#deps = deps;
  }

  /**
   * Works the run until it pauses, completes, fails or is stopped. A full disk is waited out: the run
   * then goes on from its last record, as a restarted worker would (disk-wait.ts).
   */
  async run(runId: string): Promise<FlowOutcome> {
    let turnsAtStart: number | undefined;
    for (;;) {
      const ctx = this.#context(runId, turnsAtStart);
      turnsAtStart = ctx.turnsAtStart;
      try {
        return await this.#work(ctx);
      } catch (err) {
        const disk = diskErrorOf(err);
        if (!disk) throw err;
        await ctx.wait('closing agent sessions', ctx.sessions.closeAll());
        const ended = await waitForDisk(ctx, disk);
        if (ended) return finishOnDisk(ctx, ended, disk);
      } finally {
        await ctx.wait('closing agent sessions', ctx.sessions.closeAll());
      }
    }
  }

  /** The run as last recorded; `turnsAtStart` carries this call's turn count over a disk wait. */
  #context(runId: string, turnsAtStart?: number): RunContext {
    const run = this.#deps.store.getRun(runId);
    if (!run) throw new Error(`no such run: ${runId}`);
    return new RunContext(this.#deps, {
      runId,
      state: loadState(run.state, this.#deps.settings.maxTotalTurns),
      paths: runPaths(this.#deps.root, runId),
      cache: this.#ticketCache,
      ...(turnsAtStart !== undefined ? { turnsAtStart } : {}),
    });
  }

  async #work(ctx: RunContext): Promise<FlowOutcome> {
    const { state } = ctx;
    const startedAt = ctx.store.getRun(ctx.runId)?.startedAt ?? null;
    // the first ticket's agent process starts while recovery and selection run
    ctx.sessions.prewarm(likelyNext(ctx)?.agent);
    const recovered = await recover(ctx);
    if (recovered) return ctx.finish(recovered);
    await rebaselineAfterVerifyPause(ctx);
    ctx.persist({ status: 'running', startedAt: startedAt ?? new Date(ctx.now()).toISOString() }, [
      { type: startedAt ? 'flow_resumed' : 'flow_started', data: { total_turns: state.totalTurns } },
    ]);
    for (;;) {
      const asked = await controlOutcome(ctx);
      if (asked) return ctx.finish(asked);
      const started = ctx.now();
      const step = await ctx.wait('flow step', this.#step(ctx));
      // the step's post-turn work is done; only a crash inside it leaves a non-idle phase behind
      state.phase = 'idle';
      state.activeMs += ctx.now() - started - ctx.idleMs;
      ctx.idleMs = 0;
      if (step.kind === 'end') return ctx.finish(step.outcome);
      ctx.persist();
    }
  }

  async #step(ctx: RunContext): Promise<Step> {
    ensureRunDirs(ctx.paths);
    const reply = await archiveReply(ctx.paths);
    if (reply) ctx.event({ type: 'reply_archived', data: { seq: reply.seq, title: reply.title } });

    const queue = await readQueue(ctx);
    if ('outcome' in queue) return end(queue.outcome);
    // the next ticket's session opens (its agent's process starts, or stays warm) while the verify gate
    // and commit checks run
    ctx.sessions.prepare(likelyNext(ctx, queue));
    const settled = await settleCurrent(ctx, queue.tickets);
    if ('outcome' in settled) return end(settled.outcome);
    const chosen = await chooseTicket(ctx, queue.tickets, queue.dependencies, settled.current);
    if ('outcome' in chosen) return end(chosen.outcome);
    const { ticket } = chosen;
    const progress = ctx.state.ticket!;
    if (ctx.deps.pullRequests && isOpenPrTicket(ticket) && ticket.valid && !ticket.isDone)
      return workOpenPrTicket(ctx, ticket, ctx.deps.pullRequests);
    const blocked = await checkBeforeTurn(ctx, ticket, progress);
    if (blocked) return end(blocked);
    const previous = queue.tickets[queue.tickets.indexOf(ticket) - 1];
    // the ticket after this one gets its session while this turn runs (a turn takes longer than any start)
    return runTurn(ctx, ticket, progress, previous, likelyNext(ctx, queue, ticket));
  }
}

/**
 * Records how a run on a bad disk ended. When even that cannot be written, the disk error is what the
 * caller hears (the CLI prints it in one line); the next `car run` recovers the run.
 */
function finishOnDisk(ctx: RunContext, outcome: FlowOutcome, disk: DiskError): FlowOutcome {
  try {
    return ctx.finish(outcome);
  } catch (err) {
    if (diskErrorOf(err)) throw disk;
    throw err;
  }
}
