// Files in tickets/ meant as tickets but not valid ones (issue 26 item 4): a name car does not read as a
// ticket (TICKET-01.md) was skipped silently and the run said "No tickets yet" while `car ticket lint`
// called the file invalid. Now `car run`, `car flow start` and `car flow status` name each file and its
// fix, the run pauses with ticket_invalid, and "No tickets yet" is only for an empty folder. Built CLI.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, test } from 'node:test';
import { runCar } from '../helpers/built-car.ts';
import { type GitRepo, makeGitRepo } from '../helpers/git-repo.ts';
import { waitFor } from '../helpers/wait.ts';

const DIR = '.codex-autorunner/tickets';
const TICKET = '---\nagent: demo\ndone: false\ntitle: Hello\n---\n\n## Tasks\n- say hello\n';

interface StatusJson {
  run: { status: string; reason_code: string | null; reason: string | null } | null;
  tickets: { total: number; invalid: { file: string; kind: string; problem: string; fix: string }[] };
}

const cleanups: (() => void)[] = [];
afterEach(() => {
  for (const fn of cleanups.splice(0)) fn();
});

async function repo(
  files: Record<string, string>,
): Promise<{ repo: GitRepo; opts: { cwd: string; env: NodeJS.ProcessEnv } }> {
  const r = makeGitRepo();
  const home = mkdtempSync(join(tmpdir(), 'car-invalid-home-'));
  cleanups.push(r.cleanup, () => rmSync(home, { recursive: true, force: true }));
  const opts = { cwd: r.dir, env: { PATH: process.env.PATH, HOME: home, NO_COLOR: '1' } };
  assert.equal((await runCar(['init', '--agent', 'demo'], opts)).code, 0);
  for (const [name, text] of Object.entries(files)) r.write(`${DIR}/${name}`, text);
  r.commitAll('plan');
  return { repo: r, opts };
}

async function status(opts: { cwd: string; env: NodeJS.ProcessEnv }): Promise<StatusJson> {
  const r = await runCar(['flow', 'status', '--json'], opts);
  assert.equal(r.code, 0, r.stderr);
  return JSON.parse(r.stdout) as StatusJson;
}

test('TICKET-01.md: car run pauses with ticket_invalid, naming the file and its new name', async () => {
  const { repo: r, opts } = await repo({ 'TICKET-01.md': TICKET });
  const run = await runCar(['run'], opts);
  const output = `${run.stdout}\n${run.stderr}`;
  assert.equal(run.code, 5, output);
  assert.match(run.stdout, /run paused \(ticket_invalid\)/, output);
  assert.doesNotMatch(run.stdout, /No tickets yet/, output);
  assert.match(
    run.stdout,
    /^ {2}\.codex-autorunner\/tickets\/TICKET-01\.md: not a ticket name, so car skips it .*; fix: rename it to TICKET-001\.md$/m,
    output,
  );

  const s = await status(opts);
  assert.equal(s.run?.status, 'paused');
  assert.equal(s.run?.reason_code, 'ticket_invalid');
  assert.deepEqual(
    s.tickets.invalid.map((f) => [f.file, f.kind, f.fix]),
    [[`${DIR}/TICKET-01.md`, 'name', 'rename it to TICKET-001.md']],
  );
  const text = await runCar(['flow', 'status'], opts);
  assert.match(text.stdout, /invalid ticket files \(1\)/);
  assert.match(text.stdout, /^ {4}fix: rename it to TICKET-001\.md$/m);

  // the fix works: renamed, the paused run resumes and the ticket is done
  r.git(['mv', `${DIR}/TICKET-01.md`, `${DIR}/TICKET-001.md`]);
  r.commitAll('rename');
  const again = await runCar(['run'], opts);
  assert.equal(again.code, 0, `${again.stdout}\n${again.stderr}`);
  assert.match(again.stdout, /^resumed run /m);
  assert.match(again.stdout, /run completed \(all_done\)/);
  assert.deepEqual((await status(opts)).tickets.invalid, []);
});

test('a ticket file without frontmatter: paused with ticket_invalid and the frontmatter to add', async () => {
  const { opts } = await repo({ 'TICKET-010.md': 'Say hello.\n' });
  const run = await runCar(['run'], opts);
  assert.equal(run.code, 5, `${run.stdout}\n${run.stderr}`);
  assert.match(run.stdout, /run paused \(ticket_invalid\)/);
  assert.match(run.stdout, /TICKET-010\.md/);
  assert.match(
    run.stdout,
    /fix: start the file with a frontmatter block: a line "---", "agent: demo", "done: false"/,
  );
  const s = await status(opts);
  assert.equal(s.run?.reason_code, 'ticket_invalid');
  assert.equal(s.tickets.invalid[0]?.kind, 'frontmatter');
});

test('car flow start names the invalid files; its worker pauses on them', async () => {
  const { opts } = await repo({ 'TICKET-010.md': TICKET, 'ticket-5-later.md': TICKET });
  const start = await runCar(['flow', 'start'], opts);
  assert.equal(start.code, 0, start.stderr);
  assert.match(start.stdout, /invalid ticket files \(1\): the run pauses \(ticket_invalid\) on these/);
  assert.match(
    start.stdout,
    /ticket-5-later\.md: not a ticket name.*\n {4}fix: rename it to TICKET-005-later\.md/,
  );
  let last: StatusJson | null = null;
  await waitFor('the worker to pause the run', async () => {
    last = await status(opts);
    return last.run?.status === 'paused';
  });
  assert.equal((last as StatusJson | null)?.run?.reason_code, 'ticket_invalid');
});

test('"No tickets yet" only for a folder without tickets', async () => {
  const { opts } = await repo({});
  const run = await runCar(['run'], opts);
  assert.equal(run.code, 5, `${run.stdout}\n${run.stderr}`);
  assert.match(run.stdout, /run paused \(no_tickets\).*No tickets yet/);
  assert.deepEqual((await status(opts)).tickets.invalid, []);
});
