// The bundled demo agent and the config resolver, driven by the real engine.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { createAgentResolver } from '../../src/agents/resolver.ts';
import { assertOutcome, countEvents, setup } from './harness.ts';

test('demo agent: default script, then ask → reply → resume', async (t) => {
  const h = setup();
  t.after(() => h.cleanup());
  h.ticket(1, { agent: 'demo', title: 'Write the greeting' });
  h.ticket(2, {
    agent: 'demo',
    body: '```car-demo\nwrite notes/q.txt before\nask Which colour?\nappend notes/q.txt after\ndone\ncommit answer\n```',
  });
  h.commit();
  const resolveAgent = createAgentResolver(h.config, { demoStepDelayMs: 0 });
  const control = h.control();
  const { run } = await control.prepareStart();

  const first = await h.run(run.id, { resolveAgent });
  assertOutcome(h, run.id, first, 'paused', 'dispatch');
  assert.equal(first.reason, 'Which colour?');
  assert.equal(countEvents(h, run.id, 'ticket_done', h.ticketPath(1)), 1);
  assert.equal(h.git.git(['show', 'HEAD:demo/TICKET-001.txt']), 'Write the greeting\n');

  await control.reply(run.id, 'Blue.');
  await control.resume(run.id);
  const second = await h.run(run.id, { resolveAgent });
  assertOutcome(h, run.id, second, 'completed', 'all_done');
  assert.equal(h.git.git(['show', 'HEAD:notes/q.txt']), 'beforeafter\n');
  assert.equal(countEvents(h, run.id, 'ticket_done', h.ticketPath(2)), 1);
  assert.equal(await h.repo.isDirty(), false);
});

test('demo agent: a fail step pauses with agent_error', async (t) => {
  const h = setup();
  t.after(() => h.cleanup());
  h.ticket(1, { agent: 'demo', body: '```car-demo\nsay hello\nfail the build is red\n```' });
  h.commit();
  const run = h.newRun();
  const outcome = await h.run(run.id, { resolveAgent: createAgentResolver(h.config) });
  assertOutcome(h, run.id, outcome, 'paused', 'agent_error');
  assert.match(outcome.reason, /the build is red/);
  assert.ok(h.events(run.id, ['agent_message']).some((e) => e.data.text === 'hello'));
});

test('resolver: an agent entry car cannot build pauses with agent_unavailable naming the key', async (t) => {
  const h = setup({ tickets: 1 }); // agent: codex
  t.after(() => h.cleanup());
  const run = h.newRun();
  const config = { ...h.config, agents: { ...h.config.agents, codex: { backend: 'command' as const } } };
  const outcome = await h.run(run.id, { resolveAgent: createAgentResolver(config) });
  assertOutcome(h, run.id, outcome, 'paused', 'agent_unavailable');
  assert.match(outcome.reason, /agents\.codex\.format must be one of/);
  assert.equal(h.store.listTurns(run.id).length, 0);
});
