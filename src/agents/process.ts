// Agent child processes: each agent runs in its own process group so that everything it starts
// (shells, language servers, a native binary behind an npm shim) is stopped together.
import type { ChildProcess } from 'node:child_process';
import type { Readable, Writable } from 'node:stream';
import type { TurnError } from '../core/agent.ts';
import { killProcessGroup, processGroupAlive, signalProcessGroup, spawnInGroup } from '../core/proc/group.ts';
import { processStartTicks } from '../core/proc/liveness.ts';
import { type LedgerGroup, writeGroupLedger } from './group-ledger.ts';
import { takeWarm } from './warm-start.ts';

/** An error with the classification the engine decides on (see `TurnError.kind`). */
export class AgentError extends Error {
  readonly kind: TurnError['kind'];
  readonly retryAt?: string;
  constructor(kind: TurnError['kind'], message: string, retryAt?: string) {
    super(message);
    this.name = 'AgentError';
    this.kind = kind;
    if (retryAt !== undefined) this.retryAt = retryAt;
  }

  static from(error: TurnError): AgentError {
    return new AgentError(error.kind, error.message, error.retryAt);
  }
}

/** Classifies any thrown value as a `TurnError`. */
export function toTurnError(err: unknown, fallback: TurnError['kind'] = 'unknown'): TurnError {
  if (err instanceof AgentError)
    return { kind: err.kind, message: err.message, ...(err.retryAt ? { retryAt: err.retryAt } : {}) };
  const message = err instanceof Error ? err.message : String(err);
  return { kind: fallback, message };
}

const NETWORK_RE =
  /ECONNREFUSED|ENOTFOUND|EAI_AGAIN|ECONNRESET|ETIMEDOUT|ENETUNREACH|socket hang up|fetch failed|network error|connection error|waiting for network|overloaded|rate limit|\b(429|502|503|504)\b/i;

const QUOTA_RE =
  /usage limit (?:reached|exceeded)|hit your (?:usage )?limit|insufficient_quota|quota (?:exceeded|exhausted)/i;
/** Claude Code's form: `Claude AI usage limit reached|<unix seconds of the reset>`. */
const RESET_EPOCH_RE = /limit reached\|(\d{9,11})\b/i;

/**
 * Classifies an agent's failure text: a used-up plan or quota (with the reset time when the text
 * carries one), a transient network failure, or `fallback`.
 */
export function classifyFailure(message: string, fallback: TurnError['kind']): TurnError {
  if (QUOTA_RE.test(message)) {
    const epoch = RESET_EPOCH_RE.exec(message)?.[1];
    return {
      kind: 'quota',
      message,
      ...(epoch ? { retryAt: new Date(Number(epoch) * 1000).toISOString() } : {}),
    };
  }
  return { kind: NETWORK_RE.test(message) ? 'network' : fallback, message };
}

export interface ProcessExit {
  code: number | null;
  signal: NodeJS.Signals | null;
}

export interface SpawnAgentOptions {
  /** argv; the first element is the binary (looked up on PATH). */
  command: readonly string[];
  cwd: string;
  /** Full environment of the child (callers merge `process.env` themselves). */
  env?: NodeJS.ProcessEnv;
  /** 'pipe' (default) or 'ignore' for stdin. */
  stdin?: 'pipe' | 'ignore';
  /** Bytes of stderr kept for error messages (default 8 KiB). */
  stderrTailBytes?: number;
  /** SIGTERM → SIGKILL grace when killing (default 2000 ms). */
  killGraceMs?: number;
  /** Aborting kills the process group. */
  signal?: AbortSignal;
  /** Called with every stderr chunk (after it is added to the tail). */
  onStderr?: (chunk: Buffer) => void;
  /** Written to stdin as soon as the process is started (a warm start wrote it already). */
  prelude?: string;
}

export interface AgentProcess {
  /** The child's pid, which is also its process group id. */
  readonly pid: number;
  /** Started ahead by a warm start (warm-start.ts), not by this spawn. */
  readonly warm: boolean;
  readonly child: ChildProcess;
  readonly stdin: Writable | null;
  readonly stdout: Readable;
  /** Resolves when the group leader exits (never rejects). */
  readonly exited: Promise<ProcessExit>;
  /** The exit of the group leader, once it happened. */
  readonly exit: ProcessExit | null;
  /** The last bytes the process wrote to stderr, decoded and trimmed. */
  stderrTail(): string;
  /** Sends a signal to the whole process group; false when the group is gone. */
  signalGroup(signal: NodeJS.Signals): boolean;
  /**
   * SIGTERM to the group, SIGKILL after the grace period, then waits until the leader has exited and no
   * live member of the group is left (bounded). Idempotent.
   */
  kill(graceMs?: number): Promise<ProcessExit>;
}

const DEFAULT_TAIL = 8 * 1024;
const DEFAULT_GRACE_MS = 2000;
/** How long an exited agent's stderr may take to drain before its exit is reported. */
const STDERR_DRAIN_MS = 250;

/** Live process groups, SIGKILLed when this process exits so no agent outlives car. */
const liveGroups = new Map<number, LedgerGroup>();
let exitHookInstalled = false;
let ledgerFile: string | null = null;

/**
 * Keeps the ledger of this process's live agent groups in `file` (null: none), so that a successor can
 * stop them if this process is killed before its exit hook runs (see orphans.ts).
 */
export function keepGroupLedger(file: string | null): void {
  ledgerFile = file;
  saveLedger();
}

function saveLedger(): void {
  if (ledgerFile === null) return;
  try {
    writeGroupLedger(ledgerFile, [...liveGroups.values()]);
  } catch {
    // A ledger that cannot be written only weakens recovery after a SIGKILL; the agent still runs.
  }
}

/** Registers an agent's process group to be SIGKILLed if car exits without stopping it. */
export function trackGroup(pgid: number, command: string): void {
  liveGroups.set(pgid, {
    pgid,
    start: processStartTicks(pgid),
    command,
    started_at: new Date().toISOString(),
  });
  saveLedger();
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.on('exit', () => {
    for (const group of liveGroups.keys()) signalProcessGroup(group, 'SIGKILL');
    liveGroups.clear();
    saveLedger();
  });
}

export function untrackGroup(pgid: number): void {
  if (liveGroups.delete(pgid)) saveLedger();
}

class StderrTail {
  #chunks: Buffer[] = [];
  #size = 0;
  readonly #limit: number;
  constructor(limit: number) {
    this.#limit = limit;
  }
  push(chunk: Buffer): void {
    this.#chunks.push(chunk);
    this.#size += chunk.length;
    while (this.#size - (this.#chunks[0]?.length ?? 0) >= this.#limit && this.#chunks.length > 1) {
      this.#size -= this.#chunks.shift()!.length;
    }
  }
  text(): string {
    const all = Buffer.concat(this.#chunks);
    const tail = all.length > this.#limit ? all.subarray(all.length - this.#limit) : all;
    return tail
      .toString('utf8')
      .replace(/^\uFFFD+/, '')
      .trim();
  }
}

/**
 * Spawns an agent in its own process group. Resolves once the process runs; rejects with an
 * `AgentError` of kind 'spawn' naming the binary when it cannot be started (missing, not executable).
 */
export function spawnAgentProcess(options: SpawnAgentOptions): Promise<AgentProcess> {
  const [binary, ...args] = options.command;
  if (!binary) return Promise.reject(new AgentError('spawn', 'empty agent command'));
  if (options.signal?.aborted) return Promise.reject(new AgentError('spawn', 'aborted before start'));
  const tail = new StderrTail(options.stderrTailBytes ?? DEFAULT_TAIL);
  const graceDefault = options.killGraceMs ?? DEFAULT_GRACE_MS;

  return new Promise<AgentProcess>((resolve, reject) => {
    let child: ChildProcess;
    const env = options.env ?? process.env;
    // the very process a warm start began for this launch, if there is one (warm-start.ts)
    const launch = {
      command: options.command,
      cwd: options.cwd,
      env,
      ...(options.prelude ? { prelude: options.prelude } : {}),
    };
    const adopted = takeWarm(launch, options.stdin !== 'ignore');
    try {
      child =
        adopted ??
        spawnInGroup(binary, args, {
          cwd: options.cwd,
          env,
          stdio: [options.stdin ?? 'pipe', 'pipe', 'pipe'],
        });
    } catch (err) {
      reject(new AgentError('spawn', `cannot start agent "${binary}": ${(err as Error).message}`));
      return;
    }
    let exit: ProcessExit | null = null;
    let resolveExit!: (exit: ProcessExit) => void;
    const exited = new Promise<ProcessExit>((r) => {
      resolveExit = r;
    });
    let killing: Promise<ProcessExit> | null = null;
    const pid = child.pid;
    // in the ledger at once, before the 'spawn' event: a worker killed in between would leave an agent
    // that no ledger names (it starts running as soon as it is forked)
    if (pid !== undefined) trackGroup(pid, binary);

    child.stderr?.on('data', (chunk: Buffer) => {
      tail.push(chunk);
      options.onStderr?.(chunk);
    });
    // A closed pipe to a dead child must not crash car.
    child.stdin?.on('error', () => {});
    if (!adopted && options.prelude) child.stdin?.write(options.prelude);
    child.stdout?.on('error', () => {});
    child.stderr?.on('error', () => {});

    const onAbort = () => {
      void handle?.kill();
    };
    child.on('exit', (code, signal) => {
      const settle = () => {
        if (exit) return;
        exit = { code, signal };
        options.signal?.removeEventListener('abort', onAbort);
        resolveExit(exit);
        if (pid !== undefined && !processGroupAlive(pid)) untrackGroup(pid);
      };
      // 'exit' can come before the last stderr bytes are read; wait (briefly: a grandchild may hold the
      // pipe open) for stderr to close, so the exit's error message carries the agent's last words.
      const stderr = child.stderr;
      if (!stderr || stderr.closed) return settle();
      const timer = setTimeout(settle, STDERR_DRAIN_MS);
      stderr.once('close', () => {
        clearTimeout(timer);
        settle();
      });
    });

    let handle: AgentProcess | undefined;
    child.once('error', (err: NodeJS.ErrnoException) => {
      if (handle) return; // errors after spawn (e.g. kill failures) are not spawn failures
      if (pid !== undefined) untrackGroup(pid);
      const why =
        err.code === 'ENOENT'
          ? 'not found (is it installed and on PATH?)'
          : err.code === 'EACCES'
            ? 'not executable'
            : err.message;
      reject(new AgentError('spawn', `cannot start agent "${binary}": ${why}`));
    });
    const spawned = () => {
      if (pid === undefined) {
        reject(new AgentError('spawn', `cannot start agent "${binary}"`));
        return;
      }
      const signalGroup = (sig: NodeJS.Signals): boolean => signalProcessGroup(pid, sig);
      handle = {
        pid,
        warm: adopted !== null,
        child,
        stdin: child.stdin,
        stdout: child.stdout!,
        exited,
        get exit() {
          return exit;
        },
        stderrTail: () => tail.text(),
        signalGroup,
        kill(graceMs = graceDefault) {
          killing ??= (async () => {
            await killProcessGroup(pid, graceMs, () => exit !== null);
            untrackGroup(pid);
            child.stdout?.destroy();
            child.stderr?.destroy();
            child.stdin?.destroy();
            return exit ?? (await exited);
          })();
          return killing;
        },
      };
      options.signal?.addEventListener('abort', onAbort, { once: true });
      resolve(handle);
    };
    // an adopted process was spawned long ago: its 'spawn' event is past
    if (adopted) spawned();
    else child.once('spawn', spawned);
  });
}

/** A human-readable description of an exit, with the stderr tail when there is one. */
export function describeExit(exit: ProcessExit | null, stderrTail: string): string {
  const how =
    exit === null
      ? 'agent process ended'
      : exit.signal
        ? `agent process was killed by ${exit.signal}`
        : `agent process exited with code ${exit.code}`;
  return stderrTail ? `${how}: ${stderrTail}` : how;
}
