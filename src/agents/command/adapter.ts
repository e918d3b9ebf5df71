// Command backend: a headless agent CLI run once per turn (claude -p, gemini -p, opencode run, codex
// exec, or any command printing text). The CLI's session id, when it reports one, becomes the thread
// id and is passed back on the next turn so the conversation continues.
import { StringDecoder } from 'node:string_decoder';
import type { Agent, AgentSession, SessionOptions, TurnRequest, TurnResult } from '../../core/agent.ts';
import { within } from '../../core/proc/wait.ts';
import {
  type AgentProcess,
  classifyFailure,
  describeExit,
  spawnAgentProcess,
  toTurnError,
} from '../process.ts';
import { failedTurn, safeEmitter, startTurnHarness } from '../turn-harness.ts';
import { type CommandFormat, createParser } from './parsers.ts';

export interface CommandAgentOptions {
  id: string;
  format: CommandFormat;
  /** argv before the prompt, e.g. `['claude', '-p', '--output-format', 'stream-json', '--verbose']`. */
  command: readonly string[];
  /** Extra environment (merged over `baseEnv`). */
  env?: Record<string, string>;
  /** The environment the agent starts from (default process.env); the resolver passes car's without car's secrets. */
  baseEnv?: NodeJS.ProcessEnv;
  /** Pass the prompt as the last argument (default) or write it to stdin. */
  promptVia?: 'arg' | 'stdin';
  /** Arguments that resume a thread (inserted before the prompt); null disables. Default per format. */
  resumeArgs?: ((threadId: string) => string[]) | null;
  /** Arguments that select a model; null ignores `model`. Default per format. */
  modelArgs?: ((model: string) => string[]) | null;
  /** Arguments for a reasoning effort; null ignores `reasoning`. Default per format. */
  reasoningArgs?: ((reasoning: string) => string[]) | null;
  /** No output for this long → kill; the turn fails 'stalled' (default 5 min). */
  stallTimeoutMs?: number;
  /** Hard cap on one turn → kill; the turn fails 'timeout' (default 60 min, 0 = none). */
  turnTimeoutMs?: number;
  /** SIGTERM → SIGKILL grace when killing the process group (default 2 s). */
  killGraceMs?: number;
}

type ArgsFn = ((value: string) => string[]) | null;

const FORMAT_DEFAULTS: Record<CommandFormat, { resume: ArgsFn; model: ArgsFn; reasoning: ArgsFn }> = {
  'claude-stream-json': {
    resume: (id) => ['--resume', id],
    model: (m) => ['--model', m],
    reasoning: null,
  },
  'gemini-stream-json': { resume: (id) => ['--resume', id], model: (m) => ['-m', m], reasoning: null },
  // `--variant`: opencode's provider-specific reasoning effort (high, max, minimal, ...)
  'opencode-json': {
    resume: (id) => ['--session', id],
    model: (m) => ['-m', m],
    reasoning: (r) => ['--variant', r],
  },
  // `codex exec [options] resume <id> [prompt]`: exec options (model) come before `resume`
  'codex-exec-json': {
    resume: (id) => ['resume', id],
    model: (m) => ['-m', m],
    reasoning: (r) => ['-c', `model_reasoning_effort="${r}"`],
  },
  text: { resume: null, model: null, reasoning: null },
};

const DEFAULTS = { stallTimeoutMs: 5 * 60_000, turnTimeoutMs: 60 * 60_000, killGraceMs: 2000 };

/** argv for one turn: command, model/reasoning args, resume args, then the prompt (when passed as argument). */
export function buildCommandArgv(
  options: CommandAgentOptions,
  request: Pick<TurnRequest, 'prompt' | 'model' | 'reasoning'>,
  threadId: string | null,
): { argv: string[]; ignored: string[] } {
  const defaults = FORMAT_DEFAULTS[options.format];
  const pick = (value: ArgsFn | undefined, fallback: ArgsFn) => (value === undefined ? fallback : value);
  const modelArgs = pick(options.modelArgs, defaults.model);
  const reasoningArgs = pick(options.reasoningArgs, defaults.reasoning);
  const resumeArgs = pick(options.resumeArgs, defaults.resume);
  const argv = [...options.command];
  const ignored: string[] = [];
  if (request.model) {
    if (modelArgs) argv.push(...modelArgs(request.model));
    else ignored.push(`model "${request.model}"`);
  }
  if (request.reasoning) {
    if (reasoningArgs) argv.push(...reasoningArgs(request.reasoning));
    else ignored.push(`reasoning "${request.reasoning}"`);
  }
  if (threadId && resumeArgs) argv.push(...resumeArgs(threadId));
  if ((options.promptVia ?? 'arg') === 'arg') argv.push(request.prompt);
  return { argv, ignored };
}

export function createCommandAgent(options: CommandAgentOptions): Agent {
  if (options.command.length === 0) throw new Error(`agent "${options.id}": empty command`);
  return {
    id: options.id,
    startSession: async (session) => new CommandSession(options, session),
  };
}

class CommandSession implements AgentSession {
  #threadId: string | null;
  readonly #options: CommandAgentOptions;
  readonly #cwd: string;
  #running: AgentProcess | null = null;
  #closed = false;

  constructor(options: CommandAgentOptions, session: SessionOptions) {
    this.#options = options;
    this.#cwd = session.cwd;
    this.#threadId = session.threadId ?? null;
  }

  get threadId(): string | null {
    return this.#threadId;
  }

  async runTurn(request: TurnRequest): Promise<TurnResult> {
    if (this.#closed) return failedTurn({ kind: 'agent', message: 'session closed' });
    if (this.#running) return failedTurn({ kind: 'agent', message: 'a turn is already running' });
    if (request.signal.aborted) return { status: 'cancelled', finalText: '' };
    const emit = safeEmitter(request.onEvent);
    const { argv, ignored } = buildCommandArgv(this.#options, request, this.#threadId);
    for (const what of ignored)
      emit({ type: 'status', message: `${what} ignored: the command has no flag for it` });
    const viaStdin = this.#options.promptVia === 'stdin';
    const settings = { ...DEFAULTS };
    if (this.#options.stallTimeoutMs !== undefined) settings.stallTimeoutMs = this.#options.stallTimeoutMs;
    if (this.#options.turnTimeoutMs !== undefined) settings.turnTimeoutMs = this.#options.turnTimeoutMs;
    if (this.#options.killGraceMs !== undefined) settings.killGraceMs = this.#options.killGraceMs;

    let touch = () => {};
    let proc: AgentProcess;
    try {
      proc = await spawnAgentProcess({
        command: argv,
        cwd: this.#cwd,
        env: { ...(this.#options.baseEnv ?? process.env), ...(this.#options.env ?? {}) },
        stdin: viaStdin ? 'pipe' : 'ignore',
        killGraceMs: settings.killGraceMs,
        onStderr: () => touch(),
      });
    } catch (err) {
      const error = toTurnError(err, 'spawn');
      emit({ type: 'error', message: error.message });
      return failedTurn(error);
    }
    this.#running = proc;
    // the CLI runs for one turn: stopping the turn is killing it
    const turn = startTurnHarness(request, {
      stallTimeoutMs: settings.stallTimeoutMs,
      turnTimeoutMs: settings.turnTimeoutMs,
      onStop: () => void proc.kill(),
    });
    touch = () => turn.touch();

    const parser = createParser(this.#options.format);
    const decoder = new StringDecoder('utf8');
    let pending = '';
    const feed = (line: string) => {
      for (const event of parser.line(line)) {
        if (event.type !== 'error') turn.touch(); // an agent only reporting errors (retry loops) is stalled
        emit(event);
      }
    };
    const stdoutDone = new Promise<void>((resolve) => {
      proc.stdout.on('data', (chunk: Buffer) => {
        pending += decoder.write(chunk);
        let nl = pending.indexOf('\n');
        while (nl >= 0) {
          feed(pending.slice(0, nl).replace(/\r$/, ''));
          pending = pending.slice(nl + 1);
          nl = pending.indexOf('\n');
        }
      });
      proc.stdout.once('close', () => resolve());
      proc.stdout.once('end', () => resolve());
    });
    if (viaStdin && proc.stdin) {
      proc.stdin.end(request.prompt);
    }

    const exit = await proc.exited;
    // a grandchild may hold stdout open after the CLI exited; do not wait for it long
    await within(stdoutDone, 1000);
    turn.end();
    await proc.kill();
    this.#running = null;
    pending += decoder.end();
    if (pending !== '') feed(pending);
    const end = parser.finish();
    for (const event of end.events) emit(event);
    const outcome = end.outcome;
    if (outcome.threadId) this.#threadId = outcome.threadId;
    if (outcome.usage) emit({ type: 'usage', usage: outcome.usage });
    const base = { finalText: outcome.finalText, ...(outcome.usage ? { usage: outcome.usage } : {}) };

    const stopped = turn.stoppedResult(base);
    if (stopped) {
      if (stopped.error) emit({ type: 'error', message: stopped.error.message });
      return stopped;
    }
    if (exit.code !== 0 || outcome.error) {
      const tail = proc.stderrTail();
      const message = outcome.error ?? describeExit(exit, tail);
      const full = outcome.error && exit.code !== 0 ? `${message} (${describeExit(exit, tail)})` : message;
      emit({ type: 'error', message: full });
      return {
        status: 'failed',
        ...base,
        error: classifyFailure(full, 'agent'),
      };
    }
    return { status: 'completed', ...base };
  }

  async close(): Promise<void> {
    this.#closed = true;
    await this.#running?.kill();
  }
}
