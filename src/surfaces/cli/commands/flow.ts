import { readFileSync } from 'node:fs';
import { userInfo } from 'node:os';
import { resolve } from 'node:path';
import { agentProcessPort } from '../../../agents/orphans.ts';
import { createAgentResolver } from '../../../agents/resolver.ts';
import {
  type AbortReason,
  FlowControl,
  FlowControlError,
  type FlowOutcome,
  runWorker,
  type StartOptions,
} from '../../../control/flow-control.ts';
import { defaultAgentId, knownAgentIds } from '../../../core/config/agents.ts';
import { secretEnvToRemove } from '../../../core/config/secrets.ts';
import { runPaths } from '../../../core/flow/run-paths.ts';
import { formatBytes, INPUT_LIMITS, readFileBounded } from '../../../core/input-limits.ts';
import type { RunEvent } from '../../../core/store/types.ts';
import { seedBootstrapTicket } from '../../../core/tickets/create.ts';
import {
  type InvalidTicketFile,
  invalidTicketFiles,
  loadTicketQueue,
  MAX_SPEC_BYTES,
  seedPlan,
  type Ticket,
  TicketCreateError,
} from '../../../core/tickets/index.ts';
import { createLanePorts, createRepoState } from '../../../integrations/git/index.ts';
import { approvalJson } from '../../approval-json.ts';
import { flowStatusReport, runJson } from '../../flow-report.ts';
import { preferSmallHeap } from '../../lean-heap.ts';
import { pullRequestPort } from '../../pr-port.ts';
import { WorkerSpawnError, workerLauncher } from '../../worker-spawn.ts';
import type { Prestarted } from '../agent-prestart.ts';
import { type GlobalOptions, loadRepoConfig, resolveRepo } from '../context.ts';
import { CliError, EXIT } from '../errors.ts';
import { type CliIo, formatTable, painter, printJson } from '../io.ts';
import { ProgressPrinter } from '../progress.ts';
import { onStopSignals } from '../stop-signals.ts';

interface JsonFlag {
  json?: boolean;
}

/** The repo's control plane; `early` is the repo and config `prestartAgent` already read. */
async function openControl(io: CliIo, global: GlobalOptions, early?: Prestarted): Promise<FlowControl> {
  const repo = early?.repo ?? resolveRepo(io, global);
  const { config } = early?.loaded ?? (await loadRepoConfig(io, repo.paths.root));
  return new FlowControl(repo.paths, config, createRepoState(repo.paths.root), {
    agentProcesses: agentProcessPort,
    launcher: workerLauncher(io.env),
  });
}

/** Files in tickets/ meant as tickets that the run cannot work as they are. */
function invalidTickets(control: FlowControl): InvalidTicketFile[] {
  const queue = loadTicketQueue(control.paths.ticketsDir, {
    repoRoot: control.paths.root,
    agents: knownAgentIds(control.config),
  });
  return invalidTicketFiles(queue, control.paths.ticketsDir, defaultAgentId(control.config));
}

function printInvalidTickets(io: CliIo, files: readonly InvalidTicketFile[], note: string): void {
  if (files.length === 0) return;
  io.stdout(`${painter(io)('yellow', `invalid ticket files (${files.length}):`)} ${note}\n`);
  for (const f of files) io.stdout(`  ${f.file}: ${f.problem}\n    fix: ${f.fix}\n`);
}

/** Maps control-plane refusals and a worker that cannot start to exit codes; everything else propagates. */
async function guarded<T>(fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (err) {
    if (err instanceof WorkerSpawnError) throw new CliError(err.message, EXIT.failed);
    if (err instanceof FlowControlError) {
      const code = {
        busy: EXIT.conflict,
        wrong_state: EXIT.conflict,
        blocked: EXIT.failed,
        no_run: EXIT.usage,
        not_found: EXIT.usage,
      }[err.code];
      throw new CliError(err.message, code);
    }
    throw err;
  }
}

/** Exit code of a finished foreground run: completed 0, failed 1, paused or stopped 5. */
export function outcomeExit(outcome: FlowOutcome): number {
  if (outcome.status === 'completed') return EXIT.ok;
  if (outcome.status === 'failed') return EXIT.failed;
  return EXIT.notFinished;
}

/** Runs the flow in this process with live progress; Ctrl-C pauses (resumable), SIGTERM stops. */
async function foreground(
  io: CliIo,
  control: FlowControl,
  runId: string,
  opts: { quiet?: boolean; stopAfterRuns?: number; resolver?: Prestarted['resolver'] } = {},
): Promise<FlowOutcome> {
  const printer = opts.quiet ? null : new ProgressPrinter(io);
  const abort = new AbortController();
  // an agent's kill grace (codex: interrupt 5 s, then SIGTERM → SIGKILL 3 s) fits in the 15 s
  const signals = onStopSignals(
    io,
    'the run',
    (signal) => abort.abort((signal === 'SIGINT' ? 'pause' : 'stop') satisfies AbortReason),
    15_000,
  );
  try {
    const outcome = await runWorker({
      control,
      runId,
      // git hooks and agents run the repo's code: neither gets car's secrets
      repo: createRepoState(control.paths.root, { unsetEnv: secretEnvToRemove(control.config) }),
      resolveAgent: opts.resolver ?? createAgentResolver(control.config, { root: control.paths.root }),
      lanePorts: createLanePorts(secretEnvToRemove(control.config)),
      pullRequests: pullRequestPort(
        control.paths.root,
        control.paths.ticketsDir,
        control.config,
        control.store,
        io.env,
      ),
      signal: abort.signal,
      ...(opts.stopAfterRuns !== undefined ? { stopAfterRuns: opts.stopAfterRuns } : {}),
      ...(printer ? { onProgress: printer.onProgress } : {}),
      ...(io.exit ? { guard: { stderr: io.stderr, exit: io.exit } } : {}),
    });
    printer?.finish(outcome);
    return outcome;
  } finally {
    signals.dispose();
  }
}

interface StartFlags {
  new?: boolean;
  maxTotalTurns?: number;
  /** `car run` only: agent turns before this invocation pauses the run. */
  stopAfterRuns?: number;
  force?: boolean;
  foreground?: boolean;
  json?: boolean;
  lanes?: number;
  /** CAR's `ticket-flow bootstrap`: seed the bootstrap ticket into an empty queue first. */
  bootstrap?: boolean;
}

/** `--bootstrap`: the bootstrap ticket as TICKET-001.md when the queue has no ticket yet (else null). */
function seedBootstrap(io: CliIo, control: FlowControl, flags: StartFlags): Ticket | null {
  if (!flags.bootstrap) return null;
  let seeded: Ticket | null;
  try {
    seeded = seedBootstrapTicket(
      control.paths,
      knownAgentIds(control.config),
      defaultAgentId(control.config),
    );
  } catch (err) {
    if (err instanceof TicketCreateError) throw new CliError(`bootstrap ticket: ${err.message}`, EXIT.usage);
    throw err;
  }
  if (seeded && !flags.json)
    io.stdout(`seeded ${seeded.relPath}: the agent turns the request into tickets first\n`);
  return seeded;
}

function startOptions(flags: StartFlags): StartOptions {
  const opts: StartOptions = {};
  if (flags.new) opts.newRun = true;
  if (flags.force) opts.force = true;
  if (flags.maxTotalTurns !== undefined) opts.maxTotalTurns = flags.maxTotalTurns;
  if (flags.lanes !== undefined) opts.lanes = flags.lanes;
  return opts;
}

/** `car run`: start or continue the queue in the foreground. */
export async function runCommand(
  io: CliIo,
  global: GlobalOptions,
  flags: StartFlags,
  early?: Prestarted,
): Promise<void> {
  preferSmallHeap();
  const control = await openControl(io, global, early);
  try {
    seedBootstrap(io, control, flags);
    const prepared = await guarded(() => control.prepareStart(startOptions(flags)));
    io.stdout(`${prepared.action} run ${prepared.run.id}\n`);
    const outcome = await guarded(() =>
      foreground(io, control, prepared.run.id, {
        ...(flags.stopAfterRuns !== undefined ? { stopAfterRuns: flags.stopAfterRuns } : {}),
        ...(early ? { resolver: early.resolver } : {}),
      }),
    );
    const code = outcomeExit(outcome);
    if (code !== EXIT.ok) throw new CliError('', code);
  } finally {
    control.close();
    // the run closes its resolver; this one when there was no run (a refusal) to close what it started
    await early?.resolver.close();
  }
}

export async function flowStart(io: CliIo, global: GlobalOptions, flags: StartFlags): Promise<void> {
  if (flags.foreground) return runCommand(io, global, flags);
  const control = await openControl(io, global);
  try {
    const seeded = seedBootstrap(io, control, flags);
    const { run, action, workerPid } = await guarded(() => control.launchStart(startOptions(flags)));
    const log = `${runPaths(control.paths.root, run.id).rel.runDir}/worker.log`;
    const invalid = invalidTickets(control);
    if (flags.json)
      printJson(io, {
        run_id: run.id,
        action,
        worker_pid: workerPid,
        log,
        invalid_tickets: invalid,
        ...(flags.bootstrap ? { seeded_ticket: seeded?.relPath ?? null } : {}),
      });
    else {
      io.stdout(
        `${action} run ${run.id}; worker pid ${workerPid} (log: ${log}). Follow: car flow events --follow\n`,
      );
      printInvalidTickets(io, invalid, 'the run pauses (ticket_invalid) on these until they are fixed');
    }
  } finally {
    control.close();
  }
}

/** `car flow bootstrap --from <file|->`: the spec into contextspace, a planning ticket, then a run. */
export async function flowBootstrap(
  io: CliIo,
  global: GlobalOptions,
  flags: StartFlags & { from: string; agent?: string; replaceSpec?: boolean; start?: boolean },
): Promise<void> {
  let spec: string;
  try {
    const bytes =
      flags.from === '-'
        ? readFileSync(0)
        : readFileBounded(resolve(io.cwd, flags.from), MAX_SPEC_BYTES, 'a spec');
    spec = new TextDecoder('utf-8', { fatal: true }).decode(bytes);
  } catch (err) {
    const why =
      (err as NodeJS.ErrnoException).code === 'ERR_ENCODING_INVALID_ENCODED_DATA'
        ? 'it is not valid UTF-8'
        : (err as Error).message;
    throw new CliError(`cannot read --from ${flags.from}: ${why}`, EXIT.usage);
  }
  const control = await openControl(io, global);
  let seeded: ReturnType<typeof seedPlan>;
  try {
    const agents = knownAgentIds(control.config);
    seeded = seedPlan(control.paths, agents, flags.agent ?? defaultAgentId(control.config), spec, {
      replace: flags.replaceSpec ?? false,
    });
  } catch (err) {
    if (!(err instanceof TicketCreateError)) throw err;
    const hint =
      err.code === 'spec_exists' ? '; replace it with --replace-spec (or edit it and car flow start)' : '';
    throw new CliError(`${err.message}${hint}`, EXIT.usage);
  } finally {
    control.close();
  }
  const spec_file = relTo(control.paths.root, seeded.specFile);
  if (flags.start === false) {
    if (flags.json) printJson(io, { spec_file, plan_ticket: seeded.ticket.relPath, run_id: null });
    else io.stdout(`wrote ${spec_file} and ${seeded.ticket.relPath}; start it: car flow start\n`);
    return;
  }
  if (!flags.json) io.stdout(`wrote ${spec_file} and ${seeded.ticket.relPath}\n`);
  const start = { ...flags, bootstrap: false };
  if (flags.json && !flags.foreground) {
    const captured: string[] = [];
    await flowStart({ ...io, stdout: (t) => captured.push(t) }, global, start);
    printJson(io, { spec_file, plan_ticket: seeded.ticket.relPath, ...JSON.parse(captured.join('')) });
  } else if (flags.foreground) await runCommand(io, global, start);
  else await flowStart(io, global, start);
}

const relTo = (root: string, abs: string) => abs.slice(root.length + 1);

export async function flowResume(
  io: CliIo,
  global: GlobalOptions,
  flags: StartFlags & { run?: string },
): Promise<void> {
  const control = await openControl(io, global);
  try {
    if (flags.foreground) {
      const run = await guarded(() => control.resume(flags.run, startOptions(flags)));
      const outcome = await guarded(() => foreground(io, control, run.id));
      const code = outcomeExit(outcome);
      if (code !== EXIT.ok) throw new CliError('', code);
      return;
    }
    const { run, workerPid } = await guarded(() => control.launchResume(flags.run, startOptions(flags)));
    if (flags.json) printJson(io, { run_id: run.id, action: 'resumed', worker_pid: workerPid });
    else io.stdout(`resumed run ${run.id}; worker pid ${workerPid}\n`);
  } finally {
    control.close();
  }
}

/** Hidden: the detached worker process `car flow start` spawns. */
export async function flowWorker(
  io: CliIo,
  global: GlobalOptions,
  flags: { run: string },
  early?: Prestarted,
): Promise<void> {
  preferSmallHeap();
  const control = await openControl(io, global, early);
  try {
    io.stdout(`worker pid ${process.pid} run ${flags.run} repo ${control.paths.root}\n`);
    const outcome = await guarded(() =>
      foreground({ ...io, isTTY: false }, control, flags.run, early ? { resolver: early.resolver } : {}),
    );
    const code = outcomeExit(outcome);
    if (code !== EXIT.ok) throw new CliError('', code);
  } finally {
    control.close();
    await early?.resolver.close();
  }
}

export async function flowRequest(
  io: CliIo,
  global: GlobalOptions,
  what: 'pause' | 'stop',
  flags: JsonFlag & { run?: string },
): Promise<void> {
  const control = await openControl(io, global);
  try {
    const result = await guarded(async () => control.request(flags.run, what));
    if (flags.json) {
      printJson(io, {
        run_id: result.run.id,
        status: result.run.status,
        immediate: result.immediate,
        worker_pid: result.workerPid,
        orphans_stopped: result.orphans,
      });
    } else if (result.immediate) {
      io.stdout(`run ${result.run.id} ${result.run.status}\n`);
      for (const o of result.orphans) {
        const how = o.signal ? `stopped (${o.signal})` : 'could NOT be stopped';
        io.stdout(
          `agent left running by a killed worker: ${o.command}, process group ${o.pgid} (${o.processes} process(es)), ${how}\n`,
        );
      }
    } else {
      io.stdout(
        `${what} requested for run ${result.run.id}; worker pid ${result.workerPid} ${what === 'stop' ? 'is stopping' : 'pauses after the current turn'}\n`,
      );
    }
  } finally {
    control.close();
  }
}

export async function flowReply(
  io: CliIo,
  global: GlobalOptions,
  words: string[],
  flags: JsonFlag & { run?: string; file?: string; title?: string; resume?: boolean },
): Promise<void> {
  let body = words.join(' ');
  const limit = INPUT_LIMITS.replyFileBytes;
  if (flags.file) {
    try {
      body =
        flags.file === '-'
          ? readFileSync(0, 'utf8')
          : readFileBounded(resolve(io.cwd, flags.file), limit, 'a reply').toString('utf8');
    } catch (err) {
      throw new CliError(`cannot read --file ${flags.file}: ${(err as Error).message}`, EXIT.usage);
    }
  }
  if (!body.trim()) throw new CliError('the reply is empty: give text or --file', EXIT.usage);
  // USER_REPLY.md over the limit would be archived unread: refuse it here, before anything is written.
  const bytes = Buffer.byteLength(body, 'utf8');
  if (bytes > limit) {
    throw new CliError(
      `the reply is ${formatBytes(bytes)}, over the ${formatBytes(limit)} limit for a reply; nothing was written`,
      EXIT.usage,
    );
  }
  const control = await openControl(io, global);
  try {
    const {
      run,
      file,
      workerPid: worker,
    } = flags.resume
      ? await guarded(() => control.replyAndResume(flags.run, body, flags.title))
      : { ...(await guarded(() => control.reply(flags.run, body, flags.title))), workerPid: null };
    if (flags.json)
      printJson(io, { run_id: run.id, reply_file: file, resumed: worker !== null, worker_pid: worker });
    else
      io.stdout(
        `reply written to ${file}${worker !== null ? `; run ${run.id} resumed (worker pid ${worker})` : ''}\n`,
      );
  } finally {
    control.close();
  }
}

export async function flowStatus(
  io: CliIo,
  global: GlobalOptions,
  flags: JsonFlag & { run?: string },
): Promise<void> {
  const control = await openControl(io, global);
  try {
    const report = await guarded(async () => flowStatusReport(control, flags.run));
    const { worker, tickets } = report;
    const last = report.last_event;
    if (flags.json) {
      printJson(io, report);
      return;
    }
    const paint = painter(io);
    const r = report.run;
    if (!r) io.stdout('no runs yet\n');
    else {
      io.stdout(`run ${r.run_id}: ${paint('bold', r.status)}${r.reason_code ? ` (${r.reason_code})` : ''}\n`);
      if (r.reason) io.stdout(`  reason: ${r.reason}\n`);
      io.stdout(
        `  turns: ${r.total_turns}/${r.turn_limit}${r.current_ticket ? `, working ${r.current_ticket}` : ''}\n`,
      );
      const t = r.tokens;
      const of = (limit: number | null) => (limit === null ? '' : ` of ${limit}`);
      io.stdout(
        `  tokens: ${t.run}${of(t.run_limit)} this run${t.ticket === null ? '' : `, ${t.ticket}${of(t.ticket_limit)} this ticket`}\n`,
      );
      if (r.quota_wait)
        io.stdout(
          `  waiting: ${r.quota_wait.agent}'s usage limit resets; going on at ${r.quota_wait.until}\n`,
        );
      if (last) io.stdout(`  last event: #${last.seq} ${last.type} at ${last.at}\n`);
    }
    io.stdout(
      `worker: ${worker.status}${'pid' in worker ? ` (pid ${worker.pid} on ${worker.host} since ${worker.since})` : ''}\n`,
    );
    io.stdout(
      `tickets: ${tickets.done}/${tickets.total} done${tickets.blocked > 0 ? `, ${tickets.blocked} blocked` : ''}` +
        `${tickets.next ? `, next ${tickets.next}` : ''}\n`,
    );
    printInvalidTickets(io, tickets.invalid, 'car cannot work these as they are');
    const lanes = report.lanes;
    if (lanes) {
      io.stdout(
        `lanes: ${lanes.open.length} open of ${lanes.count}, merging into ${lanes.integration}; ${lanes.merged.length} merged\n`,
      );
      for (const l of lanes.open) {
        const why = l.blocked ?? (l.phase === 'waiting' ? l.reason : null);
        io.stdout(
          `  lane ${l.lane}: ${l.ticket} ${l.phase} (run ${l.run_id} ${l.status ?? '?'})${why ? `: ${why}` : ''}\n`,
        );
      }
    }
    for (const pr of report.pull_requests) {
      const review = pr.review ? `, review ${pr.review}` : '';
      io.stdout(
        `pull request #${pr.number} (${pr.head} → ${pr.base}): ${pr.state}, checks ${pr.checks}${review}: ${pr.url}\n`,
      );
    }
    io.stdout(`next step: ${report.recommended_action}\n`);
    const car = report.car_flows_db;
    if (car) {
      const latest = car.latest ? `, latest ${car.latest.run_id} ${car.latest.status}` : '';
      io.stdout(
        car.error
          ? `CAR's history: ${car.file} could not be read (${car.error}); car does not need it\n`
          : `CAR's history: ${car.file}, ${car.ticket_flow_runs} ticket_flow run(s)${latest}; not imported (car keeps its runs in car.db)\n`,
      );
    }
  } finally {
    control.close();
  }
}

export async function flowRuns(
  io: CliIo,
  global: GlobalOptions,
  flags: JsonFlag & { limit: number },
): Promise<void> {
  const control = await openControl(io, global);
  try {
    const runs = control.store.listRuns({ limit: flags.limit });
    if (flags.json) {
      printJson(io, { runs: runs.map((r) => runJson(r, control)) });
      return;
    }
    if (runs.length === 0) {
      io.stdout('no runs yet\n');
      return;
    }
    const rows = [['RUN', 'STATUS', 'REASON', 'TURNS', 'CREATED']];
    for (const r of runs) {
      const j = runJson(r, control);
      rows.push([r.id, r.status, r.reasonCode ?? '', String(j.total_turns), r.createdAt]);
    }
    io.stdout(`${formatTable(rows)}\n`);
  } finally {
    control.close();
  }
}

export async function flowShow(
  io: CliIo,
  global: GlobalOptions,
  runId: string,
  flags: JsonFlag,
): Promise<void> {
  const control = await openControl(io, global);
  try {
    const run = await guarded(async () => control.runOrLatest(runId));
    const turns = control.store.listTurns(run.id);
    const stats = control.store.eventStats(run.id);
    if (flags.json) {
      printJson(io, {
        run: runJson(run, control),
        turns,
        event_stats: stats,
        artifacts: control.store.listArtifacts(run.id),
      });
      return;
    }
    const r = runJson(run, control);
    io.stdout(`run ${r.run_id}: ${r.status}${r.reason_code ? ` (${r.reason_code}: ${r.reason})` : ''}\n`);
    io.stdout(`created ${r.created_at}, started ${r.started_at ?? '-'}, finished ${r.finished_at ?? '-'}\n`);
    const rows = [['TURN', 'STATUS', 'KIND', 'AGENT', 'TICKET', 'STARTED', 'ERROR']];
    for (const t of turns) {
      rows.push([String(t.seq), t.status, t.kind, t.agent, t.ticketPath ?? '', t.startedAt, t.error ?? '']);
    }
    io.stdout(`${formatTable(rows)}\n`);
    const dropped = stats.filter((s) => s.dropped > 0);
    for (const s of dropped)
      io.stdout(`note: ${s.dropped} ${s.type} event(s) over the per-run cap were not stored\n`);
  } finally {
    control.close();
  }
}

function eventLine(e: RunEvent): string {
  const data = JSON.stringify(e.data);
  return `#${e.seq} ${e.at} ${e.type}${data === '{}' ? '' : ` ${data.length > 200 ? `${data.slice(0, 197)}...` : data}`}`;
}

export async function flowEvents(
  io: CliIo,
  global: GlobalOptions,
  runId: string | undefined,
  flags: JsonFlag & { after?: number; type?: string[]; limit: number; tail?: number; follow?: boolean },
): Promise<void> {
  const control = await openControl(io, global);
  try {
    const run = await guarded(async () => control.runOrLatest(runId));
    let after = flags.after ?? 0;
    const print = (events: RunEvent[]) => {
      for (const e of events) io.stdout(flags.json ? `${JSON.stringify(e)}\n` : `${eventLine(e)}\n`);
      if (events.length > 0) after = events.at(-1)!.seq;
    };
    const types = flags.type && flags.type.length > 0 ? { types: flags.type } : {};
    const page = flags.tail !== undefined ? { limit: flags.tail, fromEnd: true } : { limit: flags.limit };
    print(control.store.listEvents(run.id, { afterSeq: after, ...page, ...types }));
    if (!flags.follow) return;
    // Follow until the run stops being active and nothing new is left to print.
    const active = new Set(['pending', 'running', 'stopping']);
    for (;;) {
      await new Promise((r) => setTimeout(r, 200));
      const batch = control.store.listEvents(run.id, { afterSeq: after, limit: 1000, ...types });
      print(batch);
      if (batch.length === 0 && !active.has(control.store.getRun(run.id)?.status ?? '')) return;
    }
  } finally {
    control.close();
  }
}

export async function flowApprovals(
  io: CliIo,
  global: GlobalOptions,
  flags: JsonFlag & { all?: boolean; run?: string },
): Promise<void> {
  const control = await openControl(io, global);
  try {
    const list = control.approvals({
      ...(flags.all ? { all: true } : {}),
      ...(flags.run ? { runId: flags.run } : {}),
    });
    if (flags.json) {
      printJson(io, { approvals: list.map(approvalJson) });
      return;
    }
    if (list.length === 0) {
      io.stdout(flags.all ? 'no approvals\n' : 'no approvals waiting\n');
      return;
    }
    io.stdout(
      `${formatTable([
        ['ID', 'STATUS', 'KIND', 'TICKET', 'WHAT', flags.all ? 'ANSWER' : 'EXPIRES'],
        ...list.map((a) => [
          a.id,
          a.status,
          a.kind,
          (a.ticket ?? '').split('/').pop() ?? '',
          a.title.length > 60 ? `${a.title.slice(0, 57)}...` : a.title,
          flags.all ? `${a.decision ?? ''}${a.answeredBy ? ` (${a.answeredBy})` : ''}` : a.expiresAt,
        ]),
      ])}\n`,
    );
    if (!flags.all) io.stdout('answer: car flow approve <id> [--session] | car flow deny <id>\n');
  } finally {
    control.close();
  }
}

/** `car flow approve|deny <id>`: the answer goes to the waiting agent; who answered is recorded. */
export async function flowAnswerApproval(
  io: CliIo,
  global: GlobalOptions,
  id: string,
  what: 'approve' | 'deny',
  flags: JsonFlag & { session?: boolean },
): Promise<void> {
  if (what === 'deny' && flags.session) throw new CliError('--session goes with approve only', EXIT.usage);
  const control = await openControl(io, global);
  try {
    const decision = what === 'deny' ? 'decline' : flags.session ? 'accept_for_session' : 'accept';
    const approval = await guarded(async () =>
      control.answerApproval(id.trim(), decision, `cli:${userInfo().username}`),
    );
    if (flags.json) {
      printJson(io, { approval: approvalJson(approval) });
      return;
    }
    io.stdout(`${what === 'deny' ? 'denied' : 'approved'} ${approval.id}: ${approval.title}\n`);
  } finally {
    control.close();
  }
}
