// opencode-json: `opencode run --format json …`.
import type { AgentEvent } from '../../../core/agent.ts';
import { Base, num, parseJson, rec, type StreamParser, str, stringify } from './base.ts';

export function opencodeParser(): StreamParser {
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
