// The run's live agent sessions, one per ticket, reused while the ticket's agent and profile stay the
// same and the session is alive. A session's backend thread is persisted in the run state, so a restarted
// worker (or a session whose agent process died) resumes it. Agents that keep a process between sessions
// are asked to start it ahead of the session that needs it (`prewarm`); the processes themselves belong
// to the agents, and live until the run's owner closes the resolver.
import type { AgentResolver, AgentSession } from '../agent.ts';
import type { FlowEvent } from './events.ts';
import type { EngineState, TicketProgress } from './state.ts';

/** What sessions need of the run (RunContext provides it). */
export interface SessionHost {
  readonly runId: string;
  readonly root: string;
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

export class AgentSessions {
  readonly #ctx: SessionHost;
  readonly #live = new Map<string, Live>();

  constructor(ctx: SessionHost) {
    this.#ctx = ctx;
  }

  /** The ticket's session: the live one, its persisted thread resumed, or a new one. */
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
    const options = { cwd: ctx.root, ticketPath: progress.path, ticketId: progress.id, runId: ctx.runId };
    const fresh = () =>
      ctx.wait(`${progress.agent} session start for ${progress.path}`, agent.startSession(options));
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
   * Starts the process `agentId`'s next session will need, while the engine does other work (recovery,
   * selection, the verify gate). Best effort: an agent that cannot be resolved or started fails later, at
   * its session start, where the engine handles it.
   */
  prewarm(agentId: string | null | undefined): void {
    if (!agentId || agentId === 'user') return;
    try {
      this.#ctx.deps.resolveAgent(agentId).prewarm?.({ cwd: this.#ctx.root });
    } catch {
      // reported when a ticket needs it
    }
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
    for (const id of [...this.#live.keys()]) await this.close(id);
  }
}
