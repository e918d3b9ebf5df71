import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, test } from 'node:test';
import { parseAll } from './parsers.ts';

const fixture = (name: string) => readFileSync(new URL(`./fixtures/${name}`, import.meta.url), 'utf8');

describe('claude-stream-json', () => {
  test('messages, tool calls and results, final result with usage, cost and session id', () => {
    const { events, outcome } = parseAll('claude-stream-json', fixture('claude-stream.jsonl'));
    assert.deepEqual(outcome, {
      finalText: 'Done: wrote out.txt',
      threadId: '0b7c5f4e-1111-4222-8333-944455556666',
      usage: { inputTokens: 330, cachedInputTokens: 200, outputTokens: 40, costUsd: 0.0123 },
    });
    assert.deepEqual(
      events.filter((e) => e.type !== 'status'),
      [
        { type: 'message', text: "I'll create the file." },
        {
          type: 'tool_call',
          name: 'Write',
          id: 'toolu_01',
          input: { file_path: '/repo/out.txt', content: 'hello\n' },
        },
        { type: 'tool_result', id: 'toolu_01', output: 'File created successfully at: /repo/out.txt' },
        { type: 'tool_call', name: 'Bash', id: 'toolu_02', input: { command: 'false' } },
        { type: 'tool_result', id: 'toolu_02', error: 'Error: exit code 1' },
        { type: 'message', text: 'Done: wrote out.txt' },
      ],
    );
  });

  test('an error result is reported even with exit 0; partial messages stream as deltas', () => {
    const out = parseAll(
      'claude-stream-json',
      [
        '{"type":"stream_event","event":{"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"Hi"}},"session_id":"s1"}',
        '{"type":"result","subtype":"error_max_turns","is_error":true,"num_turns":5,"session_id":"s1","total_cost_usd":0.5}',
      ].join('\n'),
    );
    assert.deepEqual(out.events, [{ type: 'message_delta', text: 'Hi' }]);
    assert.equal(out.outcome.error, 'claude finished with error_max_turns');
    assert.equal(out.outcome.threadId, 's1');
    assert.deepEqual(out.outcome.usage, { costUsd: 0.5 });
  });
});

describe('gemini-stream-json', () => {
  test('deltas accumulate into messages split by tool calls; stats become usage', () => {
    const { events, outcome } = parseAll('gemini-stream-json', fixture('gemini-stream.jsonl'));
    assert.deepEqual(outcome, {
      finalText: 'Done.',
      threadId: 'c1f0a2b3-4455-4667-8899-aabbccddeeff',
      usage: { inputTokens: 100, outputTokens: 50, cachedInputTokens: 20 },
    });
    assert.deepEqual(
      events.map((e) => e.type),
      [
        'status',
        'message_delta',
        'message_delta',
        'message',
        'tool_call',
        'tool_result',
        'tool_call',
        'tool_result',
        'status',
        'message_delta',
        'message',
      ],
    );
    assert.deepEqual(events[3], { type: 'message', text: "I'll write the file." });
    assert.deepEqual(events[7], {
      type: 'tool_result',
      id: 'run_shell_command-2',
      error: 'Command exited with code 1',
    });
  });

  test('an error result', () => {
    const out = parseAll(
      'gemini-stream-json',
      '{"type":"result","status":"error","error":{"type":"FatalTurnLimitedError","message":"turn limit reached"}}\n',
    );
    assert.equal(out.outcome.error, 'turn limit reached');
  });
});

describe('opencode-json', () => {
  test('text parts, tool use, summed step tokens and cost, session id', () => {
    const { events, outcome } = parseAll('opencode-json', fixture('opencode-run.jsonl'));
    assert.deepEqual(outcome, {
      finalText: 'Hello from fake.',
      threadId: 'ses_494719016ffe85dkDMj0FPRbHK',
      usage: { inputTokens: 110, outputTokens: 14, cachedInputTokens: 15, costUsd: 0.003 },
    });
    assert.deepEqual(events, [
      {
        type: 'tool_call',
        name: 'bash',
        id: 'call_1',
        input: { command: 'echo hello > out.txt', description: 'Write out.txt' },
      },
      { type: 'tool_result', id: 'call_1', output: '(no output)' },
      { type: 'message', text: 'Hello from fake.' },
    ]);
  });

  test('an error event', () => {
    const out = parseAll(
      'opencode-json',
      '{"type":"error","sessionID":"ses_1","error":{"name":"APIError","data":{"message":"provider unavailable"}}}\n',
    );
    assert.equal(out.outcome.error, 'provider unavailable');
    assert.equal(out.outcome.threadId, 'ses_1');
  });
});

describe('codex-exec-json', () => {
  test('thread id, commands, file changes, final message and usage', () => {
    const { events, outcome } = parseAll('codex-exec-json', fixture('codex-exec.jsonl'));
    assert.deepEqual(outcome, {
      finalText: 'Done: wrote out.txt',
      threadId: '01a20b00-f438-7791-a514-7ed7613289a0',
      usage: { inputTokens: 200, cachedInputTokens: 50, outputTokens: 14 },
    });
    const command = "/bin/bash -lc 'echo hello > out.txt && cat out.txt'";
    assert.deepEqual(events[0], {
      type: 'status',
      message: 'thread 01a20b00-f438-7791-a514-7ed7613289a0 started',
    });
    assert.equal(events[1]?.type, 'error');
    assert.deepEqual(events.slice(2), [
      { type: 'tool_call', name: 'shell', id: 'item_1', input: { command } },
      { type: 'command_output', command, text: 'hello\n', exitCode: 0 },
      { type: 'tool_result', id: 'item_1', output: 'hello\n' },
      { type: 'file_change', path: '/repo/notes.md', kind: 'add' },
      { type: 'file_change', path: '/repo/README.md', kind: 'modify' },
      { type: 'message', text: 'Done: wrote out.txt' },
    ]);
    assert.match(events[1]?.type === 'error' ? events[1].message : '', /Model metadata/);
  });

  test('turn.failed is an error; non-JSON lines are status, not fatal', () => {
    const out = parseAll(
      'codex-exec-json',
      [
        'Reading additional input from stdin...',
        '{"type":"error","message":"unexpected status 401 Unauthorized"}',
        '{"type":"turn.failed","error":{"message":"unexpected status 401 Unauthorized"}}',
      ].join('\n'),
    );
    assert.equal(out.outcome.error, 'unexpected status 401 Unauthorized');
    assert.deepEqual(out.events[0], { type: 'status', message: 'Reading additional input from stdin...' });
  });
});

test('text: stdout is the answer', () => {
  const { events, outcome } = parseAll('text', 'line one\nline two\n');
  assert.equal(outcome.finalText, 'line one\nline two');
  assert.deepEqual(events.at(-1), { type: 'message', text: 'line one\nline two' });
});
