// ticket_flow.lane_setup through the built CLI: the commands run in each lane's worktree and in the
// merge queue's scratch worktree before anything works there (a fresh checkout lacks installed
// dependencies; here a verify command needs what the setup makes), and a failing setup command pauses
// the run naming it, then resumes once fixed.
import assert from 'node:assert/strict';
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { json, makeBuiltCarRepo } from '../helpers/built-car.ts';
import { TICKETS_DIR, tid } from '../helpers/cli.ts';
import { scriptAgentConfig } from '../helpers/script-agent.ts';

const AGENT = [
  `f=$(printf '%s\\n' "$1" | sed -n 's/^Current ticket file: //p' | head -1)`,
  'name=$(basename "$f" .md)',
  'mkdir -p work && echo "$name" > "work/$name.txt"',
  `sed -i 's/^done: false$/done: true/' "$f"`,
  'git add -A && git commit -qm "work on $name"',
  '',
].join('\n');

const cleanups: (() => void)[] = [];
after(() => {
  for (const c of cleanups) c();
});

async function setupRepo(setup: string) {
  const r = await makeBuiltCarRepo();
  const script = `${r.dir}-agent.sh`;
  cleanups.push(() => {
    r.cleanup();
    rmSync(script, { force: true });
  });
  writeFileSync(script, AGENT);
  r.write('.gitignore', 'deps/\n');
  r.write(
    '.codex-autorunner/config.yml',
    scriptAgentConfig(script, {}, [
      'ticket_flow:',
      '  lane_setup:',
      `    - ${JSON.stringify(setup)}`,
      'verify:',
      '  commands:',
      // what the setup made must be there wherever the gate runs (the lane's worktree, the merged tree)
      '    - "test -f deps/installed"',
    ]),
  );
  for (const [i, name] of ['TICKET-001', 'TICKET-002'].entries()) {
    r.write(
      `${TICKETS_DIR}/${name}.md`,
      `---\nticket_id: ${tid(i + 1)}\nagent: script\ndone: false\ntitle: ${name}\n---\n\nDo ${name}.\n`,
    );
  }
  r.commitAll('plan');
  return r;
}

test('lane_setup runs in every lane and in the merge queue worktree, with CAR_REPO_ROOT', async () => {
  const r = await setupRepo('mkdir -p deps && echo "$CAR_REPO_ROOT" > deps/installed');
  const res = await r.run(['run', '--lanes', '2']);
  assert.equal(res.code, 0, `${res.stdout}\n${res.stderr}`);
  for (const name of ['TICKET-001', 'TICKET-002']) {
    assert.match(readFileSync(join(r.dir, TICKETS_DIR, `${name}.md`), 'utf8'), /^done: true$/m);
  }
  // the verify command needs deps/installed: it passed in both lanes and on both merged trees
  const status = json<{ status: string; lanes: { merged: string[] } }>(
    await r.run(['flow', 'status', '--json']),
  );
  assert.equal(status.status, 'completed');
  assert.equal(status.lanes.merged.length, 2);
});

test('a failing lane_setup command pauses the run naming it; fixed, the run goes on', async () => {
  const r = await setupRepo('test -e "$CAR_REPO_ROOT/allow-setup" && mkdir -p deps && touch deps/installed');
  const res = await r.run(['run', '--lanes', '2']);
  assert.equal(res.code, 5, `${res.stdout}\n${res.stderr}`);
  const status = json<{ reason_code: string; lanes: { open: { reason_code: string; reason: string }[] } }>(
    await r.run(['flow', 'status', '--json']),
  );
  assert.equal(status.reason_code, 'lanes_waiting');
  assert.equal(status.lanes.open.length, 2);
  for (const lane of status.lanes.open) {
    assert.equal(lane.reason_code, 'lane_setup_failed');
    assert.match(lane.reason, /ticket_flow\.lane_setup: test -e/);
  }
  writeFileSync(join(r.dir, 'allow-setup'), '');
  r.write('.gitignore', 'deps/\nallow-setup\n');
  r.commitAll('allow the setup');
  const again = await r.run(['run']);
  assert.equal(again.code, 0, `${again.stdout}\n${again.stderr}`);
  assert.equal(r.git(['status', '--porcelain']).trim(), '');
});
