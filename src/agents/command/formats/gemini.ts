// gemini-stream-json: `gemini -p … -o stream-json`.
import type { AgentEvent } from '../../../core/agent.ts';
import { Base, num, parseJson, rec, type StreamParser, str, stringify } from './base.ts';

export function geminiParser(): StreamParser {
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
