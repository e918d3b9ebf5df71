// How an ACP agent's error answers are classified for the engine.
import * as acp from '@agentclientprotocol/sdk';
import { AgentError, classifyFailure } from '../process.ts';

/** Describes an error answer from the agent (JSON-RPC error or thrown value), classified. */
export function requestFailure(err: unknown, what: string): AgentError {
  if (err instanceof AgentError) return err;
  if (err instanceof acp.RequestError) {
    const details =
      err.data && typeof err.data === 'object' && 'details' in err.data
        ? ` (${String((err.data as { details: unknown }).details)})`
        : '';
    const text = `${what}: ${err.message}${details} [${err.code}]`;
    if (err.code === -32000) return new AgentError('agent', `${text}; the agent needs to be logged in`);
    if (err.code === -32700 || err.code === -32600 || err.code === -32601 || err.code === -32602) {
      return new AgentError('protocol', text);
    }
    return AgentError.from(classifyFailure(text, 'agent'));
  }
  const message = `${what}: ${err instanceof Error ? err.message : String(err)}`;
  return AgentError.from(classifyFailure(message, 'unknown'));
}
