// A queue of tickets for `car run` with the REAL `codex app-server`, offline: codex talks to a local fake
// of the Responses API whose "model" runs one shell command per ticket (write a file, set `done: true`,
// commit) and then answers. Each queue has its own temp HOME (codex runs commands with `bash -lc`, and
// no login profile of this machine may hang it) and CODEX_HOME, from which car seeds its private one.
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, readFileSync, readlinkSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  execCommandReply,
  type FakeReply,
  FakeResponsesApi,
  messageReply,
  type RecordedRequest,
  writeFakeCodexConfig,
} from '../fakes/responses-api.ts';
import { NODE_BIN, runCar } from './built-car.ts';
import { type GitRepo, makeGitRepo } from './git-repo.ts';

export const TICKETS_DIR = '.codex-autorunner/tickets';

/** The shell command the fake model runs for a new turn: the first open ticket's work, committed. */
export const WORK_COMMAND = [
  `f=$(grep -l '^done: false' ${TICKETS_DIR}/TICKET-*.md | head -1)`,
  'test -n "$f"',
  'mkdir -p work',
  'echo done > "work/$(basename "$f" .md).txt"',
  `sed -i 's/^done: false/done: true/' "$f"`,
  'git add -A',
  `git commit -qm "work on $(basename "$f")"`,
].join(' && ');

/** The fake model: a new turn runs the work command; after the command's output it answers. */
export function workModel(req: RecordedRequest): FakeReply {
  const input = req.body?.input ?? [];
  if (input.at(-1)?.type === 'function_call_output') return messageReply('Ticket done.', `msg_${req.n}`);
  return execCommandReply(WORK_COMMAND, `call_${req.n}`);
}

export interface CodexQueue {
  repo: GitRepo;
  fake: FakeResponsesApi;
  /** The environment to run car with: PATH with the pinned codex, the temp HOME and CODEX_HOME. */
  env: NodeJS.ProcessEnv;
  tickets: string[];
  cleanup(): Promise<void>;
}

/** A git repo with `car init` run (by the built CLI) and `count` open codex tickets, committed. */
export async function codexQueue(count: number): Promise<CodexQueue> {
  const fake = await FakeResponsesApi.start();
  fake.setFallback(workModel);
  const home = mkdtempSync(join(tmpdir(), 'car-codex-e2e-home-'));
  const codexHome = join(home, '.codex');
  writeFakeCodexConfig(codexHome, fake.baseUrl);
  const repo = makeGitRepo();
  const cleanup = async () => {
    await fake.close();
    repo.cleanup();
    rmSync(home, { recursive: true, force: true });
  };
  const env: NodeJS.ProcessEnv = {
    PATH: `${NODE_BIN}:${process.env.PATH ?? '/usr/bin:/bin'}`,
    HOME: home,
    CODEX_HOME: codexHome,
    NO_COLOR: '1',
  };
  const init = await runCar(['init'], { cwd: repo.dir, env });
  assert.equal(init.code, 0, init.stderr);
  const tickets: string[] = [];
  for (let i = 1; i <= count; i++) {
    const name = `TICKET-${String(i * 10).padStart(3, '0')}.md`;
    tickets.push(name);
    repo.write(
      `${TICKETS_DIR}/${name}`,
      `---\nagent: codex\ndone: false\ntitle: Ticket ${i}\n---\n\n## Tasks\n- write work/${name.replace('.md', '.txt')}\n`,
    );
  }
  repo.commitAll('plan');
  return { repo, fake, env, tickets, cleanup };
}

/** Every ticket is done on disk, its work file written, and all of it committed. */
export function assertAllDone(q: CodexQueue, output: string): void {
  for (const name of q.tickets) {
    const text = readFileSync(join(q.repo.dir, TICKETS_DIR, name), 'utf8');
    assert.match(text, /^done: true$/m, `${name} is not done:\n${output}`);
    assert.equal(readFileSync(join(q.repo.dir, 'work', name.replace('.md', '.txt')), 'utf8'), 'done\n');
  }
  assert.equal(q.repo.git(['status', '--porcelain', '--', 'work', TICKETS_DIR]), '', 'uncommitted work');
}

/** The latest run as `car flow status --json` reports it. */
export async function latestRun(q: CodexQueue): Promise<{ status: string; reason_code: string | null }> {
  const r = await runCar(['flow', 'status', '--json'], { cwd: q.repo.dir, env: q.env });
  assert.equal(r.code, 0, r.stderr);
  return (JSON.parse(r.stdout) as { run: { status: string; reason_code: string | null } }).run;
}

/** Live (non-zombie) processes whose working directory is `dir`: what car or codex left running there. */
function processesIn(dir: string): string[] {
  const found: string[] = [];
  for (const pid of readdirSync('/proc')) {
    if (!/^\d+$/.test(pid)) continue;
    try {
      if (readlinkSync(`/proc/${pid}/cwd`) !== dir) continue;
      const stat = readFileSync(`/proc/${pid}/stat`, 'latin1');
      const state = stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3);
      if (state === 'Z' || state === 'X') continue;
      found.push(`${pid} ${readFileSync(`/proc/${pid}/cmdline`, 'latin1').replaceAll('\0', ' ')}`);
    } catch {
      // gone meanwhile
    }
  }
  return found;
}

/** No process is left running in the repo (a SIGKILLed group can take a moment to be reaped). */
export async function assertNothingLeft(dir: string): Promise<void> {
  const deadline = Date.now() + 10_000;
  let left = processesIn(dir);
  while (left.length > 0 && Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, 50));
    left = processesIn(dir);
  }
  assert.deepEqual(left, [], 'processes left running in the repo');
}
