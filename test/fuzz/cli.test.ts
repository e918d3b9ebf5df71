// A sample of the fuzz run through the built CLI (`node dist/car.js`), as users and agents meet it: a
// mutated ticket, config, lock or agent ledger, then `ticket lint`, `ticket list --json`, `flow status
// --json` and `doctor`. Each must end by itself with a documented exit code (README: 0-5), print no
// stack trace and no "internal error", and a --json command that succeeds prints JSON.
// CAR_FUZZ_ITERATIONS=N runs N/20 samples (default 6).
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { INPUT_LIMITS } from '../../src/core/input-limits.ts';
import { startCar } from '../helpers/built-car.ts';
import { makeGitRepo } from '../helpers/git-repo.ts';
import { Mutator } from './mutate.ts';

const SAMPLES = Math.max(6, Math.floor((Number(process.env.CAR_FUZZ_ITERATIONS) || 0) / 20));
const SEED = 24_060;
const COMMANDS = [['ticket', 'lint'], ['ticket', 'list', '--json'], ['flow', 'status', '--json'], ['doctor']];
const EXIT_CODES = new Set([0, 1, 2, 3, 4, 5]);
/** A command still running after this is a hang (they take well under a second). */
const DEADLINE_MS = 60_000;

type Result = {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  hung: boolean;
};

/** `node dist/car.js <argv>` to its end, killed (and marked hung) at the deadline. */
async function runWithDeadline(
  argv: readonly string[],
  opts: { cwd: string; env: NodeJS.ProcessEnv },
): Promise<Result> {
  const car = startCar(argv, opts);
  let hung = false;
  const timer = setTimeout(() => {
    hung = true;
    car.child.kill('SIGKILL');
  }, DEADLINE_MS);
  const exit = await car.exited;
  clearTimeout(timer);
  return { ...exit, stdout: car.stdout, stderr: car.stderr, hung };
}

const FILES = [
  {
    rel: '.codex-autorunner/tickets/TICKET-001-fuzz.md',
    seed: '---\nticket_id: tkt_fuzz_cli_0001\nagent: codex\ndone: false\ntitle: Fuzz me\ncontext:\n  - path: README.md\n---\n\n## Tasks\n- x\n',
    limit: INPUT_LIMITS.frontmatterBytes,
  },
  {
    rel: '.codex-autorunner/config.yml',
    seed: 'version: 2\nmode: repo\nticket_flow:\n  max_total_turns: 40\nagents:\n  fast:\n    backend: demo\n',
    limit: INPUT_LIMITS.configFileBytes,
  },
  {
    rel: '.codex-autorunner/flow.lock',
    seed: JSON.stringify({
      pid: 999_999_999,
      host: 'elsewhere',
      started_at: '2026-01-01T00:00:00Z',
      argv: ['car'],
    }),
    limit: 4096,
  },
  {
    rel: '.codex-autorunner/runs/agent-groups.json',
    seed: JSON.stringify({
      version: 1,
      boot_id: null,
      owner_pid: 999_999_999,
      groups: [{ pgid: 999_999_998, command: 'codex', start: 1 }],
    }),
    limit: 4096,
  },
];

test('the built CLI on mutated files: documented exit codes, no stack trace, no hang', async (t) => {
  const repo = makeGitRepo();
  const home = mkdtempSync(join(tmpdir(), 'car-fuzz-home-'));
  t.after(() => {
    repo.cleanup();
    rmSync(home, { recursive: true, force: true });
  });
  const env = { PATH: process.env.PATH, HOME: home, NO_COLOR: '1' };
  const init = await runWithDeadline(['init'], { cwd: repo.dir, env });
  assert.equal(init.code, 0, init.stderr);
  const mutator = new Mutator(SEED);
  const findings: string[] = [];
  for (let i = 0; i < SAMPLES; i++) {
    const file = FILES[i % FILES.length]!;
    const bytes = mutator.mutate(Buffer.from(file.seed, 'utf8'), file.limit);
    repo.write(file.rel, bytes);
    const results = await Promise.all(COMMANDS.map((argv) => runWithDeadline(argv, { cwd: repo.dir, env })));
    results.forEach((res, k) => {
      const argv = COMMANDS[k]!;
      const output = `${res.stdout}\n${res.stderr}`;
      let problem: string | null = null;
      if (res.hung) problem = `still running after ${DEADLINE_MS / 1000} s`;
      else if (res.code === null || !EXIT_CODES.has(res.code)) problem = `exit ${res.code ?? res.signal}`;
      else if (/internal error/.test(output)) problem = 'internal error';
      else if (/\(node:\d+\) \w*Warning/.test(output)) problem = 'a Node process warning';
      else if (/^\s+at .+:\d+:\d+\)?$/m.test(output)) problem = 'a stack trace';
      else if (argv.includes('--json') && res.code === 0) {
        try {
          JSON.parse(res.stdout);
        } catch {
          problem = 'stdout is not JSON';
        }
      }
      if (problem) {
        findings.push(
          `${file.rel} sample ${i}, car ${argv.join(' ')}: ${problem}\n${output.slice(0, 2000)}\ninput: ${JSON.stringify(bytes.subarray(0, 300).toString('utf8'))}`,
        );
      }
    });
    writeFileSync(join(repo.dir, file.rel), file.seed);
  }
  t.diagnostic(`${SAMPLES} mutated files x ${COMMANDS.length} commands through dist/car.js`);
  assert.deepEqual(findings, []);
});
