// Following a PR car opened, through the built CLI against the fake GitHub API: a failed check run sends
// the ticket back with the check's name and log excerpt in the next prompt, a review asking for changes
// does the same with its comments, merged is recorded; polling sends ETags; auto-merge merges only when
// every check and the evidence pass, and a protected base is a clear refusal; follow-up tickets by config.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import Database from 'better-sqlite3';
import { json, output, startCar } from '../helpers/built-car.ts';
import { tid } from '../helpers/cli.ts';
import { waitFor } from '../helpers/wait.ts';
import { prRepo, TICKETS } from './helpers.ts';

interface Watched {
  looked: number;
  notices: { kind: string; number: number; text: string }[];
  errors: string[];
  prs: { number: number; state: string; checks: string; review: string | null; last_error: string | null }[];
}

const ticket1 = (dir: string) => readFileSync(join(dir, TICKETS, 'TICKET-001.md'), 'utf8');

test('a failed check reopens the ticket and its log reaches the next prompt; reviews, merge, ETags', async (t) => {
  const r = await prRepo();
  t.after(() => r.cleanup());
  assert.equal((await r.car(['pr', 'open', '--ticket', '2'])).code, 0);
  const sha = r.repo.git(['rev-parse', 'HEAD']).trim();

  const quiet = json<Watched>(await r.car(['pr', 'watch', '--once', '--json']));
  assert.equal(quiet.looked, 1);
  assert.deepEqual(quiet.notices, []);
  assert.equal(quiet.prs[0]!.checks, 'none');

  r.gh.addCheckRun({
    head_sha: sha,
    name: 'ci / unit',
    status: 'completed',
    conclusion: 'success',
    output: { title: 'ok', summary: 'all passed', text: null },
  });
  const log = `${'noise line\n'.repeat(800)}FAIL test/note.test.ts\n  expected "note" to equal "notes"\n`;
  r.gh.addCheckRun({
    head_sha: sha,
    name: 'ci / lint',
    status: 'completed',
    conclusion: 'failure',
    output: { title: '1 error', summary: 'lint failed', text: log },
  });
  const before = ticket1(r.repo.dir);
  assert.match(before, /^done: true$/m);
  const failed = json<Watched>(await r.car(['pr', 'watch', '--once', '--json']));
  assert.deepEqual(
    failed.notices.map((n) => n.kind),
    ['checks_failed'],
  );
  assert.match(
    failed.notices[0]!.text,
    /Check ci \/ lint failed on pull request #1 \(TICKET-001\.md sent back\)/,
  );
  assert.equal(failed.prs[0]!.checks, 'failure');
  assert.equal(ticket1(r.repo.dir), before.replace(/^done: true$/m, 'done: false'), 'only done changed');

  // what the next prompt carries: the check's name and the end of its log (the noise before is cut)
  const db = new Database(join(r.repo.dir, '.codex-autorunner/car.db'), { readonly: true });
  const queued = db.prepare('SELECT kind, body, consumed_at FROM pr_feedback').all() as {
    kind: string;
    body: string;
    consumed_at: string | null;
  }[];
  db.close();
  assert.equal(queued.length, 1);
  assert.equal(queued[0]!.kind, 'check_failed');
  assert.match(
    queued[0]!.body,
    /^Check "ci \/ lint" failed \(failure\) on commit [0-9a-f]{12} of pull request #1/,
  );
  assert.match(queued[0]!.body, /FAIL test\/note\.test\.ts\n {2}expected "note" to equal "notes"/);
  assert.ok(queued[0]!.body.length < 5000, 'a bounded excerpt');
  assert.equal(queued[0]!.consumed_at, null);

  // once acted on, the same check run is not acted on again
  const again = json<Watched>(await r.car(['pr', 'watch', '--once', '--json']));
  assert.deepEqual(again.notices, []);

  // the next run works TICKET-001 again with the check's name and the end of its log in the prompt
  const run = await r.repo.run(['run']);
  assert.equal(run.code, 5, `${run.stdout}${run.stderr}`);
  const events = (await r.repo.run(['flow', 'events', '--json', '--type', 'turn_started'])).stdout
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l) as { data: { ticket: string; sections: { name: string }[] } });
  const sections = events
    .filter((e) => e.data.ticket.endsWith('TICKET-001.md'))
    .map((e) => e.data.sections.map((s) => s.name));
  // the paused run went on: its first turn closed the ticket before the check failed; the first turn
  // after the reopen carries the feedback, later turns do not (a turn that succeeded consumed it)
  const carried = sections.map((names) => names.includes('pr_feedback'));
  assert.ok(carried.length >= 2, JSON.stringify(events.map((e) => e.data)));
  assert.deepEqual(carried, [false, true, ...carried.slice(2).map(() => false)]);
  // (the demo agent has nothing left to do on it: a person closes it)
  assert.equal((await r.car(['ticket', 'done', '1'])).code, 0);

  // a review asking for changes, with comments
  r.gh.addReview(1, {
    state: 'CHANGES_REQUESTED',
    body: 'Please rename the note.',
    user: 'octocat',
    comments: [{ path: 'demo/TICKET-001.txt', line: 1, body: 'call it a memo' }],
  });
  r.gh.addReview(1, { state: 'COMMENTED', body: 'nice', user: 'hubot' });
  const reviewed = json<Watched>(await r.car(['pr', 'watch', '--once', '--json']));
  assert.deepEqual(
    reviewed.notices.map((n) => n.kind),
    ['changes_requested'],
  );
  assert.equal(reviewed.prs[0]!.review, 'changes_requested');
  const rdb = new Database(join(r.repo.dir, '.codex-autorunner/car.db'), { readonly: true });
  const review = rdb.prepare("SELECT body FROM pr_feedback WHERE kind = 'changes_requested'").all() as {
    body: string;
  }[];
  rdb.close();
  assert.equal(review.length, 1);
  assert.match(review[0]!.body, /^octocat asked for changes on pull request #1/);
  assert.match(review[0]!.body, /Review:\nPlease rename the note\./);
  assert.match(review[0]!.body, /Comments:\n- demo\/TICKET-001\.txt:1: call it a memo/);
  assert.match(ticket1(r.repo.dir), /^done: false$/m);

  // merged on GitHub: recorded, and no longer polled
  r.gh.setPrState(1, { merged: true });
  const merged = json<Watched>(await r.car(['pr', 'watch', '--once', '--json']));
  assert.deepEqual(
    merged.notices.map((n) => n.kind),
    ['merged'],
  );
  assert.equal(merged.prs[0]!.state, 'merged');
  assert.equal(json<Watched>(await r.car(['pr', 'watch', '--once', '--json'])).looked, 0);

  // each change is on the run's event log, where chat notices come from
  const told = (await r.repo.run(['flow', 'events', '--json', '--type', 'pull_request'])).stdout
    .trim()
    .split('\n')
    .map((l) => (JSON.parse(l) as { data: { kind: string } }).data.kind);
  assert.deepEqual(told, ['opened', 'checks_failed', 'changes_requested', 'merged']);
});

test('car pr watch polls with ETags: an unchanged PR is answered 304 and acted on once', async (t) => {
  const r = await prRepo();
  t.after(() => r.cleanup());
  assert.equal((await r.car(['pr', 'open', '--ticket', '2'])).code, 0);
  const watch = startCar(['pr', 'watch', '--interval', '1', '--json'], { cwd: r.repo.dir, env: r.env });
  t.after(() => watch.child.kill('SIGKILL'));
  const prGets = () =>
    r.gh.calls.filter((c) => c.method === 'GET' && c.path === '/repos/acme/widgets/pulls/1');
  await waitFor('a 304 for the unchanged PR', () => prGets().some((c) => c.status === 304), 30_000);
  assert.ok(
    prGets().every((c, i) => i === 0 || c.ifNoneMatch !== null),
    'every later look sends the ETag',
  );

  r.gh.addCheckRun({
    head_sha: r.repo.git(['rev-parse', 'HEAD']).trim(),
    name: 'build',
    status: 'completed',
    conclusion: 'timed_out',
    output: { title: null, summary: null, text: 'step "compile" ran over 60 minutes' },
  });
  await watch.waitForOutput('"kind":"checks_failed"', 30_000);
  const seen = r.gh.calls.length;
  await waitFor('two more rounds', () => r.gh.calls.length > seen + 8, 30_000);
  assert.equal(watch.stdout.split('"kind":"checks_failed"').length - 1, 1, 'told once');
  watch.child.kill('SIGTERM');
  const exit = await watch.exited;
  assert.equal(exit.code, 0, output(watch));
});

test('auto-merge: merged once checks and evidence pass; a protected base is refused clearly', async (t) => {
  const r = await prRepo(['auto_merge: true', 'merge_method: squash']);
  t.after(() => r.cleanup());
  assert.equal((await r.car(['pr', 'open', '--ticket', '2'])).code, 0);

  // a rate limit beyond what car waits ends the round: recorded on the PR, said, tried again later
  r.gh.rateLimitNext(1, { status: 403, resetInSeconds: 3600 });
  const limited = await r.car(['pr', 'watch', '--once', '--json']);
  assert.equal(limited.code, 1, limited.stderr);
  const lim = json<Watched & { retry_at: string | null }>(limited);
  assert.equal(lim.looked, 0);
  assert.match(lim.errors[0] ?? '', /^#1: reading pull request #1: GitHub's rate limit is used up until /);
  assert.ok(lim.retry_at !== null && Date.parse(lim.retry_at) > Date.now() + 3_000_000);
  assert.match(lim.prs[0]!.last_error ?? '', /rate limit/);
  assert.equal(r.gh.prs[0]!.merged, false);
  const sha = r.repo.git(['rev-parse', 'HEAD']).trim();
  const pending = r.gh.addCheckRun({
    head_sha: sha,
    name: 'ci',
    status: 'in_progress',
    conclusion: null,
    output: { title: null, summary: null, text: null },
  });
  const waiting = json<Watched>(await r.car(['pr', 'watch', '--once', '--json']));
  assert.equal(waiting.prs[0]!.checks, 'pending');
  assert.equal(r.gh.prs[0]!.merged, false, 'not merged while a check runs');

  pending.status = 'completed';
  pending.conclusion = 'success';
  r.gh.protectedBase = 'main';
  const refused = json<Watched>(await r.car(['pr', 'watch', '--once', '--json']));
  assert.deepEqual(
    refused.notices.map((n) => n.kind),
    ['merge_refused'],
  );
  assert.match(
    refused.prs[0]!.last_error ?? '',
    /GitHub refused \(405 At least 1 approving review is required/,
  );
  assert.equal(r.gh.prs[0]!.merged, false);

  r.gh.protectedBase = null;
  const done = json<Watched>(await r.car(['pr', 'watch', '--once', '--json']));
  assert.deepEqual(
    done.notices.map((n) => n.kind),
    ['merged'],
  );
  assert.equal(r.gh.prs[0]!.merged, true);
  assert.ok(
    r.gh.calls.some((c) => c.method === 'PUT' && c.path.endsWith('/pulls/1/merge') && c.status === 200),
  );
});

test('on_check_failure: follow_up adds a ticket with the check and its log instead of reopening', async (t) => {
  const r = await prRepo(['on_check_failure: follow_up']);
  t.after(() => r.cleanup());
  assert.equal((await r.car(['pr', 'open', '--ticket', '2'])).code, 0);
  r.gh.addCheckRun({
    head_sha: r.repo.git(['rev-parse', 'HEAD']).trim(),
    name: 'e2e',
    status: 'completed',
    conclusion: 'failure',
    output: { title: 'e2e failed', summary: null, text: 'login page: timeout waiting for #submit' },
  });
  const failed = json<Watched>(await r.car(['pr', 'watch', '--once', '--json']));
  assert.match(failed.notices[0]!.text, /TICKET-003-[a-z0-9-]+\.md created/);
  assert.match(ticket1(r.repo.dir), /^done: true$/m, 'TICKET-001 stays closed');
  const list = json<{ tickets: { name: string; title: string; ticket_id: string }[] }>(
    await r.car(['ticket', 'list', '--json']),
  );
  const follow = list.tickets.find((x) => x.name.startsWith('TICKET-003'))!;
  assert.equal(follow.title, 'Fix the failing check e2e on PR #1');
  const body = readFileSync(join(r.repo.dir, TICKETS, follow.name), 'utf8');
  assert.match(body, /Check "e2e" failed \(failure\)/);
  assert.match(body, /login page: timeout waiting for #submit/);
  assert.notEqual(follow.ticket_id, tid(1));
});

test('car serve follows the open PRs when github.watch is on', async (t) => {
  const r = await prRepo(['watch: true', 'poll_interval_seconds: 1']);
  t.after(() => r.cleanup());
  assert.equal((await r.car(['pr', 'open', '--ticket', '2'])).code, 0);
  const serve = startCar(['serve', '--port', '0'], { cwd: r.repo.dir, env: r.env });
  t.after(() => serve.child.kill('SIGKILL'));
  await serve.waitForOutput('following the open pull requests of acme/widgets every 1 s', 30_000);
  r.gh.addCheckRun({
    head_sha: r.repo.git(['rev-parse', 'HEAD']).trim(),
    name: 'ci',
    status: 'completed',
    conclusion: 'failure',
    output: { title: 'red', summary: null, text: 'boom' },
  });
  await serve.waitForOutput(
    'acme/widgets: Check ci failed on pull request #1 (TICKET-001.md sent back)',
    30_000,
  );
  assert.match(ticket1(r.repo.dir), /^done: false$/m);
  serve.child.kill('SIGTERM');
  assert.equal((await serve.exited).code, 0, output(serve));
});
