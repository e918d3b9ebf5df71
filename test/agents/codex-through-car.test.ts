// `car run`, the built CLI, working a queue of tickets with the REAL `codex app-server` (the pinned
// @openai/codex), offline (test/helpers/codex-queue.ts). This is the path where `car run` used to exit
// silently with status 13 after a ticket (issue 14), so every run here must end by itself with exit 0,
// every ticket done and no codex process left behind. `CAR_STRESS=20` repeats each scenario 20 times
// (`CAR_STRESS=20 node scripts/test.mjs codex-through-car`).
import assert from 'node:assert/strict';
import { afterEach, test } from 'node:test';
import { runCar, startCar } from '../helpers/built-car.ts';
import {
  assertAllDone,
  assertNothingLeft,
  type CodexQueue,
  codexQueue,
  latestRun,
} from '../helpers/codex-queue.ts';

const TICKETS = 5;
const REPEAT = Math.max(1, Number(process.env.CAR_STRESS ?? 1) || 1);

const queues: CodexQueue[] = [];
afterEach(async () => {
  for (const q of queues.splice(0)) await q.cleanup();
});

async function queue(): Promise<CodexQueue> {
  const q = await codexQueue(TICKETS);
  queues.push(q);
  return q;
}

for (let rep = 1; rep <= REPEAT; rep++) {
  const tag = REPEAT > 1 ? ` (${rep}/${REPEAT})` : '';

  test(`one car run works ${TICKETS} tickets with the real codex and exits 0${tag}`, async () => {
    const q = await queue();
    const r = await runCar(['run'], { cwd: q.repo.dir, env: q.env });
    const output = `exit ${r.code} ${r.signal ?? ''}\n${r.stdout}\n${r.stderr}`;
    assert.equal(r.code, 0, output);
    assert.match(r.stdout, /run completed \(all_done\)/, output);
    assert.doesNotMatch(r.stderr, /internal error/, output);
    assertAllDone(q, output);
    assert.equal((await latestRun(q)).status, 'completed');
    await assertNothingLeft(q.repo.dir);
  });

  test(`a car run killed with SIGKILL mid-queue is finished by the next car run${tag}`, async () => {
    const q = await queue();
    // kill at a different point each repetition: right after a ticket is done, or as a turn starts
    const n = 1 + (rep % (TICKETS - 1));
    const at = rep % 2 === 0 ? `✔ ${q.tickets[n - 1]} done` : `▶ ${q.tickets[n]}`;
    const first = startCar(['run'], { cwd: q.repo.dir, env: q.env });
    await first.waitForOutput(at);
    first.child.kill('SIGKILL');
    const killed = await first.exited;
    assert.equal(killed.signal, 'SIGKILL', `${first.stdout}\n${first.stderr}`);

    const r = await runCar(['run'], { cwd: q.repo.dir, env: q.env });
    const output = `killed at "${at}"\n${first.stdout}\n--- second run: exit ${r.code} ${r.signal ?? ''}\n${r.stdout}\n${r.stderr}`;
    assert.equal(r.code, 0, output);
    assert.match(r.stdout, /^recovering run /m, output);
    assert.match(r.stdout, /run completed \(all_done\)/, output);
    assertAllDone(q, output);
    assert.equal((await latestRun(q)).status, 'completed');
    await assertNothingLeft(q.repo.dir);
  });
}
