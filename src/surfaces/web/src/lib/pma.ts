// The project manager agent's API: the transcript, and a message whose answer streams back as SSE over
// fetch (a POST with the bearer token in its header).
import { ApiError, api, auth, authHeaders, post } from './api.svelte.ts';
import { parseFrame } from './stream.ts';

export interface PmaMessage {
  id: number;
  role: 'user' | 'assistant' | 'error';
  text: string;
  at: string;
}

export interface PmaState {
  agent: string | null;
  available: boolean;
  error?: string;
  messages: PmaMessage[];
}

export interface PmaDone {
  status: string;
  text: string;
  error: string | null;
  message: PmaMessage | null;
}

export const loadPma = () => api<PmaState>('/api/pma');
export const resetPma = () => post<{ ok: boolean }>('/api/pma/reset');

export interface SendHandlers {
  onDelta(text: string): void;
  onTool(name: string): void;
}

/** Sends a message; resolves with the answer once the agent's turn is over. */
export async function sendToPma(text: string, on: SendHandlers): Promise<PmaDone> {
  const res = await fetch('/api/pma/messages', {
    method: 'POST',
    headers: { ...authHeaders(), 'content-type': 'application/json' },
    body: JSON.stringify({ text }),
  });
  if (!res.ok || !res.body) {
    let body: Record<string, unknown> = {};
    try {
      body = (await res.json()) as Record<string, unknown>;
    } catch {
      body = { message: `HTTP ${res.status}` };
    }
    if (res.status === 401) auth.needed = true;
    throw new ApiError(res.status, body);
  }
  const reader = res.body.pipeThrough(new TextDecoderStream()).getReader();
  let buffer = '';
  for (;;) {
    const { value, done } = await reader.read();
    if (done) break;
    buffer += value;
    let end = buffer.indexOf('\n\n');
    while (end >= 0) {
      const frame = parseFrame(buffer.slice(0, end));
      buffer = buffer.slice(end + 2);
      end = buffer.indexOf('\n\n');
      if (!frame) continue;
      const data = JSON.parse(frame.data) as Record<string, unknown>;
      if (frame.event === 'delta') on.onDelta(String(data.text ?? ''));
      else if (frame.event === 'tool') on.onTool(String(data.name ?? ''));
      else if (frame.event === 'done') return data as unknown as PmaDone;
    }
  }
  throw new Error('the answer ended before the agent finished');
}
