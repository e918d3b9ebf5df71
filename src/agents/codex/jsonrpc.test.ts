import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { dirname, join } from 'node:path';
import { afterEach, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { JsonRpcClient, type JsonRpcClientOptions, type ProtocolProblem, RpcError } from './jsonrpc.ts';

const FAKE = join(dirname(fileURLToPath(import.meta.url)), '../../../test/fakes/jsonrpc-server.mjs');

const clients: JsonRpcClient[] = [];
afterEach(async () => {
  for (const c of clients.splice(0)) {
    if (!c.exitInfo) {
      c.close();
      await c.exited;
    }
  }
});

function start(opts: JsonRpcClientOptions = {}): JsonRpcClient {
  const child = spawn(process.execPath, [FAKE], { stdio: ['pipe', 'pipe', 'pipe'] });
  const client = new JsonRpcClient(child, { label: 'fake server', ...opts });
  clients.push(client);
  return client;
}

async function rejectsWith(p: Promise<unknown>, kind: RpcError['kind']): Promise<RpcError> {
  try {
    await p;
  } catch (err) {
    assert.ok(err instanceof RpcError, `expected RpcError, got ${String(err)}`);
    assert.equal(err.kind, kind, err.message);
    return err;
  }
  assert.fail(`expected a ${kind} rejection`);
}

test('requests get their own results; messages go out without a "jsonrpc" member', async () => {
  const client = start();
  const [a, b] = await Promise.all([client.request('echo', { n: 1 }), client.request('echo', { n: 2 })]);
  assert.deepEqual(a, { n: 1 });
  assert.deepEqual(b, { n: 2 });
  client.notify('initialized');
  const received = (await client.request('received')) as Array<Record<string, unknown>>;
  assert.equal(received.length, 3);
  for (const m of received) assert.equal('jsonrpc' in m, false);
  assert.deepEqual(received[0], { id: 1, method: 'echo', params: { n: 1 } });
  assert.deepEqual(received[2], { method: 'initialized' });
  assert.equal(client.pendingCount, 0);
});

test('adopt: the response to a request written before the client existed; later ids come after it', async () => {
  const child = spawn(process.execPath, [FAKE], { stdio: ['pipe', 'pipe', 'pipe'] });
  // what a warm start or a prelude writes as the process starts
  child.stdin.write(`${JSON.stringify({ id: 1, method: 'echo', params: { n: 7 } })}\n`);
  child.stdin.write(`${JSON.stringify({ id: 2, method: 'echo', params: { n: 8 } })}\n`);
  const client = new JsonRpcClient(child, { label: 'fake server' });
  clients.push(client);
  const [first, second] = await Promise.all([client.adopt(1, 'echo'), client.adopt(2, 'echo')]);
  assert.deepEqual(first, { n: 7 });
  assert.deepEqual(second, { n: 8 });
  assert.deepEqual(await client.request('echo', { n: 9 }), { n: 9 });
  const received = (await client.request('received')) as Array<Record<string, unknown>>;
  assert.deepEqual(
    received.map((m) => m.id),
    [1, 2, 3],
  );
  assert.equal(client.pendingCount, 0);
});

test('an error response rejects with kind remote and the server code', async () => {
  const client = start();
  const err = await rejectsWith(
    client.request('fail', { code: -32600, message: 'Not initialized' }),
    'remote',
  );
  assert.equal(err.code, -32600);
  assert.match(err.message, /fail failed: Not initialized/);
});

test('a response split across chunks is reassembled', async () => {
  const client = start();
  assert.deepEqual(await client.request('split'), { split: true });
});

test('a request without an answer times out; a late answer is reported, not crashed on', async () => {
  const problems: ProtocolProblem[] = [];
  const client = start({ onProtocolProblem: (p) => problems.push(p) });
  // the server holds its answer until released, so only the client's timer can end the request
  const err = await rejectsWith(client.request('hold', { key: 'a' }, { timeoutMs: 100 }), 'timeout');
  assert.match(err.message, /no response to hold within 100 ms/);
  // the server sends the late answer before the answer to "release": once that is in, so is the late one
  assert.equal(await client.request('release', { key: 'a' }), 'released');
  assert.deepEqual(
    problems.map((p) => p.kind),
    ['unknown_response'],
  );
  // the connection still works
  assert.equal(await client.request('echo', 'still here'), 'still here');
});

test('an abort signal rejects the request', async () => {
  const client = start();
  const ac = new AbortController();
  const p = client.request('never', undefined, { signal: ac.signal, timeoutMs: 0 });
  ac.abort();
  await rejectsWith(p, 'aborted');
  assert.equal(client.pendingCount, 0);
});

test('garbage lines are reported as protocol problems and the stream keeps going', async () => {
  const problems: ProtocolProblem[] = [];
  const client = start({ onProtocolProblem: (p) => problems.push(p) });
  assert.equal(await client.request('garbage'), 'ok');
  assert.deepEqual(
    problems.map((p) => p.kind),
    ['invalid_json', 'not_an_object', 'unknown_response'],
  );
  assert.equal(problems[0]?.excerpt, 'this is not json');
});

test('notifications reach the listener in order', async () => {
  const seen: unknown[] = [];
  const client = start({ onNotification: (method, params) => seen.push([method, params]) });
  assert.equal(await client.request('notify', { count: 3 }), 'ok');
  assert.deepEqual(seen, [
    ['tick', { i: 0 }],
    ['tick', { i: 1 }],
    ['tick', { i: 2 }],
  ]);
});

test('server requests are answered by the handler (result or error)', async () => {
  const asked: unknown[] = [];
  let mode: 'accept' | 'throw' = 'accept';
  const client = start({
    onRequest: async (req) => {
      asked.push(req);
      if (mode === 'throw') throw new Error('handler failed');
      return { decision: 'accept' };
    },
  });
  const answer = (await client.request('ask', { item: 'call_1' })) as Record<string, unknown>;
  assert.deepEqual(asked, [{ id: 'srv-1', method: 'approve', params: { item: 'call_1' } }]);
  assert.deepEqual(answer, { id: 'srv-1', result: { decision: 'accept' } });
  mode = 'throw';
  const failed = (await client.request('ask', {})) as Record<string, unknown>;
  assert.deepEqual(failed, { id: 'srv-1', error: { code: -32603, message: 'handler failed' } });
});

test('without a handler a server request is answered "method not handled"', async () => {
  const client = start();
  const answer = (await client.request('ask', {})) as { error?: { code: number } };
  assert.equal(answer.error?.code, -32601);
});

test('an oversized response fails that request as protocol; smaller messages still flow', async () => {
  const problems: ProtocolProblem[] = [];
  const client = start({ maxMessageBytes: 4096, onProtocolProblem: (p) => problems.push(p) });
  const err = await rejectsWith(client.request('big', { bytes: 200_000 }), 'protocol');
  assert.match(err.message, /larger than 4096 bytes/);
  assert.equal(problems[0]?.kind, 'oversized');
  assert.equal(problems[0]?.id, 1);
  assert.equal(await client.request('echo', 'after'), 'after');
});

test('an oversized notification is dropped and reported with its method', async () => {
  const problems: ProtocolProblem[] = [];
  const seen: string[] = [];
  const client = start({
    maxMessageBytes: 4096,
    onProtocolProblem: (p) => problems.push(p),
    onNotification: (m) => seen.push(m),
  });
  assert.equal(await client.request('bigNotification', { bytes: 100_000 }), 'ok');
  assert.deepEqual(seen, []);
  assert.equal(problems.length, 1);
  assert.equal(problems[0]?.method, 'huge');
});

test('an oversized server request is answered with an error so the server does not wait', async () => {
  const client = start({ maxMessageBytes: 4096, onRequest: () => ({ decision: 'accept' }) });
  const answer = (await client.request('bigRequest', { bytes: 50_000 })) as { error?: { code: number } };
  assert.equal(answer.error?.code, -32600);
});

test('an early exit rejects every pending request with the exit code and a stderr tail', async () => {
  let exitSeen: unknown = null;
  const client = start({ stderrTailBytes: 64, onExit: (e) => (exitSeen = e) });
  const hanging = client.request('never', undefined, { timeoutMs: 0 });
  const exiting = client.request('exit', { code: 3, stderr: `${'noise '.repeat(50)}fatal: config broken\n` });
  const [e1, e2] = await Promise.all([rejectsWith(hanging, 'exited'), rejectsWith(exiting, 'exited')]);
  assert.equal(e1.exit?.code, 3);
  assert.match(
    e1.message,
    /fake server exited \(code 3\) before answering never; stderr: .*fatal: config broken/,
  );
  assert.ok((e1.exit?.stderrTail.length ?? 0) <= 64);
  assert.match(e2.message, /before answering exit/);
  const info = await client.exited;
  assert.deepEqual(exitSeen, info);
  // later requests fail at once
  await rejectsWith(client.request('echo', 1), 'exited');
});

test('death by signal is reported with the signal', async () => {
  const client = start();
  const err = await rejectsWith(client.request('exit', { signal: 'SIGKILL' }), 'exited');
  assert.equal(err.exit?.signal, 'SIGKILL');
  assert.match(err.message, /signal SIGKILL/);
});

test('a command that cannot be spawned settles as exited, not a hang', async () => {
  const child = spawn('/nonexistent/definitely-not-here', [], { stdio: ['pipe', 'pipe', 'pipe'] });
  const client = new JsonRpcClient(child, { label: 'ghost' });
  const err = await rejectsWith(client.request('initialize', {}), 'exited');
  assert.match(err.message, /ENOENT/);
});

test('close() rejects pending requests and lets the server exit', async () => {
  const client = start();
  const p = client.request('never', undefined, { timeoutMs: 0 });
  client.close();
  await rejectsWith(p, 'aborted');
  const info = await client.exited;
  assert.equal(info.code, 0);
});
