// The byte stream between car and an ACP agent process: NDJSON over the agent's stdio, watched for
// output that is not JSON-RPC, with `session/update` notifications routed to car's own lenient handler.
import { Readable, Transform, type TransformCallback, Writable } from 'node:stream';
import { StringDecoder } from 'node:string_decoder';
import * as acp from '@agentclientprotocol/sdk';
import type { AgentProcess } from '../process.ts';

/** The private method name `session/update` notifications arrive under (see `agentStream`). */
export const LENIENT_UPDATE_METHOD = '_car/session_update';

const UPDATE_METHOD = acp.methods.client.session.update;

/**
 * The ACP stream over `proc`'s stdin and stdout. `onGarbage` is called once, with the first stdout line
 * that is not a JSON object (an agent printing logs to stdout breaks the protocol).
 */
export function agentStream(proc: AgentProcess, onGarbage: (line: string) => void): acp.Stream {
  const raw = acp.ndJsonStream(
    Writable.toWeb(proc.stdin!) as WritableStream<Uint8Array>,
    Readable.toWeb(proc.stdout.pipe(stdoutGuard(onGarbage))) as ReadableStream<Uint8Array>,
  );
  // The SDK's client validates every session/update strictly and drops the whole notification on
  // one off-schema field; route them to our own lenient handler under a private method name.
  return {
    writable: raw.writable,
    readable: raw.readable.pipeThrough(
      new TransformStream<acp.AnyMessage, acp.AnyMessage>({
        transform(message, controller) {
          if ('method' in message && !('id' in message) && message.method === UPDATE_METHOD) {
            controller.enqueue({ ...message, method: LENIENT_UPDATE_METHOD });
          } else {
            controller.enqueue(message);
          }
        },
      }),
    ),
  };
}

/** Passes stdout through unchanged and reports the first line that is not a JSON object. */
function stdoutGuard(onGarbage: (line: string) => void): Transform {
  const decoder = new StringDecoder('utf8');
  let pending = '';
  let reported = false;
  const check = (line: string) => {
    const text = line.trim();
    if (text === '' || reported) return;
    let ok = false;
    try {
      const value: unknown = JSON.parse(text);
      ok = typeof value === 'object' && value !== null && !Array.isArray(value);
    } catch {
      ok = false;
    }
    if (!ok) {
      reported = true;
      onGarbage(text.length > 200 ? `${text.slice(0, 200)}…` : text);
    }
  };
  return new Transform({
    transform(chunk: Buffer, _enc, callback: TransformCallback) {
      pending += decoder.write(chunk);
      let nl = pending.indexOf('\n');
      while (nl >= 0) {
        check(pending.slice(0, nl));
        pending = pending.slice(nl + 1);
        nl = pending.indexOf('\n');
      }
      callback(null, chunk);
    },
    flush(callback: TransformCallback) {
      check(pending + decoder.end());
      callback();
    },
  });
}
