// Resuming a run with lanes resumes its lane runs the way `car flow resume` resumes a run: what paused a
// lane is granted again (here the run's turn limit, which its lanes share), so the lanes go on instead of
// pausing again at once.
// Through the built CLI in a real git repo, with a shell-script agent that needs two turns a ticket.
import assert from 'node:assert/strict';
import { rmSync, writeFileSync } from 'node:fs';
import { after, test } from 'node:test';
import { json, makeBuiltCarRepo } from '../helpers/built-car.ts';
import { TICKETS_DIR, tid } from '../helpers/cli.ts';
import { scriptAgentConfig } from '../helpers/script-agent.ts';

// the first turn on a ticket only leaves a note outside the repo; the second does the work
const AGENT = [
  `f=$(printf '%s\\n' "$1" | sed -n 's/^Current ticket file: //p' | head -1)`,
  'name=$(basename "$f" .md)',
  'note="$CAR_TEST_NOTES-$name"',
  'if [ ! -e "$note" ]; then echo "thinking" > "$note"; exit 0; fi',
  'mkdir -p work && echo "$name" > "work/$name.txt"',
  `sed -i 's/^done: false$/done: true/' "$f"`,
  'git add -A && git commit -qm "work on $name"',
  '',
].join('\n');

const cleanups: (() => void)[] = [];
after(() => {
  for (const c of cleanups) c();
});

test('a lane paused on its turn limit gets its turns again when the run is resumed, and finishes', async () => {
  const r = await makeBuiltCarRepo();
  const script = `${r.dir}-agent.sh`;
  const notes = `${r.dir}-notes`;
  cleanups.push(() => {
    r.cleanup();
    rmSync(script, { force: true });
    for (const n of ['TICKET-001', 'TICKET-002']) rmSync(`${notes}-${n}`, { force: true });
  });
  writeFileSync(script, AGENT);
  r.write(
    '.codex-autorunner/config.yml',
    scriptAgentConfig(script, { env: { CAR_TEST_NOTES: notes } }, ['ticket_flow:', '  max_total_turns: 2']),
  );
  for (const [i, name] of ['TICKET-001', 'TICKET-002'].entries()) {
    r.write(
      `${TICKETS_DIR}/${name}.md`,
      `---\nticket_id: ${tid(i + 1)}\nagent: script\ndone: false\ntitle: ${name}\n---\n\nDo ${name}.\n`,
    );
  }
  r.commitAll('plan');

  const first = await r.run(['run', '--lanes', '2']);
  assert.equal(first.code, 5, `${first.stdout}\n${first.stderr}`);
  const waiting = json<{ reason_code: string; lanes: { open: { phase: string; reason_code: string }[] } }>(
    await r.run(['flow', 'status', '--json']),
  );
  assert.equal(waiting.reason_code, 'lanes_waiting');
  // two turns in all, shared by the lanes however they fell (one each, or one lane's two and done:
  // test/flow/lanes.test.ts counts them)
  assert.ok(waiting.lanes.open.length > 0);
  for (const lane of waiting.lanes.open)
    assert.deepEqual([lane.phase, lane.reason_code], ['waiting', 'max_turns']);

  const again = await r.run(['run']);
  assert.equal(again.code, 0, `${again.stdout}\n${again.stderr}`);
  assert.match(again.stdout, /All tickets done and merged/);
  for (const name of ['TICKET-001', 'TICKET-002']) {
    assert.equal(r.git(['show', `main:work/${name}.txt`]), `${name}\n`);
  }
});
