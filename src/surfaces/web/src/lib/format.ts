// One line of text per run event, and small display helpers.
import type { RunEvent } from './types.ts';

const str = (v: unknown) => (typeof v === 'string' ? v : v === undefined ? '' : JSON.stringify(v));

/** What kind of line an event is, for colour: agent talk, a tool call, or the run's lifecycle. */
export function eventKind(type: string): 'agent' | 'tool' | 'error' | 'life' {
  if (type === 'agent_message' || type === 'agent_delta') return 'agent';
  if (type.startsWith('tool_') || type === 'file_change' || type === 'command_output') return 'tool';
  if (type.includes('error') || type.includes('fail') || type === 'crashed') return 'error';
  return 'life';
}

export function eventText(e: RunEvent): string {
  const d = e.data;
  switch (e.type) {
    case 'agent_delta':
    case 'agent_message':
      return str(d.text);
    case 'tool_call':
      return `${str(d.name)} ${str(d.input)}`.trim();
    case 'tool_result':
      return str(d.error ?? d.output);
    case 'file_change':
      return `${str(d.kind ?? 'change')} ${str(d.path)}`;
    case 'command_output':
      return `$ ${str(d.command)} ${str(d.text)}`;
    case 'dispatch':
      return `[${str(d.mode)}] ${str(d.title ?? d.body)}`;
    case 'reply_written':
      // the reply's text (older runs recorded its size only)
      return typeof d.text === 'string'
        ? d.text
        : `a reply of ${str(d.bytes)} bytes${d.title ? `: ${str(d.title)}` : ''}`;
    default: {
      const text = d.message ?? d.reason ?? d.title ?? d.ticket ?? d.path;
      if (text !== undefined) return str(text);
      const json = JSON.stringify(d);
      return json === '{}' ? '' : json;
    }
  }
}

export function time(iso: string | null | undefined): string {
  if (!iso) return '';
  const d = new Date(iso);
  return Number.isNaN(d.getTime()) ? iso : d.toLocaleString();
}

export function clock(iso: string): string {
  return iso.length >= 19 ? iso.slice(11, 19) : iso;
}

export function compact(n: number): string {
  if (n >= 1e6) return `${(n / 1e6).toFixed(1)}M`;
  if (n >= 1e4) return `${Math.round(n / 1e3)}k`;
  if (n >= 1e3) return `${(n / 1e3).toFixed(1)}k`;
  return String(Math.round(n));
}
