import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import type {
  Agent,
  AgentEvent,
  AgentSession,
  SessionOptions,
  TurnRequest,
  TurnResult,
} from '../core/agent.ts';
import { writeFileAtomic } from '../core/fs/atomic.ts';
import { abortableSleep } from '../core/sleep.ts';
import { setTicketFileField } from '../core/tickets/index.ts';

/**
 * car's bundled demo agent: deterministic, offline, no account. It does not think; it follows a small
 * script in the ticket body (a ```car-demo fenced block), one step per line:
 *
 *   say <text>            stream a message
 *   write <path> <text>   create or replace a file (\n in text becomes a newline)
 *   append <path> <text>  append a line to a file
 *   commit <message>      git add -A && git commit
 *   done                  set `done: true` in the ticket
 *   ask <question>        pause for a human (DISPATCH.md mode: pause) until a reply arrives;
 *                         `ask <question> | <answer> | <answer>` offers ready answers (dispatch options)
 *   notify <text>         tell the human without pausing (DISPATCH.md mode: notify)
 *   sleep <ms>            wait (abortable; not repeated after a crash)
 *   fail <message>        end the turn as failed
 *   bug <drain|reject|throw>  misbehave as a broken adapter would, to see car end the run with a
 *                         recorded internal error: await a promise nothing can settle (the event loop
 *                         empties), leave a rejection unhandled, or throw from a timer
 *
 * Without a script it writes `demo/<ticket>.txt`, marks the ticket done and commits. Progress through
 * the script is kept per ticket under the run folder, so a turn after a pause continues where it was.
 */
export interface DemoAgentOptions {
  /** Pause between steps so a person can watch the run; 0 in tests. */
  stepDelayMs?: number;
  /** The environment of its git commands (default process.env); the resolver passes car's without car's secrets. */
  baseEnv?: NodeJS.ProcessEnv;
}

interface Step {
  op: string;
  arg: string;
}

function parseScript(ticketText: string): Step[] | null {
  const match = /^```car-demo[^\n]*\n([\s\S]*?)^```/m.exec(ticketText.replace(/\r\n/g, '\n'));
  if (!match) return null;
  return (match[1] ?? '')
    .split('\n')
    .map((line) => line.trim())
    .filter((line) => line !== '' && !line.startsWith('#'))
    .map((line) => {
      const space = line.indexOf(' ');
      return space < 0
        ? { op: line, arg: '' }
        : { op: line.slice(0, space), arg: line.slice(space + 1).trim() };
    });
}

function defaultScript(ticketName: string, title: string): Step[] {
  const stem = ticketName.replace(/\.md$/i, '');
  return [
    { op: 'say', arg: `Working on ${stem}: ${title}` },
    { op: 'write', arg: `demo/${stem}.txt ${title}\\n` },
    { op: 'done', arg: '' },
    { op: 'commit', arg: `demo: ${title}` },
    { op: 'say', arg: `Finished ${stem}.` },
  ];
}

function splitPathArg(arg: string): [string, string] {
  const space = arg.indexOf(' ');
  return space < 0 ? [arg, ''] : [arg.slice(0, space), arg.slice(space + 1)];
}

function git(cwd: string, env: NodeJS.ProcessEnv, args: string[]): string {
  return execFileSync('git', ['-c', 'user.name=car demo', '-c', 'user.email=demo@car.invalid', ...args], {
    cwd,
    env,
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'pipe'],
  });
}

class DemoSession implements AgentSession {
  readonly threadId: string;
  private readonly options: SessionOptions;
  private readonly delayMs: number;
  private readonly env: NodeJS.ProcessEnv;

  constructor(options: SessionOptions, delayMs: number, env: NodeJS.ProcessEnv) {
    this.options = options;
    this.delayMs = delayMs;
    this.env = env;
    this.threadId = `demo-${options.runId}-${options.ticketId}`;
  }

  private get progressFile(): string {
    return join(
      this.options.cwd,
      '.codex-autorunner',
      'runs',
      this.options.runId,
      'demo-agent',
      `${this.options.ticketId}.json`,
    );
  }

  private readProgress(): number {
    try {
      return (JSON.parse(readFileSync(this.progressFile, 'utf8')) as { step: number }).step;
    } catch {
      return 0;
    }
  }

  private saveProgress(step: number): void {
    mkdirSync(dirname(this.progressFile), { recursive: true });
    writeFileAtomic(this.progressFile, JSON.stringify({ step }));
  }

  /** Resolves a script path inside the repo; the demo agent never writes outside it. */
  private inRepo(path: string): string {
    const abs = resolve(this.options.cwd, path);
    if (relative(this.options.cwd, abs).startsWith('..')) throw new Error(`path escapes the repo: ${path}`);
    return abs;
  }

  private writeDispatch(mode: 'pause' | 'notify', arg: string): void {
    const file = join(this.options.cwd, '.codex-autorunner', 'runs', this.options.runId, 'DISPATCH.md');
    mkdirSync(dirname(file), { recursive: true });
    const [text = '', ...options] = arg.split('|').map((part) => part.trim());
    const title = text.length > 60 ? `${text.slice(0, 57)}...` : text;
    const choices = options.length > 0 ? `options: ${JSON.stringify(options)}\n` : '';
    writeFileAtomic(file, `---\nmode: ${mode}\ntitle: ${JSON.stringify(title)}\n${choices}---\n\n${text}\n`);
  }

  async runTurn(request: TurnRequest): Promise<TurnResult> {
    const { cwd, ticketPath } = this.options;
    const ticketFile = join(cwd, ticketPath);
    const ticketText = readFileSync(ticketFile, 'utf8');
    const title = /^title:\s*["']?(.*?)["']?\s*$/m.exec(ticketText)?.[1] ?? ticketPath;
    const steps = parseScript(ticketText) ?? defaultScript(ticketPath.split('/').pop() ?? ticketPath, title);
    const hasReply = /\[USER_REPLY \d+\]/.test(request.prompt);
    const said: string[] = [];
    const emit = (event: AgentEvent) => request.onEvent(event);

    for (let i = this.readProgress(); i < steps.length; i++) {
      if (request.signal.aborted) return { status: 'cancelled', finalText: said.join('\n') };
      const { op, arg } = steps[i]!;
      emit({ type: 'tool_call', name: `demo.${op}`, input: arg });
      switch (op) {
        case 'say':
          for (const word of arg.split(/(?<= )/)) emit({ type: 'message_delta', text: word });
          emit({ type: 'message', text: arg });
          said.push(arg);
          break;
        case 'write':
        case 'append': {
          const [path, text] = splitPathArg(arg);
          const abs = this.inRepo(path);
          const content = text.replace(/\\n/g, '\n');
          mkdirSync(dirname(abs), { recursive: true });
          const existed = existsSync(abs);
          if (op === 'write') writeFileSync(abs, content);
          else writeFileSync(abs, `${existed ? readFileSync(abs, 'utf8') : ''}${content}\n`);
          emit({ type: 'file_change', path, kind: existed ? 'modify' : 'add' });
          break;
        }
        case 'commit': {
          git(cwd, this.env, ['add', '-A']);
          const staged = git(cwd, this.env, ['diff', '--cached', '--name-only']).trim();
          if (staged) {
            git(cwd, this.env, ['commit', '-q', '-m', arg || 'demo commit']);
            emit({ type: 'command_output', command: 'git commit', text: staged, exitCode: 0 });
          }
          break;
        }
        case 'done':
          setTicketFileField(ticketFile, 'done', true);
          emit({ type: 'file_change', path: ticketPath, kind: 'modify' });
          break;
        case 'ask':
          if (!hasReply) {
            this.writeDispatch('pause', arg);
            this.saveProgress(i);
            said.push(`Asked: ${arg}`);
            emit({ type: 'message', text: `Asked: ${arg}` });
            return { status: 'completed', finalText: said.join('\n') };
          }
          break;
        case 'notify':
          this.writeDispatch('notify', arg);
          break;
        case 'sleep':
          // counted as done once started, so a turn killed mid-sleep does not sleep again after a restart
          this.saveProgress(i + 1);
          await abortableSleep(Number(arg) || 0, request.signal);
          break;
        case 'fail':
          this.saveProgress(i + 1);
          return {
            status: 'failed',
            finalText: said.join('\n'),
            error: { kind: 'agent', message: arg || 'demo failure' },
          };
        case 'bug':
          this.saveProgress(i + 1);
          if (arg === 'reject') void Promise.reject(new Error('demo agent: a rejection nobody handles'));
          if (arg === 'throw') {
            setTimeout(() => {
              throw new Error('demo agent: an exception nobody catches');
            });
          }
          // a promise nothing settles: what an adapter that missed its child's exit awaits forever
          await new Promise(() => {});
          break;
        default:
          return {
            status: 'failed',
            finalText: said.join('\n'),
            error: { kind: 'agent', message: `unknown car-demo step "${op}" in ${ticketPath}` },
          };
      }
      this.saveProgress(i + 1);
      await abortableSleep(this.delayMs, request.signal);
    }
    emit({
      type: 'usage',
      usage: { inputTokens: Buffer.byteLength(request.prompt), outputTokens: said.join('').length },
    });
    return { status: 'completed', finalText: said.join('\n') || 'Nothing left to do.' };
  }

  async close(): Promise<void> {}
}

export function createDemoAgent(options: DemoAgentOptions = {}): Agent {
  return {
    id: 'demo',
    startSession: async (session) =>
      new DemoSession(session, options.stepDelayMs ?? 0, options.baseEnv ?? process.env),
  };
}
