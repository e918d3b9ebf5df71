// A tiny scripted JSONL JSON-RPC server (codex style: no "jsonrpc" member) for testing the client in
// src/agents/codex/jsonrpc.ts. What it does is chosen by the method of each request it receives:
//
//   echo {…}                 → result: the params
//   fail {code, message}     → error response
//   slow {ms}                → result after ms
//   hold {key}               → no response until a "release" with the same key arrives
//   release {key}            → first the held request's result "late", then result "released"
//   never                    → no response at all
//   garbage                  → a non-JSON line, a JSON array, a stray response, then result "ok"
//   big {bytes}              → a response whose line is longer than `bytes`
//   bigNotification {bytes}  → an oversized notification, then result "ok"
//   bigRequest {bytes}       → an oversized server request, then waits for the client's answer to it
//   notify {count}           → `count` notifications "tick" {i}, then result "ok"
//   ask {params}             → server request "approve" (id "srv-1") and answers the client request with
//                              whatever the client replied ({result} or {error})
//   split                    → one response written in three chunks, 20 ms apart
//   exit {code?, signal?, stderr?} → writes stderr, then exits (or kills itself)
//   received                 → result: every message received so far
import { createInterface } from 'node:readline';

const received = [];
const waiting = new Map();
const held = new Map();
const send = (msg) => process.stdout.write(`${JSON.stringify(msg)}\n`);

createInterface({ input: process.stdin }).on('line', (line) => {
  const msg = JSON.parse(line);
  received.push(msg);
  if (msg.method === undefined && msg.id !== undefined) {
    // the client's answer to one of our requests
    const reply = waiting.get(msg.id);
    waiting.delete(msg.id);
    reply?.(msg);
    return;
  }
  if (msg.id === undefined) return; // a notification from the client
  const { id, method, params } = msg;
  switch (method) {
    case 'echo':
      return send({ id, result: params ?? null });
    case 'fail':
      return send({ id, error: { code: params.code, message: params.message } });
    case 'slow':
      return setTimeout(() => send({ id, result: 'late' }), params.ms);
    case 'hold':
      held.set(params.key, id);
      return;
    case 'release':
      if (held.has(params.key)) send({ id: held.get(params.key), result: 'late' });
      held.delete(params.key);
      return send({ id, result: 'released' });
    case 'never':
      return;
    case 'garbage':
      process.stdout.write('this is not json\n');
      process.stdout.write('[1,2,3]\n');
      send({ id: 999_999, result: 'nobody asked' });
      return send({ id, result: 'ok' });
    case 'big':
      return send({ id, result: 'x'.repeat(params.bytes) });
    case 'bigNotification':
      send({ method: 'huge', params: { blob: 'x'.repeat(params.bytes) } });
      return send({ id, result: 'ok' });
    case 'bigRequest':
      waiting.set('srv-big', (answer) => send({ id, result: answer }));
      return send({ id: 'srv-big', method: 'approve', params: { blob: 'x'.repeat(params.bytes) } });
    case 'notify':
      for (let i = 0; i < params.count; i++) send({ method: 'tick', params: { i } });
      return send({ id, result: 'ok' });
    case 'ask':
      waiting.set('srv-1', (answer) => send({ id, result: answer }));
      return send({ id: 'srv-1', method: 'approve', params });
    case 'split': {
      const text = `${JSON.stringify({ id, result: { split: true } })}\n`;
      const a = Math.floor(text.length / 3);
      process.stdout.write(text.slice(0, a));
      setTimeout(() => process.stdout.write(text.slice(a, 2 * a)), 20);
      setTimeout(() => process.stdout.write(text.slice(2 * a)), 40);
      return;
    }
    case 'exit':
      if (params?.stderr) process.stderr.write(params.stderr);
      setTimeout(() => {
        if (params?.signal) process.kill(process.pid, params.signal);
        else process.exit(params?.code ?? 0);
      }, 10);
      return;
    case 'received':
      return send({ id, result: received.slice(0, -1) });
    default:
      return send({ id, error: { code: -32601, message: `unknown method ${method}` } });
  }
});
