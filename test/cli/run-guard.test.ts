// A run never ends silently: when the event loop empties under an await nothing can settle (what made
// `car run` exit with status 13), or a rejection or exception goes unhandled, the built CLI records an
// `internal_error` naming what the run waited on, marks the run failed, says so on stderr and exits 1.
// The demo agent's `bug` step misbehaves the way a broken adapter would.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { runCar } from '../helpers/built-car.ts';
import { makeGitRepo } from '../helpers/git-repo.ts';

const TICKET = '.codex-autorunner/tickets/TICKET-010.md';

function ticket(step: string): string {
  return `---\nagent: demo\ndone: false\ntitle: Misbehave\n---\n\n\`\`\`car-demo\nsay starting\n${step}\n\`\`\`\n`;
}

interface RunJson {
  run: {
    run_id: string;
    status: string;
    reason_code: string | null;
    reason: string | null;
    reason_details: { cause?: string; awaiting?: string[]; error?: string | null } | null;
  };
}

for (const [bug, cause] of [
  ['drain', 'event_loop_drained'],
  ['reject', 'unhandled_rejection'],
  ['throw', 'uncaught_exception'],
] as const) {
  test(`bug ${bug}: the run is failed with internal_error (${cause}), said on stderr, exit 1`, async (t) => {
    const repo = makeGitRepo();
    const home = mkdtempSync(join(tmpdir(), 'car-guard-home-'));
    t.after(() => {
      repo.cleanup();
      rmSync(home, { recursive: true, force: true });
    });
    const env = { PATH: process.env.PATH, HOME: home, NO_COLOR: '1' };
    const opts = { cwd: repo.dir, env };
    assert.equal((await runCar(['init'], opts)).code, 0);
    repo.write(TICKET, ticket(`bug ${bug}`));
    repo.commitAll('plan');

    const r = await runCar(['run'], opts);
    assert.equal(r.code, 1, `${r.stdout}\n${r.stderr}`);
    assert.equal(r.signal, null);
    assert.match(r.stderr, /^car: internal error: /m);
    assert.match(r.stderr, /demo turn on \.codex-autorunner\/tickets\/TICKET-010\.md/);
    assert.match(r.stderr, /is marked failed \(internal_error\)/);

    const status = await runCar(['flow', 'status', '--json'], opts);
    const { run } = JSON.parse(status.stdout) as RunJson;
    assert.equal(run.status, 'failed');
    assert.equal(run.reason_code, 'internal_error');
    assert.equal(run.reason_details?.cause, cause);
    assert.deepEqual(run.reason_details?.awaiting, ['flow step', `demo turn on ${TICKET}`]);
    if (bug !== 'drain') assert.match(run.reason_details?.error ?? '', /demo agent: an? \w+ nobody/);

    const events = await runCar(['flow', 'events', run.run_id, '--type', 'internal_error'], opts);
    assert.match(events.stdout, /internal_error .*"cause":"/);
    const show = await runCar(['flow', 'show', run.run_id, '--json'], opts);
    const { turns } = JSON.parse(show.stdout) as { turns: Array<{ status: string; error: string | null }> };
    assert.deepEqual(
      turns.map((turn) => turn.status),
      ['interrupted'],
      'the turn in flight is recorded as interrupted',
    );
    assert.match(turns[0]?.error ?? '', /^internal error: /);

    // nothing is lost: fixed, the queue goes on in a new run
    repo.write(TICKET, ticket('done\ncommit finish'));
    repo.commitAll('fix the ticket');
    const again = await runCar(['run'], opts);
    assert.equal(again.code, 0, `${again.stdout}\n${again.stderr}`);
    assert.match(again.stdout, /^created run /m);
    assert.match(again.stdout, /run completed \(all_done\)/);
  });
}
