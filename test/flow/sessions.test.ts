// The engine's agent sessions (issue 27): a session whose agent process died is reopened on its thread,
// or started afresh (thread_reset) when the thread cannot be resumed; the next ticket's session is opened
// while the current ticket is settled, and a session opened for a ticket the run does not take next is
// closed; the agent's process is prewarmed at run start and the resolver is closed when the run ends.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { runWorker } from '../../src/control/flow-control.ts';
import type { Agent, AgentResolver, AgentSession, SessionOptions } from '../../src/core/agent.ts';
import { finishTicket, makeProgress, resolverFor, type ScriptedAgent } from '../fakes/scripted-agent.ts';
import { assertOutcome, setup } from './harness.ts';

/** The scripted agent behind sessions a test can mark dead, with resumes it can make fail. */
class MortalAgent implements Agent {
  readonly id = 'codex';
  readonly inner: ScriptedAgent;
  readonly sessions: (AgentSession & { alive: boolean })[] = [];
  /** Calls in order: `start <ticket file>` or `resume <thread>`, and `prewarm`, `close`. */
  readonly calls: string[] = [];
  refuseResume = false;

  constructor(inner: ScriptedAgent) {
    this.inner = inner;
  }

  async startSession(options: SessionOptions): Promise<AgentSession> {
    this.calls.push(
      options.threadId ? `resume ${options.threadId}` : `start ${options.ticketPath.split('/').pop()}`,
    );
    if (options.threadId && this.refuseResume) throw new Error(`no rollout found for ${options.threadId}`);
    const session = await this.inner.startSession(options);
    const mortal = {
      alive: true,
      get threadId() {
        return session.threadId;
      },
      runTurn: session.runTurn.bind(session),
      close: async () => {
        mortal.alive = false;
      },
    };
    this.sessions.push(mortal);
    return mortal;
  }

  prewarm(): void {
    this.calls.push('prewarm');
  }

  async close(): Promise<void> {
    this.calls.push('close');
  }
}

test('a session whose process died is reopened on its thread; one that cannot be resumed starts afresh', async (t) => {
  const h = setup({ tickets: 1 });
  t.after(() => h.cleanup());
  const agent = new MortalAgent(h.agent);
  h.agent.script(
    (ctx) => {
      const result = makeProgress()(ctx);
      agent.sessions.at(-1)!.alive = false; // the process dies after the turn
      return result;
    },
    (ctx) => {
      const result = makeProgress()(ctx);
      agent.refuseResume = true;
      agent.sessions.at(-1)!.alive = false; // and again, now with its thread lost
      return result;
    },
    finishTicket(),
  );
  const run = h.newRun();
  assertOutcome(
    h,
    run.id,
    await h.run(run.id, { resolveAgent: resolverFor(agent) }),
    'completed',
    'all_done',
  );
  assert.equal(agent.calls[0], 'prewarm', 'the process is started before anything else');
  assert.deepEqual(
    agent.calls.filter((c) => c !== 'prewarm'),
    ['start TICKET-001.md', 'resume thread-1', 'resume thread-1', 'start TICKET-001.md'],
  );
  // the resumed thread got the compact prompt; the fresh one the full prompt again
  assert.doesNotMatch(h.agent.prompt(2), /<CAR_HUD>/);
  assert.match(h.agent.prompt(3), /<CAR_HUD>/);
  const resets = h.events(run.id, ['thread_reset']);
  assert.equal(resets.length, 1);
  assert.match(String(resets[0]!.data.error), /no rollout found for thread-1/);
});

test("the next ticket's session is opened while the current one is settled", async (t) => {
  const h = setup({ tickets: 3 });
  t.after(() => h.cleanup());
  const agent = new MortalAgent(h.agent);
  const seen: string[] = [];
  h.agent.script(...[1, 2, 3].map(() => finishTicket()));
  const resolve: AgentResolver = (id) => {
    const a = resolverFor(agent)(id);
    return {
      id: a.id,
      prewarm: () => a.prewarm?.({ cwd: h.root }),
      startSession: (options) => {
        // what the run had recorded when the session was asked for
        const done = h.events(h.store.listRuns()[0]!.id, ['ticket_done']).length;
        seen.push(`${options.ticketPath.split('/').pop()} after ${done} done`);
        return a.startSession(options);
      },
    };
  };
  const run = h.newRun();
  assertOutcome(h, run.id, await h.run(run.id, { resolveAgent: resolve }), 'completed', 'all_done');
  // ticket 1's session when it is selected; 2 and 3 while the ticket before is being verified
  assert.deepEqual(seen, [
    'TICKET-001.md after 0 done',
    'TICKET-002.md after 0 done',
    'TICKET-003.md after 1 done',
  ]);
  assert.equal(agent.sessions.length, 3);
  assert.ok(
    agent.sessions.every((s) => !s.alive),
    'every session closed at the end',
  );
});

test("the next ticket's session is opened ahead during the turn, told when the turn is under way", async (t) => {
  const h = setup({ tickets: 2 });
  t.after(() => h.cleanup());
  const agent = new MortalAgent(h.agent);
  let openAfter: Promise<void> | undefined;
  let opened = false;
  const seen: string[] = [];
  h.agent.script(async (ctx) => {
    await Promise.resolve();
    seen.push(`ahead: ${openAfter ? 'asked' : 'not asked'}`);
    void openAfter?.then(() => {
      opened = true;
    });
    // codex says so when its process was started warm: the turn is not under way yet
    ctx.emit({ type: 'status', message: 'agent process started warm' });
    await new Promise((r) => setImmediate(r));
    seen.push(`after a status: ${opened ? 'under way' : 'not yet'}`);
    ctx.emit({ type: 'message_delta', text: 'Working' });
    await new Promise((r) => setImmediate(r));
    seen.push(`after the first output: ${opened ? 'under way' : 'not yet'}`);
    return finishTicket()(ctx);
  }, finishTicket());
  const resolve: AgentResolver = (id) => {
    const a = resolverFor(agent)(id);
    return {
      id: a.id,
      startSession: (options) => {
        if (options.ticketPath.endsWith('TICKET-002.md')) openAfter = options.openAfter;
        return a.startSession(options);
      },
    };
  };
  const run = h.newRun();
  assertOutcome(h, run.id, await h.run(run.id, { resolveAgent: resolve }), 'completed', 'all_done');
  assert.deepEqual(seen, ['ahead: asked', 'after a status: not yet', 'after the first output: under way']);
  assert.equal(agent.sessions.length, 2, 'the session opened ahead is the one ticket 2 used');
});

test('a session opened ahead that the run does not use is closed when the run ends', async (t) => {
  const h = setup({ tickets: 2 });
  t.after(() => h.cleanup());
  const agent = new MortalAgent(h.agent);
  h.agent.script(finishTicket(), finishTicket());
  const run = h.newRun();
  // one turn per invocation: ticket 2's session is opened while ticket 1 is settled, then the run pauses
  const first = await h.run(run.id, {
    resolveAgent: resolverFor(agent),
    settings: h.settings({ stopAfterRuns: 1 }),
  });
  assertOutcome(h, run.id, first, 'paused', 'stop_after_runs');
  assert.deepEqual(
    agent.calls.filter((c) => c.startsWith('start')),
    ['start TICKET-001.md', 'start TICKET-002.md'],
  );
  assert.ok(
    agent.sessions.every((s) => !s.alive),
    'the unused session was closed with the run',
  );
  assertOutcome(
    h,
    run.id,
    await h.run(run.id, { resolveAgent: resolverFor(agent) }),
    'completed',
    'all_done',
  );
  assert.deepEqual(
    agent.calls.filter((c) => c.startsWith('start')),
    ['start TICKET-001.md', 'start TICKET-002.md', 'start TICKET-002.md'],
  );
});

test('a session opened ahead whose process died before its ticket came is opened anew', async (t) => {
  const h = setup({ tickets: 2 });
  t.after(() => h.cleanup());
  const agent = new MortalAgent(h.agent);
  h.agent.script(finishTicket(), finishTicket());
  const resolve: AgentResolver = (id) => {
    const a = resolverFor(agent)(id);
    return {
      id: a.id,
      startSession: async (options) => {
        const session = await a.startSession(options);
        // the process of the session opened ahead for ticket 2 dies while ticket 1 is verified
        if (options.ticketPath.endsWith('TICKET-002.md') && agent.sessions.length === 2) {
          agent.sessions[1]!.alive = false;
        }
        return session;
      },
    };
  };
  const run = h.newRun();
  assertOutcome(h, run.id, await h.run(run.id, { resolveAgent: resolve }), 'completed', 'all_done');
  assert.deepEqual(
    agent.calls.filter((c) => c.startsWith('start')),
    ['start TICKET-001.md', 'start TICKET-002.md', 'start TICKET-002.md'],
  );
  assert.equal(h.events(run.id, ['thread_reset']).length, 0);
});

test('runWorker closes the resolver when the run ends', async (t) => {
  const h = setup({ tickets: 1 });
  t.after(() => h.cleanup());
  const agent = new MortalAgent(h.agent);
  h.agent.script(finishTicket());
  const control = h.control();
  const { run } = await control.prepareStart();
  let closed = 0;
  const resolveAgent = Object.assign(resolverFor(agent), {
    close: async () => {
      closed++;
    },
  });
  const outcome = await runWorker({ control, runId: run.id, repo: h.repo, resolveAgent });
  assert.equal(outcome.status, 'completed');
  assert.equal(closed, 1);
});
