// `car pr open` through the built CLI: a real `git push` to a local bare repository as the remote, the
// real octokit client against the local fake of GitHub's REST API. The PR body carries the verify
// evidence of the tickets closed on the branch; pr_url goes into the ticket's frontmatter byte for byte.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { json } from '../helpers/built-car.ts';
import { tid } from '../helpers/cli.ts';
import { prRepo, TICKETS, TOKEN } from './helpers.ts';

interface Opened {
  pr: { number: number; url: string; state: string; head: string; base: string; tickets: string[] };
  created: boolean;
  tickets: { ticket: string; ticket_id: string; commit: string }[];
  ticket_updated: boolean;
}

test('car pr open pushes the branch, opens the PR with the evidence and writes pr_url byte-preservingly', async (t) => {
  const r = await prRepo();
  t.after(() => r.cleanup());
  const ticketPath = join(r.repo.dir, TICKETS, 'TICKET-002.md');
  const before = readFileSync(ticketPath);

  const opened = await r.car(['pr', 'open', '--ticket', '2', '--json']);
  assert.equal(opened.code, 0, opened.stderr);
  const out = json<Opened>(opened);
  assert.equal(out.created, true);
  assert.equal(out.pr.number, 1);
  assert.equal(out.pr.head, 'feature');
  assert.equal(out.pr.base, 'main');
  assert.deepEqual(
    out.tickets.map((x) => x.ticket_id),
    [tid(1)],
    'the closed ticket, not the open_pr one',
  );

  // pushed: the remote's feature branch is the local one
  const head = r.repo.git(['rev-parse', 'HEAD']).trim();
  assert.equal(
    execFileSync('git', ['rev-parse', 'refs/heads/feature'], { cwd: r.bare, encoding: 'utf8' }).trim(),
    head,
  );

  // the PR on the host: title, labels, body with the evidence
  const pr = r.gh.prs[0]!;
  assert.equal(pr.head, 'feature');
  assert.equal(pr.base, 'main');
  assert.equal(pr.draft, false);
  assert.deepEqual(pr.labels, ['car']);
  assert.equal(pr.title, 'Write the note');
  assert.match(pr.body, /### TICKET-001\.md: Write the note/);
  assert.match(
    pr.body,
    /\| pass \| `test -f demo\/TICKET-001\.txt` \| ticket \| 0 \| \d+\.\d+ s \| \d+ bytes, `[0-9a-f]{16}` \|/,
  );
  assert.match(pr.body, /\| pass \| `grep -q note demo\/TICKET-001\.txt` \| ticket \| 0 \|/);
  assert.match(pr.body, new RegExp(`commit \`${out.tickets[0]!.commit}\``));
  assert.match(pr.body, /Tamper findings: none\./);
  assert.doesNotMatch(pr.body, /TICKET-002/);

  // pr_url added just before the closing fence; every other byte as it was
  const after = readFileSync(ticketPath);
  const line = Buffer.from(`pr_url: ${out.pr.url}\n`);
  const fence = before.indexOf('---\n', 4);
  assert.deepEqual(after, Buffer.concat([before.subarray(0, fence), line, before.subarray(fence)]));
  assert.equal(out.ticket_updated, true);
  // the token was sent, and is in no output
  assert.ok(r.gh.calls.every((c) => c.authorized));
  assert.ok(!opened.stdout.includes(TOKEN) && !opened.stderr.includes(TOKEN));
  for (const f of ['car.db', 'car.db-wal']) {
    const file = join(r.repo.dir, '.codex-autorunner', f);
    if (existsSync(file)) assert.ok(!readFileSync(file).includes(TOKEN), `the token is not in ${f}`);
  }

  // again: the same PR is updated, not a second one; the ticket is left alone
  r.repo.write('extra.txt', 'more\n');
  r.repo.commitAll('more work');
  const again = json<Opened>(await r.car(['pr', 'open', '--ticket', '2', '--json']));
  assert.equal(again.created, false);
  assert.equal(again.pr.number, 1);
  assert.equal(r.gh.prs.length, 1);
  assert.equal(again.ticket_updated, false);
  assert.deepEqual(readFileSync(ticketPath), after);
  assert.equal(
    execFileSync('git', ['rev-parse', 'refs/heads/feature'], { cwd: r.bare, encoding: 'utf8' }).trim(),
    r.repo.git(['rev-parse', 'HEAD']).trim(),
  );

  const flow = json<{ pull_requests: { number: number; state: string; checks: string }[] }>(
    await r.car(['flow', 'status', '--json']),
  );
  assert.deepEqual(
    flow.pull_requests.map((p) => [p.number, p.state, p.checks]),
    [[1, 'open', 'none']],
  );
  const flowText = await r.car(['flow', 'status']);
  assert.match(
    flowText.stdout,
    /^pull request #1 \(feature → main\): open, checks none: https:\/\/github\.example\/acme\/widgets\/pull\/1$/m,
  );

  const status = json<{ prs: { number: number; state: string; url: string }[] }>(
    await r.car(['pr', 'status', '--json']),
  );
  assert.deepEqual(
    status.prs.map((p) => [p.number, p.state, p.url]),
    [[1, 'open', out.pr.url]],
  );
});

test('car pr open refuses clearly and changes nothing: no token, bad token, no remote, a rate limit, the base checked out', async (t) => {
  const r = await prRepo();
  t.after(() => r.cleanup());
  const ticketPath = join(r.repo.dir, TICKETS, 'TICKET-002.md');
  const before = readFileSync(ticketPath);
  const unchanged = (what: string) => {
    assert.deepEqual(readFileSync(ticketPath), before, `${what}: the ticket is unchanged`);
    assert.equal(r.gh.prs.length, 0, `${what}: no PR`);
  };

  const { GITHUB_TOKEN: _, ...noToken } = r.env;
  const missing = await r.car(['pr', 'open', '--ticket', '2'], noToken);
  assert.equal(missing.code, 2, missing.stderr);
  assert.match(missing.stderr, /no GitHub token: set GITHUB_TOKEN/);
  unchanged('no token');

  const bad = await r.car(['pr', 'open', '--ticket', '2'], { ...r.env, GITHUB_TOKEN: 'ghp_wrong' });
  assert.equal(bad.code, 2, bad.stderr);
  assert.match(bad.stderr, /GitHub refused the token in GITHUB_TOKEN \(401 Bad credentials\)/);
  assert.ok(!bad.stderr.includes('ghp_wrong'), 'the token is not printed');
  unchanged('bad token');

  // a rate limit beyond what car waits: an error saying until when
  r.gh.rateLimitNext(1, { status: 403, resetInSeconds: 3600 });
  const limited = await r.car(['pr', 'open', '--ticket', '2']);
  assert.equal(limited.code, 1, limited.stderr);
  assert.match(
    limited.stderr,
    /rate limit is used up until \d{4}-\d\d-\d\dT[\d:.]+Z \(\d+ s from now\); nothing was changed/,
  );
  unchanged('rate limit');

  // a short retry-after is waited out
  r.gh.rateLimitNext(1, { status: 429, retryAfterSeconds: 1 });
  const waited = await r.car(['pr', 'open', '--json']);
  assert.equal(waited.code, 0, waited.stderr);
  assert.ok(
    r.gh.calls.some((c) => c.status === 429),
    'the 429 was answered',
  );
  assert.equal(r.gh.prs.length, 1, 'opened after the wait');
  assert.deepEqual(readFileSync(ticketPath), before, 'no --ticket: no ticket written');

  r.repo.git(['remote', 'remove', 'origin']);
  const noRemote = await r.car(['pr', 'open']);
  assert.equal(noRemote.code, 2, noRemote.stderr);
  assert.match(noRemote.stderr, /no git remote "origin" \(github\.remote\)/);

  r.repo.git(['remote', 'add', 'origin', r.bare]);
  r.repo.git(['checkout', '-q', 'main']);
  const onBase = await r.car(['pr', 'open']);
  assert.equal(onBase.code, 2, onBase.stderr);
  assert.match(onBase.stderr, /the branch to push is the base branch "main"/);

  // --branch pushes a branch that is not checked out (a lane's, say)
  r.repo.git(['branch', 'car/lane/abc/TICKET-001.md', 'feature']);
  const lane = json<{ created: boolean; branch: string; pr: { head: string } }>(
    await r.car(['pr', 'open', '--branch', 'car/lane/abc/TICKET-001.md', '--json']),
  );
  assert.equal(lane.created, true);
  assert.equal(lane.pr.head, 'car/lane/abc/TICKET-001.md');
  assert.equal(
    execFileSync('git', ['rev-parse', 'refs/heads/car/lane/abc/TICKET-001.md'], {
      cwd: r.bare,
      encoding: 'utf8',
    }).trim(),
    r.repo.git(['rev-parse', 'feature']).trim(),
  );
  const nope = await r.car(['pr', 'open', '--branch', 'no-such-branch']);
  assert.equal(nope.code, 2);
  assert.match(nope.stderr, /no branch "no-such-branch" with a commit/);
});

test('a push the remote refuses opens nothing and records nothing', async (t) => {
  const r = await prRepo();
  t.after(() => r.cleanup());
  // the remote's pre-receive hook declines every push, as a protected branch rule does
  execFileSync(
    'sh',
    [
      '-c',
      `printf '#!/bin/sh\\necho "protected: pushes are not allowed" >&2\\nexit 1\\n' > hooks/pre-receive && chmod +x hooks/pre-receive`,
    ],
    {
      cwd: r.bare,
    },
  );
  const refused = await r.car(['pr', 'open', '--ticket', '2']);
  assert.equal(refused.code, 1, refused.stderr);
  assert.match(refused.stderr, /git push origin feature failed \(nothing was opened or recorded\)/);
  assert.match(refused.stderr, /protected: pushes are not allowed/);
  assert.equal(r.gh.prs.length, 0);
  assert.doesNotMatch(r.repo.git(['show', 'HEAD:.codex-autorunner/tickets/TICKET-002.md']), /pr_url/);
  assert.doesNotMatch(readFileSync(join(r.repo.dir, TICKETS, 'TICKET-002.md'), 'utf8'), /pr_url/);
  assert.deepEqual(json<{ prs: unknown[] }>(await r.car(['pr', 'status', '--json'])).prs, []);
});

test('a run reaching an open_pr ticket opens the PR itself: pr_url and done committed and pushed', async (t) => {
  const r = await prRepo([], { openPrAgent: 'demo', runWithToken: true, runExit: 0 });
  t.after(() => r.cleanup());
  assert.equal(r.gh.prs.length, 1);
  const pr = r.gh.prs[0]!;
  assert.match(pr.body, /### TICKET-001\.md: Write the note/);
  const committed = r.repo.git(['show', `HEAD:${TICKETS}/TICKET-002.md`]);
  assert.match(committed, /^done: true$/m);
  assert.match(
    committed,
    new RegExp(`^pr_url: https://github\\.example/acme/widgets/pull/${pr.number}$`, 'm'),
  );
  assert.equal(r.repo.git(['status', '--porcelain']).trim(), '', 'nothing left uncommitted');
  assert.equal(
    execFileSync('git', ['rev-parse', 'refs/heads/feature'], { cwd: r.bare, encoding: 'utf8' }).trim(),
    r.repo.git(['rev-parse', 'HEAD']).trim(),
    'the ticket edit was pushed too',
  );
  const status = json<{ prs: { number: number; ticket: string }[] }>(await r.car(['pr', 'status', '--json']));
  assert.deepEqual(
    status.prs.map((p) => [p.number, p.ticket]),
    [[1, `${TICKETS}/TICKET-002.md`]],
  );
});

test('a run whose open_pr ticket cannot be opened pauses pr_failed and leaves the ticket as it was', async (t) => {
  const r = await prRepo(['api_url: http://127.0.0.1:9/nothing-listens-here'], {
    openPrAgent: 'demo',
    runWithToken: true,
  });
  t.after(() => r.cleanup());
  const status = json<{ reason_code: string; reason: string }>(await r.car(['flow', 'status', '--json']));
  assert.equal(status.reason_code, 'pr_failed');
  assert.match(
    status.reason,
    /Could not open the pull request for .*TICKET-002\.md: .*could not reach GitHub at http:\/\/127\.0\.0\.1:9/,
  );
  const ticket = readFileSync(join(r.repo.dir, TICKETS, 'TICKET-002.md'), 'utf8');
  assert.match(ticket, /^done: false$/m);
  assert.doesNotMatch(ticket, /pr_url/);
});
