// A ticket's work and a hub's git state over HTTP (issue 22 point 3), from real runs and real git: the work
// of a ticket car closed is the diff of the commits its evidence names, with that evidence; a ticket with
// no work yet is 404 `no_work`; each checkout's branch, upstream distance and uncommitted files; every
// answer carries an ETag (an unchanged one is a 304).
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { repoPaths } from '../../src/core/paths.ts';
import { openRunStore } from '../../src/core/store/run-store.ts';
import { createApp } from '../../src/surfaces/http/app.ts';
import { car } from '../helpers/cli.ts';
import { demoTicket, git, makeHub, type TestHub, writeTicket } from '../hub/helpers.ts';

const hubs: TestHub[] = [];
after(() => {
  for (const h of hubs) h.cleanup();
});

interface Work {
  source: string;
  evidence: { run_id: string; commit: string; base_commit: string; commands: { command: string }[] } | null;
  records: unknown[];
  diff: {
    base: string;
    head: string;
    commits: { sha: string; subject: string }[];
    files: { path: string; insertions: number | null; deletions: number | null }[];
    patch: string;
    truncated: boolean;
  };
}

test("a closed ticket's work is the diff of its evidence's commits; the hub lists each checkout's git state", async () => {
  const h = await makeHub();
  hubs.push(h);
  const alpha = h.gitRepo('alpha');
  const beta = h.gitRepo('beta');
  const ticket = demoTicket(1, [
    'write src/parser.ts export const parse = (s: string) => s.trim();\\n',
    'done',
    'commit parser: trim the input',
  ]).replace('title: ticket 1', 'title: ticket 1\nverify: test -f src/parser.ts');
  writeTicket(alpha, 'TICKET-010.md', ticket);
  // a person's ticket: the run pauses there, after closing the first
  writeTicket(alpha, 'TICKET-020.md', demoTicket(2, ['done']).replace('agent: demo', 'agent: user'));
  git(alpha, ['add', '-A']);
  git(alpha, ['commit', '-q', '-m', 'plan']);
  assert.equal((await h.run(['hub', 'scan'])).code, 0);
  const run = await car(['run'], { cwd: alpha });
  assert.match(run.stdout + run.stderr, /user_ticket/, `car run: ${run.code} ${run.stdout} ${run.stderr}`);

  // beta: an uncommitted change and an untracked file
  writeFileSync(join(beta, 'README.md'), '# changed\n');
  writeFileSync(join(beta, 'notes.txt'), 'draft\n');

  const app = createApp({ root: h.root });
  try {
    const res = await app.request('/repos/alpha/api/tickets/TICKET-010.md/work');
    assert.equal(res.status, 200, await res.clone().text());
    const work = (await res.json()) as Work;
    assert.equal(work.source, 'evidence');
    assert.ok(work.evidence);
    assert.equal(work.diff.base, work.evidence.base_commit);
    assert.equal(work.diff.head, work.evidence.commit);
    assert.deepEqual(
      work.diff.commits.map((c) => c.subject),
      ['parser: trim the input'],
    );
    const parser = work.diff.files.find((f) => f.path === 'src/parser.ts');
    assert.deepEqual(parser, { path: 'src/parser.ts', insertions: 1, deletions: 0 });
    assert.match(work.diff.patch, /^diff --git a\/src\/parser\.ts b\/src\/parser\.ts$/m);
    assert.match(work.diff.patch, /^\+export const parse = \(s: string\) => s\.trim\(\);$/m);
    assert.equal(work.diff.truncated, false);
    assert.deepEqual(
      work.evidence.commands.map((c) => c.command),
      ['test -f src/parser.ts'],
    );
    const etag = res.headers.get('etag');
    assert.ok(etag);
    const again = await app.request('/repos/alpha/api/tickets/TICKET-010.md/work', {
      headers: { 'if-none-match': etag },
    });
    assert.equal(again.status, 304);

    const none = await app.request('/repos/alpha/api/tickets/TICKET-020.md/work');
    assert.equal(none.status, 404);
    assert.equal(((await none.json()) as { error: string }).error, 'no_work');
    const otherRun = await app.request('/repos/alpha/api/tickets/TICKET-010.md/work?run=nope');
    assert.equal(otherRun.status, 404);
    const missing = await app.request('/repos/alpha/api/tickets/TICKET-999.md/work');
    assert.equal(missing.status, 404);
    assert.equal(((await missing.json()) as { error: string }).error, 'not_found');

    const gitRes = await app.request('/api/hub/git');
    assert.equal(gitRes.status, 200);
    const states = (await gitRes.json()) as {
      repos: {
        id: string;
        git: { branch: string; dirty: number; dirty_files: string[]; ahead: null } | null;
      }[];
    };
    const by = Object.fromEntries(states.repos.map((r) => [r.id, r.git]));
    assert.equal(by.alpha?.branch, 'main');
    assert.equal(by.alpha?.dirty, 0);
    assert.equal(by.alpha?.ahead, null, 'no upstream: no distance');
    // the scan's car init left .codex-autorunner/ untracked there too
    assert.deepEqual(by.beta?.dirty_files, ['?? .codex-autorunner/', ' M README.md', '?? notes.txt'].sort());
    assert.equal(by.beta?.dirty, 3);
    const gitTag = gitRes.headers.get('etag');
    assert.ok(gitTag);
    assert.equal((await app.request('/api/hub/git', { headers: { 'if-none-match': gitTag } })).status, 304);
  } finally {
    app.close();
  }
});

test("a ticket a lane works: its work is the lane's branch from where the lane started", async () => {
  const h = await makeHub();
  hubs.push(h);
  const alpha = h.gitRepo('alpha');
  writeTicket(alpha, 'TICKET-030.md', demoTicket(3, ['done']));
  assert.equal((await h.run(['hub', 'scan'])).code, 0);
  git(alpha, ['add', '-A']);
  git(alpha, ['commit', '-q', '-m', 'plan']);
  const base = git(alpha, ['rev-parse', 'HEAD']).trim();
  // the lane's branch, a commit ahead of where it started (as the lane's agent leaves it)
  const branch = 'car/lane/0123abcd/TICKET-030';
  git(alpha, ['checkout', '-q', '-b', branch]);
  writeFileSync(join(alpha, 'lane.txt'), 'from the lane\n');
  git(alpha, ['add', 'lane.txt']);
  git(alpha, ['commit', '-q', '-m', 'lane: add lane.txt']);
  git(alpha, ['checkout', '-q', 'main']);
  // the run that drives the lane, with its lane record (lane-state.ts)
  const store = openRunStore(repoPaths(alpha).dbFile);
  const run = store.createRun({
    state: {
      lanes: {
        integration: 'main',
        merged: [],
        lanes: [
          {
            slot: 1,
            ticket: '.codex-autorunner/tickets/TICKET-030.md',
            ticketId: `tkt_${(3).toString(16).padStart(32, '0')}`,
            runId: 'lane-run-1',
            branch,
            worktree: '.codex-autorunner/lanes/TICKET-030',
            base,
            phase: 'working',
            mergeAttempts: 0,
            queuedAt: null,
            blocked: null,
          },
        ],
      },
    },
  });
  store.updateRun(run.id, { status: 'running' });
  store.close();

  const app = createApp({ root: h.root });
  try {
    const res = await app.request('/repos/alpha/api/tickets/TICKET-030.md/work');
    assert.equal(res.status, 200, await res.clone().text());
    const work = (await res.json()) as Work & { lane: { lane: number; branch: string; run_id: string } };
    assert.equal(work.source, 'lane');
    assert.deepEqual(work.lane, { lane: 1, run_id: 'lane-run-1', branch });
    assert.equal(work.diff.base, base);
    assert.deepEqual(
      work.diff.commits.map((c) => c.subject),
      ['lane: add lane.txt'],
    );
    assert.deepEqual(work.diff.files, [{ path: 'lane.txt', insertions: 1, deletions: 0 }]);
    assert.equal(work.evidence, null);
  } finally {
    app.close();
  }
});
