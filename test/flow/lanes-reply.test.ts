// A lane that asks a question through the built CLI: the other lane goes on and merges; the run then
// pauses `lanes_waiting` naming the asking lane; `car flow reply` (no --run) reaches that lane's run;
// `car run` resumes and the lane finishes with the answer in its prompt.
import assert from 'node:assert/strict';
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { json, makeBuiltCarRepo } from '../helpers/built-car.ts';
import { TICKETS_DIR, tid } from '../helpers/cli.ts';
import { ASKING_AGENT, scriptAgentConfig } from '../helpers/script-agent.ts';

const cleanups: (() => void)[] = [];
after(() => {
  for (const c of cleanups) c();
});

test('a lane that asks waits while the other merges; the reply reaches it and the run finishes', async () => {
  const r = await makeBuiltCarRepo();
  const script = `${r.dir}-agent.sh`;
  cleanups.push(() => {
    r.cleanup();
    rmSync(script, { force: true });
  });
  writeFileSync(script, ASKING_AGENT);
  r.write('.codex-autorunner/config.yml', scriptAgentConfig(script));
  for (const [i, name] of ['TICKET-001', 'TICKET-002'].entries()) {
    r.write(
      `${TICKETS_DIR}/${name}.md`,
      `---\nticket_id: ${tid(i + 1)}\nagent: script\ndone: false\ntitle: ${name}\n---\n\nDo ${name}.\n`,
    );
  }
  r.commitAll('plan');

  const first = await r.run(['run', '--lanes', '2']);
  assert.equal(first.code, 5, `${first.stdout}\n${first.stderr}`);
  type Status = {
    run_id: string;
    reason_code: string;
    lanes: { merged: string[]; open: { ticket: string; run_id: string; reason_code: string }[] };
  };
  const paused = json<Status>(await r.run(['flow', 'status', '--json']));
  assert.equal(paused.reason_code, 'lanes_waiting');
  assert.deepEqual(paused.lanes.merged, [`${TICKETS_DIR}/TICKET-001.md`], 'the other lane merged meanwhile');
  assert.equal(paused.lanes.open.length, 1);
  const asking = paused.lanes.open[0]!;
  assert.equal(asking.reason_code, 'dispatch');

  const reply = await r.run(['flow', 'reply', 'use port 8080']);
  assert.equal(reply.code, 0, reply.stderr);
  const replyFile = join(r.dir, '.codex-autorunner/runs', asking.run_id, 'USER_REPLY.md');
  assert.match(readFileSync(replyFile, 'utf8'), /use port 8080/, "the reply is in the lane's run folder");

  const second = await r.run(['run']);
  assert.equal(second.code, 0, `${second.stdout}\n${second.stderr}`);
  assert.equal(readFileSync(join(r.dir, 'port.txt'), 'utf8'), 'port 8080\n');
  const done = json<Status & { status: string }>(await r.run(['flow', 'status', '--json']));
  assert.equal(done.status, 'completed');
  assert.equal(done.run_id, paused.run_id, 'the same run went on');
  assert.equal(done.lanes.merged.length, 2);
});
