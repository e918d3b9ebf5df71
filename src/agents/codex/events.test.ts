import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  addUsage,
  classifyCodexError,
  itemCompletedEvents,
  itemStartedEvents,
  newItemTracker,
} from './events.ts';

test('codex errors are classified: transient server/connection failures are network, the rest agent', () => {
  const kind = (info: unknown, message = 'x') => classifyCodexError({ message, codexErrorInfo: info }).kind;
  assert.equal(kind('internalServerError'), 'network');
  assert.equal(kind('serverOverloaded'), 'network');
  assert.equal(kind('rateLimitExceeded'), 'network');
  assert.equal(kind({ httpConnectionFailed: { httpStatusCode: 502 } }), 'network');
  assert.equal(kind({ responseStreamDisconnected: { httpStatusCode: null } }), 'network');
  assert.equal(kind({ httpConnectionFailed: { httpStatusCode: 429 } }), 'network');
  assert.equal(kind({ httpConnectionFailed: { httpStatusCode: 401 } }), 'agent');
  assert.equal(kind('unauthorized'), 'agent');
  assert.equal(kind('contextWindowExceeded'), 'agent');
  assert.equal(kind('usageLimitExceeded'), 'quota', 'a used-up plan waits for its reset');
  // unknown or missing info: judged by the message
  assert.equal(kind('other', 'stream disconnected before completion'), 'network');
  assert.equal(kind(null, 'unexpected status 503 Service Unavailable'), 'network');
  assert.equal(kind(null, 'the model refused'), 'agent');
  assert.equal(kind({ somethingNew: {} }, 'odd'), 'agent');
  assert.deepEqual(
    classifyCodexError({
      message: 'boom',
      codexErrorInfo: 'internalServerError',
      additionalDetails: 'req 7',
    }),
    { kind: 'network', message: 'boom: req 7' },
  );
  assert.equal(classifyCodexError(null).message, 'codex turn failed');
});

test('items map to normalised events with repo-relative paths', () => {
  const t = newItemTracker('/repo');
  assert.deepEqual(
    itemStartedEvents({ type: 'commandExecution', id: 'c1', command: 'ls', cwd: '/repo' }, t),
    [{ type: 'tool_call', name: 'shell', id: 'c1', input: { command: 'ls', cwd: '/repo' } }],
  );
  t.commandOutput.set('c1', 'streamed\n');
  assert.deepEqual(
    itemCompletedEvents(
      {
        type: 'commandExecution',
        id: 'c1',
        command: 'ls',
        status: 'failed',
        aggregatedOutput: null,
        exitCode: 2,
      },
      t,
    ),
    [
      { type: 'command_output', command: 'ls', text: 'streamed\n', exitCode: 2 },
      { type: 'tool_result', id: 'c1', error: 'command failed' },
    ],
  );
  const change = {
    type: 'fileChange',
    id: 'p1',
    status: 'completed',
    changes: [
      { path: '/repo/a/b.md', kind: { type: 'update', move_path: null }, diff: '' },
      { path: '/elsewhere/c.md', kind: { type: 'add' }, diff: '' },
      { path: '/repo/d.md', kind: { type: 'delete' }, diff: '' },
    ],
  };
  assert.deepEqual(itemCompletedEvents(change, t), [
    { type: 'file_change', path: 'a/b.md', kind: 'modify' },
    { type: 'file_change', path: '/elsewhere/c.md', kind: 'add' },
    { type: 'file_change', path: 'd.md', kind: 'delete' },
    { type: 'tool_result', id: 'p1' },
  ]);
  // a declined patch changes nothing
  assert.deepEqual(itemCompletedEvents({ ...change, status: 'declined' }, t), [
    { type: 'tool_result', id: 'p1', error: 'patch declined' },
  ]);
  assert.deepEqual(
    itemStartedEvents(
      { type: 'mcpToolCall', id: 'm1', server: 'docs', tool: 'search', arguments: { q: 1 } },
      t,
    ),
    [{ type: 'tool_call', name: 'docs.search', id: 'm1', input: { q: 1 } }],
  );
  assert.deepEqual(
    itemCompletedEvents({ type: 'mcpToolCall', id: 'm1', status: 'failed', error: { message: 'nope' } }, t),
    [{ type: 'tool_result', id: 'm1', error: 'nope' }],
  );
  // an agent message without text falls back to its streamed deltas, and becomes the final text
  t.messageDeltas.set('msg', 'Hello there');
  assert.deepEqual(itemCompletedEvents({ type: 'agentMessage', id: 'msg', text: '' }, t), [
    { type: 'message', text: 'Hello there' },
  ]);
  assert.equal(t.lastMessage, 'Hello there');
  assert.deepEqual(itemStartedEvents({ type: 'reasoning', id: 'r' }, t), []);
});

test('turn usage sums the last-request usage of each update', () => {
  const update = (input: number, cached: number, output: number) => ({
    tokenUsage: {
      total: { inputTokens: 99999 },
      last: {
        totalTokens: input + output,
        inputTokens: input,
        cachedInputTokens: cached,
        outputTokens: output,
      },
    },
  });
  const usage = addUsage(addUsage({}, update(100, 10, 7)), update(50, 0, 3));
  assert.deepEqual(usage, { inputTokens: 150, cachedInputTokens: 10, outputTokens: 10 });
});
