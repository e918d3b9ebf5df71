// Pure mapping from codex app-server (v2, codex 0.169) notifications to car's normalised agent events,
// and the classification of codex turn errors. No I/O here, so it is easy to test and to keep in step
// with the schema `codex app-server generate-ts` prints.
import { isAbsolute, relative, sep } from 'node:path';
import type { AgentEvent, TurnError, TurnUsage } from '../../core/agent.ts';

/** codex's `TurnError` (also inside `error` notifications). */
export interface CodexTurnError {
  message?: string;
  codexErrorInfo?: unknown;
  additionalDetails?: string | null;
}

type Obj = Record<string, unknown>;

function obj(value: unknown): Obj {
  return value !== null && typeof value === 'object' && !Array.isArray(value) ? (value as Obj) : {};
}
function str(value: unknown): string | undefined {
  return typeof value === 'string' ? value : undefined;
}
function num(value: unknown): number | undefined {
  return typeof value === 'number' && Number.isFinite(value) ? value : undefined;
}

/** Transient failures the engine retries: 5xx, 408/429, dropped connections, overload. */
const NETWORK_INFOS = new Set([
  'internalServerError',
  'serverOverloaded',
  'rateLimitExceeded',
  'flexUnavailable',
  'policyCapacityUnavailable',
]);
const HTTP_INFOS = [
  'httpConnectionFailed',
  'responseStreamConnectionFailed',
  'responseStreamDisconnected',
  'responseTooManyFailedAttempts',
];

/** One window of codex's rate-limit snapshot (`account/rateLimits/updated`). */
export interface RateLimitWindow {
  usedPercent: number;
  /** Unix seconds. */
  resetsAt: number | null;
}

export interface RateLimits {
  primary?: RateLimitWindow;
  secondary?: RateLimitWindow;
}

/** Folds a sparse `account/rateLimits/updated` into what is known: a missing or null window keeps its value. */
export function mergeRateLimits(known: RateLimits, params: unknown): RateLimits {
  const snapshot = obj(obj(params).rateLimits);
  const merged: RateLimits = { ...known };
  for (const key of ['primary', 'secondary'] as const) {
    const w = obj(snapshot[key]);
    const usedPercent = num(w.usedPercent);
    if (usedPercent !== undefined) merged[key] = { usedPercent, resetsAt: num(w.resetsAt) ?? null };
  }
  return merged;
}

/** When the used-up window (100 %) resets, as an ISO time; null when no window says so. */
export function quotaResetAt(limits: RateLimits): string | null {
  let latest: number | null = null;
  for (const w of [limits.primary, limits.secondary]) {
    if (w && w.usedPercent >= 100 && w.resetsAt !== null && (latest === null || w.resetsAt > latest))
      latest = w.resetsAt;
  }
  return latest === null ? null : new Date(latest * 1000).toISOString();
}

/** Maps a codex turn error to car's stable `TurnError.kind`. */
export function classifyCodexError(error: CodexTurnError | null | undefined): TurnError {
  const message = [error?.message, error?.additionalDetails].filter((s) => s && s.trim() !== '').join(': ');
  const info = error?.codexErrorInfo;
  const text = message || 'codex turn failed';
  if (typeof info === 'string') {
    // The plan's usage limit: retrying in seconds is pointless, it resets in hours.
    if (info === 'usageLimitExceeded') return { kind: 'quota', message: text };
    if (NETWORK_INFOS.has(info)) return { kind: 'network', message: text };
    if (info !== 'other') return { kind: 'agent', message: text };
  } else if (info && typeof info === 'object') {
    const key = HTTP_INFOS.find((k) => k in info);
    if (key) {
      const status = num(obj((info as Obj)[key]).httpStatusCode);
      const transient = status === undefined || status >= 500 || status === 408 || status === 429;
      return { kind: transient ? 'network' : 'agent', message: text };
    }
  }
  if (
    /\b(5\d\d|timed? ?out|connection|disconnected|network|reconnecting|ECONN\w+|dns|resolve)\b/i.test(text)
  ) {
    return { kind: 'network', message: text };
  }
  return { kind: 'agent', message: text };
}

function relPath(cwd: string, path: string): string {
  if (!isAbsolute(path)) return path.split(sep).join('/');
  const rel = relative(cwd, path);
  if (rel === '' || rel.startsWith('..') || isAbsolute(rel)) return path;
  return rel.split(sep).join('/');
}

function changeKind(kind: unknown): 'add' | 'modify' | 'delete' | undefined {
  const type = str(obj(kind).type) ?? str(kind);
  if (type === 'add') return 'add';
  if (type === 'delete') return 'delete';
  if (type === 'update') return 'modify';
  return undefined;
}

function jsonText(value: unknown): string | undefined {
  if (value === undefined || value === null) return undefined;
  if (typeof value === 'string') return value;
  try {
    return JSON.stringify(value);
  } catch {
    return String(value);
  }
}

/** Per-turn memory the mapping needs (message text by item, command output by item). */
export interface ItemTracker {
  cwd: string;
  /** Text of the last completed agent message in the turn. */
  lastMessage: string | null;
  /** Streamed text per agent message item (used when a completed item carries no text). */
  messageDeltas: Map<string, string>;
  /** Streamed output per command item. */
  commandOutput: Map<string, string>;
  /** What each file change item under way changes (its approval request names only the item). */
  fileChanges: Map<string, FileChangeItem[]>;
}

/** One file of a `fileChange` item: its path (relative to the workspace when inside it) and diff. */
export interface FileChangeItem {
  path: string;
  kind: 'add' | 'modify' | 'delete';
  diff: string;
}

export function newItemTracker(cwd: string): ItemTracker {
  return {
    cwd,
    lastMessage: null,
    messageDeltas: new Map(),
    commandOutput: new Map(),
    fileChanges: new Map(),
  };
}

/** Events for `item/started`. */
export function itemStartedEvents(item: Obj, tracker: ItemTracker): AgentEvent[] {
  const id = str(item.id);
  const withId = id === undefined ? {} : { id };
  switch (item.type) {
    case 'commandExecution':
      return [
        {
          type: 'tool_call',
          name: 'shell',
          ...withId,
          input: { command: str(item.command) ?? '', ...(str(item.cwd) ? { cwd: str(item.cwd) } : {}) },
        },
      ];
    case 'fileChange': {
      const changes = Array.isArray(item.changes) ? item.changes.map(obj) : [];
      if (id) {
        tracker.fileChanges.set(
          id,
          changes.map((c) => ({
            path: relPath(tracker.cwd, str(c.path) ?? ''),
            kind: changeKind(c.kind) ?? 'modify',
            diff: str(c.diff) ?? '',
          })),
        );
      }
      return [
        {
          type: 'tool_call',
          name: 'apply_patch',
          ...withId,
          input: {
            changes: changes.map((c) => ({
              path: relPath(tracker.cwd, str(c.path) ?? ''),
              kind: changeKind(c.kind) ?? 'modify',
            })),
          },
        },
      ];
    }
    case 'mcpToolCall':
      return [
        {
          type: 'tool_call',
          name: `${str(item.server) ?? 'mcp'}.${str(item.tool) ?? 'tool'}`,
          ...withId,
          input: item.arguments,
        },
      ];
    case 'dynamicToolCall':
      return [{ type: 'tool_call', name: str(item.tool) ?? 'tool', ...withId, input: item.arguments }];
    case 'webSearch':
      return [{ type: 'tool_call', name: 'web_search', ...withId, input: { query: str(item.query) ?? '' } }];
    default:
      return [];
  }
}

/** Events for `item/completed`. */
export function itemCompletedEvents(item: Obj, tracker: ItemTracker): AgentEvent[] {
  const id = str(item.id);
  const withId = id === undefined ? {} : { id };
  const status = str(item.status);
  switch (item.type) {
    case 'agentMessage': {
      const text = str(item.text) || (id ? (tracker.messageDeltas.get(id) ?? '') : '');
      if (id) tracker.messageDeltas.delete(id);
      tracker.lastMessage = text;
      return [{ type: 'message', text }];
    }
    case 'commandExecution': {
      const streamed = id ? tracker.commandOutput.get(id) : undefined;
      if (id) tracker.commandOutput.delete(id);
      const text = str(item.aggregatedOutput) ?? streamed ?? '';
      const exitCode = num(item.exitCode);
      const events: AgentEvent[] = [
        {
          type: 'command_output',
          command: str(item.command) ?? '',
          text,
          ...(exitCode === undefined ? {} : { exitCode }),
        },
      ];
      const failed = status !== undefined && status !== 'completed';
      events.push({ type: 'tool_result', ...withId, ...(failed ? { error: `command ${status}` } : {}) });
      return events;
    }
    case 'fileChange': {
      const changes = Array.isArray(item.changes) ? item.changes.map(obj) : [];
      if (id) tracker.fileChanges.delete(id);
      const events: AgentEvent[] = [];
      if (status === 'completed') {
        for (const c of changes) {
          const kind = changeKind(c.kind);
          events.push({
            type: 'file_change',
            path: relPath(tracker.cwd, str(c.path) ?? ''),
            ...(kind ? { kind } : {}),
          });
        }
      }
      events.push({
        type: 'tool_result',
        ...withId,
        ...(status === 'completed' ? {} : { error: `patch ${status ?? 'not applied'}` }),
      });
      return events;
    }
    case 'mcpToolCall':
    case 'dynamicToolCall': {
      const output = jsonText(item.result ?? item.contentItems);
      const error = jsonText(obj(item.error).message ?? item.error);
      const failed = status === 'failed' || item.success === false || error !== undefined;
      return [
        {
          type: 'tool_result',
          ...withId,
          ...(output === undefined ? {} : { output }),
          ...(failed ? { error: error ?? `tool ${status ?? 'failed'}` } : {}),
        },
      ];
    }
    case 'webSearch':
      return [{ type: 'tool_result', ...withId }];
    default:
      return [];
  }
}

/** Adds one `thread/tokenUsage/updated` notification's last-request usage to the turn's total. */
export function addUsage(total: TurnUsage, params: Obj): TurnUsage {
  const last = obj(obj(params.tokenUsage).last);
  const add = (a: number | undefined, b: unknown) => (a ?? 0) + (num(b) ?? 0);
  return {
    inputTokens: add(total.inputTokens, last.inputTokens),
    cachedInputTokens: add(total.cachedInputTokens, last.cachedInputTokens),
    outputTokens: add(total.outputTokens, last.outputTokens),
  };
}
