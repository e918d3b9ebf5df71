// The codex adapter against the REAL `codex app-server` (the pinned @openai/codex devDependency), offline:
// codex talks to a local fake of the Responses API that each test scripts (test/fakes/responses-api.ts).
// Every test gets its own CODEX_HOME and a temp git repo, and ends by checking that no codex process is
// left in any process group the adapter started.
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { afterEach, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import {
  type CodexAgent,
  type CodexAgentOptions,
  type CodexAgentSession,
  type CodexApprovalRequest,
  CodexSessionError,
  createCodexAgent,
} from '../../src/agents/codex/adapter.ts';
import type { AgentEvent, TurnRequest } from '../../src/core/agent.ts';
import { liveGroupMembers } from '../../src/core/proc/group.ts';
import {
  type CodexHomeConfig,
  errorReply,
  execCommandReply,
  FakeResponsesApi,
  inputTexts,
  messageReply,
  stallReply,
  writeFakeCodexConfig,
} from '../fakes/responses-api.ts';
import { type GitRepo, makeGitRepo } from '../helpers/git-repo.ts';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const CODEX = join(ROOT, 'node_modules/.bin/codex');
const TICKET = '.codex-autorunner/tickets/TICKET-010.md';
const TICKET_TEXT =
  '---\nticket_id: tkt_codex_test\nagent: codex\ndone: false\ntitle: Try codex\n---\n\n## Tasks\n- run\n';

interface Harness {
  fake: FakeResponsesApi;
  repo: GitRepo;
  codexHome: string;
  agent: CodexAgent;
  start(threadId?: string, cwd?: string): Promise<CodexAgentSession>;
}

const cleanups: Array<() => Promise<void> | void> = [];
/** Every app-server process group the adapter started in this test. */
const groups = new Set<number>();

afterEach(async () => {
  for (const fn of cleanups.splice(0).reverse()) await fn();
  const alive: number[] = [];
  for (const pgid of groups) if (!(await groupGone(pgid))) alive.push(pgid);
  groups.clear();
  assert.deepEqual(alive, [], 'codex process groups left running');
});

/**
 * True when `kill(-pgid, 0)` says ESRCH, or when /proc shows no live member of the group. codex 0.169
 * leaves a `git` grandchild as a zombie re-parented to PID 1, and this container's PID 1 does not reap
 * it, so the group id can outlive every running process; a group of zombies runs nothing.
 */
async function groupGone(pgid: number): Promise<boolean> {
  try {
    process.kill(-pgid, 0);
  } catch (err) {
    assert.equal((err as NodeJS.ErrnoException).code, 'ESRCH');
    return true;
  }
  return liveGroupMembers(pgid).length === 0;
}

async function harness(
  agentOpts: Partial<CodexAgentOptions> = {},
  config: CodexHomeConfig = {},
): Promise<Harness> {
  const fake = await FakeResponsesApi.start();
  cleanups.push(() => fake.close());
  const codexHome = mkdtempSync(join(tmpdir(), 'car-codex-home-'));
  cleanups.push(() => rmSync(codexHome, { recursive: true, force: true }));
  writeFakeCodexConfig(codexHome, fake.baseUrl, config);
  const repo = makeGitRepo();
  cleanups.push(() => repo.cleanup());
  repo.write(TICKET, TICKET_TEXT);
  repo.commitAll('add ticket');
  const agent = createCodexAgent({
    command: [CODEX, 'app-server'],
    codexHome,
    startupTimeoutMs: 20_000,
    killGraceMs: 1000,
    ...agentOpts,
  });
  // the agent's app-server outlives its sessions; it is stopped last
  cleanups.push(() => agent.close());
  return {
    fake,
    repo,
    codexHome,
    agent,
    async start(threadId, cwd) {
      const session = await agent.startSession({
        cwd: cwd ?? repo.dir,
        ticketPath: TICKET,
        ticketId: 'tkt_codex_test',
        runId: 'run-1',
        ...(threadId ? { threadId } : {}),
      });
      if (session.pid) groups.add(session.pid);
      cleanups.push(() => session.close());
      return session;
    },
  };
}

function turnRequest(
  prompt: string,
  extra: Partial<TurnRequest> = {},
): { request: TurnRequest; events: AgentEvent[] } {
  const events: AgentEvent[] = [];
  return {
    events,
    request: { prompt, signal: new AbortController().signal, onEvent: (e) => events.push(e), ...extra },
  };
}

function statuses(events: AgentEvent[]): string[] {
  return events.flatMap((e) => (e.type === 'status' ? [e.message] : []));
}

test('a turn runs a shell command and a patch that marks the ticket done', async () => {
  const h = await harness();
  const patch = [
    "apply_patch <<'EOF'",
    '*** Begin Patch',
    `*** Update File: ${TICKET}`,
    '@@',
    '-done: false',
    '+done: true',
    '*** End Patch',
    'EOF',
  ].join('\n');
  h.fake.enqueue(
    execCommandReply(`grep -c 'done: false' ${TICKET} && echo checked-ticket`, 'call_1'),
    execCommandReply(patch, 'call_2'),
    messageReply(['Marked ', 'the ticket done.']),
  );
  const session = await h.start();
  assert.match(session.threadId ?? '', /^[0-9a-f-]{36}$/);
  const t0 = Date.now();
  const { request, events } = turnRequest('Work on TICKET-010.');
  const result = await session.runTurn(request);

  assert.equal(result.status, 'completed', JSON.stringify(result.error));
  assert.equal(result.finalText, 'Marked the ticket done.');
  assert.deepEqual(result.usage, { inputTokens: 300, cachedInputTokens: 0, outputTokens: 21 });
  assert.match(readFileSync(join(h.repo.dir, TICKET), 'utf8'), /^done: true$/m);

  const output = events.find((e) => e.type === 'command_output');
  assert.deepEqual(output && { text: output.text, exitCode: output.exitCode }, {
    text: '1\nchecked-ticket\n',
    exitCode: 0,
  });
  assert.match((output as { command?: string }).command ?? '', /grep -c/);
  assert.deepEqual(
    events.filter((e) => e.type === 'file_change'),
    [{ type: 'file_change', path: TICKET, kind: 'modify' }],
  );
  assert.deepEqual(
    events.filter((e) => e.type === 'tool_call').map((e) => (e.type === 'tool_call' ? [e.name, e.id] : [])),
    [
      ['shell', 'call_1'],
      ['apply_patch', 'call_2'],
    ],
  );
  assert.equal(
    events
      .filter((e) => e.type === 'message_delta')
      .map((e) => (e.type === 'message_delta' ? e.text : ''))
      .join(''),
    'Marked the ticket done.',
  );
  assert.deepEqual(
    events.filter((e) => e.type === 'message'),
    [{ type: 'message', text: 'Marked the ticket done.' }],
  );
  assert.deepEqual(events.at(-1), { type: 'usage', usage: result.usage });
  // usage streams as it grows, one update per model call, so a token budget can stop a turn mid-way
  assert.deepEqual(
    events.flatMap((e) => (e.type === 'usage' ? [e.usage.inputTokens] : [])),
    [100, 200, 300],
  );
  // the model saw the prompt, then each tool's output
  assert.equal(h.fake.requests.length, 3);
  assert.ok(inputTexts(h.fake.requests[0]!, 'user').includes('Work on TICKET-010.'));
  const outputs = (h.fake.requests[2]?.body?.input ?? []).filter((i) => i.type === 'function_call_output');
  assert.deepEqual(
    outputs.map((o) => o.call_id),
    ['call_1', 'call_2'],
  );
  assert.ok(Date.now() - t0 < 10_000);
});

test('approval requests are answered by policy and recorded (accept and decline)', async () => {
  const outside = mkdtempSync(join(tmpdir(), 'car-codex-outside-'));
  cleanups.push(() => rmSync(outside, { recursive: true, force: true }));
  const escalate = (file: string) =>
    execCommandReply(`echo approved > ${join(outside, file)}`, 'call_esc', {
      sandbox_permissions: 'require_escalated',
      justification: 'write outside the workspace',
    });

  // accept, decided by a callback that sees the request
  const asked: CodexApprovalRequest[] = [];
  const a = await harness({
    approvalPolicy: 'on-request',
    sandbox: 'workspace-write',
    onApproval: (req) => {
      asked.push(req);
      return 'accept';
    },
  });
  a.fake.enqueue(escalate('accepted.txt'), messageReply('wrote it'));
  const sa = await a.start();
  const ta = turnRequest('write outside');
  const ra = await sa.runTurn(ta.request);
  assert.equal(ra.status, 'completed');
  assert.equal(asked.length, 1);
  assert.equal(asked[0]?.kind, 'command');
  assert.equal(asked[0]?.method, 'item/commandExecution/requestApproval');
  assert.equal(asked[0]?.itemId, 'call_esc');
  assert.equal(asked[0]?.reason, 'write outside the workspace');
  assert.equal(asked[0]?.threadId, sa.threadId);
  assert.match(asked[0]?.command ?? '', /accepted\.txt/);
  assert.ok(statuses(ta.events).some((m) => /^approval command: .*accepted\.txt.* -> accept$/.test(m)));
  assert.equal(readFileSync(join(outside, 'accepted.txt'), 'utf8'), 'approved\n');
  const accepted = ta.events.find((e) => e.type === 'command_output');
  assert.equal(accepted?.type === 'command_output' && accepted.exitCode, 0);

  // decline, from config
  const d = await harness({
    approvalPolicy: 'on-request',
    sandbox: 'workspace-write',
    approvalDecision: 'decline',
  });
  d.fake.enqueue(escalate('declined.txt'), messageReply('could not'));
  const sd = await d.start();
  const td = turnRequest('write outside');
  const rd = await sd.runTurn(td.request);
  assert.equal(rd.status, 'completed');
  assert.equal(rd.finalText, 'could not');
  assert.ok(statuses(td.events).some((m) => /^approval command: .*declined\.txt.* -> decline$/.test(m)));
  assert.equal(existsSync(join(outside, 'declined.txt')), false);
  const declined = td.events.find((e) => e.type === 'tool_result' && e.id === 'call_esc');
  assert.deepEqual(declined, { type: 'tool_result', id: 'call_esc', error: 'command declined' });
  // the model was told and continued
  assert.equal(d.fake.requests.length, 2);
});

test('provider errors fail the turn with a classification; the session stays usable', async () => {
  const h = await harness();
  h.fake.enqueue(
    errorReply(500, 'upstream exploded'),
    errorReply(401, 'Incorrect API key provided'),
    messageReply('fine'),
  );
  const session = await h.start();

  const t0 = Date.now();
  const t1 = turnRequest('first');
  const r1 = await session.runTurn(t1.request);
  assert.equal(r1.status, 'failed');
  assert.equal(r1.error?.kind, 'network', r1.error?.message);
  assert.ok(Date.now() - t0 < 5000, 'a 500 fails fast with retries off');
  assert.ok(t1.events.some((e) => e.type === 'error'));

  const r2 = await session.runTurn(turnRequest('second').request);
  assert.equal(r2.status, 'failed');
  assert.equal(r2.error?.kind, 'agent');
  assert.match(r2.error?.message ?? '', /401/);

  const r3 = await session.runTurn(turnRequest('third').request);
  assert.equal(r3.status, 'completed');
  assert.equal(r3.finalText, 'fine');
});

test('a used-up usage limit is a quota error carrying the reset time codex reported', async () => {
  const h = await harness();
  const resetsAt = Math.floor(Date.now() / 1000) + 3 * 3600;
  // what the Responses API sends when the plan's 5-hour window is used up (codex reads the headers
  // into an account/rateLimits/updated notification and the body into usageLimitExceeded)
  h.fake.enqueue(
    {
      kind: 'raw',
      status: 429,
      headers: {
        'x-codex-primary-used-percent': '100',
        'x-codex-primary-window-minutes': '300',
        'x-codex-primary-reset-at': String(resetsAt),
        'x-codex-secondary-used-percent': '40',
        'x-codex-secondary-window-minutes': '10080',
        'x-codex-secondary-reset-at': String(resetsAt + 86_400),
      },
      body: {
        error: { type: 'usage_limit_reached', message: 'limit', plan_type: 'plus', resets_at: resetsAt },
      },
    },
    messageReply('after the reset'),
  );
  const session = await h.start();
  const r1 = await session.runTurn(turnRequest('first').request);
  assert.equal(r1.status, 'failed');
  assert.equal(r1.error?.kind, 'quota', r1.error?.message);
  assert.match(r1.error?.message ?? '', /usage limit/);
  assert.equal(
    r1.error?.retryAt,
    new Date(resetsAt * 1000).toISOString(),
    'the used-up window, not the 40 % one',
  );

  const r2 = await session.runTurn(turnRequest('second').request);
  assert.equal(r2.status, 'completed');
  assert.equal(r2.finalText, 'after the reset');
});

test("a stalled provider stream is ended by car's idle watchdog, and the session goes on", async () => {
  // codex's own idle timeout is set far out so the adapter's watchdog is what fires
  const h = await harness({ stallTimeoutMs: 1500 }, { providerExtra: ['stream_idle_timeout_ms = 600000'] });
  h.fake.enqueue(stallReply('thinking about '), messageReply('recovered'));
  const session = await h.start();
  const pid = session.pid;
  const t0 = Date.now();
  const { request, events } = turnRequest('stall please');
  const result = await session.runTurn(request);
  const took = Date.now() - t0;
  assert.equal(result.status, 'failed');
  assert.equal(result.error?.kind, 'stalled');
  assert.match(result.error?.message ?? '', /no progress for 1500 ms/);
  assert.ok(took >= 1400 && took < 6000, `took ${took} ms`);
  assert.ok(events.some((e) => e.type === 'message_delta' && e.text === 'thinking about '));
  assert.ok(statuses(events).some((m) => /stalled.*interrupting/.test(m)));

  // codex honoured the interrupt: same process, next turn works
  assert.equal(session.pid, pid);
  const next = await session.runTurn(turnRequest('again').request);
  assert.equal(next.status, 'completed');
  assert.equal(next.finalText, 'recovered');
});

test('the wall-clock cap and an abort both end a hanging turn', async () => {
  const h = await harness(
    { stallTimeoutMs: 0, turnTimeoutMs: 1000 },
    { providerExtra: ['stream_idle_timeout_ms = 600000'] },
  );
  h.fake.enqueue(stallReply(), stallReply());
  const session = await h.start();

  const timedOut = await session.runTurn(turnRequest('hang').request);
  assert.equal(timedOut.status, 'failed');
  assert.equal(timedOut.error?.kind, 'timeout');

  const ac = new AbortController();
  const t0 = Date.now();
  setTimeout(() => ac.abort(), 300);
  const cancelled = await session.runTurn(turnRequest('hang again', { signal: ac.signal }).request);
  assert.equal(cancelled.status, 'cancelled');
  assert.equal(cancelled.error, undefined);
  assert.ok(Date.now() - t0 < 5000);
});

test('a thread resumes in a new app-server process and keeps its conversation', async () => {
  const h = await harness();
  h.fake.enqueue(messageReply('first answer'), messageReply('second answer'));
  const a = await h.start();
  const threadId = a.threadId;
  assert.ok(threadId);
  const r1 = await a.runTurn(turnRequest('remember the word pineapple').request);
  assert.equal(r1.status, 'completed');
  const pidA = a.pid;
  await a.close();
  await h.agent.close();
  assert.deepEqual(liveGroupMembers(pidA as number), []);
  assert.ok(await groupGone(pidA as number));

  const b = await h.start(threadId);
  assert.notEqual(b.pid, pidA);
  assert.equal(b.threadId, threadId);
  const r2 = await b.runTurn(turnRequest('what was the word?').request);
  assert.equal(r2.status, 'completed');
  assert.equal(r2.finalText, 'second answer');
  const second = h.fake.requests[1]!;
  assert.ok(inputTexts(second, 'user').includes('remember the word pineapple'));
  assert.ok(inputTexts(second, 'assistant').includes('first answer'));
  assert.ok(inputTexts(second, 'user').includes('what was the word?'));

  // a thread codex does not know: startSession throws (the engine then starts fresh)
  await assert.rejects(h.start('01a20e92-2ba9-7033-8345-ba4e58ff61a3'), (err: unknown) => {
    assert.ok(err instanceof CodexSessionError);
    assert.match(err.message, /no rollout found/);
    return true;
  });
});

test('an app-server that died between turns is restarted on the same thread', async () => {
  const h = await harness();
  h.fake.enqueue(messageReply('one'), messageReply('two'));
  const session = await h.start();
  const threadId = session.threadId;
  assert.equal((await session.runTurn(turnRequest('turn one').request)).status, 'completed');
  const pid = session.pid as number;
  process.kill(-pid, 'SIGKILL');
  for (let i = 0; i < 100 && liveGroupMembers(pid).length > 0; i++)
    await new Promise((r) => setTimeout(r, 20));
  const { request, events } = turnRequest('turn two');
  const r2 = await session.runTurn(request);
  if (session.pid) groups.add(session.pid);
  assert.equal(r2.status, 'completed', JSON.stringify(r2.error));
  assert.equal(r2.finalText, 'two');
  assert.equal(session.threadId, threadId);
  assert.notEqual(session.pid, pid);
  assert.ok(statuses(events).some((m) => m.startsWith('codex app-server restarted')));
  assert.ok(inputTexts(h.fake.requests[1]!, 'user').includes('turn one'));
});

test('one app-server carries several threads at once, each in its own cwd; closing one leaves the process', async () => {
  const h = await harness();
  // every new turn writes where it runs; after the command's output the model answers
  h.fake.setFallback((req) =>
    req.body?.input?.at(-1)?.type === 'function_call_output'
      ? messageReply(`answer ${req.n}`, `msg_${req.n}`)
      : execCommandReply('pwd > where.txt', `call_${req.n}`),
  );
  const other = makeGitRepo();
  cleanups.push(() => other.cleanup());
  h.agent.prewarm({ cwd: h.repo.dir });
  const [a, b] = await Promise.all([h.start(), h.start(undefined, other.dir)]);
  assert.ok(a.pid && a.pid === b.pid, 'both threads live in one app-server process');
  assert.ok(a.threadId && b.threadId && a.threadId !== b.threadId, 'a thread each');
  const [ra, rb] = await Promise.all([
    a.runTurn(turnRequest('where are you?').request),
    b.runTurn(turnRequest('where are you?').request),
  ]);
  assert.equal(ra.status, 'completed', JSON.stringify(ra.error));
  assert.equal(rb.status, 'completed', JSON.stringify(rb.error));
  assert.equal(readFileSync(join(h.repo.dir, 'where.txt'), 'utf8').trim(), h.repo.dir);
  assert.equal(readFileSync(join(other.dir, 'where.txt'), 'utf8').trim(), other.dir);
  const pid = a.pid;
  await a.close();
  const again = await b.runTurn(turnRequest('once more').request);
  assert.equal(again.status, 'completed', JSON.stringify(again.error));
  assert.equal(b.pid, pid, 'the process outlived the closed session');
  const c = await h.start();
  assert.equal(c.pid, pid, 'a new session opens its thread on the same process');
  await h.agent.close();
  assert.ok(await groupGone(pid as number), 'the agent closed its process');
});

test('a session opened ahead waits to start its thread until a turn has asked the model, or `openAfter`', async () => {
  const h = await harness();
  h.fake.setFallback((req) => messageReply(`answer ${req.n}`, `msg_${req.n}`));
  const a = await h.start();
  const ahead = (label: string) => {
    let underWay = () => {};
    const openAfter = new Promise<void>((resolve) => {
      underWay = resolve;
    });
    const state = { opened: false, underWay, session: null as Promise<CodexAgentSession> | null };
    state.session = h.agent
      .startSession({ cwd: h.repo.dir, ticketPath: TICKET, ticketId: label, runId: 'run-1', openAfter })
      .then((session) => {
        state.opened = true;
        cleanups.push(() => session.close());
        return session;
      });
    return state;
  };
  // no turn running: the thread waits for the engine's word, while other threads open and close
  const first = ahead('tkt_b');
  const c = await h.start();
  await c.close();
  await (await h.start()).close();
  assert.equal(first.opened, false, 'no thread opened before the turn was under way');
  first.underWay();
  const b = await first.session!;
  assert.ok(
    b.threadId && b.threadId !== a.threadId && b.pid === a.pid,
    'its own thread, on the same process',
  );
  // a turn that asks the model lets it open (the engine's word comes only after the turn here)
  const second = ahead('tkt_c');
  const turn = await a.runTurn(turnRequest('hello').request);
  assert.equal(turn.status, 'completed', JSON.stringify(turn.error));
  // (the timer only bounds a failure: a thread that waits for the engine's word would never open here)
  const opened = await Promise.race([
    second.session!.then(() => 'opened'),
    new Promise((resolve) => setTimeout(resolve, 10_000, 'still waiting')),
  ]);
  assert.equal(opened, 'opened');
  second.underWay();
});

test('a command that does not exist fails startSession as a spawn error', async () => {
  const agent = createCodexAgent({ command: ['/nonexistent/codex', 'app-server'] });
  await assert.rejects(
    agent.startSession({ cwd: tmpdir(), ticketPath: TICKET, ticketId: 't', runId: 'r' }),
    (err: unknown) => err instanceof CodexSessionError && err.kind === 'spawn',
  );
});

test('a turn that ignores interrupt and SIGTERM is killed with its whole process group', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'car-stubborn-'));
  cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
  const pidFile = join(dir, 'pids');
  const agent = createCodexAgent({
    command: [process.execPath, join(ROOT, 'test/fakes/stubborn-app-server.mjs')],
    env: { STUBBORN_PIDFILE: pidFile, STUBBORN_MODE: 'noise' },
    stallTimeoutMs: 600,
    interruptGraceMs: 300,
    killGraceMs: 300,
    maxMessageBytes: 4096,
  });
  cleanups.push(() => agent.close());
  const session = await agent.startSession({ cwd: dir, ticketPath: TICKET, ticketId: 't', runId: 'r' });
  const pgid = session.pid as number;
  groups.add(pgid);
  cleanups.push(() => session.close());
  const [leader, sleeper] = readFileSync(pidFile, 'utf8').split(' ').map(Number);
  assert.equal(leader, pgid);

  const t0 = Date.now();
  const { request, events } = turnRequest('hang');
  const result = await session.runTurn(request);
  assert.equal(result.status, 'failed');
  assert.equal(result.error?.kind, 'stalled');
  assert.ok(Date.now() - t0 < 3000, `took ${Date.now() - t0} ms`);
  // garbage and an oversized line were reported, not fatal; the small delta still arrived
  const errors = events.flatMap((e) => (e.type === 'error' ? [e.message] : []));
  assert.ok(errors.some((m) => /not JSON/.test(m)));
  assert.ok(errors.some((m) => /larger than 4096 bytes/.test(m)));
  assert.ok(events.some((e) => e.type === 'message_delta' && e.text === 'small'));
  assert.ok(statuses(events).some((m) => /killing it/.test(m)));
  // SIGTERM was ignored, so SIGKILL took the leader and the grandchild in its group
  assert.deepEqual(liveGroupMembers(pgid), []);
  assert.throws(() => process.kill(sleeper as number, 0), { code: 'ESRCH' });
});
