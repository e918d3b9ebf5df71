// ACP `session/update` notifications translated to car's AgentEvents for the turn under way.
import * as acp from '@agentclientprotocol/sdk';
import type { TurnUsage } from '../../core/agent.ts';
import type { TurnHarness } from '../turn-harness.ts';

type Loose = Record<string, unknown>;
export interface LooseUpdate {
  sessionId: string;
  update: Loose & { sessionUpdate: string };
}

function record(value: unknown): Loose | undefined {
  return typeof value === 'object' && value !== null && !Array.isArray(value) ? (value as Loose) : undefined;
}
function str(value: unknown): string | undefined {
  return typeof value === 'string' ? value : undefined;
}

/**
 * `session/update` is parsed leniently: real agents send slightly off-schema updates (claude-agent-acp
 * sends `usage_update` with `used: null`), and one odd field must not drop a message chunk.
 */
export function parseLooseUpdate(params: unknown): LooseUpdate {
  const p = record(params);
  const update = record(p?.update);
  if (typeof p?.sessionId !== 'string' || !update || typeof update.sessionUpdate !== 'string') {
    throw acp.RequestError.invalidParams(
      undefined,
      'session/update needs sessionId and update.sessionUpdate',
    );
  }
  return { sessionId: p.sessionId, update: update as LooseUpdate['update'] };
}

/** What the updates of one turn add up to. */
export interface TurnState {
  readonly harness: TurnHarness;
  /** Text of the message being streamed, and its id. */
  current: string;
  currentId: string | null;
  lastMessage: string;
  usage: TurnUsage;
  hasUsage: boolean;
  /** Tool call titles by id (permission requests name the tool by its call id). */
  tools: Map<string, string>;
}

export function newTurnState(harness: TurnHarness): TurnState {
  return {
    harness,
    current: '',
    currentId: null,
    lastMessage: '',
    usage: {},
    hasUsage: false,
    tools: new Map(),
  };
}

/** Translates one update of the turn into events (and the turn's running state). */
export function translateUpdate(turn: TurnState, update: LooseUpdate['update']): void {
  const kind = update.sessionUpdate;
  const emit = turn.harness.emit;
  switch (kind) {
    case 'agent_message_chunk': {
      const content = record(update.content);
      const text = content?.type === 'text' ? str(content.text) : undefined;
      if (!text) return;
      const id = str(update.messageId) ?? null;
      if (id !== null && turn.currentId !== null && id !== turn.currentId) flushMessage(turn);
      turn.currentId = id;
      turn.current += text;
      emit({ type: 'message_delta', text });
      return;
    }
    case 'tool_call':
    case 'tool_call_update': {
      flushMessage(turn);
      const id = str(update.toolCallId) ?? '';
      const title = str(update.title) || str(update.kind);
      if (kind === 'tool_call') {
        const name = title || 'tool';
        turn.tools.set(id, name);
        emit({
          type: 'tool_call',
          name,
          id,
          ...(update.rawInput !== undefined && update.rawInput !== null ? { input: update.rawInput } : {}),
        });
      } else if (title) {
        turn.tools.set(id, title);
      }
      const content = Array.isArray(update.content) ? (update.content as unknown[]).map(record) : [];
      for (const item of content) {
        const path = str(item?.path);
        if (item?.type === 'diff' && path) {
          emit({ type: 'file_change', path, kind: item.oldText == null ? 'add' : 'modify' });
        }
      }
      if (update.status === 'completed' || update.status === 'failed') {
        const texts = content.flatMap((item) => {
          const inner = record(item?.content);
          const text = item?.type === 'content' && inner?.type === 'text' ? str(inner.text) : undefined;
          return text === undefined ? [] : [text];
        });
        let output = texts.join('\n');
        if (output === '' && update.rawOutput !== undefined && update.rawOutput !== null) {
          output = typeof update.rawOutput === 'string' ? update.rawOutput : JSON.stringify(update.rawOutput);
        }
        emit(
          update.status === 'failed'
            ? { type: 'tool_result', id, error: output || 'tool call failed' }
            : { type: 'tool_result', id, ...(output ? { output } : {}) },
        );
      }
      return;
    }
    case 'plan': {
      const entries = Array.isArray(update.entries) ? (update.entries as unknown[]).map(record) : [];
      const done = entries.filter((e) => e?.status === 'completed').length;
      const active = str(entries.find((e) => e?.status === 'in_progress')?.content);
      emit({
        type: 'status',
        message: `plan: ${done}/${entries.length} done${active ? `; now: ${active}` : ''}`,
      });
      return;
    }
    case 'usage_update': {
      const cost = record(update.cost);
      if (typeof cost?.amount === 'number' && str(cost.currency)?.toUpperCase() === 'USD') {
        turn.usage.costUsd = cost.amount;
        turn.hasUsage = true;
      }
      if (typeof update.used === 'number') {
        emit({ type: 'status', message: `context: ${update.used}/${String(update.size)} tokens` });
      }
      return;
    }
    case 'current_mode_update':
      emit({ type: 'status', message: `mode: ${String(update.currentModeId)}` });
      return;
    case 'notice': {
      const title = str(update.title) ?? 'notice';
      const text = str(update.description) ? `${title}: ${str(update.description)}` : title;
      emit(
        update.severity === 'error' ? { type: 'error', message: text } : { type: 'status', message: text },
      );
      return;
    }
    case 'compaction_update':
      emit({ type: 'status', message: 'compacting context' });
      return;
    default:
      // user_message_chunk, agent_thought_chunk, available_commands_update, session_info_update, …
      return;
  }
}

/** Ends the message being streamed: it becomes the turn's last message. */
export function flushMessage(turn: TurnState): void {
  if (turn.current === '') return;
  turn.harness.emit({ type: 'message', text: turn.current });
  turn.lastMessage = turn.current;
  turn.current = '';
  turn.currentId = null;
}

/** Usage from the prompt response (newer agents; unstable in ACP v1) merged with `usage_update` cost. */
export function mergeUsage(turn: TurnState, response: acp.PromptResponse | null): TurnUsage | undefined {
  const raw = (response as { usage?: Record<string, unknown> } | null)?.usage;
  const usage: TurnUsage = { ...turn.usage };
  let has = turn.hasUsage;
  if (raw && typeof raw === 'object') {
    const num = (key: string) => (typeof raw[key] === 'number' ? (raw[key] as number) : undefined);
    const input = num('inputTokens');
    const output = num('outputTokens');
    const cached = num('cachedReadTokens');
    if (input !== undefined) usage.inputTokens = input;
    if (output !== undefined) usage.outputTokens = output;
    if (cached !== undefined) usage.cachedInputTokens = cached;
    has ||= input !== undefined || output !== undefined;
  }
  return has ? usage : undefined;
}
