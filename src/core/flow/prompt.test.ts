import assert from 'node:assert/strict';
import { readFile, writeFile } from 'node:fs/promises';
import { test } from 'node:test';
import { buildPrompt, PromptError, type PromptInput } from './prompt.ts';
import { runPaths } from './run-paths.ts';
import { TRUNCATION_MARKER, tailExcerpt, truncateUtf8 } from './text-cut.ts';

const runtimePaths = runPaths('/repo', 'run-42').rel;
const TICKET_PATH = '.codex-autorunner/tickets/TICKET-002-api.md';
const TICKET =
  '---\nagent: codex\ndone: false\ntitle: Add the API\n---\n\n## Tasks\n- add GET /items\n\n## Progress\n- nothing yet\n';

function fullInput(over: Partial<PromptInput> = {}): PromptInput {
  return {
    runtimePaths,
    ticketPath: TICKET_PATH,
    ticketText: TICKET,
    requestedContext:
      'Requested ticket context includes (bounded total bytes=16384):\n\n<CAR_CONTEXT_ENTRY>…</CAR_CONTEXT_ENTRY>',
    contextspace: 'Spec [.codex-autorunner/contextspace/spec.md]:\nA todo app.',
    humanReplies: '[USER_REPLY 0001]\nUse Postgres.',
    previousTicket: {
      path: '.codex-autorunner/tickets/TICKET-001-db.md',
      text: '---\ndone: true\n---\nDB set up.\n',
    },
    previousOutput: {
      ticket: '.codex-autorunner/tickets/TICKET-001-db.md',
      text: 'Created the schema.\nCommitted.',
    },
    checkpointWarning: 'pre-commit: eslint failed',
    commitRequired: { attemptsRemaining: 2 },
    lintErrors: ['done must be a boolean', 'agent is required'],
    loopGuard: { noChangeTurns: 1 },
    verifyFailed: {
      attempt: 1,
      maxFailures: 3,
      command: {
        command: 'npm test',
        exit: 'exit code 1 after 0.4 s',
        output: 'not ok 1 - GET /items returns 200\n# fail 1',
        outputBytes: 41,
      },
      findings: [{ kind: 'test_skipped', file: 'test/api.test.ts', detail: '1 skip/only marker(s) added' }],
    },
    ...over,
  };
}

async function golden(name: string, actual: string): Promise<void> {
  const url = new URL(`./fixtures/${name}`, import.meta.url);
  if (process.env.UPDATE_GOLDEN === '1') await writeFile(url, actual);
  assert.equal(actual, await readFile(url, 'utf8'));
}

function tagsOf(text: string): string[] {
  return [...text.matchAll(/^<(CAR_[A-Z_]+)>$/gm)].map((m) => m[1] ?? '');
}

test('full prompt matches the golden file, sections in CAR order', async () => {
  const built = buildPrompt(fullInput());
  await golden('prompt-full.golden.txt', built.text);
  assert.deepEqual(
    built.sections.map((s) => s.name),
    [
      'instructions',
      'runtime_paths',
      'hud',
      'checkpoint_warning',
      'commit_required',
      'lint_repair',
      'loop_guard',
      'verify_failed',
      'requested_context',
      'contextspace',
      'human_replies',
      'previous_ticket',
      'current_ticket',
      'previous_output',
    ],
  );
  assert.equal(built.bytes, Buffer.byteLength(built.text));
  assert.deepEqual(built.shrunk, []);
});

test('existing-session prompt matches the golden file: compact, no HUD/contextspace/history', async () => {
  const built = buildPrompt(fullInput({ variant: 'existing_session' }));
  await golden('prompt-existing.golden.txt', built.text);
  assert.deepEqual(tagsOf(built.text), [
    'CAR_TICKET_FLOW_PROMPT',
    'CAR_TICKET_FLOW_INSTRUCTIONS',
    'CAR_RUNTIME_PATHS',
    'CAR_CHECKPOINT_WARNING',
    'CAR_COMMIT_REQUIRED',
    'CAR_TICKET_FRONTMATTER_LINT_REPAIR',
    'CAR_LOOP_GUARD',
    'CAR_VERIFY_FAILED',
    'CAR_REQUESTED_CONTEXT',
    'CAR_HUMAN_REPLIES',
    'CAR_CURRENT_TICKET_FILE',
    'CAR_TICKET',
  ]);
});

test('minimal input: always-present blocks stay, optional ones are absent', () => {
  const { text } = buildPrompt({ runtimePaths, ticketPath: TICKET_PATH, ticketText: TICKET });
  assert.deepEqual(tagsOf(text), [
    'CAR_TICKET_FLOW_PROMPT',
    'CAR_TICKET_FLOW_INSTRUCTIONS',
    'CAR_RUNTIME_PATHS',
    'CAR_HUD',
    'CAR_REQUESTED_CONTEXT',
    'CAR_HUMAN_REPLIES',
    'CAR_CURRENT_TICKET_FILE',
    'CAR_TICKET',
    'CAR_PREVIOUS_AGENT_OUTPUT',
  ]);
  assert.ok(text.includes('<CAR_REQUESTED_CONTEXT>\n</CAR_REQUESTED_CONTEXT>'));
  assert.ok(text.includes('<CAR_PREVIOUS_AGENT_OUTPUT>\n</CAR_PREVIOUS_AGENT_OUTPUT>'));
  assert.ok(
    text.includes(
      `<CAR_CURRENT_TICKET_FILE>\nPATH: ${TICKET_PATH}\n<CAR_TICKET>\n${TICKET}\n</CAR_TICKET>\n</CAR_CURRENT_TICKET_FILE>`,
    ),
  );
  assert.ok(
    text.includes(
      '<CAR_RUNTIME_PATHS>\nCurrent ticket file: .codex-autorunner/tickets/TICKET-002-api.md\n' +
        'Dispatch directory: .codex-autorunner/runs/run-42/dispatch\n' +
        'DISPATCH.md path: .codex-autorunner/runs/run-42/DISPATCH.md\n</CAR_RUNTIME_PATHS>',
    ),
  );
  assert.ok(
    text.startsWith('<CAR_TICKET_FLOW_PROMPT>\n\n') && text.endsWith('\n\n</CAR_TICKET_FLOW_PROMPT>'),
  );
});

test('each optional block appears exactly when its input is given', () => {
  const cases: [Partial<PromptInput>, string][] = [
    [{ checkpointWarning: 'hook failed' }, 'CAR_CHECKPOINT_WARNING'],
    [{ commitRequired: { attemptsRemaining: 1 } }, 'CAR_COMMIT_REQUIRED'],
    [{ lintErrors: ['x'] }, 'CAR_TICKET_FRONTMATTER_LINT_REPAIR'],
    [{ loopGuard: { noChangeTurns: 2 } }, 'CAR_LOOP_GUARD'],
    [{ verifyFailed: { attempt: 1, maxFailures: 3, command: null, findings: [] } }, 'CAR_VERIFY_FAILED'],
    [{ contextspace: 'Spec [x]:\ny' }, 'CAR_CONTEXTSPACE_DOCS'],
    [{ previousTicket: { path: 'p.md', text: 'prev' } }, 'CAR_PREVIOUS_TICKET_REFERENCE'],
  ];
  const base = { runtimePaths, ticketPath: TICKET_PATH, ticketText: TICKET };
  for (const [extra, tag] of cases) {
    assert.ok(buildPrompt({ ...base, ...extra }).text.includes(`<${tag}>`), `${tag} present`);
    assert.ok(!buildPrompt(base).text.includes(`<${tag}>`), `${tag} absent`);
  }
  const none = buildPrompt({
    ...base,
    lintErrors: [],
    loopGuard: { noChangeTurns: 0 },
    contextspace: '',
    checkpointWarning: null,
    commitRequired: null,
  }).text;
  assert.ok(
    !/CAR_TICKET_FRONTMATTER_LINT_REPAIR|CAR_LOOP_GUARD|CAR_CONTEXTSPACE_DOCS|CAR_CHECKPOINT|CAR_COMMIT/.test(
      none,
    ),
  );
  assert.match(
    buildPrompt({ ...base, commitRequired: { attemptsRemaining: 1 } }).text,
    /Attempts left before a human has to step in: 1\n<\/CAR_COMMIT_REQUIRED>/,
  );
  assert.match(
    buildPrompt({ ...base, loopGuard: { noChangeTurns: 3 } }).text,
    /Turns in a row without a change: 3\n/,
  );
});

test('verify-failed block: the failing command, its bounded output, blocking findings; dropped last', () => {
  const base = { runtimePaths, ticketPath: TICKET_PATH, ticketText: TICKET };
  const output = `${'x'.repeat(100)}\nFAIL: expected 3, got 2`;
  const { text } = buildPrompt({
    ...base,
    loopGuard: { noChangeTurns: 1 },
    verifyFailed: {
      attempt: 2,
      maxFailures: 3,
      command: { command: 'node check.js', exit: 'exit code 1 after 0.1 s', output, outputBytes: 9000 },
      findings: [{ kind: 'test_deleted', file: 'test/a.test.ts', detail: 'test file deleted' }],
    },
  });
  const block = /<CAR_VERIFY_FAILED>\n([\s\S]*?)\n<\/CAR_VERIFY_FAILED>/.exec(text)?.[1] ?? '';
  assert.match(block, /Failed checks on this ticket: 2 \(a human steps in at 3\)\./);
  assert.match(
    block,
    /Command: node check\.js\nResult: exit code 1 after 0\.1 s\nOutput \(last 124 of 9000 bytes\):\n/,
  );
  assert.ok(block.includes('FAIL: expected 3, got 2'));
  assert.match(block, /- test_deleted: test\/a\.test\.ts: test file deleted/);
  assert.ok(text.indexOf('<CAR_LOOP_GUARD>') < text.indexOf('<CAR_VERIFY_FAILED>'), 'with the warnings');
  assert.ok(text.indexOf('<CAR_VERIFY_FAILED>') < text.indexOf('<CAR_REQUESTED_CONTEXT>'));

  // under a tight budget the other warnings go first
  const lean = {
    previousOutput: null,
    previousTicket: null,
    contextspace: '',
    humanReplies: '',
    requestedContext: '',
  };
  const onlyVerify = buildPrompt(
    fullInput({
      ...lean,
      variant: 'existing_session',
      checkpointWarning: null,
      commitRequired: null,
      lintErrors: null,
      loopGuard: null,
    }),
  );
  const tight = buildPrompt(fullInput({ ...lean, maxBytes: onlyVerify.bytes + 50 }));
  assert.ok(tight.text.includes('<CAR_VERIFY_FAILED>'), 'verify feedback is the last warning to go');
  assert.ok(tight.shrunk.includes('loop_guard'));
});

test('HUD stays within 14 lines and 900 characters', () => {
  const { text } = buildPrompt({ runtimePaths, ticketPath: TICKET_PATH, ticketText: TICKET });
  const hud = /<CAR_HUD>\n([\s\S]*?)\n<\/CAR_HUD>/.exec(text)?.[1] ?? '';
  assert.ok(hud.length > 0 && hud.length <= 900);
  assert.ok(hud.split('\n').length <= 14);
});

test('previous output is a bounded, labelled excerpt carried across tickets', () => {
  const lines = Array.from({ length: 500 }, (_, i) => `line ${i} of the agent's output`);
  const { text } = buildPrompt({
    runtimePaths,
    ticketPath: TICKET_PATH,
    ticketText: TICKET,
    previousOutput: { ticket: '.codex-autorunner/tickets/TICKET-001-db.md', text: lines.join('\n') },
    previousOutputMaxChars: 200,
  });
  const block =
    /<CAR_PREVIOUS_AGENT_OUTPUT>\n([\s\S]*?)\n<\/CAR_PREVIOUS_AGENT_OUTPUT>/.exec(text)?.[1] ?? '';
  assert.match(
    block,
    /^From the last turn on another ticket \(\.codex-autorunner\/tickets\/TICKET-001-db\.md\)\.\n/,
  );
  assert.match(block, /Excerpt: the last \d+ of \d+ characters; earlier output left out\.\n/);
  assert.ok(block.endsWith("line 499 of the agent's output"));
  const excerpt = block.split('\n').slice(2);
  assert.ok(excerpt[0]?.startsWith('line '), 'starts on a line boundary');
  assert.ok(excerpt.join('\n').length <= 200);

  const same = buildPrompt({
    runtimePaths,
    ticketPath: TICKET_PATH,
    ticketText: TICKET,
    previousOutput: { ticket: TICKET_PATH, text: 'short' },
  }).text;
  assert.ok(
    same.includes(`From an earlier turn on this ticket (${TICKET_PATH}).\nComplete output.\nshort\n`),
  );
});

test('tailExcerpt keeps surrogate pairs whole and prefers a line start', () => {
  assert.deepEqual(tailExcerpt('  abc  ', 10), { text: 'abc', cut: false, totalChars: 3 });
  const e = tailExcerpt(`x${'😀'.repeat(10)}`, 5);
  assert.ok(!/[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/.test(e.text));
  assert.equal(tailExcerpt('aaaa\nbbbbbbbbbb', 12).text, 'bbbbbbbbbb');
  assert.equal(
    tailExcerpt('aaaaaaaaaa\nbb', 12).text,
    'aaaaaaaaa\nbb',
    'no newline in the first half: plain tail',
  );
});

test('truncateUtf8 never splits a character and respects the byte limit', () => {
  const text = 'aé€😀'.repeat(40);
  for (let limit = 0; limit < Buffer.byteLength(text) + 2; limit++) {
    const out = truncateUtf8(text, limit);
    assert.ok(Buffer.byteLength(out) <= limit || out === text, `limit ${limit}`);
    assert.ok(!out.includes('\uFFFD'), `no replacement char at ${limit}`);
    const body = out.endsWith(TRUNCATION_MARKER) ? out.slice(0, -TRUNCATION_MARKER.length) : out;
    assert.ok(text.startsWith(body), `prefix at ${limit}`);
  }
});

test('budget shrinks sections in CAR order, keeping the ticket frontmatter', () => {
  const big = (c: string): string => `${c.repeat(3000)}`;
  const input = fullInput({
    previousOutput: { ticket: TICKET_PATH, text: big('o') },
    previousTicket: { path: 'p.md', text: big('t') },
    humanReplies: big('r'),
    requestedContext: big('q'),
    contextspace: big('s'),
    ticketText: `---\nagent: codex\ndone: false\n---\n${big('b')}`,
    verifyFailed: null,
  });
  const full = buildPrompt(input);
  const sizeOf = (p: ReturnType<typeof buildPrompt>, name: string): number =>
    p.sections.find((s) => s.name === name)?.bytes ?? 0;

  // Just over by 100 bytes: only the previous output is cut, by about that much.
  const a = buildPrompt({ ...input, maxBytes: full.bytes - 100 });
  assert.deepEqual(a.shrunk, ['previous_output']);
  assert.ok(a.bytes <= full.bytes - 100 && a.bytes >= full.bytes - 130);
  assert.ok(a.text.includes('[... TRUNCATED ...]\n\nooo'), 'output keeps its end');

  // Over by more than the first two sections hold: both dropped, replies cut next.
  const b = buildPrompt({ ...input, maxBytes: full.bytes - 6500 });
  assert.deepEqual(b.shrunk, ['previous_output', 'previous_ticket', 'human_replies']);
  assert.ok(!b.text.includes('<CAR_PREVIOUS_TICKET_REFERENCE>'));
  assert.ok(b.text.includes('<CAR_PREVIOUS_AGENT_OUTPUT>\n</CAR_PREVIOUS_AGENT_OUTPUT>'));
  assert.ok(sizeOf(b, 'human_replies') < sizeOf(full, 'human_replies'));
  assert.equal(sizeOf(b, 'requested_context'), sizeOf(full, 'requested_context'));

  // Tiny budget: everything shrinkable goes, the ticket body is cut but its frontmatter stays,
  // instructions turn compact and the warning blocks are dropped last.
  const c = buildPrompt({ ...input, maxBytes: 1500 });
  assert.deepEqual(c.shrunk, [
    'previous_output',
    'previous_ticket',
    'human_replies',
    'requested_context',
    'contextspace',
    'current_ticket',
    'instructions',
    'hud',
    'checkpoint_warning',
    'commit_required',
  ]);
  assert.ok(c.bytes <= 1500);
  assert.ok(c.text.includes('<CAR_TICKET>\n---\nagent: codex\ndone: false\n---\n'));
  assert.ok(c.text.includes(TRUNCATION_MARKER));
  assert.ok(!c.text.includes('<CAR_HUD>'));
  assert.ok(c.text.includes('<CAR_LOOP_GUARD>'), 'loop guard is the last warning to go');
  for (const tag of ['CAR_REQUESTED_CONTEXT', 'CAR_HUMAN_REPLIES'])
    assert.ok(c.text.includes(`<${tag}>\n</${tag}>`));
});

test('budget shrinking keeps multi-byte text valid', () => {
  const input = fullInput({
    humanReplies: '€😀é'.repeat(2000),
    previousOutput: null,
    previousTicket: undefined,
  });
  const full = buildPrompt(input);
  for (const cut of [1, 2, 3, 5, 777, 5000]) {
    const p = buildPrompt({ ...input, maxBytes: full.bytes - cut });
    assert.ok(p.bytes <= full.bytes - cut);
    assert.ok(!p.text.includes('\uFFFD'));
  }
});

test('existing-session shrinking only touches what that variant shows', () => {
  const input = fullInput({ variant: 'existing_session', humanReplies: 'r'.repeat(3000) });
  const full = buildPrompt(input);
  const cut = buildPrompt({ ...input, maxBytes: full.bytes - 100 });
  assert.deepEqual(cut.shrunk, ['human_replies']);
});

test('a budget below the irreducible minimum throws', () => {
  assert.throws(() => buildPrompt(fullInput({ maxBytes: 300 })), PromptError);
});

test('PR feedback goes into the prompt as CAR_PR_FEEDBACK', () => {
  const built = buildPrompt({
    variant: 'existing_session',
    ticketPath: '.codex-autorunner/tickets/TICKET-001.md',
    ticketText: '---\nagent: codex\ndone: false\n---\nbody\n',
    runtimePaths: { dispatchDir: 'd', dispatchFile: 'd/DISPATCH.md' },
    prFeedback: ['Check "ci / lint" failed (failure) on commit abc.\n\nLog excerpt:\nFAIL x'],
  });
  assert.ok(built.sections.some((s) => s.name === 'pr_feedback'));
  assert.match(
    built.text,
    /<CAR_PR_FEEDBACK>\n[^<]*Check "ci \/ lint" failed[^<]*FAIL x\n<\/CAR_PR_FEEDBACK>/,
  );
});
