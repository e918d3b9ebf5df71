// claude-stream-json: `claude -p … --output-format stream-json --verbose` (also Amp, Cursor CLI).
import type { AgentEvent } from '../../../core/agent.ts';
import { arr, Base, num, parseJson, rec, type StreamParser, str, stringify } from './base.ts';

export function claudeParser(): StreamParser {
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
