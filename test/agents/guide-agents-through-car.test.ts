// The agents guide's snippets (docs/agents/*.yml) with the REAL agent programs, offline: each snippet is
// pasted into a repo's codex-autorunner.yml as a person would, and `car run` (the built CLI) works one
// ticket with it against a local fake of the model API: codex (app-server and `codex exec`) against
// the fake Responses API, Claude Code (over ACP through claude-agent-acp, and `claude -p`) against the
// fake Anthropic API, OpenCode (ACP and `opencode run`) against a fake Chat Completions API, Gemini CLI
// (ACP and headless) against a fake Gemini API. The fake model runs one shell command through the
// agent's shell tool that does the ticket's work, marks it done and commits; the test checks the
// ticket is done and committed and that the agent called the fake. `car agents test` is run the same
// way on one of them.
import assert from 'node:assert/strict';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, test } from 'node:test';
import {
  type AnthropicReply,
  claudeOfflineEnv,
  hasToolResult,
  type MessagesBody,
  startFakeAnthropicApi,
} from '../fakes/anthropic-api.ts';
import {
  afterToolCall,
  type ChatBody,
  type ChatReply,
  offersTool,
  startFakeChatApi,
} from '../fakes/chat-completions-api.ts';
import {
  afterFunctionCall,
  declaresFunction,
  type GeminiReply,
  type GenerateBody,
  startFakeGeminiApi,
} from '../fakes/gemini-api.ts';
import { FakeResponsesApi, writeFakeCodexConfig } from '../fakes/responses-api.ts';
import { NODE_BIN, ROOT, runCar } from '../helpers/built-car.ts';
import { TICKETS_DIR, WORK_COMMAND, workModel } from '../helpers/codex-queue.ts';
import { type GitRepo, makeGitRepo } from '../helpers/git-repo.ts';

const CLAUDE_CODE_CLI = join(ROOT, 'node_modules/@anthropic-ai/claude-agent-sdk/cli.js');

/** Skips a test whose agent package is not installed yet (a dev dependency newer than node_modules). */
function needs(bin: string, pkg: string): { skip: string | false } {
  return { skip: existsSync(join(NODE_BIN, bin)) ? false : `${pkg} is not installed (npm install)` };
}
const TICKET = 'TICKET-010-work.md';

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const fn of cleanups.splice(0).reverse()) await fn();
});

function snippet(name: string): string {
  return readFileSync(join(ROOT, 'docs/agents', name), 'utf8');
}

/** A temp HOME (agents keep state there) with a bin folder for shims, and the environment for it. */
function home(): { dir: string; bin: string; env: NodeJS.ProcessEnv } {
  const dir = mkdtempSync(join(tmpdir(), 'car-guide-home-'));
  cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
  const bin = join(dir, 'bin');
  mkdirSync(bin);
  const env: NodeJS.ProcessEnv = {
    PATH: `${bin}:${NODE_BIN}:${process.env.PATH ?? '/usr/bin:/bin'}`,
    HOME: dir,
    XDG_CONFIG_HOME: join(dir, '.config'),
    XDG_DATA_HOME: join(dir, '.local/share'),
    XDG_STATE_HOME: join(dir, '.local/state'),
    XDG_CACHE_HOME: join(dir, '.cache'),
    NO_COLOR: '1',
  };
  return { dir, bin, env };
}

/** A repo with the snippet as its codex-autorunner.yml, car initialized, and one open ticket for `agent`. */
async function repoWith(snippetFile: string, agent: string, env: NodeJS.ProcessEnv): Promise<GitRepo> {
  const repo = makeGitRepo();
  cleanups.push(repo.cleanup);
  repo.write('codex-autorunner.yml', snippet(snippetFile));
  const init = await runCar(['init'], { cwd: repo.dir, env });
  assert.equal(init.code, 0, init.stderr);
  repo.write(
    `${TICKETS_DIR}/${TICKET}`,
    `---\nagent: ${agent}\ndone: false\ntitle: Work\n---\n\n## Tasks\n- write work/TICKET-010-work.txt\n`,
  );
  repo.commitAll('plan');
  return repo;
}

/** `car run` ends with the ticket done, its work written and everything committed. */
async function assertRunDone(repo: GitRepo, env: NodeJS.ProcessEnv): Promise<void> {
  const r = await runCar(['run'], { cwd: repo.dir, env });
  const output = `exit ${r.code}\n${r.stdout}\n${r.stderr}`;
  assert.equal(r.code, 0, output);
  assert.match(r.stdout, /run completed \(all_done\)/, output);
  assert.match(readFileSync(join(repo.dir, TICKETS_DIR, TICKET), 'utf8'), /^done: true$/m, output);
  assert.equal(readFileSync(join(repo.dir, 'work/TICKET-010-work.txt'), 'utf8'), 'done\n');
  assert.equal(repo.git(['status', '--porcelain', '--', 'work', TICKETS_DIR]), '', 'uncommitted work');
}

async function codexSetup(): Promise<{ env: NodeJS.ProcessEnv; fake: FakeResponsesApi }> {
  const fake = await FakeResponsesApi.start();
  cleanups.push(() => fake.close());
  fake.setFallback(workModel);
  const h = home();
  const codexHome = join(h.dir, '.codex');
  writeFakeCodexConfig(codexHome, fake.baseUrl);
  const env = {
    PATH: `${NODE_BIN}:${process.env.PATH ?? '/usr/bin:/bin'}`,
    HOME: h.dir,
    CODEX_HOME: codexHome,
    NO_COLOR: '1',
  };
  return { env, fake };
}

test('docs/agents/codex.yml: car run works a ticket with the real codex app-server', async () => {
  const { env, fake } = await codexSetup();
  const repo = await repoWith('codex.yml', 'codex', env);
  await assertRunDone(repo, env);
  assert.ok(fake.requests.length >= 2, 'codex called the fake model');
});

test('docs/agents/codex-exec.yml: car run works a ticket with the real codex exec --json', async () => {
  const { env, fake } = await codexSetup();
  const repo = await repoWith('codex-exec.yml', 'codex-exec', env);
  await assertRunDone(repo, env);
  assert.ok(fake.requests.length >= 2, 'codex exec called the fake model');
});

/** The fake Claude model: the work command through its Bash tool, then a closing line. */
function claudeWorkModel(body: MessagesBody): AnthropicReply {
  // side requests (a title, a summary) offer no tools
  if (!body.tools?.some((t) => t.name === 'Bash')) return { text: 'Work the ticket' };
  if (hasToolResult(body)) return { text: 'Ticket done.' };
  return { tool: 'Bash', input: { command: WORK_COMMAND, description: 'Do the ticket and commit' } };
}

async function claudeSetup(): Promise<{ env: NodeJS.ProcessEnv; bin: string; requests: () => number }> {
  const api = await startFakeAnthropicApi({ reply: claudeWorkModel });
  cleanups.push(() => api.close());
  const h = home();
  const env: NodeJS.ProcessEnv = {
    ...h.env,
    ...claudeOfflineEnv(api.url),
  };
  const calls = () => api.requests.filter((r) => r.url.startsWith('/v1/messages')).length;
  return { env, bin: h.bin, requests: calls };
}

test('docs/agents/claude.yml: car run works a ticket with the real claude-agent-acp', async () => {
  const { env, requests } = await claudeSetup();
  const repo = await repoWith('claude.yml', 'claude', env);
  await assertRunDone(repo, env);
  assert.ok(requests() >= 2, 'Claude Code called the fake model');
});

test('docs/agents/claude-code.yml: car run works a ticket with the real claude -p', async () => {
  const { env, bin, requests } = await claudeSetup();
  // `claude` is the Claude Code CLI that claude-agent-acp bundles (the SDK's cli.js)
  const shim = join(bin, 'claude');
  writeFileSync(shim, `#!/bin/sh\nexec "${process.execPath}" "${CLAUDE_CODE_CLI}" "$@"\n`);
  chmodSync(shim, 0o755);
  const repo = await repoWith('claude-code.yml', 'claude-code', env);
  await assertRunDone(repo, env);
  assert.ok(requests() >= 2, 'Claude Code called the fake model');
});

test('car agents test claude: a hello ticket in a throw-away repo, one ok line', async () => {
  const { env } = await claudeSetup();
  const repo = await repoWith('claude.yml', 'claude', env);
  const r = await runCar(['agents', 'test', 'claude'], { cwd: repo.dir, env });
  assert.equal(r.code, 0, `${r.stdout}\n${r.stderr}`);
  assert.match(
    r.stdout,
    /^ok: claude \(acp\) did the hello ticket in [\d.]+ s \(first event after [\d.]+ s\)\n$/,
  );
  assert.equal(repo.git(['status', '--porcelain']), '', 'the repo itself is untouched');
});

/** The fake OpenCode model: the work command through its bash tool, then a closing line. */
function openCodeWorkModel(body: ChatBody): ChatReply {
  // the session title request offers no tools
  if (!offersTool(body, 'bash')) return { text: 'Work the ticket' };
  if (afterToolCall(body)) return { text: 'Ticket done.' };
  return { tool: 'bash', args: { command: WORK_COMMAND, description: 'Do the ticket and commit' } };
}

/** OpenCode's config (OPENCODE_CONFIG) with one provider: the fake, through its OpenAI-compatible client. */
async function openCodeSetup(): Promise<{ env: NodeJS.ProcessEnv; requests: () => number }> {
  const api = await startFakeChatApi(openCodeWorkModel);
  cleanups.push(() => api.close());
  const h = home();
  const config = join(h.dir, 'opencode.json');
  const provider = {
    npm: '@ai-sdk/openai-compatible',
    name: 'Fake',
    options: { baseURL: api.baseUrl, apiKey: 'sk-fake' },
    models: { 'fake-model': { name: 'Fake model', tool_call: true } },
  };
  writeFileSync(
    config,
    JSON.stringify({
      provider: { fake: provider },
      model: 'fake/fake-model',
      small_model: 'fake/fake-model',
      autoupdate: false,
      share: 'disabled',
    }),
  );
  const requests = () => api.requests.filter((r) => offersTool(r, 'bash')).length;
  return { env: { ...h.env, OPENCODE_CONFIG: config }, requests };
}

test(
  'docs/agents/opencode.yml: car run works a ticket with the real opencode acp',
  needs('opencode', 'opencode-ai'),
  async () => {
    const { env, requests } = await openCodeSetup();
    const repo = await repoWith('opencode.yml', 'opencode', env);
    await assertRunDone(repo, env);
    assert.ok(requests() >= 2, 'OpenCode called the fake model');
  },
);

test(
  'docs/agents/opencode-run.yml: car run works a ticket with the real opencode run',
  needs('opencode', 'opencode-ai'),
  async () => {
    const { env, requests } = await openCodeSetup();
    const repo = await repoWith('opencode-run.yml', 'opencode-run', env);
    await assertRunDone(repo, env);
    assert.ok(requests() >= 2, 'OpenCode called the fake model');
  },
);

/** WORK_COMMAND without `$(...)`, which Gemini CLI's shell tool refuses to run. */
const GEMINI_WORK_COMMAND = [
  `for f in ${TICKETS_DIR}/TICKET-*.md; do grep -q '^done: false' "$f" && break; done`,
  // biome-ignore lint/suspicious/noTemplateCurlyInString: shell parameter expansion
  'n=${f##*/}',
  'mkdir -p work',
  // biome-ignore lint/suspicious/noTemplateCurlyInString: shell parameter expansion
  'echo done > "work/${n%.md}.txt"',
  `sed -i 's/^done: false/done: true/' "$f"`,
  'git add -A',
  'git commit -qm "work on $n"',
].join(' && ');

/** The fake Gemini model: the work command through its shell tool, then a closing line. */
function geminiWorkModel(body: GenerateBody): GeminiReply {
  if (!declaresFunction(body, 'run_shell_command')) return { text: 'Work the ticket' };
  if (afterFunctionCall(body)) return { text: 'Ticket done.' };
  return {
    call: 'run_shell_command',
    args: { command: GEMINI_WORK_COMMAND, description: 'Do the ticket and commit' },
  };
}

async function geminiSetup(): Promise<{ env: NodeJS.ProcessEnv; requests: () => number }> {
  const api = await startFakeGeminiApi(geminiWorkModel);
  cleanups.push(() => api.close());
  const h = home();
  // with GOOGLE_GEMINI_BASE_URL set the CLI reads the auth type from settings, not from GEMINI_API_KEY
  mkdirSync(join(h.dir, '.gemini'));
  writeFileSync(
    join(h.dir, '.gemini/settings.json'),
    JSON.stringify({ security: { auth: { selectedType: 'gemini-api-key' } } }),
  );
  const env = { ...h.env, GEMINI_API_KEY: 'fake-key', GOOGLE_GEMINI_BASE_URL: api.url };
  return { env, requests: () => api.requests.length };
}

test(
  'docs/agents/gemini.yml: car run works a ticket with the real gemini --acp',
  needs('gemini', '@google/gemini-cli'),
  async () => {
    const { env, requests } = await geminiSetup();
    const repo = await repoWith('gemini.yml', 'gemini', env);
    await assertRunDone(repo, env);
    assert.ok(requests() >= 2, 'Gemini CLI called the fake model');
  },
);

test(
  'docs/agents/gemini-cli.yml: car run works a ticket with the real gemini, headless',
  needs('gemini', '@google/gemini-cli'),
  async () => {
    const { env, requests } = await geminiSetup();
    const repo = await repoWith('gemini-cli.yml', 'gemini-cli', env);
    await assertRunDone(repo, env);
    assert.ok(requests() >= 2, 'Gemini CLI called the fake model');
  },
);
