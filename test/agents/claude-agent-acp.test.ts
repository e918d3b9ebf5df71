// A real ACP agent: @zed-industries/claude-agent-acp (bundles Claude Code) completing a turn offline
// against a local fake of the Anthropic Messages API.
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { createAcpAgent, resolveAcpPreset } from '../../src/agents/acp/adapter.ts';
import type { AgentEvent } from '../../src/core/agent.ts';
import { claudeOfflineEnv, startFakeAnthropicApi } from '../fakes/anthropic-api.ts';
import { assertGroupsGone } from '../helpers/processes.ts';

const BIN = fileURLToPath(new URL('../../node_modules/.bin/claude-agent-acp', import.meta.url));

test('claude-agent-acp completes a turn against the fake Anthropic API', {
  skip: !existsSync(BIN),
}, async () => {
  const api = await startFakeAnthropicApi({
    text: 'Hello from fake claude.',
    inputTokens: 12,
    outputTokens: 5,
  });
  const home = mkdtempSync(join(tmpdir(), 'car-claude-'));
  const cwd = join(home, 'project');
  mkdirSync(cwd);
  let agent: ReturnType<typeof createAcpAgent> | null = null;
  try {
    const preset = resolveAcpPreset('claude')!;
    agent = createAcpAgent({
      id: 'claude',
      command: [BIN],
      env: {
        ...preset.env,
        ...claudeOfflineEnv(api.url),
        HOME: home,
        XDG_CONFIG_HOME: join(home, '.config'),
        XDG_DATA_HOME: join(home, '.local', 'share'),
        XDG_STATE_HOME: join(home, '.local', 'state'),
        XDG_CACHE_HOME: join(home, '.cache'),
      },
      // Claude Code starts in 2–5 s, CPU-bound; on a busy 2-core machine it took over 20 s once
      startupTimeoutMs: 90_000,
      stallTimeoutMs: 90_000,
    });
    const session = await agent.startSession({ cwd, ticketPath: 't', ticketId: 't', runId: 'r' });
    assert.ok(session.threadId, 'session/new returned a session id');
    const events: AgentEvent[] = [];
    const result = await session.runTurn({
      prompt: 'Say hello.',
      signal: new AbortController().signal,
      onEvent: (e) => events.push(e),
    });
    assert.equal(result.status, 'completed', JSON.stringify(result.error));
    assert.equal(result.finalText, 'Hello from fake claude.');
    assert.equal(result.usage?.inputTokens, 12);
    assert.equal(result.usage?.outputTokens, 5);
    assert.ok((result.usage?.costUsd ?? 0) > 0, 'cost from usage_update');
    assert.ok(events.some((e) => e.type === 'message_delta'));
    assert.ok(
      api.requests.some((r) => r.url.startsWith('/v1/messages')),
      'the agent called the fake API',
    );
    const pid = (session as unknown as { pid: number }).pid;
    assert.ok(pid > 0);
    await session.close();
    await agent.close?.();
    await assertGroupsGone([pid]);
  } finally {
    // a failure before the close above must not leave the agent running (it would hold this file's
    // test process open for good)
    await agent?.close?.();
    await api.close();
    rmSync(home, { recursive: true, force: true });
  }
});
