// A deterministic fake agent for flow tests. Each turn is a closure taken from a per-test list (in
// order) or chosen by a function of the ticket; every prompt is recorded so tests can assert what the
// agent saw. The helpers below act like a real agent would: edit the ticket, write files, commit, and
// leave a DISPATCH.md for the human.
import { execFileSync } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import type {
  Agent,
  AgentEvent,
  AgentResolver,
  AgentSession,
  SessionOptions,
  TurnRequest,
  TurnResult,
} from '../../src/core/agent.ts';
import { writeFileAtomic } from '../../src/core/fs/atomic.ts';
import { type ScalarValue, setFrontmatterField } from '../../src/core/tickets/index.ts';
import { gitEnv } from '../../src/integrations/git/run-git.ts';

export interface TurnContext {
  prompt: string;
  /** Repo-relative posix path of the ticket the session was opened for. */
  ticketPath: string;
  ticketId: string;
  /** Repo root the agent works in. */
  cwd: string;
  runId: string;
  /** 1-based count of turns this agent has run (across sessions and tickets). */
  turn: number;
  /** The session's backend thread id. */
  threadId: string | null;
  request: TurnRequest;
  signal: AbortSignal;
  emit: (event: AgentEvent) => void;
}

export type TurnScript = (ctx: TurnContext) => Promise<TurnResult> | TurnResult;

export interface PromptRecord {
  turn: number;
  ticketPath: string;
  runId: string;
  prompt: string;
  threadId: string | null;
}

export interface ScriptedAgentOptions {
  id?: string;
  /** Turns in order, one per call; used before `byTicket`. */
  turns?: TurnScript[];
  /** Chooses the turn from the ticket when the list is empty. */
  byTicket?: (ctx: TurnContext) => TurnScript;
  /** Sessions get no backend thread id (default: `thread-<n>`). */
  noThreads?: boolean;
  /** Makes startSession reject, like a backend that cannot start. */
  startError?: string;
}

/** Completes with `finalText`. */
export function completed(finalText = 'ok'): TurnResult {
  return { status: 'completed', finalText };
}

export function failed(kind: NonNullable<TurnResult['error']>['kind'], message: string): TurnResult {
  return { status: 'failed', finalText: '', error: { kind, message } };
}

export class ScriptedAgent implements Agent {
  readonly id: string;
  readonly prompts: PromptRecord[] = [];
  readonly sessions: SessionOptions[] = [];
  readonly #queue: TurnScript[];
  readonly #options: ScriptedAgentOptions;
  #turns = 0;
  #threads = 0;

  constructor(options: ScriptedAgentOptions = {}) {
    this.id = options.id ?? 'scripted';
    this.#queue = [...(options.turns ?? [])];
    this.#options = options;
  }

  /** Appends turns to the script (for the next phase of a test). */
  script(...turns: TurnScript[]): this {
    this.#queue.push(...turns);
    return this;
  }

  get turnsRun(): number {
    return this.#turns;
  }

  /** Turns still scripted and not yet run. */
  get pending(): number {
    return this.#queue.length;
  }

  /** The prompt the agent saw on its n-th turn (1-based). */
  prompt(n: number): string {
    const record = this.prompts[n - 1];
    if (!record) throw new Error(`the agent ran ${this.prompts.length} turn(s), not ${n}`);
    return record.prompt;
  }

  async startSession(options: SessionOptions): Promise<AgentSession> {
    if (this.#options.startError) throw new Error(this.#options.startError);
    this.sessions.push(options);
    const threadId = this.#options.noThreads ? null : (options.threadId ?? `thread-${++this.#threads}`);
    return {
      threadId,
      runTurn: (request) => this.#runTurn(options, threadId, request),
      close: async () => {},
    };
  }

  async #runTurn(
    options: SessionOptions,
    threadId: string | null,
    request: TurnRequest,
  ): Promise<TurnResult> {
    const turn = ++this.#turns;
    this.prompts.push({
      turn,
      ticketPath: options.ticketPath,
      runId: options.runId,
      prompt: request.prompt,
      threadId,
    });
    const ctx: TurnContext = {
      prompt: request.prompt,
      ticketPath: options.ticketPath,
      ticketId: options.ticketId,
      cwd: options.cwd,
      runId: options.runId,
      turn,
      threadId,
      request,
      signal: request.signal,
      emit: (event) => request.onEvent(event),
    };
    const next = this.#queue.shift() ?? this.#options.byTicket?.(ctx);
    if (!next) return failed('protocol', `scripted agent has no turn ${turn} (${options.ticketPath})`);
    return next(ctx);
  }
}

/** A resolver that serves `agent` for the listed ids and refuses every other id. */
export function resolverFor(agent: Agent, ids: readonly string[] = ['codex']): AgentResolver {
  return (id) => {
    if (!ids.includes(id)) throw new Error(`agent "${id}" is not configured`);
    return agent;
  };
}

// --- acting like an agent ------------------------------------------------------------------------

function ticketFile(ctx: Pick<TurnContext, 'cwd' | 'ticketPath'>, ticketPath?: string): string {
  return join(ctx.cwd, ticketPath ?? ctx.ticketPath);
}

/** Sets one frontmatter field of the session's ticket (or `ticketPath`), keeping every other byte. */
export function setTicketField(
  ctx: Pick<TurnContext, 'cwd' | 'ticketPath'>,
  key: string,
  value: ScalarValue,
  ticketPath?: string,
): void {
  const file = ticketFile(ctx, ticketPath);
  writeFileAtomic(file, setFrontmatterField(readFileSync(file, 'utf8'), key, value));
}

export function markDone(
  ctx: Pick<TurnContext, 'cwd' | 'ticketPath'>,
  done = true,
  ticketPath?: string,
): void {
  setTicketField(ctx, 'done', done, ticketPath);
}

/** Writes a repo file (folders created), relative to the repo root. */
export function writeRepoFile(ctx: Pick<TurnContext, 'cwd'>, relPath: string, content: string): void {
  const abs = join(ctx.cwd, relPath);
  mkdirSync(dirname(abs), { recursive: true });
  writeFileSync(abs, content);
}

/** `git add -A && git commit`; returns the new HEAD. */
export function gitCommit(ctx: Pick<TurnContext, 'cwd'>, message: string): string {
  const git = (args: string[]) =>
    execFileSync('git', ['-c', 'user.name=Agent', '-c', 'user.email=agent@example.com', ...args], {
      cwd: ctx.cwd,
      env: gitEnv(),
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'pipe'],
    });
  git(['add', '-A']);
  git(['commit', '-q', '-m', message]);
  return git(['rev-parse', 'HEAD']).trim();
}

/** Stages `runs/<run_id>/DISPATCH.md`, as an agent asks a human. */
export function writeDispatchFile(
  ctx: Pick<TurnContext, 'cwd' | 'runId'>,
  dispatch: { mode: 'pause' | 'notify'; title?: string; body: string },
): void {
  const fm = [
    `mode: ${dispatch.mode}`,
    ...(dispatch.title ? [`title: ${JSON.stringify(dispatch.title)}`] : []),
  ];
  writeRepoFile(
    ctx,
    join('.codex-autorunner', 'runs', ctx.runId, 'DISPATCH.md'),
    `---\n${fm.join('\n')}\n---\n\n${dispatch.body}\n`,
  );
}

/** Resolves when `signal` aborts (immediately if it already has). */
export function aborted(signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted) resolve();
    else signal.addEventListener('abort', () => resolve(), { once: true });
  });
}

/** A promise with its resolver, for turns that wait on the test. */
export function deferred<T = void>(): { promise: Promise<T>; resolve: (value: T) => void } {
  let resolve!: (value: T) => void;
  const promise = new Promise<T>((r) => {
    resolve = r;
  });
  return { promise, resolve };
}

// --- ready-made turns ----------------------------------------------------------------------------

/** Does the work: writes `work/<ticket>.txt`, marks the ticket done and commits. */
export function finishTicket(text = 'done'): TurnScript {
  return (ctx) => {
    const stem = ctx.ticketPath.split('/').pop()!.replace(/\.md$/, '');
    writeRepoFile(ctx, `work/${stem}.txt`, `${text}\n`);
    markDone(ctx);
    gitCommit(ctx, `finish ${stem}`);
    return completed(`Finished ${stem}.`);
  };
}

/** Changes the repo (a new line in `work/progress.txt` each time) without finishing the ticket. */
export function makeProgress(label = 'progress'): TurnScript {
  return (ctx) => {
    writeRepoFile(ctx, `work/progress-${ctx.turn}.txt`, `${label} ${ctx.turn}\n`);
    return completed(`${label} ${ctx.turn}`);
  };
}

/** Changes nothing. */
export function idle(text = 'thinking'): TurnScript {
  return () => completed(text);
}
