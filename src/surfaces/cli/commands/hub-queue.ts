// The hub queue on PostgreSQL from the command line: `car hub run` when `hub.queue.kind` is postgres,
// `car hub queue init`, the queue part of `car hub status`, and `car worker --hub-queue`.
import { homedir } from 'node:os';
import { basename, resolve } from 'node:path';
import { type QueueSupervisorEvent, superviseHubQueue } from '../../../control/hub-queue-supervisor.ts';
import type { HubSettings } from '../../../core/hub/config.ts';
import { readManifest } from '../../../core/hub/manifest.ts';
import type { Hub } from '../../../core/hub/registry.ts';
import { runGitText } from '../../../integrations/git/index.ts';
import {
  initPgQueue,
  openHubQueue,
  openQueueWorker,
  PgQueueError,
  workerIdentity,
} from '../../../integrations/pg-queue/pg-boss-queue.ts';
import type { QueueReport } from '../../hub-queue-report.ts';
import { preferSmallHeap } from '../../lean-heap.ts';
import { runQueueWorker } from '../../queue-worker.ts';
import { CliError, EXIT } from '../errors.ts';
import { type CliIo, formatTable, printJson } from '../io.ts';
import { onStopSignals } from '../stop-signals.ts';

type QueueSettings = HubSettings['queue'];

/** The database URL from the env var `url_env` names; never printed. */
function databaseUrl(io: CliIo, urlEnv: string, where: string): string {
  const url = io.env[urlEnv];
  if (!url)
    throw new CliError(
      `${where} names ${urlEnv} for the hub queue's database URL, and it is not set (export ${urlEnv}=postgres://...)`,
      EXIT.usage,
    );
  return url;
}

async function pgGuarded<T>(fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (err) {
    if (err instanceof PgQueueError) throw new CliError(err.message, EXIT.failed);
    throw err;
  }
}

/** `car hub queue init [--grant-role <role>...]`: the queue's tables, and the grants each worker role needs. */
export async function hubQueueInit(
  io: CliIo,
  hub: Hub,
  flags: { grantRole?: string[]; json?: boolean },
): Promise<void> {
  const q = postgresOnly(hub.settings.queue);
  const url = databaseUrl(io, q.url_env, 'hub.queue.url_env');
  const roles = flags.grantRole ?? [];
  await pgGuarded(() => initPgQueue(url, roles));
  if (flags.json) return printJson(io, { ok: true, granted: roles });
  io.stdout(`hub queue ready${roles.length > 0 ? `; granted worker access to ${roles.join(', ')}` : ''}\n`);
}

function postgresOnly(q: QueueSettings): QueueSettings {
  if (q.kind !== 'postgres')
    throw new CliError(
      'hub.queue.kind is sqlite: the hub starts local workers; set it to postgres first',
      EXIT.usage,
    );
  return q;
}

/** True when a remote URL carries a password or token (`https://user:token@host/...`). */
function carriesSecret(url: string): boolean {
  if (!/^[a-z][a-z0-9+.-]*:\/\//i.test(url)) return false; // scp-like ssh syntax or a path
  try {
    return new URL(url).password !== '';
  } catch {
    return false;
  }
}

async function gitOrigin(dir: string): Promise<{ remoteUrl: string; branch: string } | { error: string }> {
  let remoteUrl: string;
  let branch: string;
  try {
    remoteUrl = (await runGitText(['remote', 'get-url', 'origin'], { cwd: dir, readOnly: true })).trim();
    branch = (await runGitText(['symbolic-ref', '--short', 'HEAD'], { cwd: dir, readOnly: true })).trim();
  } catch {
    return {
      error: 'no git remote origin (or no branch checked out): workers on other machines clone it from there',
    };
  }
  // a job's payload is readable by every worker role: credentials belong in each machine's git setup
  if (carriesSecret(remoteUrl))
    return {
      error:
        'its git remote origin carries a password or token; give workers ssh keys or a credential helper instead',
    };
  return { remoteUrl, branch };
}

function describeEvent(e: QueueSupervisorEvent): string {
  switch (e.type) {
    case 'enqueued':
      return `${e.repo}: queued job ${e.jobId}`;
    case 'following':
      return `${e.repo}: already queued as job ${e.jobId}, following it`;
    case 'taken':
      return `${e.repo}: ${e.attempt > 0 ? 'taken over' : 'taken'} by ${e.worker} on ${e.host}`;
    case 'finished':
      return `${e.repo}: job ${e.state}, run ${e.status ?? 'unknown'}${e.reasonCode ? ` (${e.reasonCode})` : ''}${e.worker ? ` by ${e.worker}` : ''}`;
    case 'skipped':
      return `${e.repo}: skipped, ${e.reason}`;
    case 'queue_unreachable':
      return `the hub queue's database is out of reach (${e.message}); looking again`;
    case 'queue_reachable':
      return "the hub queue's database is back";
  }
}

/** `car hub run` with a postgres queue: enqueue runnable repos, follow their jobs to the end. */
export async function hubQueueRun(
  io: CliIo,
  hub: Hub,
  flags: { pollSeconds?: number; watch?: boolean; json?: boolean },
): Promise<void> {
  preferSmallHeap();
  const q = hub.settings.queue;
  const url = databaseUrl(io, q.url_env, 'hub.queue.url_env');
  await pgGuarded(() => initPgQueue(url));
  const queue = await pgGuarded(() => openHubQueue({ url }));
  const abort = new AbortController();
  const signals = onStopSignals(io, 'car hub run', () => abort.abort());
  const events: QueueSupervisorEvent[] = [];
  try {
    if (!flags.json) io.stdout(`supervising ${hub.root} through the postgres hub queue\n`);
    const result = await superviseHubQueue(
      {
        hubRoot: hub.root,
        readRepos: () => readManifest(hub.paths.manifestFile).repos,
        queue,
        gitOrigin,
        lockFile: hub.paths.supervisorLock,
        stateFile: hub.paths.supervisorFile,
      },
      {
        leaseSeconds: q.lease_seconds,
        heartbeatSeconds: q.heartbeat_seconds,
        pollMs: (flags.pollSeconds ?? hub.settings.poll_seconds) * 1000,
        watch: flags.watch ?? false,
        signal: abort.signal,
        onEvent: (e) => {
          events.push(e);
          if (!flags.json) io.stdout(`${describeEvent(e)}\n`);
        },
      },
    );
    const outcomes = Object.values(result.repos);
    if (flags.json) printJson(io, { ...result, events });
    else io.stdout(`done: ${outcomes.length} repos through the queue\n`);
    if (outcomes.some((o) => o.state === 'failed' || o.status === 'failed'))
      throw new CliError('', EXIT.failed);
    if (outcomes.some((o) => o.status === 'paused' || o.status === 'stopped'))
      throw new CliError('', EXIT.notFinished);
  } finally {
    signals.dispose();
    await queue.close();
  }
}

export function printQueue(io: CliIo, report: QueueReport): void {
  if ('error' in report) {
    io.stdout(`queue: postgres, not readable: ${report.error}\n`);
    return;
  }
  if (report.jobs.length === 0) {
    io.stdout('queue: postgres, no jobs\n');
    return;
  }
  const rows = [['REPO', 'JOB', 'STATE', 'WORKER', 'HOST', 'TICKETS', 'RUN']];
  for (const j of report.jobs) {
    rows.push([
      // a ticket job (a repo with lanes) under its repo's job: `<repo> <ticket name>`
      j.ticket ? `${j.repo_id} ${basename(j.ticket).replace(/\.md$/i, '')}` : j.repo_id,
      j.job_id.slice(0, 8),
      j.attempt > 0 ? `${j.state} (takeover ${j.attempt})` : j.state,
      j.worker ?? '-',
      j.host ?? '-',
      j.tickets_total !== null ? `${j.tickets_done}/${j.tickets_total}` : '-',
      j.run_status ? `${j.run_status}${j.reason_code ? ` (${j.reason_code})` : ''}` : '-',
    ]);
  }
  io.stdout(`queue: postgres\n${formatTable(rows)}\n`);
}

interface WorkerFlags {
  hubQueue?: boolean;
  checkouts?: string;
  name?: string;
  urlEnv?: string;
  pollSeconds?: number;
  once?: boolean;
  ticketJobs?: number;
}

/** `car worker --hub-queue`: take repo jobs from the hub's queue and work them until SIGTERM. */
export async function workerCommand(io: CliIo, flags: WorkerFlags): Promise<void> {
  if (!flags.hubQueue)
    throw new CliError('car worker needs --hub-queue (the only queue it works so far)', EXIT.usage);
  const urlEnv = flags.urlEnv ?? 'CAR_PG_URL';
  const url = databaseUrl(io, urlEnv, '--url-env');
  // agents, verify commands and git hooks this worker starts never see the database URL
  delete process.env[urlEnv];
  preferSmallHeap();
  const checkoutsDir = resolve(
    io.cwd,
    flags.checkouts ?? resolve(homedir(), '.codex-autorunner', 'worker-checkouts'),
  );
  const me = workerIdentity(flags.name);
  const queue = await pgGuarded(() => openQueueWorker({ url }, me));
  const abort = new AbortController();
  // SIGTERM: the job in hand pauses, pushes what is done and goes back to the queue (within the grace)
  const signals = onStopSignals(io, 'car worker', () => abort.abort(), 30_000);
  try {
    io.stdout(`${me.name}: worker on ${me.host}, checkouts in ${checkoutsDir}\n`);
    const { jobs } = await runQueueWorker({
      queue,
      name: me.name,
      checkoutsDir,
      pollSeconds: flags.pollSeconds ?? 0.5,
      once: flags.once ?? false,
      ticketJobs: flags.ticketJobs ?? 1,
      signal: abort.signal,
      log: (line) => io.stdout(`${line}\n`),
      ...(io.exit ? { guard: { stderr: io.stderr, exit: io.exit } } : {}),
    });
    io.stdout(`${me.name}: stopped after ${jobs} job(s)\n`);
  } finally {
    signals.dispose();
    await queue.close();
  }
}
