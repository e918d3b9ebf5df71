// Approvals routed to a person (issue 17) with a REAL ACP agent, offline: claude-agent-acp (it bundles
// Claude Code) against the local fake Anthropic API, worked by `car run` (the built CLI) in supervised
// mode. Claude Code in its default permission mode asks before a Bash command; car must route that
// `session/request_permission` to a person (never answer it itself, never put the agent in
// bypassPermissions), and `car flow deny|approve` (another process) decides whether the command runs.
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, test } from 'node:test';
import {
  type AnthropicReply,
  claudeOfflineEnv,
  type FakeAnthropicApi,
  type MessagesBody,
  startFakeAnthropicApi,
} from '../fakes/anthropic-api.ts';
import { type CarChild, json, NODE_BIN, output, runCar, startCar } from '../helpers/built-car.ts';
import { type GitRepo, makeGitRepo } from '../helpers/git-repo.ts';
import { waitFor } from '../helpers/wait.ts';

const BIN = join(NODE_BIN, 'claude-agent-acp');
const SKIP = existsSync(BIN)
  ? false
  : 'claude-agent-acp is not installed (node_modules/.bin/claude-agent-acp)';

const TICKETS_DIR = '.codex-autorunner/tickets';
const TICKET = 'TICKET-010-work.md';
/** Marks the open ticket done and commits: the turn's real work, approved in both cases. */
const FINISH_COMMAND = `sed -i 's/^done: false/done: true/' ${TICKETS_DIR}/${TICKET} && git add -A && git commit -qm work`;

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const fn of cleanups.splice(0).reverse()) await fn();
});

interface ApprovalJson {
  id: string;
  kind: string;
  command: string | null;
  status: string;
  decision: string | null;
  agent: string | null;
}

type Block = { type: string; tool_use_id?: string; content?: unknown; is_error?: boolean };

/** The tool results the request's last message carries. */
function toolResults(body: MessagesBody): Block[] {
  const last = body.messages?.at(-1)?.content;
  return Array.isArray(last) ? (last as Block[]).filter((b) => b.type === 'tool_result') : [];
}

/** A tool result's text (a string, or text blocks). */
function resultText(block: Block): string {
  if (typeof block.content === 'string') return block.content;
  if (Array.isArray(block.content)) {
    return (block.content as { type: string; text?: string }[]).map((c) => c.text ?? '').join('\n');
  }
  return '';
}

/**
 * The fake Claude model of one ticket: runs `steps[0]` through its Bash tool, after that tool's result
 * `steps[1]`, ... and then answers with a closing line. Side requests (titles, summaries) offer no tools.
 */
function stepsModel(steps: string[]): (body: MessagesBody) => AnthropicReply {
  return (body) => {
    if (!body.tools?.some((t) => t.name === 'Bash')) return { text: 'Work the ticket' };
    const done = (body.messages ?? []).filter(
      (m) => m.role === 'user' && Array.isArray(m.content) && m.content.some((b) => b.type === 'tool_result'),
    ).length;
    const command = steps[done];
    return command === undefined
      ? { text: 'Ticket done.' }
      : { tool: 'Bash', input: { command, description: `step ${done + 1}` } };
  };
}

interface Setup {
  repo: GitRepo;
  api: FakeAnthropicApi;
  env: NodeJS.ProcessEnv;
  car(args: readonly string[]): ReturnType<typeof runCar>;
}

/**
 * A repo with car initialized, claude-agent-acp as agent `claude` and one open ticket for it; the agent
 * entry or the ticket (`where`) says `approval_policy: ask`. Claude Code runs offline against the fake.
 */
async function setup(steps: string[], where: 'agent' | 'ticket'): Promise<Setup> {
  const api = await startFakeAnthropicApi({ reply: stepsModel(steps) });
  cleanups.push(() => api.close());
  const home = mkdtempSync(join(tmpdir(), 'car-claude-approvals-'));
  cleanups.push(() => rmSync(home, { recursive: true, force: true }));
  mkdirSync(join(home, '.config'));
  const env: NodeJS.ProcessEnv = {
    PATH: `${NODE_BIN}:${process.env.PATH ?? '/usr/bin:/bin'}`,
    HOME: home,
    XDG_CONFIG_HOME: join(home, '.config'),
    XDG_DATA_HOME: join(home, '.local/share'),
    XDG_STATE_HOME: join(home, '.local/state'),
    XDG_CACHE_HOME: join(home, '.cache'),
    NO_COLOR: '1',
    ...claudeOfflineEnv(api.url),
  };
  const repo = makeGitRepo();
  cleanups.push(repo.cleanup);
  const car = (args: readonly string[]) => runCar(args, { cwd: repo.dir, env, timeoutMs: 120_000 });
  const init = await car(['init']);
  assert.equal(init.code, 0, init.stderr);
  repo.write(
    '.codex-autorunner/config.yml',
    [
      'version: 2',
      'mode: repo',
      'agents:',
      '  claude:',
      '    backend: acp',
      '    command: [claude-agent-acp]',
      ...(where === 'agent' ? ['    approval_policy: ask'] : []),
      '',
    ].join('\n'),
  );
  repo.write(
    `${TICKETS_DIR}/${TICKET}`,
    [
      '---',
      'agent: claude',
      'done: false',
      'title: Work',
      ...(where === 'ticket' ? ['approval_policy: ask'] : []),
      '---',
      '',
      '## Tasks',
      '- the work',
      '',
    ].join('\n'),
  );
  repo.commitAll('plan');
  return { repo, api, env, car };
}

/** Waits until `car flow approvals --json` lists a pending approval for `command`, and returns it. */
async function pending(s: Setup, run: CarChild, command: string): Promise<ApprovalJson> {
  let found: ApprovalJson | undefined;
  await waitFor(
    `a pending approval of \`${command}\``,
    async () => {
      if (run.child.exitCode !== null) {
        throw new Error(`car run ended before asking about \`${command}\`\n${output(run)}`);
      }
      const list = json<{ approvals: ApprovalJson[] }>(await s.car(['flow', 'approvals', '--json']));
      found = list.approvals.find((a) => a.command === command && a.status === 'pending');
      return found !== undefined;
    },
    120_000,
  );
  return found!;
}

/** The requests to the fake that carry a tool result, with its text. */
function toolResultsSent(api: FakeAnthropicApi): { text: string; isError: boolean }[] {
  return api.requests.flatMap((r) =>
    toolResults((r.body ?? {}) as MessagesBody).map((b) => ({ text: resultText(b), isError: !!b.is_error })),
  );
}

async function assertRunDone(s: Setup, run: CarChild): Promise<void> {
  const exit = await run.exited;
  assert.equal(exit.code, 0, output(run));
  assert.match(run.stdout, /run completed \(all_done\)/, output(run));
  assert.match(readFileSync(join(s.repo.dir, TICKETS_DIR, TICKET), 'utf8'), /^done: true$/m);
}

test('claude-agent-acp asks car before Bash: a denied command is not run, the model is told, the turn finishes', {
  skip: SKIP,
}, async () => {
  const denied = 'touch denied-marker.txt';
  const s = await setup([denied, FINISH_COMMAND], 'agent');
  const run = startCar(['run'], { cwd: s.repo.dir, env: s.env });
  cleanups.push(async () => {
    if (run.child.exitCode === null) run.child.kill('SIGKILL');
    await run.exited;
  });

  const ask = await pending(s, run, denied);
  assert.equal(ask.kind, 'command');
  assert.equal(ask.agent, 'claude');
  // nothing ran while the question waits, and the model has not been told anything yet
  assert.equal(existsSync(join(s.repo.dir, 'denied-marker.txt')), false);
  assert.deepEqual(toolResultsSent(s.api), []);
  const deny = await s.car(['flow', 'deny', ask.id]);
  assert.equal(deny.code, 0, deny.stderr);

  // the model hears of the refusal, goes on with its next command, which a person approves
  const finish = await pending(s, run, FINISH_COMMAND);
  const [refusal] = toolResultsSent(s.api);
  assert.ok(refusal, 'the fake model received the denied tool call result');
  assert.equal(refusal.isError, true, refusal.text);
  // claude-agent-acp's message for a rejected permission, as Claude Code hands it to the model
  assert.match(refusal.text, /User refused permission to run tool/);
  assert.equal(existsSync(join(s.repo.dir, 'denied-marker.txt')), false, 'the denied command did not run');
  const approve = await s.car(['flow', 'approve', finish.id]);
  assert.equal(approve.code, 0, approve.stderr);

  await assertRunDone(s, run);
  assert.equal(existsSync(join(s.repo.dir, 'denied-marker.txt')), false, 'the denied command never ran');
  const all = json<{ approvals: ApprovalJson[] }>(await s.car(['flow', 'approvals', '--all', '--json']));
  assert.deepEqual(
    all.approvals.map((a) => [a.command, a.status, a.decision]).sort(),
    [
      [denied, 'answered', 'decline'],
      [FINISH_COMMAND, 'answered', 'accept'],
    ].sort(),
  );
});

test('claude-agent-acp asks car before Bash: an approved command runs (ticket approval_policy: ask)', {
  skip: SKIP,
}, async () => {
  const approved = `touch approved-marker.txt && ${FINISH_COMMAND}`;
  const s = await setup([approved], 'ticket');
  const run = startCar(['run'], { cwd: s.repo.dir, env: s.env });
  cleanups.push(async () => {
    if (run.child.exitCode === null) run.child.kill('SIGKILL');
    await run.exited;
  });

  const ask = await pending(s, run, approved);
  assert.equal(ask.kind, 'command');
  assert.equal(existsSync(join(s.repo.dir, 'approved-marker.txt')), false, 'nothing ran before the answer');
  const approve = await s.car(['flow', 'approve', ask.id]);
  assert.equal(approve.code, 0, approve.stderr);

  await assertRunDone(s, run);
  assert.equal(existsSync(join(s.repo.dir, 'approved-marker.txt')), true, 'the approved command ran');
  const [result] = toolResultsSent(s.api);
  assert.ok(result, 'the model received the command result');
  assert.equal(result.isError, false, result.text);
});
