// The ACP adapter against a deterministic ACP agent (test/fakes/acp-agent.mjs) run as a real child
// process over stdio. Every test ends by checking that no agent process is left.
import assert from 'node:assert/strict';
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { type AcpAgentOptions, createAcpAgent, resolveAcpPreset } from '../../src/agents/acp/adapter.ts';
import type { Agent, AgentEvent, AgentSession, TurnResult } from '../../src/core/agent.ts';
import { assertGroupsGone, readPids } from '../helpers/processes.ts';
import { waitFor } from '../helpers/wait.ts';

const FAKE = fileURLToPath(new URL('../fakes/acp-agent.mjs', import.meta.url));

let base: string;
let n = 0;
before(() => {
  base = mkdtempSync(join(tmpdir(), 'car-acp-'));
});
// every session is closed at the end even when an assertion failed, so no agent outlives the file
const opened: AgentSession[] = [];
const agents: Agent[] = [];
after(async () => {
  await Promise.all(opened.map((s) => s.close()));
  await Promise.all(agents.map((a) => a.close?.()));
  rmSync(base, { recursive: true, force: true });
});

interface Fixture {
  cwd: string;
  pidFile: string;
  stateDir: string;
  outside: string;
  agentOptions: AcpAgentOptions;
  /** The fixture's agent: one process shared by its sessions until `agent.close()`. */
  agent: Agent;
}

function fixture(overrides: Partial<AcpAgentOptions> = {}, env: Record<string, string> = {}): Fixture {
  const dir = join(base, `t${++n}`);
  const cwd = join(dir, 'repo');
  const stateDir = join(dir, 'state');
  mkdirSync(cwd, { recursive: true });
  mkdirSync(stateDir);
  const pidFile = join(dir, 'pids');
  const outside = join(dir, 'outside.txt');
  const agentOptions: AcpAgentOptions = {
    id: 'fake',
    command: [process.execPath, FAKE],
    env: { FAKE_PID_FILE: pidFile, FAKE_STATE_DIR: stateDir, FAKE_OUTSIDE_PATH: outside, ...env },
    stallTimeoutMs: 10_000,
    cancelGraceMs: 1000,
    killGraceMs: 500,
    ...overrides,
  };
  const agent = createAcpAgent(agentOptions);
  agents.push(agent);
  return { cwd, pidFile, stateDir, outside, agentOptions, agent };
}

async function start(f: Fixture, threadId?: string, cwd = f.cwd): Promise<AgentSession> {
  const session = await f.agent.startSession({
    cwd,
    ticketPath: '.codex-autorunner/tickets/TICKET-010.md',
    ticketId: 'tkt_1',
    runId: 'run-1',
    ...(threadId ? { threadId } : {}),
  });
  opened.push(session);
  return session;
}

async function turn(
  session: AgentSession,
  prompt: string,
  opts: { abortOnFirstEvent?: boolean; model?: string } = {},
): Promise<{ result: TurnResult; events: AgentEvent[] }> {
  const events: AgentEvent[] = [];
  const ac = new AbortController();
  const result = await session.runTurn({
    prompt,
    signal: ac.signal,
    onEvent: (e) => {
      events.push(e);
      // abort once the agent is demonstrably mid-turn (a fixed delay races a slow start under load)
      if (opts.abortOnFirstEvent) ac.abort();
    },
    ...(opts.model ? { model: opts.model } : {}),
  });
  return { result, events };
}

/** Closes the fixture's agent; none of the processes it started is left. */
async function noneLeft(f: Fixture): Promise<void> {
  await f.agent.close?.();
  const pids = readPids(f.pidFile);
  assert.ok(pids.length > 0, 'the fake agent recorded its pid');
  await assertGroupsGone(pids);
}

describe('ACP adapter (fake agent)', { concurrency: true }, () => {
  test('streams a message, maps updates, usage and the model override; completes', async () => {
    const f = fixture();
    const session = await start(f);
    assert.match(session.threadId ?? '', /^fake-\d+-1$/);
    const { result, events } = await turn(session, 'hello', { model: 'large' });
    assert.equal(result.status, 'completed');
    assert.equal(result.finalText, 'Hello world (model large).');
    assert.deepEqual(result.usage, { costUsd: 0.25, inputTokens: 11, outputTokens: 7, cachedInputTokens: 3 });
    assert.deepEqual(
      events.filter((e) => e.type === 'message_delta').map((e) => e.text),
      ['Hello ', 'world (model large).'],
    );
    assert.deepEqual(
      events.filter((e) => e.type === 'message'),
      [{ type: 'message', text: 'Hello world (model large).' }],
    );
    assert.ok(events.some((e) => e.type === 'status' && e.message === 'plan: 1/1 done'));
    assert.deepEqual(events.at(-1), { type: 'usage', usage: result.usage });
    // a second turn in the same session and process
    const second = await turn(session, 'two');
    assert.equal(second.result.status, 'completed');
    assert.equal(second.result.finalText, 'All done.');
    assert.deepEqual(
      second.events.map((e) => e.type),
      ['message_delta', 'message', 'tool_call', 'tool_result', 'message_delta', 'message_delta', 'message'],
    );
    assert.deepEqual(second.events[2], { type: 'tool_call', name: 'ls', id: 't1', input: { command: 'ls' } });
    assert.deepEqual(second.events[3], { type: 'tool_result', id: 't1', output: 'a.txt' });
    await session.close();
    await noneLeft(f);
    assert.equal(readPids(f.pidFile).length, 1, 'one process for the whole session');
  });

  test('permission requests are answered by policy and recorded', async () => {
    const allow = fixture();
    const s1 = await start(allow);
    const allowed = await turn(s1, 'permission');
    assert.equal(allowed.result.finalText, 'permission: yes');
    assert.ok(
      allowed.events.some(
        (e) => e.type === 'status' && e.message === 'permission allowed (allow_once): Run rm -rf build',
      ),
    );
    await s1.close();
    const reject = fixture({ permission: 'reject' });
    const s2 = await start(reject);
    const rejected = await turn(s2, 'permission');
    assert.equal(rejected.result.finalText, 'permission: no');
    assert.ok(
      rejected.events.some((e) => e.type === 'status' && e.message.startsWith('permission rejected')),
    );
    await s2.close();
    await noneLeft(allow);
    await noneLeft(reject);
  });

  test('fs/write_text_file works inside the cwd and is refused outside (also through a symlink)', async () => {
    const f = fixture();
    const session = await start(f);
    const { result, events } = await turn(session, 'write');
    assert.equal(result.status, 'completed');
    assert.equal(result.finalText, 'inside: written; outside: refused (-32602)');
    assert.equal(readFileSync(join(f.cwd, 'notes', 'out.txt'), 'utf8'), 'inside\n');
    assert.equal(existsSync(f.outside), false);
    assert.deepEqual(
      events.find((e) => e.type === 'file_change'),
      { type: 'file_change', path: join(f.cwd, 'notes', 'out.txt'), kind: 'add' },
    );
    assert.ok(events.some((e) => e.type === 'error' && e.message.includes('outside the workspace')));
    // reads are confined too: a symlink inside the repo pointing outside is refused
    writeFileSync(f.outside, 'secret');
    symlinkSync(f.outside, join(f.cwd, 'link.txt'));
    writeFileSync(join(f.cwd, 'ok.txt'), 'fine');
    const ok = await turn(session, 'read ok.txt');
    assert.equal(ok.result.finalText, 'content: fine');
    const refused = await turn(session, 'read link.txt');
    assert.equal(refused.result.status, 'failed');
    assert.match(refused.result.error?.message ?? '', /outside the workspace/);
    await session.close();
    await noneLeft(f);
  });

  test('abort sends session/cancel; an end_turn after our cancel counts as cancelled', async () => {
    const f = fixture({ cancelGraceMs: 5000 });
    const session = await start(f);
    const t0 = Date.now();
    const { result } = await turn(session, 'hang', { abortOnFirstEvent: true });
    assert.equal(result.status, 'cancelled');
    assert.equal(result.finalText, 'working…');
    assert.ok(Date.now() - t0 < 4000, 'the agent answered the cancel; no kill needed');
    // the session survives a cancelled turn
    const next = await turn(session, 'recall');
    assert.equal(next.result.finalText, 'previous: hang');
    await session.close();
    await noneLeft(f);
  });

  test('an agent that ignores cancel is killed after the grace period', async () => {
    const f = fixture({ cancelGraceMs: 200 });
    const session = await start(f);
    const { result } = await turn(session, 'spawn', { abortOnFirstEvent: true });
    assert.equal(result.status, 'cancelled');
    const pids = readPids(f.pidFile);
    assert.equal(pids.length, 2, 'agent and its grandchild');
    await assertGroupsGone(pids);
    for (const pid of pids) assert.throws(() => process.kill(pid, 0), { code: 'ESRCH' });
    // the next turn restarts the agent and loads the session there
    const after = await turn(session, 'recall');
    assert.equal(after.result.status, 'completed', JSON.stringify(after.result.error));
    assert.equal(after.result.finalText, 'previous: spawn');
    assert.ok(after.events.some((e) => e.type === 'status' && e.message.startsWith('agent restarted')));
    assert.equal(readPids(f.pidFile).length, 3, 'one new agent process');
    await session.close();
    await noneLeft(f);
  });

  test('stall watchdog: silence → cancel → failed "stalled"', async () => {
    const f = fixture({ stallTimeoutMs: 200 });
    const session = await start(f);
    const { result } = await turn(session, 'silent');
    assert.equal(result.status, 'failed');
    assert.equal(result.error?.kind, 'stalled');
    await session.close();
    await noneLeft(f);
  });

  test('turn timeout: a deaf agent is cancelled, then killed; failed "timeout"', async () => {
    // the cap leaves the agent seconds to say its one line; "deaf" then never answers, so the cap fires
    const f = fixture({ turnTimeoutMs: 3000, cancelGraceMs: 150 });
    const session = await start(f);
    const { result } = await turn(session, 'deaf');
    assert.equal(result.status, 'failed');
    assert.equal(result.error?.kind, 'timeout');
    assert.equal(result.finalText, 'not listening');
    await session.close();
    await noneLeft(f);
  });

  test('a crash mid-turn fails the turn with the exit code and stderr tail', async () => {
    const f = fixture();
    const session = await start(f);
    const { result, events } = await turn(session, 'crash');
    assert.equal(result.status, 'failed');
    assert.equal(result.error?.kind, 'agent');
    assert.match(result.error?.message ?? '', /exited with code 3: fatal: simulated crash in fake agent/);
    assert.equal(result.finalText, 'about to crash');
    assert.ok(events.some((e) => e.type === 'error'));
    assert.equal(session.alive, false, 'the session knows its process is gone');
    // the next turn restarts the agent and loads the session there
    const again = await turn(session, 'hello');
    assert.equal(again.result.status, 'completed', JSON.stringify(again.result.error));
    assert.equal(readPids(f.pidFile).length, 2);
    // without session/load a dead process cannot carry the thread on: the turn fails (the engine then
    // opens a fresh session, thread_reset)
    const noLoad = fixture({}, { FAKE_NO_LOAD: '1' });
    const s2 = await start(noLoad);
    assert.equal((await turn(s2, 'crash')).result.status, 'failed');
    const lost = await turn(s2, 'hello');
    assert.equal(lost.result.status, 'failed');
    assert.match(lost.result.error?.message ?? '', /exited with code 3/);
    await session.close();
    await s2.close();
    await noneLeft(f);
    await noneLeft(noLoad);
  });

  test('garbage on stdout is a protocol error, not a hang', async () => {
    const f = fixture();
    const session = await start(f);
    const t0 = Date.now();
    const { result } = await turn(session, 'garbage');
    assert.equal(result.status, 'failed');
    assert.equal(result.error?.kind, 'protocol');
    assert.match(result.error?.message ?? '', /this is not json-rpc/);
    assert.ok(Date.now() - t0 < 3000);
    await session.close();
    await noneLeft(f);
  });

  test('session/load resumes a thread in a new process; history replay is not part of the turn', async () => {
    const f = fixture();
    const first = await start(f);
    const threadId = first.threadId!;
    await turn(first, 'remember the blue door');
    await first.close();
    await f.agent.close?.();
    const resumed = await start(f, threadId);
    assert.equal(readPids(f.pidFile).length, 2, 'a new process');
    assert.equal(resumed.threadId, threadId);
    const { result, events } = await turn(resumed, 'recall');
    assert.equal(result.finalText, 'previous: remember the blue door');
    assert.ok(
      !events.some(
        (e) => (e.type === 'message' || e.type === 'message_delta') && e.text.startsWith('replayed'),
      ),
    );
    await resumed.close();
    // an unknown thread, or an agent without loadSession, throws so the engine starts fresh
    await assert.rejects(start(f, 'fake-unknown'), /session\/load fake-unknown failed/);
    const noLoad = fixture({}, { FAKE_NO_LOAD: '1' });
    await assert.rejects(start(noLoad, threadId), /cannot load sessions/);
    await noneLeft(f);
    await noneLeft(noLoad);
  });

  test('one agent process carries several sessions at once, each in its own cwd', async () => {
    const f = fixture();
    const otherCwd = join(f.cwd, '..', 'other');
    mkdirSync(otherCwd);
    f.agent.prewarm?.({ cwd: f.cwd });
    const [a, b] = await Promise.all([start(f), start(f, undefined, otherCwd)]);
    assert.notEqual(a.threadId, b.threadId);
    const [ra, rb] = await Promise.all([turn(a, 'write'), turn(b, 'write')]);
    assert.equal(ra.result.status, 'completed');
    assert.equal(rb.result.status, 'completed');
    assert.equal(readFileSync(join(f.cwd, 'notes', 'out.txt'), 'utf8'), 'inside\n');
    assert.equal(readFileSync(join(otherCwd, 'notes', 'out.txt'), 'utf8'), 'inside\n');
    await a.close();
    const c = await start(f);
    assert.equal((await turn(c, 'hello')).result.status, 'completed');
    assert.equal(readPids(f.pidFile).length, 1, 'one process for every session');
    // killed between sessions: the next session costs one restart
    process.kill(-readPids(f.pidFile)[0]!, 'SIGKILL');
    await assertGroupsGone(readPids(f.pidFile));
    const d = await start(f);
    assert.equal((await turn(d, 'hello')).result.status, 'completed');
    assert.equal(readPids(f.pidFile).length, 2);
    await b.close();
    await c.close();
    await d.close();
    await noneLeft(f);
  });

  test('a closed session is closed in an agent that offers session/close; the process stays', async () => {
    const closed = join(base, `closed-${++n}`);
    const f = fixture({}, { FAKE_CLOSED_FILE: closed });
    const a = await start(f);
    const b = await start(f);
    await turn(a, 'hello');
    await a.close();
    // the fake appends the id: the file exists a moment before its line is in it
    await waitFor(
      'the agent to hear session/close',
      () => existsSync(closed) && readFileSync(closed, 'utf8') !== '',
    );
    assert.equal(readFileSync(closed, 'utf8'), `${a.threadId}\n`);
    assert.equal((await turn(b, 'hello')).result.status, 'completed', 'the other session goes on');
    await b.close();
    await noneLeft(f);
    assert.equal(readPids(f.pidFile).length, 1);
  });

  test('start-up failures: missing binary (spawn), auth required (agent)', async () => {
    await assert.rejects(
      createAcpAgent({ id: 'x', command: ['car-no-such-acp-agent'] }).startSession({
        cwd: base,
        ticketPath: 't',
        ticketId: 't',
        runId: 'r',
      }),
      (err: Error & { kind?: string }) =>
        err.kind === 'spawn' && err.message.includes('car-no-such-acp-agent'),
    );
    const f = fixture({}, { FAKE_AUTH: '1' });
    await assert.rejects(start(f), (err: Error & { kind?: string }) => {
      return err.kind === 'agent' && /Authentication required/.test(err.message);
    });
    await noneLeft(f);
  });

  test('presets', () => {
    assert.deepEqual(resolveAcpPreset('claude', true), {
      command: ['claude-agent-acp'],
      env: { IS_SANDBOX: '1' },
    });
    assert.deepEqual(resolveAcpPreset('claude', false), { command: ['claude-agent-acp'], env: {} });
    assert.deepEqual(resolveAcpPreset('opencode', true)?.command, ['opencode', 'acp']);
    assert.deepEqual(resolveAcpPreset('hermes', false)?.command, ['hermes', 'acp']);
    assert.equal(resolveAcpPreset('nope'), null);
  });
});
