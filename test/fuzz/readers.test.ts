// A bounded, seeded fuzz run of every file car reads, fed to the real readers in-process: tickets, the
// config layers (repo and hub), the hub manifest, DISPATCH.md, USER_REPLY.md and the JSON state car
// reads back (flow.lock, agent-groups.json, hub_state.json, hub_supervisor.json, evidence records).
// Each mutated file must be read, or refused with car's own error naming the file, within a time bound.
// CAR_FUZZ_ITERATIONS=N runs N inputs per file (default 50) for a longer local run.
import assert from 'node:assert/strict';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { after, before, test } from 'node:test';
import { readGroupLedger } from '../../src/agents/group-ledger.ts';
import { ConfigError, loadConfig } from '../../src/core/config/index.ts';
import { DispatchFrontmatterError, readDispatchFile } from '../../src/core/flow/dispatch.ts';
import { archiveReply } from '../../src/core/flow/replies.ts';
import { ensureRunDirs, runPaths } from '../../src/core/flow/run-paths.ts';
import { loadHubConfig } from '../../src/core/hub/config.ts';
import { readHubState } from '../../src/core/hub/init.ts';
import { ManifestError, readManifest } from '../../src/core/hub/manifest.ts';
import { INPUT_LIMITS } from '../../src/core/input-limits.ts';
import { readLock } from '../../src/core/lock.ts';
import { repoPaths } from '../../src/core/paths.ts';
import { openRunStore } from '../../src/core/store/run-store.ts';
import { loadTicketQueue } from '../../src/core/tickets/queue.ts';
import { openHubAt, supervisorReport } from '../../src/surfaces/hub-report.ts';
import { car } from '../helpers/cli.ts';
import { cpuTimeMs } from '../helpers/cpu.ts';
import { makeHub, type TestHub } from '../hub/helpers.ts';
import { Mutator } from './mutate.ts';

const ITERATIONS = Number(process.env.CAR_FUZZ_ITERATIONS) || 50;
const SEED = 24_006;
/**
 * CPU time per input: any input is read or refused in ~100 ms of CPU (bench/hostile-input.ts), several
 * readers may see one input, and a loaded 2-core machine slows them several-fold; a hang or a blow-up
 * is far beyond it. CPU, not wall time: on a busy machine the latter is mostly waiting for a core.
 */
const CPU_BOUND_MS = 3000;
const KiB = 1024;

let hub: TestHub;
let app: string;
before(async () => {
  hub = await makeHub();
  app = hub.gitRepo('app');
  assert.equal((await hub.run(['hub', 'add', app])).code, 0);
  const init = await car(['init'], { cwd: app });
  assert.equal(init.code, 0, init.stderr);
});
after(() => hub.cleanup());

interface Target {
  name: string;
  /** Absolute path of the file the mutations are written to. */
  file: string;
  /** A valid file: the mutations start from it. */
  seed: string;
  /** The size the repeats grow toward: the file's limit in core/input-limits.ts. */
  limit: number;
  /** Reads the file with car's reader. Returns a problem, or throws what is not car's own error. */
  read: () => Promise<string | null> | string | null;
}

/** Null when `err` is the error car reports `file` with; else the error itself, for the finding. */
function ownError(err: unknown, kind: new (...args: never[]) => Error, file: string): string | null {
  if (!(err instanceof kind)) return err instanceof Error ? (err.stack ?? err.message) : String(err);
  return err.message.includes(file) ? null : `the error does not name ${file}: ${err.message}`;
}

const TICKET = [
  '---',
  'ticket_id: tkt_0123456789abcdef0123456789abcdef',
  'agent: codex',
  'done: false',
  'title: Add rate limiting',
  'goal: "Throttle brute force: 5 tries / minute"',
  'context:',
  '  - path: docs/spec.md',
  '    max_bytes: 2048',
  '    required: true',
  'verify: ["npm test"]',
  '---',
  '',
  '## Tasks',
  '- one',
  '',
].join('\n');

const REPO_CONFIG = [
  'version: 2',
  'mode: repo',
  'ticket_flow:',
  '  max_total_turns: 40',
  'agents:',
  '  fast: &fast',
  '    backend: command',
  '    command: ["echo", "hi"]',
  '  slow:',
  '    <<: *fast',
  '    env: {A: "1"}',
  'git:',
  '  auto_commit: false',
  'verify:',
  '  commands: ["true"]',
  '',
].join('\n');

const HUB_YML = [
  'repo_defaults:',
  '  ticket_flow:',
  '    max_total_turns: 77',
  'agents:',
  '  mine:',
  '    backend: demo',
  'hub:',
  '  max_parallel: 2',
  '',
].join('\n');

const EVIDENCE = JSON.stringify({
  version: 1,
  run_id: 'fuzz-run',
  ticket: '.codex-autorunner/tickets/TICKET-001.md',
  ticket_id: 'tkt_0123456789abcdef0123456789abcdef',
  title: 'Add rate limiting',
  verified_at: '2026-08-14T10:00:00.000Z',
  commit: 'abc123',
  base_commit: 'def456',
  dirty: false,
  commands: [
    {
      command: 'npm test',
      source: 'config',
      exit_code: 0,
      signal: null,
      timed_out: false,
      duration_ms: 1200,
      output_bytes: 42,
      output_sha256: 'e3b0c442',
      output_tail: 'ok\n',
    },
  ],
  findings: [{ kind: 'test_deleted', path: 'test/a.test.ts', detail: 'removed', action: 'notify' }],
  failed_attempts: 1,
  turns: 3,
});

let evidenceRuns = 0;
const evidenceFile = '.codex-autorunner/runs/fuzz-run/evidence/tkt_0123456789abcdef0123456789abcdef.json';

function targets(): Target[] {
  const paths = repoPaths(app);
  const run = runPaths(app, 'fuzz-run');
  ensureRunDirs(run);
  const agents = new Set(['codex', 'user']);
  const ticketRel = '.codex-autorunner/tickets/TICKET-001.md';
  const manifest = join(hub.root, '.codex-autorunner/manifest.yml');
  const hubConfig = (label: string, file: string): Target => ({
    name: label,
    file,
    seed: label === 'codex-autorunner.yml' ? HUB_YML : readFileSync(file, 'utf8'),
    limit: INPUT_LIMITS.configFileBytes,
    read: () => {
      for (const load of [() => loadConfig(app, {}), () => loadHubConfig(hub.root, {})]) {
        try {
          load();
        } catch (err) {
          const problem = ownError(err, ConfigError, label);
          if (problem) return problem;
        }
      }
      return null;
    },
  });
  return [
    {
      name: 'ticket',
      file: join(app, ticketRel),
      seed: TICKET,
      limit: INPUT_LIMITS.frontmatterBytes,
      read: () => {
        const queue = loadTicketQueue(paths.ticketsDir, { repoRoot: app, agents });
        const issues = [...queue.issues, ...queue.tickets.flatMap((t) => t.issues)];
        const unnamed = issues.find((i) => i.file !== ticketRel);
        return unnamed ? `an issue does not name the ticket: ${JSON.stringify(unnamed)}` : null;
      },
    },
    {
      name: '.codex-autorunner/config.yml',
      file: paths.configFile,
      seed: REPO_CONFIG,
      limit: INPUT_LIMITS.configFileBytes,
      read: () => {
        try {
          loadConfig(app, {});
          return null;
        } catch (err) {
          return ownError(err, ConfigError, '.codex-autorunner/config.yml');
        }
      },
    },
    hubConfig('codex-autorunner.yml', join(hub.root, 'codex-autorunner.yml')),
    hubConfig('.codex-autorunner/config.yml', join(hub.root, '.codex-autorunner/config.yml')),
    {
      name: 'manifest.yml',
      file: manifest,
      seed: readFileSync(manifest, 'utf8'),
      limit: INPUT_LIMITS.manifestFileBytes,
      read: () => {
        try {
          readManifest(manifest);
        } catch (err) {
          const problem = ownError(err, ManifestError, 'manifest.yml');
          if (problem) return problem;
        }
        try {
          loadConfig(app, {});
          return null;
        } catch (err) {
          return ownError(err, ConfigError, 'manifest.yml');
        }
      },
    },
    {
      name: 'DISPATCH.md',
      file: run.dispatchFile,
      seed: '---\nmode: pause\ntitle: Which database?\noptions: [SQLite, Postgres]\n---\n\nPick one.\n',
      limit: INPUT_LIMITS.frontmatterBytes,
      read: () => {
        try {
          readDispatchFile(run.dispatchFile);
          return null;
        } catch (err) {
          if (err instanceof DispatchFrontmatterError && err.message) return null;
          return err instanceof Error ? (err.stack ?? err.message) : String(err);
        }
      },
    },
    {
      name: 'USER_REPLY.md',
      file: run.replyFile,
      seed: '---\ntitle: Answer\nextra: [1, 2]\n---\nUse SQLite.\n',
      limit: INPUT_LIMITS.frontmatterBytes,
      read: async () => {
        await archiveReply(run);
        return null;
      },
    },
    {
      name: 'flow.lock',
      file: paths.lockFile,
      seed: JSON.stringify({
        pid: 999_999_999,
        host: 'elsewhere',
        started_at: '2026-01-01T00:00:00Z',
        argv: ['car'],
      }),
      limit: 64 * KiB,
      read: () => {
        readLock(paths.lockFile);
        return null;
      },
    },
    {
      name: 'agent-groups.json',
      file: paths.agentGroupsFile,
      seed: JSON.stringify({
        version: 1,
        boot_id: 'not-this-boot',
        owner_pid: 999_999_999,
        groups: [{ pgid: 999_999_998, command: 'codex', started_at: '2026-01-01T00:00:00Z', start: 1 }],
      }),
      limit: 64 * KiB,
      read: () => {
        readGroupLedger(paths.agentGroupsFile);
        return null;
      },
    },
    {
      name: 'hub_state.json',
      file: join(hub.root, '.codex-autorunner/hub_state.json'),
      seed: JSON.stringify({ last_scan_at: '2026-01-01T00:00:00Z', repos: { app: { status: 'idle' } } }),
      limit: 64 * KiB,
      read: () => {
        readHubState(join(hub.root, '.codex-autorunner/hub_state.json'));
        return null;
      },
    },
    {
      name: 'hub_supervisor.json',
      file: join(hub.root, '.codex-autorunner/hub_supervisor.json'),
      seed: JSON.stringify({ pid: 999_999_999, started_at: '2026-01-01T00:00:00Z', running: ['app'] }),
      limit: 64 * KiB,
      read: () => {
        supervisorReport(openHubAt(hub.root, {}));
        return null;
      },
    },
    {
      name: 'evidence record',
      file: join(app, evidenceFile),
      seed: EVIDENCE,
      limit: 64 * KiB,
      // Read back by `car ticket evidence`, as text or JSON (in-process: a CLI run per input).
      read: async () => {
        const argv = ['ticket', 'evidence', '1', ...(++evidenceRuns % 2 === 0 ? ['--json'] : [])];
        const res = await car(argv, { cwd: app });
        const crashed = /internal error|\n\s+at /.test(res.stderr) || ![0, 1, 2, 3].includes(res.code);
        return crashed ? `car ${argv.join(' ')} exited ${res.code}: ${res.stderr}` : null;
      },
    },
  ];
}

/** The evidence row `car ticket evidence` finds the record file through. */
function recordEvidenceRow(): void {
  writeFileSync(join(app, '.codex-autorunner/tickets/TICKET-001.md'), TICKET);
  const store = openRunStore(repoPaths(app).dbFile);
  try {
    if (!store.getRun('fuzz-run')) store.createRun({ id: 'fuzz-run' });
    store.addArtifact({
      runId: 'fuzz-run',
      kind: 'evidence',
      path: evidenceFile,
      // The row is the record without output tails, as the engine stores it.
      metadata: {
        ...JSON.parse(EVIDENCE),
        commands: JSON.parse(EVIDENCE).commands.map(({ output_tail: _, ...c }: Record<string, unknown>) => c),
      },
    });
  } finally {
    store.close();
  }
}

test('every file car reads: mutated inputs are read or refused with a clear error, in bounded time', async (t) => {
  recordEvidenceRow();
  const findings: string[] = [];
  let inputs = 0;
  let slowest = { ms: 0, what: '' };
  const perFile: string[] = [];
  const all = targets();
  for (const [n, target] of all.entries()) {
    const mutator = new Mutator(SEED + n);
    const seed = Buffer.from(target.seed, 'utf8');
    const fileStart = cpuTimeMs();
    for (let i = 0; i < ITERATIONS; i++) {
      const bytes = mutator.mutate(seed, target.limit);
      mkdirSync(dirname(target.file), { recursive: true });
      writeFileSync(target.file, bytes);
      inputs++;
      const started = cpuTimeMs();
      let problem: string | null;
      try {
        problem = await target.read();
      } catch (err) {
        problem = err instanceof Error ? (err.stack ?? err.message) : String(err);
      }
      const ms = cpuTimeMs() - started;
      if (ms > slowest.ms) slowest = { ms, what: `${target.name} #${i}` };
      if (ms > CPU_BOUND_MS) problem ??= `took ${Math.round(ms)} ms of CPU`;
      if (problem && findings.length < 20) {
        findings.push(
          `${target.name} #${i} (${bytes.length} bytes ${JSON.stringify(bytes.subarray(0, 300).toString('utf8'))}): ${problem}`,
        );
      }
    }
    writeFileSync(target.file, seed);
    perFile.push(`${target.name} ${Math.round(cpuTimeMs() - fileStart)} ms`);
  }
  t.diagnostic(
    `${inputs} mutated inputs over ${all.length} files; slowest ${Math.round(slowest.ms)} ms of CPU (${slowest.what}); per file: ${perFile.join(', ')}`,
  );
  assert.deepEqual(findings, []);
});
