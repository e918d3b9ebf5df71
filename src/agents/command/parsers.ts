// Parsers for the JSONL streams headless agent CLIs print, normalised to car's AgentEvents:
//   claude-stream-json  `claude -p … --output-format stream-json --verbose` (also Amp, Cursor CLI)
//   gemini-stream-json  `gemini -p … -o stream-json`
//   opencode-json       `opencode run --format json …`
//   codex-exec-json     `codex exec --json …`
//   text                any CLI: stdout is the answer
import type { AgentEvent, TurnUsage } from '../../core/agent.ts';

export type CommandFormat =
  | 'claude-stream-json'
  | 'gemini-stream-json'
  | 'opencode-json'
  | 'codex-exec-json'
  | 'text';

export const COMMAND_FORMATS: readonly CommandFormat[] = [
  'claude-stream-json',
  'gemini-stream-json',
  'opencode-json',
  'codex-exec-json',
  'text',
];

export interface ParsedOutcome {
  finalText: string;
  usage?: TurnUsage;
  /** The CLI's session/thread id, for resuming. */
  threadId?: string;
  /** A failure the CLI reported in its stream (it may still exit 0). */
  error?: string;
}

export interface StreamParser {
  /** One line of stdout (without the newline); returns the events it produced. */
  line(line: string): AgentEvent[];
  /** End of output: the outcome and any events still pending (e.g. a message being streamed). */
  finish(): { outcome: ParsedOutcome; events: AgentEvent[] };
}

type Loose = Record<string, unknown>;
const rec = (v: unknown): Loose | undefined =>
  typeof v === 'object' && v !== null && !Array.isArray(v) ? (v as Loose) : undefined;
const str = (v: unknown): string | undefined => (typeof v === 'string' ? v : undefined);
const num = (v: unknown): number | undefined => (typeof v === 'number' && Number.isFinite(v) ? v : undefined);
const arr = (v: unknown): unknown[] => (Array.isArray(v) ? v : []);

function parseJson(line: string): Loose | null {
  const text = line.trim();
  if (!text.startsWith('{')) return null;
  try {
    return rec(JSON.parse(text)) ?? null;
  } catch {
    return null;
  }
}

function stringify(value: unknown): string {
  if (value === undefined || value === null) return '';
  return typeof value === 'string' ? value : JSON.stringify(value);
}

/** Usage while parsing: fields may be explicitly undefined until compacted. */
type LooseUsage = { [K in keyof TurnUsage]?: number | undefined };

function compactUsage(usage: LooseUsage): TurnUsage | undefined {
  const out: TurnUsage = {};
  for (const [k, v] of Object.entries(usage) as [keyof TurnUsage, number | undefined][]) {
    if (v !== undefined) out[k] = v;
  }
  return Object.keys(out).length > 0 ? out : undefined;
}

/** Shared state and the final outcome builder. */
class Base {
  threadId: string | undefined;
  lastText = '';
  resultText: string | undefined;
  usage: LooseUsage = {};
  error: string | undefined;

  /** Non-JSON lines on stdout are shown, not fatal (CLIs print the odd warning). */
  noise(line: string): AgentEvent[] {
    return line.trim() ? [{ type: 'status', message: line.trim().slice(0, 500) }] : [];
  }

  outcome(): ParsedOutcome {
    const usage = compactUsage(this.usage);
    return {
      finalText: this.resultText ?? this.lastText,
      ...(usage ? { usage } : {}),
      ...(this.threadId ? { threadId: this.threadId } : {}),
      ...(this.error ? { error: this.error } : {}),
    };
  }
}

function claudeParser(): StreamParser {
  const s = new Base();
  return {
    line(line) {
      const ev = parseJson(line);
      if (!ev) return s.noise(line);
      const out: AgentEvent[] = [];
      const sessionId = str(ev.session_id);
      if (sessionId) s.threadId = sessionId;
      switch (ev.type) {
        case 'system':
          if (ev.subtype === 'init')
            out.push({ type: 'status', message: `session ${sessionId ?? '?'} started` });
          break;
        case 'stream_event': {
          const inner = rec(ev.event);
          const delta = rec(inner?.delta);
          if (inner?.type === 'content_block_delta' && delta?.type === 'text_delta' && str(delta.text)) {
            out.push({ type: 'message_delta', text: str(delta.text)! });
          }
          break;
        }
        case 'assistant': {
          const texts: string[] = [];
          for (const block of arr(rec(ev.message)?.content).map(rec)) {
            if (block?.type === 'text' && str(block.text)) texts.push(str(block.text)!);
            else if (block?.type === 'tool_use') {
              out.push({
                type: 'tool_call',
                name: str(block.name) ?? 'tool',
                ...(str(block.id) ? { id: str(block.id)! } : {}),
                ...(block.input !== undefined ? { input: block.input } : {}),
              });
            }
          }
          if (texts.length > 0) {
            s.lastText = texts.join('');
            out.unshift({ type: 'message', text: s.lastText });
          }
          break;
        }
        case 'user': {
          for (const block of arr(rec(ev.message)?.content).map(rec)) {
            if (block?.type !== 'tool_result') continue;
            const content = Array.isArray(block.content)
              ? block.content
                  .map(rec)
                  .map((c) => str(c?.text) ?? '')
                  .join('')
              : stringify(block.content);
            const id = str(block.tool_use_id);
            out.push(
              block.is_error === true
                ? { type: 'tool_result', ...(id ? { id } : {}), error: content || 'tool failed' }
                : { type: 'tool_result', ...(id ? { id } : {}), ...(content ? { output: content } : {}) },
            );
          }
          break;
        }
        case 'result': {
          const result = str(ev.result);
          if (result !== undefined) s.resultText = result;
          const u = rec(ev.usage);
          if (u) {
            const input = num(u.input_tokens);
            const cacheRead = num(u.cache_read_input_tokens);
            const cacheWrite = num(u.cache_creation_input_tokens);
            s.usage.inputTokens =
              input === undefined && cacheRead === undefined && cacheWrite === undefined
                ? undefined
                : (input ?? 0) + (cacheRead ?? 0) + (cacheWrite ?? 0);
            s.usage.cachedInputTokens = cacheRead;
            s.usage.outputTokens = num(u.output_tokens);
          }
          s.usage.costUsd = num(ev.total_cost_usd);
          if (ev.is_error === true || (str(ev.subtype) && ev.subtype !== 'success')) {
            s.error = result || str(ev.error) || `claude finished with ${str(ev.subtype) ?? 'an error'}`;
          }
          break;
        }
      }
      return out;
    },
    finish: () => ({ outcome: s.outcome(), events: [] }),
  };
}

function geminiParser(): StreamParser {
  const s = new Base();
  let current = '';
  const flush = (out: AgentEvent[]) => {
    if (current === '') return;
    s.lastText = current;
    out.push({ type: 'message', text: current });
    current = '';
  };
  return {
    line(line) {
      const ev = parseJson(line);
      if (!ev) return s.noise(line);
      const out: AgentEvent[] = [];
      switch (ev.type) {
        case 'init':
          s.threadId = str(ev.session_id) ?? s.threadId;
          out.push({
            type: 'status',
            message: `session ${s.threadId ?? '?'} started (${str(ev.model) ?? 'model ?'})`,
          });
          break;
        case 'message': {
          const text = str(ev.content);
          if (ev.role !== 'assistant' || !text) break;
          if (ev.delta === true) {
            current += text;
            out.push({ type: 'message_delta', text });
          } else {
            flush(out);
            current = text;
            flush(out);
          }
          break;
        }
        case 'tool_use':
          flush(out);
          out.push({
            type: 'tool_call',
            name: str(ev.tool_name) ?? 'tool',
            ...(str(ev.tool_id) ? { id: str(ev.tool_id)! } : {}),
            ...(ev.parameters !== undefined ? { input: ev.parameters } : {}),
          });
          break;
        case 'tool_result': {
          const id = str(ev.tool_id);
          const output = stringify(ev.output);
          out.push(
            ev.status === 'error'
              ? {
                  type: 'tool_result',
                  ...(id ? { id } : {}),
                  error: str(rec(ev.error)?.message) ?? (output || 'tool failed'),
                }
              : { type: 'tool_result', ...(id ? { id } : {}), ...(output ? { output } : {}) },
          );
          break;
        }
        case 'error': {
          const message = str(ev.message) ?? 'error';
          out.push(ev.severity === 'warning' ? { type: 'status', message } : { type: 'error', message });
          break;
        }
        case 'result': {
          flush(out);
          const stats = rec(ev.stats);
          if (stats) {
            s.usage.inputTokens = num(stats.input_tokens) ?? num(stats.input);
            s.usage.outputTokens = num(stats.output_tokens);
            s.usage.cachedInputTokens = num(stats.cached);
          }
          if (ev.status === 'error' || ev.error) {
            s.error = str(rec(ev.error)?.message) ?? 'gemini reported an error';
          }
          break;
        }
      }
      return out;
    },
    finish() {
      const out: AgentEvent[] = [];
      flush(out);
      return { outcome: s.outcome(), events: out };
    },
  };
}

function opencodeParser(): StreamParser {
  const s = new Base();
  const tokens = { input: 0, output: 0, cached: 0, cost: 0, seen: false };
  return {
    line(line) {
      const ev = parseJson(line);
      if (!ev) return s.noise(line);
      const out: AgentEvent[] = [];
      s.threadId = str(ev.sessionID) ?? s.threadId;
      const part = rec(ev.part);
      switch (ev.type) {
        case 'text': {
          const text = str(part?.text);
          if (text) {
            s.lastText = text;
            out.push({ type: 'message', text });
          }
          break;
        }
        case 'tool_use': {
          const state = rec(part?.state);
          const id = str(part?.callID) ?? str(part?.id);
          out.push({
            type: 'tool_call',
            name: str(part?.tool) ?? 'tool',
            ...(id ? { id } : {}),
            ...(state?.input !== undefined ? { input: state.input } : {}),
          });
          if (state?.status === 'completed') {
            const output = stringify(state.output);
            out.push({ type: 'tool_result', ...(id ? { id } : {}), ...(output ? { output } : {}) });
          } else if (state?.status === 'error') {
            out.push({
              type: 'tool_result',
              ...(id ? { id } : {}),
              error: stringify(state.error) || 'tool failed',
            });
          }
          break;
        }
        case 'step_finish': {
          const t = rec(part?.tokens);
          if (t) {
            tokens.seen = true;
            tokens.input += num(t.input) ?? 0;
            tokens.output += num(t.output) ?? 0;
            tokens.cached += num(rec(t.cache)?.read) ?? 0;
          }
          if (num(part?.cost) !== undefined) {
            tokens.seen = true;
            tokens.cost += num(part?.cost) ?? 0;
          }
          break;
        }
        case 'error': {
          const err = rec(ev.error);
          const message =
            str(rec(err?.data)?.message) ??
            str(err?.message) ??
            str(err?.name) ??
            stringify(ev.error) ??
            'error';
          s.error = message;
          out.push({ type: 'error', message });
          break;
        }
      }
      return out;
    },
    finish() {
      if (tokens.seen) {
        s.usage = {
          inputTokens: tokens.input,
          outputTokens: tokens.output,
          cachedInputTokens: tokens.cached,
          costUsd: tokens.cost,
        };
      }
      return { outcome: s.outcome(), events: [] };
    },
  };
}

function codexExecParser(): StreamParser {
  const s = new Base();
  return {
    line(line) {
      const ev = parseJson(line);
      if (!ev) return s.noise(line);
      const out: AgentEvent[] = [];
      switch (ev.type) {
        case 'thread.started':
          s.threadId = str(ev.thread_id) ?? s.threadId;
          out.push({ type: 'status', message: `thread ${s.threadId ?? '?'} started` });
          break;
        case 'item.started':
        case 'item.updated':
        case 'item.completed': {
          const item = rec(ev.item);
          const id = str(item?.id);
          const done = ev.type === 'item.completed';
          switch (item?.type) {
            case 'agent_message':
              if (done && str(item.text)) {
                s.lastText = str(item.text)!;
                out.push({ type: 'message', text: s.lastText });
              }
              break;
            case 'command_execution': {
              const command = str(item.command) ?? '';
              if (ev.type === 'item.started') {
                out.push({ type: 'tool_call', name: 'shell', ...(id ? { id } : {}), input: { command } });
              } else if (done) {
                const exitCode = num(item.exit_code);
                out.push({
                  type: 'command_output',
                  command,
                  text: str(item.aggregated_output) ?? '',
                  ...(exitCode !== undefined ? { exitCode } : {}),
                });
                out.push(
                  item.status === 'failed'
                    ? { type: 'tool_result', ...(id ? { id } : {}), error: `exit ${exitCode ?? '?'}` }
                    : {
                        type: 'tool_result',
                        ...(id ? { id } : {}),
                        output: str(item.aggregated_output) ?? '',
                      },
                );
              }
              break;
            }
            case 'file_change':
              if (done) {
                for (const change of arr(item.changes).map(rec)) {
                  const path = str(change?.path);
                  if (!path) continue;
                  const kind =
                    change?.kind === 'add' ? 'add' : change?.kind === 'delete' ? 'delete' : 'modify';
                  out.push({ type: 'file_change', path, kind });
                }
              }
              break;
            case 'mcp_tool_call':
            case 'web_search': {
              const name =
                item.type === 'web_search'
                  ? 'web_search'
                  : `${str(item.server) ?? 'mcp'}/${str(item.tool) ?? 'tool'}`;
              if (ev.type === 'item.started') {
                out.push({
                  type: 'tool_call',
                  name,
                  ...(id ? { id } : {}),
                  ...(item.arguments !== undefined ? { input: item.arguments } : {}),
                });
              } else if (done) {
                const error = str(rec(item.error)?.message) ?? str(item.error);
                out.push(
                  error
                    ? { type: 'tool_result', ...(id ? { id } : {}), error }
                    : { type: 'tool_result', ...(id ? { id } : {}), output: stringify(item.result) },
                );
              }
              break;
            }
            case 'todo_list':
              if (done || ev.type === 'item.updated') {
                const items = arr(item.items).map(rec);
                const completed = items.filter((i) => i?.completed === true).length;
                out.push({ type: 'status', message: `plan: ${completed}/${items.length} done` });
              }
              break;
            case 'error':
              if (done) out.push({ type: 'error', message: str(item.message) ?? 'error' });
              break;
          }
          break;
        }
        case 'turn.completed': {
          const u = rec(ev.usage);
          if (u) {
            s.usage.inputTokens = num(u.input_tokens);
            s.usage.cachedInputTokens = num(u.cached_input_tokens);
            s.usage.outputTokens = num(u.output_tokens);
          }
          break;
        }
        case 'turn.failed':
          s.error = str(rec(ev.error)?.message) ?? 'turn failed';
          out.push({ type: 'error', message: s.error });
          break;
        case 'error':
          out.push({ type: 'error', message: str(ev.message) ?? 'error' });
          break;
      }
      return out;
    },
    finish: () => ({ outcome: s.outcome(), events: [] }),
  };
}

function textParser(): StreamParser {
  const lines: string[] = [];
  return {
    line(line) {
      lines.push(line);
      return [{ type: 'message_delta', text: `${line}\n` }];
    },
    finish() {
      const finalText = lines.join('\n').trim();
      return { outcome: { finalText }, events: finalText ? [{ type: 'message', text: finalText }] : [] };
    },
  };
}

export function createParser(format: CommandFormat): StreamParser {
  switch (format) {
    case 'claude-stream-json':
      return claudeParser();
    case 'gemini-stream-json':
      return geminiParser();
    case 'opencode-json':
      return opencodeParser();
    case 'codex-exec-json':
      return codexExecParser();
    case 'text':
      return textParser();
  }
}

/** Parses a whole recorded output (for tests and offline replays). */
export function parseAll(
  format: CommandFormat,
  output: string,
): { events: AgentEvent[]; outcome: ParsedOutcome } {
  const parser = createParser(format);
  const events: AgentEvent[] = [];
  const lines = output.split('\n');
  if (lines.at(-1) === '') lines.pop();
  for (const line of lines) events.push(...parser.line(line));
  const end = parser.finish();
  events.push(...end.events);
  return { events, outcome: end.outcome };
}
