// /api/pma, the web Chat page's API, in-process over the real PMA conversation code and SQLite: the answer
// streams as SSE (`delta`, then `done`), the transcript is kept and bounded, turns of one conversation run
// one at a time, a PMA that cannot start is said so (409, nothing stored), bad bodies are 400, a read-only
// token cannot talk to it. The agent is scripted here; test/web/chat.test.ts runs the real codex.
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { Pma } from '../../src/control/pma.ts';
import type { Agent, AgentSession, TurnRequest } from '../../src/core/agent.ts';
import { openPmaStore } from '../../src/core/store/pma-store.ts';
import { PmaSetupError } from '../../src/surfaces/pma/open.ts';
import { type ApiRepo, json, makeApiRepo } from './helpers.ts';

const cleanups: (() => unknown)[] = [];
after(async () => {
  for (const c of cleanups.reverse()) await c();
});

/** An agent that answers each prompt with "echo: <last line>" in two deltas; records what it was sent. */
function echoAgent(prompts: string[]): Agent {
  let threads = 0;
  return {
    id: 'echo',
    async startSession(): Promise<AgentSession> {
      const threadId = `thread-${++threads}`;
      return {
        threadId,
        async runTurn(req: TurnRequest) {
          prompts.push(req.prompt);
          const last = req.prompt.trim().split('\n').at(-2) ?? req.prompt;
          const text = `echo: ${req.prompt.includes('<user_message>') ? last : req.prompt}`;
          req.onEvent({ type: 'message_delta', text: text.slice(0, 5) });
          await new Promise((r) => setImmediate(r));
          req.onEvent({ type: 'message_delta', text: text.slice(5) });
          return { status: 'completed', finalText: text };
        },
        close: async () => {},
      };
    },
  };
}

function served(opts: { open?: () => Pma; token?: string; viewerToken?: string } = {}): ApiRepo {
  const r = makeApiRepo({
    ...(opts.open ? { pma: opts.open } : {}),
    ...(opts.token ? { token: opts.token } : {}),
    ...(opts.viewerToken ? { viewerToken: opts.viewerToken } : {}),
  });
  cleanups.push(async () => {
    await r.app.closeAgents();
    r.cleanup();
  });
  return r;
}

/** A PMA over the echo agent and the served repo's car.db (`at.root` is set once the repo exists). */
function echoPma(limit = 200) {
  const prompts: string[] = [];
  const at = { root: '' };
  const open = () =>
    new Pma({
      agentId: 'echo',
      agent: echoAgent(prompts),
      store: openPmaStore(join(at.root, '.codex-autorunner/car.db'), limit),
      cwd: at.root,
      briefing: async () => 'BRIEFING',
    });
  return { prompts, at, open };
}

interface Frame {
  event: string;
  data: Record<string, unknown>;
}

async function frames(res: Response): Promise<Frame[]> {
  assert.equal(res.headers.get('content-type'), 'text/event-stream');
  return (await res.text())
    .split('\n\n')
    .filter(Boolean)
    .map((block) => {
      const event = /^event: (.*)$/m.exec(block)?.[1] ?? '';
      const data = JSON.parse(/^data: (.*)$/m.exec(block)?.[1] ?? '{}') as Record<string, unknown>;
      return { event, data };
    });
}

test('a message streams its answer as SSE deltas, then done; the transcript keeps both', async () => {
  const echo = echoPma();
  const r = served({ open: echo.open });
  echo.at.root = r.repo.dir;
  const before = await json<{ available: boolean; agent: string; messages: unknown[] }>(
    await r.call('GET', '/api/pma'),
  );
  assert.deepEqual(before, { agent: 'echo', available: true, messages: [] });

  const got = await frames(await r.call('POST', '/api/pma/messages', { body: { text: 'hello' } }));
  assert.deepEqual(
    got.map((f) => f.event),
    ['delta', 'delta', 'done'],
  );
  assert.equal(
    got
      .filter((f) => f.event === 'delta')
      .map((f) => f.data.text)
      .join(''),
    'echo: hello',
  );
  assert.equal(got.at(-1)!.data.status, 'completed');
  assert.match(echo.prompts[0]!, /^BRIEFING\n\n<user_message>\nhello\n<\/user_message>\n$/);

  // the same thread goes on: the second prompt is the message alone
  await frames(await r.call('POST', '/api/pma/messages', { body: { text: 'again' } }));
  assert.equal(echo.prompts[1], 'again');
  const after = await json<{ messages: { role: string; text: string }[] }>(await r.call('GET', '/api/pma'));
  assert.deepEqual(
    after.messages.map((m) => [m.role, m.text]),
    [
      ['user', 'hello'],
      ['assistant', 'echo: hello'],
      ['user', 'again'],
      ['assistant', 'echo: again'],
    ],
  );

  const reset = await r.call('POST', '/api/pma/reset');
  assert.equal(reset.status, 200);
  assert.deepEqual((await json<{ messages: unknown[] }>(await r.call('GET', '/api/pma'))).messages, []);
});

test('turns of one conversation run one at a time, and the transcript is bounded', async () => {
  const echo = echoPma(3);
  const r = served({ open: echo.open });
  echo.at.root = r.repo.dir;
  const answers = await Promise.all(
    ['one', 'two', 'three'].map(async (text) =>
      frames(await r.call('POST', '/api/pma/messages', { body: { text } })),
    ),
  );
  assert.deepEqual(
    answers.map((f) => f.at(-1)!.data.text),
    ['echo: one', 'echo: two', 'echo: three'],
  );
  const kept = await json<{ messages: { text: string }[] }>(await r.call('GET', '/api/pma'));
  assert.deepEqual(
    kept.messages.map((m) => m.text),
    ['echo: two', 'three', 'echo: three'],
  );
});

test('bad bodies are 400; a PMA that cannot start is 409 naming why; a read-only token cannot talk', async () => {
  const echo = echoPma();
  const r = served({ open: echo.open, token: 'full-token', viewerToken: 'viewer-token' });
  echo.at.root = r.repo.dir;
  const empty = await r.call('POST', '/api/pma/messages', { body: { text: '   ' }, token: 'full-token' });
  assert.equal(empty.status, 400);
  const extra = await r.call('POST', '/api/pma/messages', { body: { text: 'x', y: 1 }, token: 'full-token' });
  assert.equal(extra.status, 400);
  const viewer = await r.call('POST', '/api/pma/messages', { body: { text: 'x' }, token: 'viewer-token' });
  assert.equal(viewer.status, 403);
  assert.equal((await r.call('GET', '/api/pma', { token: 'viewer-token' })).status, 200);
  assert.deepEqual(echo.prompts, [], 'the agent was asked nothing');

  const broken = served({
    open: () => {
      throw new PmaSetupError('pma.agent: agent "nobody" is not configured (configured: codex, demo)');
    },
  });
  const state = await json<{ available: boolean; error: string }>(await broken.call('GET', '/api/pma'));
  assert.equal(state.available, false);
  assert.match(state.error, /pma\.agent: agent "nobody" is not configured/);
  const refused = await broken.call('POST', '/api/pma/messages', { body: { text: 'hi' } });
  assert.equal(refused.status, 409);
  assert.equal((await json<{ error: string }>(refused)).error, 'pma_unavailable');
});
