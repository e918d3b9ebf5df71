// The run's live agent sessions, one per ticket, reused while the ticket's agent and profile stay the
// same and the session is alive. A session's backend thread is persisted in the run state, so a restarted
// worker (or a session whose agent process died) resumes it. Start-up is kept off the critical path: an
// agent that keeps a process between sessions is asked to start it early (`prewarm`: while recovery and
// selection run), and the session of the ticket the run will likely work next is opened ahead
// (`prepare`: while the current ticket's turn runs, checked again while it is settled). The processes
// belong to the agents and live until the run's owner closes the resolver.
import type { AgentResolver, AgentSession, SessionOptions } from '../agent.ts';
import { type ApprovalHost, approvalGate, supervised } from './approvals.ts';
import type { FlowEvent } from './events.ts';
import type { FlowSettings } from './settings.ts';
import type { EngineState, TicketProgress } from './state.ts';

/** What sessions need of the run (RunContext provides it). */
export interface SessionHost extends ApprovalHost {
  readonly runId: string;
  readonly root: string;
  readonly settings: FlowSettings;
  readonly state: EngineState;
  readonly deps: { resolveAgent: AgentResolver };
  event(event: FlowEvent): void;
  wait<T>(label: string, work: Promise<T>): Promise<T>;
}

interface Live {
  agent: string;
  profile: string | null;
  session: AgentSession;
}

/** A ticket the run is likely to work next: its agent, and the ticket when its session can be opened ahead. */
export interface LikelyNext {
  agent: string;
  /** Absent when the ticket has a session or thread already (the run's own ticket): only prewarm. */
  ticket?: { id: string; path: string; profile: string | null; approvalPolicy: string | null };
}

/** A session opened ahead for a ticket that is not selected yet; `session` never rejects (null: failed). */
interface Prepared {
  ticketId: string;
  agent: string;
  profile: string | null;
  session: Promise<AgentSession | null>;
}

export class AgentSessions {
  readonly #ctx: SessionHost;
  readonly #live = new Map<string, Live>();
  #prepared: Prepared | null = null;

  constructor(ctx: SessionHost) {
    this.#ctx = ctx;
  }

  /** The ticket's session: the live one, its persisted thread resumed, the one prepared, or a new one. */
  async open(progress: TicketProgress): Promise<{ session: AgentSession; reused: boolean }> {
    const ctx = this.#ctx;
    const live = this.#live.get(progress.id);
    if (
      live &&
      live.agent === progress.agent &&
      live.profile === progress.profile &&
      live.session.alive !== false
    )
      return { session: live.session, reused: true };
    if (live) await this.close(progress.id);
    const agent = ctx.deps.resolveAgent(progress.agent);
    const binding = ctx.state.threads[progress.id];
    const resumable = binding && binding.agent === progress.agent && binding.profile === progress.profile;
    let prepared = this.#take(progress);
    if (resumable && prepared) {
      // the ticket has a thread to resume: a session opened ahead for it is not needed
      void prepared.then((unneeded) => unneeded?.close().catch(() => {}));
      prepared = null;
    }
    const options = this.#options(
      { id: progress.id, path: progress.path, approvalPolicy: progress.approvalPolicy ?? null },
      progress.agent,
    );
    const fresh = async (): Promise<AgentSession> => {
      // opened ahead; one that failed to open is started again here, where a failure is reported
      let ready = prepared
        ? await ctx.wait(`${progress.agent} session start for ${progress.path}`, prepared)
        : null;
      if (ready?.alive === false) {
        // its process died since (the gate's commands, a crash): open it anew on a live one
        await ready.close().catch(() => {});
        ready = null;
      }
      return (
        ready ?? ctx.wait(`${progress.agent} session start for ${progress.path}`, agent.startSession(options))
      );
    };
    let session: AgentSession;
    let reused = false;
    if (resumable) {
      try {
        session = await ctx.wait(
          `${progress.agent} session start (thread resume) for ${progress.path}`,
          agent.startSession({ ...options, threadId: binding.threadId }),
        );
        reused = true;
      } catch (err) {
        // a thread the backend no longer knows: start fresh once, as CAR does
        ctx.event({ type: 'thread_reset', data: { ticket: progress.path, error: (err as Error).message } });
        delete ctx.state.threads[progress.id];
        session = await fresh();
      }
    } else {
      session = await fresh();
    }
    this.#live.set(progress.id, { agent: progress.agent, profile: progress.profile, session });
    return { session, reused };
  }

  /**
   * Gets the next ticket's agent ready while the engine does other work: opens its session ahead when
   * the ticket has none yet, else starts the agent's process. Best effort: an agent that cannot be
   * resolved or started fails later, at the session start, where the engine handles it. `openAfter`:
   * the current turn is about to start, and gets under way when it resolves (see `SessionOptions`).
   */
  prepare(next: LikelyNext | null, openAfter?: Promise<void>): void {
    if (!next?.agent || next.agent === 'user') return;
    const ticket = next.ticket;
    if (!ticket || this.#live.has(ticket.id) || this.#ctx.state.threads[ticket.id]) {
      this.prewarm(next.agent);
      return;
    }
    const p = this.#prepared;
    if (p && p.ticketId === ticket.id && p.agent === next.agent && p.profile === ticket.profile) return;
    void this.#dropPrepared();
    let started: Promise<AgentSession>;
    try {
      const options = this.#options(ticket, next.agent);
      started = this.#ctx.deps
        .resolveAgent(next.agent)
        .startSession(openAfter ? { ...options, openAfter } : options);
    } catch {
      return;
    }
    this.#prepared = {
      ticketId: ticket.id,
      agent: next.agent,
      profile: ticket.profile,
      session: started.catch(() => null),
    };
  }

  /** A ticket's session options; a supervised ticket's session gets the gate that asks a person. */
  #options(
    ticket: { id: string; path: string; approvalPolicy: string | null },
    agent: string,
  ): SessionOptions {
    const ctx = this.#ctx;
    const approvals = ctx.settings.approvals;
    return {
      cwd: ctx.root,
      ticketPath: ticket.path,
      ticketId: ticket.id,
      runId: ctx.runId,
      ...(supervised(approvals, agent, ticket.approvalPolicy)
        ? { approvals: approvalGate(ctx, { path: ticket.path, agent }, approvals) }
        : {}),
    };
  }

  /** Starts the process `agentId`'s next session will need (see `Agent.prewarm`). */
  prewarm(agentId: string | null | undefined): void {
    if (!agentId || agentId === 'user') return;
    try {
      this.#ctx.deps.resolveAgent(agentId).prewarm?.({ cwd: this.#ctx.root });
    } catch {
      // reported when a ticket needs it
    }
  }

  /** The session prepared for this ticket, if it was prepared for it as it is now; any other is dropped. */
  #take(progress: TicketProgress): Promise<AgentSession | null> | null {
    const p = this.#prepared;
    if (!p) return null;
    if (p.ticketId === progress.id && p.agent === progress.agent && p.profile === progress.profile) {
      this.#prepared = null;
      return p.session;
    }
    void this.#dropPrepared();
    return null;
  }

  async #dropPrepared(): Promise<void> {
    const p = this.#prepared;
    this.#prepared = null;
    const session = await p?.session;
    await session?.close().catch(() => {});
  }

  async close(ticketId: string): Promise<void> {
    const live = this.#live.get(ticketId);
    if (!live) return;
    this.#live.delete(ticketId);
    await this.#ctx.wait(
      `${live.agent} session close`,
      live.session.close().catch(() => {}),
    );
  }

  async closeAll(): Promise<void> {
    // Not waited for: one still starting is closed once it has started, or ends with its agent's process
    // when the run's owner closes the agents (a pause need not wait for an agent's slow session start).
    void this.#dropPrepared();
    for (const id of [...this.#live.keys()]) await this.close(id);
  }
}
