// The project manager agent (PMA): conversations with one agent that operates car through car's MCP
// server. Each conversation (a terminal user, the web Chat page, one user in one chat) keeps its own agent
// thread, resumed across restarts, and a bounded transcript; its turns run one at a time. The first turn
// of a thread carries the briefing (what car is, the repo's or hub's state).
import type { Agent, AgentSession, TurnStatus } from '../core/agent.ts';
import type { PmaMessage, PmaStore } from '../core/store/pma-store.ts';

export interface PmaOptions {
  agentId: string;
  /** The agent, already given car's MCP server. */
  agent: Agent;
  store: PmaStore;
  /** The repo or hub root the agent works in. */
  cwd: string;
  /** What a new thread is told first. */
  briefing: () => Promise<string>;
}

export interface PmaAsk {
  /** Streamed answer text as the agent writes it. */
  onDelta?: (text: string) => void;
  /** A tool the agent calls (car's, or its own), for a surface that shows progress. */
  onTool?: (name: string) => void;
  signal?: AbortSignal;
}

export interface PmaAnswer {
  status: TurnStatus;
  text: string;
  /** Why the turn did not complete. */
  error: string | null;
  message: PmaMessage;
}

export class Pma {
  readonly #opts: PmaOptions;
  readonly #sessions = new Map<string, AgentSession>();
  /** Each conversation's last turn: the next one waits for it. */
  readonly #tails = new Map<string, Promise<unknown>>();

  constructor(opts: PmaOptions) {
    this.#opts = opts;
  }

  get agentId(): string {
    return this.#opts.agentId;
  }

  transcript(conversation: string): PmaMessage[] {
    return this.#opts.store.messages(conversation);
  }

  /** Sends one message and resolves with the agent's answer (also recorded in the transcript). */
  ask(conversation: string, message: string, opts: PmaAsk = {}): Promise<PmaAnswer> {
    const previous = this.#tails.get(conversation) ?? Promise.resolve();
    const turn = previous.catch(() => {}).then(() => this.#turn(conversation, message, opts));
    this.#tails.set(conversation, turn);
    void turn.finally(() => {
      if (this.#tails.get(conversation) === turn) this.#tails.delete(conversation);
    });
    return turn;
  }

  /** Forgets the conversation (thread and transcript): the next message starts a new thread. */
  async reset(conversation: string): Promise<void> {
    await (this.#tails.get(conversation) ?? Promise.resolve()).catch(() => {});
    const session = this.#sessions.get(conversation);
    this.#sessions.delete(conversation);
    await session?.close().catch(() => {});
    this.#opts.store.reset(conversation);
  }

  /** Ends every session and the agent's process. */
  async close(): Promise<void> {
    const sessions = [...this.#sessions.values()];
    this.#sessions.clear();
    await Promise.all(sessions.map((s) => s.close().catch(() => {})));
    await this.#opts.agent.close?.();
  }

  /** The conversation's open session, else its stored thread resumed, else a new thread (`fresh`). */
  async #session(conversation: string): Promise<{ session: AgentSession; fresh: boolean }> {
    const open = this.#sessions.get(conversation);
    if (open && open.alive !== false) return { session: open, fresh: false };
    const { agent, agentId, cwd, store } = this.#opts;
    const base = { cwd, ticketPath: '', ticketId: 'pma', runId: `pma:${conversation}` };
    const saved = store.thread(conversation);
    let session: AgentSession | null = null;
    if (saved?.threadId && saved.agent === agentId) {
      // a thread the agent no longer knows starts afresh
      session = await agent.startSession({ ...base, threadId: saved.threadId }).catch(() => null);
    }
    const fresh = session === null;
    session ??= await agent.startSession(base);
    this.#sessions.set(conversation, session);
    store.saveThread(conversation, agentId, session.threadId);
    return { session, fresh };
  }

  async #turn(conversation: string, message: string, opts: PmaAsk): Promise<PmaAnswer> {
    const { store } = this.#opts;
    store.append(conversation, 'user', message);
    const signal = opts.signal ?? new AbortController().signal;
    let status: TurnStatus = 'failed';
    let text = '';
    let error: string | null = null;
    try {
      const { session, fresh } = await this.#session(conversation);
      const prompt = fresh
        ? `${await this.#opts.briefing()}\n\n<user_message>\n${message}\n</user_message>\n`
        : message;
      const result = await session.runTurn({
        prompt,
        signal,
        onEvent: (event) => {
          if (event.type === 'message_delta') opts.onDelta?.(event.text);
          else if (event.type === 'tool_call') opts.onTool?.(event.name);
        },
      });
      if (session.threadId) store.saveThread(conversation, this.#opts.agentId, session.threadId);
      status = result.status;
      text = result.finalText;
      if (result.status !== 'completed') error = result.error?.message ?? `the turn ended ${result.status}`;
    } catch (err) {
      error = `${this.#opts.agentId} could not start: ${(err as Error).message}`;
    }
    const recorded =
      error === null
        ? store.append(conversation, 'assistant', text)
        : store.append(conversation, 'error', error);
    return { status, text, error, message: recorded };
  }
}
