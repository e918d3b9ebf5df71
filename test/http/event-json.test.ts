// The API's event JSON is built around the stored payload text; it must equal serializing the parsed
// event, whatever the payload holds.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { openRunStore } from '../../src/core/store/run-store.ts';
import { eventJsonText } from '../../src/surfaces/http/event-json.ts';

test('event JSON text equals JSON.stringify of the parsed event', (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'car-event-json-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const store = openRunStore(join(dir, 'car.db'), { maxEventBytes: 512 });
  t.after(() => store.close());
  const run = store.createRun({ id: 'run "quoted" \\ é' });
  const turn = store.beginTurn({ runId: run.id, agent: 'codex' });
  store.appendEvents(run.id, [
    {
      type: 'agent_message',
      data: { text: 'line\nbreak\t"quotes" \\ é 😀 \u2028 \ud800', n: 1e21, f: -0.5 },
    },
    { type: 'odd "type"', turnId: turn.id, data: { nested: { a: [1, null, true, { '1': 'x', b: 'y' }] } } },
    { type: 'empty' },
    { type: 'big', data: { text: 'x'.repeat(2000) } },
  ]);
  const parsed = store.listEvents(run.id);
  const raw = store.listEventsRaw(run.id);
  assert.equal(raw.length, 4);
  for (const [i, e] of parsed.entries()) {
    const expected = JSON.stringify({
      run_id: e.runId,
      seq: e.seq,
      type: e.type,
      at: e.at,
      turn_id: e.turnId,
      data: e.data,
    });
    assert.equal(eventJsonText(raw[i]!), expected);
  }
});
