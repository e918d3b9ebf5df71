// The command adapter end to end with a fake headless CLI (test/fakes/jsonl-cli.mjs) printing JSONL.
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import {
  buildCommandArgv,
  type CommandAgentOptions,
  createCommandAgent,
} from '../../src/agents/command/adapter.ts';
import type { AgentEvent, AgentSession, TurnResult } from '../../src/core/agent.ts';
import { assertGroupsGone, readPids } from '../helpers/processes.ts';

const CLI = fileURLToPath(new URL('../fakes/jsonl-cli.mjs', import.meta.url));
const CLAUDE = fileURLToPath(new URL('../fakes/cli/claude.jsonl', import.meta.url));
const CODEX = fileURLToPath(new URL('../../src/agents/command/fixtures/codex-exec.jsonl', import.meta.url));

let base: string;
let n = 0;
before(() => {
  base = mkdtempSync(join(tmpdir(), 'car-cmd-'));
});
after(() => rmSync(base, { recursive: true, force: true }));

function setup(options: Partial<CommandAgentOptions> = {}, env: Record<string, string> = {}) {
  const dir = join(base, `t${++n}`);
  mkdirSync(dir);
  const argvFile = join(dir, 'argv');
  const pidFile = join(dir, 'pids');
  const agent = createCommandAgent({
    id: 'fake-cli',
    format: 'claude-stream-json',
    command: [process.execPath, CLI, '-p', '--output-format', 'stream-json'],
    env: { FAKE_FIXTURE: CLAUDE, FAKE_ARGV_FILE: argvFile, FAKE_PID_FILE: pidFile, ...env },
    killGraceMs: 300,
    ...options,
  });
  const argvs = () =>
    readFileSync(argvFile, 'utf8')
      .split('\n')
      .filter(Boolean)
      .map((l) => JSON.parse(l) as string[]);
  return { dir, agent, argvs, pids: () => readPids(pidFile) };
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
      // abort once the CLI is demonstrably running (a fixed delay races a slow start under load)
      if (opts.abortOnFirstEvent) ac.abort();
    },
    ...(opts.model ? { model: opts.model } : {}),
  });
  return { result, events };
}

const sessionOpts = (cwd: string, threadId?: string) => ({
  cwd,
  ticketPath: 't',
  ticketId: 't',
  runId: 'r',
  ...(threadId ? { threadId } : {}),
});

describe('command adapter', { concurrency: true }, () => {
  test('claude-stream-json: completes, reports the session id and resumes it on the next turn', async () => {
    const { dir, agent, argvs, pids } = setup();
    const session = await agent.startSession(sessionOpts(dir));
    assert.equal(session.threadId, null);
    const first = await turn(session, 'hello there', { model: 'opus' });
    assert.equal(first.result.status, 'completed');
    assert.equal(first.result.finalText, 'you said: hello there');
    assert.deepEqual(first.result.usage, {
      inputTokens: 3,
      cachedInputTokens: 0,
      outputTokens: 4,
      costUsd: 0.01,
    });
    assert.deepEqual(first.events.at(-1), { type: 'usage', usage: first.result.usage });
    assert.equal(session.threadId, 'sess-new-1');
    const second = await turn(session, 'again');
    assert.equal(second.result.finalText, 'you said: again');
    const [a1, a2] = argvs();
    assert.deepEqual(a1, ['-p', '--output-format', 'stream-json', '--model', 'opus', 'hello there']);
    assert.deepEqual(a2, ['-p', '--output-format', 'stream-json', '--resume', 'sess-new-1', 'again']);
    await session.close();
    await assertGroupsGone(pids());
  });

  test('a thread id from an earlier run is resumed; the prompt can go on stdin', async () => {
    const { dir, agent, argvs, pids } = setup({ promptVia: 'stdin' }, { FAKE_STDIN: '1' });
    const session = await agent.startSession(sessionOpts(dir, 'sess-old-7'));
    const { result } = await turn(session, 'via stdin');
    assert.equal(result.finalText, 'you said: via stdin');
    assert.deepEqual(argvs()[0], ['-p', '--output-format', 'stream-json', '--resume', 'sess-old-7']);
    assert.equal(session.threadId, 'sess-old-7');
    await session.close();
    await assertGroupsGone(pids());
  });

  test('codex-exec-json: resume goes after the exec options, model before it', () => {
    const { argv } = buildCommandArgv(
      { id: 'c', format: 'codex-exec-json', command: ['codex', 'exec', '--json', '--yolo'] },
      { prompt: 'go', model: 'gpt-5', reasoning: 'high' },
      'thr-1',
    );
    assert.deepEqual(argv, [
      'codex',
      'exec',
      '--json',
      '--yolo',
      '-m',
      'gpt-5',
      '-c',
      'model_reasoning_effort="high"',
      'resume',
      'thr-1',
      'go',
    ]);
  });

  test('codex-exec-json end to end with the recorded fixture', async () => {
    const { dir, pids } = setup();
    const codex = createCommandAgent({
      id: 'codex-exec',
      format: 'codex-exec-json',
      command: [process.execPath, CLI],
      env: { FAKE_FIXTURE: CODEX, FAKE_PID_FILE: join(dir, 'pids') },
    });
    const session = await codex.startSession(sessionOpts(dir));
    const { result, events } = await turn(session, 'write it');
    assert.equal(result.status, 'completed');
    assert.equal(result.finalText, 'Done: wrote out.txt');
    assert.equal(session.threadId, '01a20b00-f438-7791-a514-7ed7613289a0');
    assert.ok(events.some((e) => e.type === 'file_change' && e.path === '/repo/notes.md'));
    await session.close();
    await assertGroupsGone(pids());
  });

  test('exit code ≠ 0 fails with the stderr tail; network errors are classified', async () => {
    const { dir, agent, pids } = setup();
    const session = await agent.startSession(sessionOpts(dir));
    const failed = await turn(session, 'fail');
    assert.equal(failed.result.status, 'failed');
    assert.equal(failed.result.error?.kind, 'agent');
    assert.match(failed.result.error?.message ?? '', /exited with code 1: Error: model exploded/);
    const net = await turn(session, 'netfail');
    assert.equal(net.result.error?.kind, 'network');
    const quota = await turn(session, 'quota');
    assert.equal(quota.result.error?.kind, 'quota', quota.result.error?.message);
    assert.equal(quota.result.error?.retryAt, new Date(1_900_000_000 * 1000).toISOString());
    await session.close();
    await assertGroupsGone(pids());
  });

  test('abort kills the CLI and its children; the turn is cancelled', async () => {
    const { dir, agent, pids } = setup();
    const session = await agent.startSession(sessionOpts(dir));
    const { result, events } = await turn(session, 'hang', { abortOnFirstEvent: true });
    assert.equal(result.status, 'cancelled');
    assert.ok(
      events.some((e) => e.type === 'status'),
      'the first line was parsed before the abort',
    );
    const all = pids();
    assert.equal(all.length, 2);
    await assertGroupsGone(all);
    for (const pid of all) assert.throws(() => process.kill(pid, 0), { code: 'ESRCH' });
  });

  test('stall and timeout watchdogs', async () => {
    // "hang" prints one line, then nothing: only the stall timer can end the turn
    const stalled = setup({ stallTimeoutMs: 1000 });
    const s1 = await stalled.agent.startSession(sessionOpts(stalled.dir));
    const r1 = await turn(s1, 'hang');
    assert.equal(r1.result.status, 'failed');
    assert.equal(r1.result.error?.kind, 'stalled');
    await assertGroupsGone(stalled.pids());
    // steady output keeps the stall timer quiet, but the wall-clock cap still ends the turn: "drip"
    // prints a line every 100 ms and never ends, for longer than the stall timeout
    const capped = setup({ stallTimeoutMs: 2500, turnTimeoutMs: 4000 });
    const s2 = await capped.agent.startSession(sessionOpts(capped.dir));
    const r2 = await turn(s2, 'drip');
    assert.equal(r2.result.error?.kind, 'timeout');
    await assertGroupsGone(capped.pids());
    // and without the cap a slow CLI (lines 200 ms apart) completes
    const ok = setup({ stallTimeoutMs: 2500 });
    const s3 = await ok.agent.startSession(sessionOpts(ok.dir));
    const r3 = await turn(s3, 'slow');
    assert.equal(r3.result.status, 'completed');
    await assertGroupsGone(ok.pids());
  });

  test('a missing binary is a spawn error', async () => {
    const agent = createCommandAgent({ id: 'x', format: 'text', command: ['car-no-such-cli'] });
    const session = await agent.startSession(sessionOpts(base));
    const { result } = await turn(session, 'hi');
    assert.equal(result.status, 'failed');
    assert.equal(result.error?.kind, 'spawn');
    assert.match(result.error?.message ?? '', /car-no-such-cli/);
  });

  test('text format: stdout is the final text', async () => {
    const agent = createCommandAgent({ id: 'echo', format: 'text', command: ['echo', 'answer:'] });
    const session = await agent.startSession(sessionOpts(base));
    const { result, events } = await turn(session, 'forty-two');
    assert.equal(result.status, 'completed');
    assert.equal(result.finalText, 'answer: forty-two');
    assert.deepEqual(events.at(-1), { type: 'message', text: 'answer: forty-two' });
    assert.equal(session.threadId, null);
  });
});
