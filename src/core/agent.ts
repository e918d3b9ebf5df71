// The one small interface every agent backend implements (codex app-server, ACP, command, demo).
// The engine drives it; adapters in src/agents/ implement it.

/** Normalised agent events, streamed into the run store as they happen. */
export type AgentEvent =
  | { type: 'message_delta'; text: string }
  | { type: 'message'; text: string }
  | { type: 'tool_call'; name: string; id?: string; input?: unknown }
  | { type: 'tool_result'; id?: string; output?: string; error?: string }
  | { type: 'file_change'; path: string; kind?: 'add' | 'modify' | 'delete' }
  | { type: 'command_output'; command?: string; text: string; exitCode?: number }
  | { type: 'usage'; usage: TurnUsage }
  | { type: 'status'; message: string }
  | { type: 'error'; message: string };

export interface TurnUsage {
  inputTokens?: number;
  cachedInputTokens?: number;
  outputTokens?: number;
  costUsd?: number;
}

export type TurnStatus = 'completed' | 'failed' | 'interrupted' | 'cancelled';

export interface TurnError {
  /**
   * Stable classification the engine decides on: network errors are retried within seconds; `quota`
   * (the provider's usage limit is used up) waits until `retryAt` or pauses.
   */
  kind: 'network' | 'quota' | 'timeout' | 'stalled' | 'protocol' | 'agent' | 'spawn' | 'unknown';
  message: string;
  /** ISO time the provider says the quota resets (quota errors, when known). */
  retryAt?: string;
}

export interface TurnRequest {
  prompt: string;
  /** Per-ticket overrides from frontmatter. */
  model?: string;
  reasoning?: string;
  profile?: string;
  /** Aborting ends the turn: the adapter interrupts, then kills, and resolves `cancelled`. */
  signal: AbortSignal;
  onEvent: (event: AgentEvent) => void;
}

export interface TurnResult {
  status: TurnStatus;
  /** The agent's final message text for the turn ('' when none). */
  finalText: string;
  usage?: TurnUsage;
  error?: TurnError;
}

export interface AgentSession {
  /** Backend conversation id, reusable across turns of one ticket and across car restarts; null if none. */
  readonly threadId: string | null;
  /**
   * False once the session cannot run another turn as it is (the agent process it lives in died): the
   * engine then opens its thread again (`SessionOptions.threadId`), or starts afresh. Absent: usable.
   */
  readonly alive?: boolean | undefined;
  runTurn(request: TurnRequest): Promise<TurnResult>;
  /** The ticket is over: ends the session. A process the agent shares between sessions stays. */
  close(): Promise<void>;
}

/** What an agent asks a person to allow while a turn runs (a supervised session, see `ApprovalGate`). */
export interface ApprovalQuestion {
  kind: 'command' | 'file_change' | 'permission';
  /** One line: what the agent wants to do. */
  title: string;
  /** The command line, for commands. */
  command?: string;
  /** Where it would run (commands) or the files it touches (file changes). */
  cwd?: string;
  paths?: string[];
  /** The change as a unified diff (file changes, when the agent shows it). */
  diff?: string;
  /** The agent's reason for asking, when it gives one. */
  reason?: string;
}

/** A person's answer (or the configured default on expiry): `cancel` also ends the turn. */
export type ApprovalDecision = 'accept' | 'accept_for_session' | 'decline' | 'cancel';

/**
 * Routes an agent's approval requests to a person. A session opened with one is supervised: the agent
 * asks before it acts, and the turn waits for the answer (the wait is not a stall). `ask` resolves with
 * the answer; when `signal` aborts (the turn stops) it resolves `cancel`.
 */
export interface ApprovalGate {
  ask(question: ApprovalQuestion, signal?: AbortSignal): Promise<ApprovalDecision>;
}

export interface SessionOptions {
  /** Repo (or worktree) root the agent works in. */
  cwd: string;
  /** Supervised: approvals go to a person through this gate (absent: answered by the agent's policy). */
  approvals?: ApprovalGate;
  /** Resume this backend thread instead of starting a new one. */
  threadId?: string;
  ticketPath: string;
  ticketId: string;
  runId: string;
  /**
   * Set when the session is opened ahead of need while another turn starts: it resolves once that turn
   * is under way (or over). A backend whose session start would compete with the turn's own start (on
   * the same process) waits for it; one whose session start is slow opens at once.
   */
  openAfter?: Promise<void>;
}

/**
 * An MCP server (stdio) an agent is given, as codex's `mcp_servers` and ACP's `mcpServers` describe one:
 * the project manager agent gets car's own (`car mcp`).
 */
export interface McpServerSpec {
  name: string;
  command: string;
  args: string[];
  env?: Record<string, string>;
  /** How long the agent waits for the server to start, and for one tool call (codex only; its defaults: 10 s, 60 s). */
  startupTimeoutSec?: number;
  toolTimeoutSec?: number;
}

/**
 * An agent backend. One that keeps a process between sessions (codex app-server, ACP agents: one process
 * per agent for the run, a session per ticket) has `prewarm` and `close`.
 */
export interface Agent {
  readonly id: string;
  startSession(options: SessionOptions): Promise<AgentSession>;
  /**
   * Starts what a session will need (the agent's process) now, so that a later `startSession` does not
   * wait for it. Best effort: returns at once, never throws; a failure shows at `startSession`.
   */
  prewarm?(options: { cwd: string }): void;
  /** Stops the processes the agent keeps between sessions (the run is over); a later session starts anew. */
  close?(): Promise<void>;
  /**
   * The process it keeps between sessions would be started in `cwd` so (argv, whole environment), and
   * reads these files as it starts: what a warm start of the next run needs (agents/warm-start.ts).
   */
  warmLaunch?(cwd: string): {
    launch: { command: readonly string[]; cwd: string; env: NodeJS.ProcessEnv };
    startFiles: string[];
  };
}

/**
 * Resolves a ticket's `agent:` id to a backend; throws for ids it cannot run. A resolver that keeps its
 * agents (and their processes) for a run has `close`, which the run's owner calls when the run ends.
 */
export type AgentResolver = ((agentId: string) => Agent) & { close?: () => Promise<void> };
