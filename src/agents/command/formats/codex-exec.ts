// codex-exec-json: `codex exec --json …`.
import type { AgentEvent } from '../../../core/agent.ts';
import { arr, Base, num, parseJson, rec, type StreamParser, str, stringify } from './base.ts';

export function codexExecParser(): StreamParser {
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
