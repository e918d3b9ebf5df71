// Acceptance tests of the verify gate: car, not the agent, decides that a ticket is done. Real git
// repo, real SQLite, real `sh -c` verify commands; only the agent is scripted. Each cheating agent
// ends paused with the ticket open; only the honest one gets its ticket closed with evidence.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import type { FlowSettings } from '../../src/core/flow/settings.ts';
import type { EvidenceRecord } from '../../src/core/verify/evidence.ts';
import {
  completed,
  gitCommit,
  markDone,
  setTicketField,
  type TurnContext,
  type TurnScript,
  writeRepoFile,
} from '../fakes/scripted-agent.ts';
import { assertOutcome, countEvents, type Harness, setup } from './harness.ts';

const FEATURE_TEST = `const test = require('node:test');
const assert = require('node:assert');
const { answer } = require('../src/feature.js');

test('answer is 42', () => {
  assert.equal(answer(), 42);
});
`;
const VERIFY = 'node test/feature.test.js';

/** A repo with a failing test and ticket 1 whose acceptance command runs it. */
function project(settings: Partial<FlowSettings> = {}): Harness {
  const h = setup({ settings });
  h.git.write('src/feature.js', 'exports.answer = () => 0;\n');
  h.git.write('test/feature.test.js', FEATURE_TEST);
  h.ticket(1, { title: 'Make answer() return 42', extraYaml: `verify: ["${VERIFY}"]` });
  h.commit('feature skeleton, failing test, ticket');
  return h;
}

function withVerify(h: Harness, over: Partial<FlowSettings['verify']>): Partial<FlowSettings> {
  return { verify: { ...h.settings().verify, ...over } };
}

/** Marks the ticket done and commits whatever else `before` did (if anything differs from HEAD). */
function claimDone(label: string, before: (ctx: TurnContext) => void = () => {}): TurnScript {
  return (ctx) => {
    before(ctx);
    markDone(ctx);
    const status = execFileSync('git', ['status', '--porcelain'], { cwd: ctx.cwd, encoding: 'utf8' });
    // after a reopen, marking done again can bring the tree back to HEAD: nothing to commit
    if (status.split('\n').some((l) => l && !l.includes('.codex-autorunner/runs/'))) gitCommit(ctx, label);
    return completed(`${label}: done.`);
  };
}

function verifyBlock(prompt: string): string {
  return /<CAR_VERIFY_FAILED>\n([\s\S]*?)\n<\/CAR_VERIFY_FAILED>/.exec(prompt)?.[1] ?? '';
}

function assertNotClosed(h: Harness, runId: string): void {
  assert.equal(countEvents(h, runId, 'ticket_done'), 0, 'the ticket is not closed');
  assert.equal(countEvents(h, runId, 'ticket_verified'), 0);
  assert.deepEqual(h.store.listArtifacts(runId), [], 'no evidence');
  assert.equal(existsSync(join(h.runPaths(runId).runDir, 'evidence')), false);
  assert.match(h.readTicket(1), /^done: false$/m, 'the ticket is open on disk');
}

test('(a) done without the work: the verify command fails, the ticket reopens with the output, pause after N', async (t) => {
  const h = project();
  t.after(() => h.cleanup());
  h.agent.script(claimDone('claim 1'), claimDone('claim 2'), claimDone('claim 3'));
  const run = h.newRun();
  const outcome = await h.run(run.id);

  assertOutcome(h, run.id, outcome, 'paused', 'verify_failed');
  assert.equal(h.agent.turnsRun, 3, 'max_failures (3) attempts');
  assertNotClosed(h, run.id);
  const failures = h.events(run.id, ['verify_failed']);
  assert.deepEqual(
    failures.map((e) => [e.data.attempt, e.data.command, e.data.exit_code]),
    [
      [1, VERIFY, 1],
      [2, VERIFY, 1],
      [3, VERIFY, 1],
    ],
  );
  assert.match(String(failures[0]!.data.output_tail), /answer is 42/);
  assert.equal(countEvents(h, run.id, 'verify_command'), 3);

  // the first prompt has no feedback; each later one carries the failing command and its output
  assert.equal(verifyBlock(h.agent.prompt(1)), '');
  for (const n of [2, 3]) {
    const block = verifyBlock(h.agent.prompt(n));
    assert.match(block, new RegExp(`Failed checks on this ticket: ${n - 1} \\(a human steps in at 3\\)`));
    assert.ok(block.includes(`Command: ${VERIFY}\nResult: exit code 1 after`), block);
    assert.match(block, /not ok 1 - answer is 42/, 'the runner output');
    assert.match(block, /expected: 42|42/);
    assert.match(h.agent.prompt(n), /^done: false$/m, 'the prompt shows the reopened ticket');
  }
  const run2 = h.store.getRun(run.id)!;
  assert.equal(run2.reasonDetails?.failures, 3);
  assert.equal(run2.reasonDetails?.command, VERIFY);
  assert.equal(h.state(run.id).ticket?.verify?.humanPause, true);

  // a person fixes it and resumes: a fresh baseline and fresh attempts; the gate now passes
  h.git.write('src/feature.js', 'exports.answer = () => 42;\n');
  h.commit('fix by hand');
  await h.control().resume(run.id);
  h.agent.script(claimDone('claim after the fix'));
  const resumed = await h.run(run.id);
  assertOutcome(h, run.id, resumed, 'completed', 'all_done');
  assert.equal(countEvents(h, run.id, 'verify_rebaselined'), 1);
  assert.equal(countEvents(h, run.id, 'ticket_done'), 1);
});

test('(b) deleting the failing test is blocked (test_deleted), counted, and shown to the agent', async (t) => {
  const h = project();
  t.after(() => h.cleanup());
  h.agent.script(
    claimDone('drop the test', (ctx) => rmSync(join(ctx.cwd, 'test/feature.test.js'))),
    claimDone('claim again'),
  );
  const run = h.newRun();
  const outcome = await h.run(run.id, { settings: h.settings(withVerify(h, { maxFailures: 2 })) });

  assertOutcome(h, run.id, outcome, 'paused', 'verify_failed');
  assertNotClosed(h, run.id);
  const findings = h.events(run.id, ['tamper_finding']);
  assert.ok(findings.length >= 2);
  assert.deepEqual(
    [findings[0]!.data.kind, findings[0]!.data.file, findings[0]!.data.detail, findings[0]!.data.action],
    ['test_deleted', 'test/feature.test.js', 'test file deleted', 'block'],
  );
  assert.equal(countEvents(h, run.id, 'verify_command'), 0, 'blocked before running the commands');
  const block = verifyBlock(h.agent.prompt(2));
  assert.match(
    block,
    /Tamper findings that block completion:\n- test_deleted: test\/feature\.test\.js: test file deleted/,
  );
});

test('(c) adding a skip is blocked (test_skipped) even though the command now passes', async (t) => {
  const h = project();
  t.after(() => h.cleanup());
  const skip = (ctx: TurnContext) =>
    writeRepoFile(ctx, 'test/feature.test.js', FEATURE_TEST.replace("test('answer", "test.skip('answer"));
  h.agent.script(claimDone('skip it', skip), claimDone('claim again'));
  const run = h.newRun();
  const outcome = await h.run(run.id, { settings: h.settings(withVerify(h, { maxFailures: 2 })) });

  assertOutcome(h, run.id, outcome, 'paused', 'verify_failed');
  assertNotClosed(h, run.id);
  const kinds = h.events(run.id, ['tamper_finding']).map((e) => [e.data.kind, e.data.file]);
  assert.deepEqual(kinds[0], ['test_skipped', 'test/feature.test.js']);
  assert.match(
    verifyBlock(h.agent.prompt(2)),
    /- test_skipped: test\/feature\.test\.js: 1 skip\/only marker\(s\) added: test\.skip\('answer is 42'/,
  );
});

test('(d) editing the verify command is blocked (verify_edit); the selection-time command is what counts', async (t) => {
  const h = project();
  t.after(() => h.cleanup());
  h.agent.script(
    claimDone('weaken the check', (ctx) => setTicketField(ctx, 'verify', 'true')),
    claimDone('claim again'),
  );
  const run = h.newRun();
  const outcome = await h.run(run.id, { settings: h.settings(withVerify(h, { maxFailures: 2 })) });

  assertOutcome(h, run.id, outcome, 'paused', 'verify_failed');
  assertNotClosed(h, run.id);
  const finding = h.events(run.id, ['tamper_finding'])[0]!;
  assert.equal(finding.data.kind, 'verify_edit');
  assert.equal(finding.data.file, h.ticketPath(1));
  assert.match(String(finding.data.detail), /from \["node test\/feature\.test\.js"\] to "true"/);
  assert.match(
    verifyBlock(h.agent.prompt(2)),
    /- verify_edit: \.codex-autorunner\/tickets\/TICKET-001\.md: ticket `verify:` changed/,
  );
  assert.match(
    h.readTicket(1),
    /^verify: "true"$/m,
    'car does not silently undo the edit; the human sees it',
  );
});

test('(e) an honest agent: the command passes, the ticket closes once, with evidence everywhere', async (t) => {
  const h = project();
  t.after(() => h.cleanup());
  h.agent.script(
    // does the work and says done, but forgets to commit: verify passes, then the commit barrier
    (ctx) => {
      writeRepoFile(ctx, 'src/feature.js', 'exports.answer = () => 42;\n');
      markDone(ctx);
      return completed('Implemented answer().');
    },
    (ctx) => {
      gitCommit(ctx, 'implement answer');
      return completed('Committed.');
    },
  );
  const run = h.newRun();
  const outcome = await h.run(run.id);

  assertOutcome(h, run.id, outcome, 'completed', 'all_done');
  assert.equal(h.agent.turnsRun, 2);
  assert.equal(countEvents(h, run.id, 'commit_barrier'), 1);
  assert.equal(
    countEvents(h, run.id, 'verify_command'),
    1,
    'the commit did not change the content: no re-run',
  );
  assert.equal(countEvents(h, run.id, 'verify_failed'), 0);
  assert.equal(countEvents(h, run.id, 'tamper_finding'), 0);
  assert.equal(countEvents(h, run.id, 'ticket_done', h.ticketPath(1)), 1);
  assert.match(h.readTicket(1), /^done: true$/m);
  const types = h.events(run.id).map((e) => e.type);
  assert.equal(types.indexOf('ticket_verified') + 1, types.indexOf('ticket_done'), 'recorded together');

  const head = h.git.git(['rev-parse', 'HEAD']).trim();
  const [artifact, ...more] = h.store.listArtifacts(run.id);
  assert.equal(more.length, 0);
  assert.equal(artifact?.kind, 'evidence');
  const file = join(h.root, artifact!.path);
  const evidence = JSON.parse(readFileSync(file, 'utf8')) as EvidenceRecord;
  const ticketId = evidence.ticket_id;
  assert.equal(artifact!.path, `.codex-autorunner/runs/${run.id}/evidence/${ticketId}.json`);
  assert.match(h.readTicket(1), new RegExp(`^ticket_id: ${ticketId}$`, 'm'));
  assert.equal(evidence.commit, head);
  assert.equal(evidence.dirty, false);
  assert.equal(evidence.ticket, h.ticketPath(1));
  assert.equal(evidence.run_id, run.id);
  assert.equal(evidence.failed_attempts, 0);
  assert.deepEqual(evidence.findings, []);
  assert.equal(evidence.commands.length, 1);
  const [cmd] = evidence.commands;
  assert.equal(cmd!.command, VERIFY);
  assert.equal(cmd!.source, 'ticket');
  assert.equal(cmd!.exit_code, 0);
  assert.equal(cmd!.timed_out, false);
  assert.ok(cmd!.duration_ms >= 0);
  assert.match(cmd!.output_tail ?? '', /ok 1 - answer is 42/);
  assert.equal(
    cmd!.output_sha256,
    createHash('sha256')
      .update(cmd!.output_tail ?? '')
      .digest('hex'),
  );
  assert.equal(cmd!.output_bytes, Buffer.byteLength(cmd!.output_tail ?? ''));
  // the store's copy: the same record without the output
  const meta = artifact!.metadata as unknown as EvidenceRecord;
  assert.equal(meta.commit, head);
  assert.equal(meta.commands[0]?.output_sha256, cmd!.output_sha256);
  assert.equal(meta.commands[0]?.output_tail, undefined);
  const verified = h.events(run.id, ['ticket_verified'])[0]!;
  assert.equal(verified.data.commit, head);
  assert.equal(verified.data.evidence, artifact!.path);
});

test('repo-level commands run for every ticket; notify findings do not block but reach the human', async (t) => {
  const h = setup();
  t.after(() => h.cleanup());
  h.git.write('check.sh', 'test -f work/ok.txt || { echo "work/ok.txt missing"; exit 1; }\n');
  h.ticket(1);
  h.commit('check script and ticket');
  h.agent.script(
    claimDone('claim'),
    claimDone('do it', (ctx) => {
      writeRepoFile(ctx, 'work/ok.txt', 'ok\n');
      writeRepoFile(ctx, '.github/workflows/ci.yml', 'on: push\n');
    }),
  );
  const run = h.newRun();
  const settings = h.settings(withVerify(h, { commands: ['sh check.sh'] }));
  const outcome = await h.run(run.id, { settings });

  assertOutcome(h, run.id, outcome, 'completed', 'all_done');
  assert.match(verifyBlock(h.agent.prompt(2)), /Command: sh check\.sh\n[\s\S]*work\/ok\.txt missing/);
  const finding = h.events(run.id, ['tamper_finding'])[0]!;
  assert.deepEqual(
    [finding.data.kind, finding.data.file, finding.data.action],
    ['ci_edit', '.github/workflows/ci.yml', 'notify'],
  );
  const dispatch = h.events(run.id, ['dispatch'])[0]!;
  assert.equal(dispatch.data.mode, 'notify');
  assert.match(String(dispatch.data.body), /ci_edit: \.github\/workflows\/ci\.yml/);
  const evidence = h.store.listArtifacts(run.id)[0]!.metadata as unknown as EvidenceRecord;
  assert.equal(evidence.failed_attempts, 1);
  assert.deepEqual(
    evidence.commands.map((c) => [c.command, c.source, c.exit_code]),
    [['sh check.sh', 'config', 0]],
  );
  assert.deepEqual(
    evidence.findings.map((f) => [f.kind, f.action]),
    [['ci_edit', 'notify']],
  );
});

test('closing another ticket is blocked; a verify command that hangs times out and counts as a failure', async (t) => {
  const h = setup();
  t.after(() => h.cleanup());
  h.ticket(1, { extraYaml: 'verify: sleep 30' });
  h.ticket(2);
  h.commit('tickets');
  h.agent.script(claimDone('close both', (ctx) => markDone(ctx, true, h.ticketPath(2))));
  const run = h.newRun();
  const settings = h.settings(withVerify(h, { maxFailures: 1, timeoutMs: 300 }));
  const outcome = await h.run(run.id, { settings });
  assertOutcome(h, run.id, outcome, 'paused', 'verify_failed');
  const finding = h.events(run.id, ['tamper_finding'])[0]!;
  assert.deepEqual(
    [finding.data.kind, finding.data.file, finding.data.detail],
    ['other_ticket_edit', h.ticketPath(2), 'frontmatter changed: done'],
  );

  // the human undoes that and resumes; now only the hung command stands between the agent and done
  h.git.write(h.ticketPath(2), h.readTicket(2).replace('done: true', 'done: false'));
  h.commit('reopen ticket 2');
  await h.control().resume(run.id, { force: true });
  h.agent.script(claimDone('claim again'));
  const started = Date.now();
  const again = await h.run(run.id, { settings });
  assert.ok(Date.now() - started < 10_000);
  assertOutcome(h, run.id, again, 'paused', 'verify_failed');
  const failure = h.events(run.id, ['verify_failed']).at(-1)!;
  assert.equal(failure.data.command, 'sleep 30');
  assert.equal(failure.data.timed_out, true);
  assert.match(String(h.store.getRun(run.id)?.reason), /timed out after/);
});

test('a ticket whose verify value is not a string or list pauses before any turn', async (t) => {
  const h = setup();
  t.after(() => h.cleanup());
  h.ticket(1, { extraYaml: 'verify: 42' });
  h.commit('ticket');
  const run = h.newRun();
  const outcome = await h.run(run.id);
  assertOutcome(h, run.id, outcome, 'paused', 'ticket_invalid');
  assert.equal(h.agent.turnsRun, 0);
  assert.match(outcome.reason, /verify must be a string or a list of strings/);
});
