// What the stream parsers of the command backend share: the parser interface, lenient field access
// for JSON the CLIs print, and the state every format keeps (thread id, final text, usage, error).
import type { AgentEvent, TurnUsage } from '../../../core/agent.ts';

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

export type Loose = Record<string, unknown>;
export const rec = (v: unknown): Loose | undefined =>
  typeof v === 'object' && v !== null && !Array.isArray(v) ? (v as Loose) : undefined;
export const str = (v: unknown): string | undefined => (typeof v === 'string' ? v : undefined);
export const num = (v: unknown): number | undefined =>
  typeof v === 'number' && Number.isFinite(v) ? v : undefined;
export const arr = (v: unknown): unknown[] => (Array.isArray(v) ? v : []);

export function parseJson(line: string): Loose | null {
  const text = line.trim();
  if (!text.startsWith('{')) return null;
  try {
    return rec(JSON.parse(text)) ?? null;
  } catch {
    return null;
  }
}

export function stringify(value: unknown): string {
  if (value === undefined || value === null) return '';
  return typeof value === 'string' ? value : JSON.stringify(value);
}

/** Usage while parsing: fields may be explicitly undefined until compacted. */
export type LooseUsage = { [K in keyof TurnUsage]?: number | undefined };

export function compactUsage(usage: LooseUsage): TurnUsage | undefined {
  const out: TurnUsage = {};
  for (const [k, v] of Object.entries(usage) as [keyof TurnUsage, number | undefined][]) {
    if (v !== undefined) out[k] = v;
  }
  return Object.keys(out).length > 0 ? out : undefined;
}

/** Shared state and the final outcome builder. */
export class Base {
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
