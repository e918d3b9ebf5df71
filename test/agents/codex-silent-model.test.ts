// A model that thinks for minutes without streaming a byte is not a stalled turn. codex app-server sends
// no notification while the provider stream is silent (seen with codex 0.169), so car's idle watchdog
// sees nothing either; under the default settings (app_server.turn_stall_timeout_seconds: 600) such a
// turn must complete. Runs the built CLI with the real codex against the fake Responses API, whose
// first answer stays silent for 125 s after `response.created`.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { execCommandReply, slowReply } from '../fakes/responses-api.ts';
import { runCar } from '../helpers/built-car.ts';
import { assertAllDone, codexQueue, latestRun, WORK_COMMAND } from '../helpers/codex-queue.ts';

const SILENT_MS = 125_000;

test('a turn whose model is silent for 125 s completes under the default settings', async (t) => {
  const q = await codexQueue(1);
  t.after(() => q.cleanup());
  q.fake.enqueue(slowReply(execCommandReply(WORK_COMMAND, 'call_slow'), SILENT_MS));
  const started = Date.now();
  const r = await runCar(['run'], { cwd: q.repo.dir, env: q.env });
  const output = `exit ${r.code}\n${r.stdout}\n${r.stderr}`;
  assert.equal(r.code, 0, output);
  assert.ok(Date.now() - started >= SILENT_MS, 'the model was silent for the whole time');
  assert.match(r.stdout, /run completed \(all_done\)/, output);
  assert.doesNotMatch(r.stdout, /stalled/, output);
  assertAllDone(q, output);
  assert.equal((await latestRun(q)).status, 'completed');
});
