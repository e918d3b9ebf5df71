// The merge queue's step: lanes whose tickets are done are merged onto the integration tip (git's
// in-memory merge, or a rebase in the scratch worktree), the verify gate runs again on the merged tree
// (tamper checks against the tip, the tickets' verify commands), and only then the integration branch
// moves, by compare-and-swap. Lanes queued together are merged in one pass and verified once; when that
// fails they are merged one by one, so the failing one is found. A conflict or a failing check sends the
// ticket back to its lane: car merges the tip into the lane's branch (leaving any conflict for the
// agent), sets `done: false`, and the next prompt says why.
import { existsSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { parseTicketBytes, setTicketFileField, type Ticket } from '../../tickets/index.ts';
import { planCommands } from '../../verify/commands.ts';
import { describeExit } from '../../verify/run-command.ts';
import type { FlowDeps } from '../flow-types.ts';
import type { LanePorts } from '../ports.ts';
import { RunContext } from '../run-context.ts';
import { runPaths } from '../run-paths.ts';
import { loadState, type MergeFeedback, newTicketProgress, newVerifyProgress } from '../state.ts';
import { commitTree, type GateTree, runVerifyGate } from '../verify-gate.ts';
import { branchRef, type LaneRecord, type LanesState, MERGE_TREE } from './lane-state.ts';
import { LaneSetupError, setupWorktree } from './setup.ts';

/** What one pass of the merge queue did with the lanes it took. */
export interface MergeResult {
  /** Merged into the integration branch (the scheduler closes them). */
  merged: LaneRecord[];
  /** Sent back to their lanes (which run again), or to a person after too many attempts. */
  sentBack: { lane: LaneRecord; toPerson: boolean }[];
  /** The integration branch cannot move now: someone moved it, or the person's changes are in the way. */
  blocked: { reason: 'moved' | 'local_changes' | 'setup_failed'; detail: string } | null;
  /** Several lanes merged together failed the re-verify: they go one at a time next, to find which. */
  split: boolean;
}

interface MergeHostBase {
  readonly deps: FlowDeps & { lanePorts: LanePorts };
  readonly runId: string;
  readonly lanes: LanesState;
  /** Writes the driving run's state and events in one transaction. */
  persist(events?: Parameters<RunContext['events']>[0]): void;
  /** `ticket_flow.lane_setup` ran in the scratch worktree (once per worker). */
  scratchSetUp: boolean;
  /** The scratch worktree was made or seen by this worker (so git need not be asked again). */
  scratchKnown: boolean;
}

/** Lanes in this process: a ticket that did not merge goes back to its lane, in a worktree again. */
interface LocalMergeHost extends MergeHostBase {
  /**
   * The folder of a lane sent back: its worktree, made again if it went on to another lane when its
   * ticket was queued; null when that failed (the lane then waits for a person).
   */
  worktreeFor(lane: LaneRecord): Promise<string | null>;
}

/** A ticket that did not merge goes elsewhere (a hub coordinator queues it as a new ticket job). */
interface RemoteMergeHost extends MergeHostBase {
  /** After the merge queue recorded why; true: it waits for a person. */
  sendBack(lane: LaneRecord, feedback: MergeFeedback): Promise<boolean>;
}

export type MergeHost = LocalMergeHost | RemoteMergeHost;

/**
 * One pass of the merge queue over the queued lanes `batch` (in queue order): each merged onto the one
 * before (in memory, no checkout), the gate run once on the result, the integration branch moved once.
 * Every lane's cost is shared: a merge is two git processes, and the checkout, the gate and the move
 * happen once a batch. A lane that conflicts with the tip itself is sent back; one that conflicts only
 * with lanes before it in the batch waits for the next pass.
 */
export async function mergeQueued(host: MergeHost, batch: readonly LaneRecord[]): Promise<MergeResult> {
  const { deps, lanes } = host;
  const { git } = deps.lanePorts;
  const root = deps.root;
  const started = Date.now();
  const result: MergeResult = { merged: [], sentBack: [], blocked: null, split: false };
  const onto = await git.resolve(root, branchRef(lanes.integration));
  if (!onto) throw new Error(`the integration branch ${lanes.integration} does not exist`);
  for (const lane of batch) lane.phase = 'merging';
  host.persist(
    batch.map((lane) => ({
      type: 'merge_started' as const,
      data: {
        lane: lane.slot,
        ticket: lane.ticket,
        onto,
        ...(batch.length > 1 ? { batch: batch.length } : {}),
      },
    })),
  );
  // git's in-memory merge needs no worktree; a rebase works in the scratch one
  const integrateIn = deps.settings.mergeMode === 'merge' ? root : await scratchTree(host, onto);
  let head = onto;
  for (const lane of batch) {
    const message = `car: merge ${lane.ticket.split('/').pop()?.replace(/\.md$/i, '')} (lane ${lane.slot})`;
    const merged = await git.integrate(integrateIn, head, lane.branch, deps.settings.mergeMode, message);
    if (merged.ok) {
      head = merged.sha;
      result.merged.push(lane);
    } else if (head !== onto) {
      lane.phase = 'queued'; // in the way of a lane merged before it: on its own against the new tip next
    } else {
      const feedback: MergeFeedback = {
        kind: 'conflict',
        integration: lanes.integration,
        onto,
        attempt: lane.mergeAttempts + 1,
        files: merged.conflicts,
        output: merged.output.slice(-4000),
      };
      result.sentBack.push({ lane, toPerson: await sendBackVia(host, lane, feedback) });
    }
  }
  const requeue = (): void => {
    for (const lane of result.merged) lane.phase = 'queued';
    result.merged = [];
  };
  if (result.merged.length === 0) return result;
  // The tip has not moved since a lone lane started from it: the merged tree is the lane's own, which
  // its gate verified; otherwise other work came in, and the merged tree is checked again.
  const [first] = result.merged;
  const verify = result.merged.length > 1 || first!.base !== onto;
  let failure: Omit<MergeFeedback, 'integration' | 'onto'> | null = null;
  if (verify) {
    const merged = commitTree(deps.lanePorts.repoAt(root), head);
    // the merged commit's diff is what the gate checks when no command needs a checkout: asked for now,
    // beside the tickets' reads (a ticket's own verify commands make it unused)
    if (deps.settings.verify.commands.length === 0) merged.files(onto).catch(() => {});
    const plan = await planReverify(deps, result.merged, merged, head);
    // with no command to run, the merged commit is checked as it is: no checkout, no scratch worktree
    const scratch = plan.commands.length > 0 ? await scratchAt(host, head) : null;
    if (scratch instanceof LaneSetupError) {
      requeue();
      result.blocked = {
        reason: 'setup_failed',
        detail: `${scratch.message}\n${scratch.output.slice(-2000)}`,
      };
      return result;
    }
    failure = await reverify(host, result.merged, plan, scratch ?? merged, onto);
  }
  if (failure) {
    if (result.merged.length > 1) {
      requeue();
      result.split = true;
      return result;
    }
    const lane = result.merged[0]!;
    result.merged = [];
    const feedback = { ...failure, integration: lanes.integration, onto };
    result.sentBack.push({ lane, toPerson: await sendBackVia(host, lane, feedback) });
    return result;
  }
  // recorded first: a worker killed during the move finds the commit it was moving to (lane-recover.ts)
  for (const lane of result.merged) {
    lane.phase = 'advancing';
    lane.mergedSha = head;
  }
  host.persist();
  const moved = await git.advance(root, lanes.integration, onto, head);
  if (!moved.ok) {
    requeue();
    result.blocked = { reason: moved.reason, detail: moved.detail };
    return result;
  }
  const ms = Date.now() - started;
  const together = result.merged.length;
  host.persist(
    result.merged.map((lane) => ({
      type: 'lane_merged' as const,
      data: {
        lane: lane.slot,
        ticket: lane.ticket,
        sha: head,
        ms,
        ...(together > 1 ? { batch: together } : {}),
      },
    })),
  );
  return result;
}

/** The merge queue's scratch worktree, made (at `commit`) when it is not there. */
async function scratchTree(host: MergeHost, commit: string): Promise<string> {
  const { root, lanePorts } = host.deps;
  const scratch = join(root, MERGE_TREE);
  const present =
    existsSync(join(scratch, '.git')) &&
    (host.scratchKnown || (await lanePorts.git.worktrees(root)).some((w) => w.path === scratch));
  if (!present) {
    rmSync(scratch, { recursive: true, force: true });
    await lanePorts.git.addDetachedWorktree(root, scratch, commit);
    host.scratchSetUp = false;
  }
  host.scratchKnown = true;
  return scratch;
}

/** The scratch worktree at `head`, set up once per worker (`ticket_flow.lane_setup`); its error if that fails. */
async function scratchAt(host: MergeHost, head: string): Promise<string | LaneSetupError> {
  const { deps } = host;
  const { git } = deps.lanePorts;
  const scratch = await scratchTree(host, head);
  if ((await git.resolve(scratch, 'HEAD')) !== head) await git.checkoutDetached(scratch, head);
  if (!host.scratchSetUp) {
    // after the merge is checked out, so what the setup makes fits the tree the commands run on
    try {
      await setupWorktree(deps, scratch);
    } catch (err) {
      if (!(err instanceof LaneSetupError)) throw err;
      return err;
    }
    host.scratchSetUp = true;
  }
  return scratch;
}

interface ReverifyPlan {
  /** The merged lanes' tickets, as the merged tree has them. */
  tickets: Ticket[];
  /** The commands of every ticket merged, each once. */
  commands: ReturnType<typeof planCommands>;
}

async function planReverify(
  deps: MergeHost['deps'],
  merged: readonly LaneRecord[],
  tree: GateTree,
  head: string,
): Promise<ReverifyPlan> {
  const tickets = await Promise.all(
    merged.map(async (l) => {
      const text = await tree.text(l.ticket);
      // a lane is queued only once its ticket says done: the file is there unless history was rewritten
      if (text === null) throw new Error(`${l.ticket} is not in the merged tree ${head}`);
      return parseTicketBytes(Buffer.from(text), {
        path: join(deps.root, l.ticket),
        relPath: l.ticket,
        agents: deps.knownAgents,
      });
    }),
  );
  const commands: ReturnType<typeof planCommands> = [];
  for (const ticket of tickets) {
    for (const planned of planCommands(deps.settings.verify.commands, ticket.frontmatter?.verify ?? null)) {
      if (!commands.some((c) => c.command === planned.command)) commands.push(planned);
    }
  }
  return { tickets, commands };
}

/**
 * The verify gate on the merged tree, as the first lane's run (its events land there): the commands of
 * every ticket merged, run in the scratch worktree checked out at the merged commit (`where`: that
 * folder), or with none to run, the commit itself checked (`where`: its GateTree); tamper checks on the
 * diff from the tip. Null when it passes.
 */
async function reverify(
  host: MergeHost,
  merged: readonly LaneRecord[],
  plan: ReverifyPlan,
  where: string | GateTree,
  onto: string,
): Promise<Omit<MergeFeedback, 'integration' | 'onto'> | null> {
  const scratch = typeof where === 'string' ? where : null;
  const { deps } = host;
  const lane = merged[0]!;
  const run = deps.store.getRun(lane.runId);
  if (!run) throw new Error(`lane run ${lane.runId} is missing`);
  const ticket = plan.tickets[0]!;
  const verifyValue = ticket.frontmatter?.verify ?? null;
  const state = loadState(run.state, deps.settings.maxTotalTurns);
  // a throw-away copy: the merged tree's baseline is the integration tip, not the lane's fork point
  const progress = newTicketProgress(
    lane.ticket,
    lane.ticketId,
    (ticket.agent ?? '').toLowerCase(),
    ticket.profile ?? null,
    newVerifyProgress(onto, verifyValue, plan.commands),
  );
  const mergedWith = merged.slice(1).map((l) => l.ticket);
  const dir = scratch ?? deps.root;
  const repo = deps.lanePorts.repoAt(dir);
  const ctx = new RunContext(
    {
      ...deps,
      root: dir,
      repo,
      lane: {
        ticket: lane.ticket,
        controlRunId: host.runId,
        ...(mergedWith.length > 0 ? { mergedWith } : {}),
      },
    },
    {
      runId: lane.runId,
      state: { ...state, ticket: progress },
      paths: runPaths(deps.root, lane.runId),
      cache: new Map(),
    },
  );
  // the gate records its verdict in the state it is given; the lane run's own stays as it was
  ctx.persist = (_patch, events = []) => {
    if (events.length > 0) ctx.events(events);
  };
  const verdict = await runVerifyGate(ctx, ticket, progress, typeof where === 'string' ? undefined : where);
  if (verdict.kind === 'passed') return null;
  if (verdict.kind === 'aborted') throw new MergeAborted();
  const { failed, blocking } = verdict;
  const summary = failed
    ? `${failed.planned.command}: ${describeExit(failed.result)}`
    : `${blocking.length} blocking tamper finding(s)`;
  const output = failed
    ? `Command: ${failed.planned.command}\nResult: ${describeExit(failed.result)}\nOutput:\n${failed.result.output.slice(-4000)}`
    : blocking.map((f) => `- ${f.kind}: ${f.file}: ${f.detail}`).join('\n');
  return {
    kind: 'verify_failed',
    attempt: lane.mergeAttempts + 1,
    files: [...new Set(blocking.map((f) => f.file))],
    output: `${summary}\n${output}`,
  };
}

function readTicket(dir: string, relPath: string, agents: ReadonlySet<string>): Ticket {
  const path = join(dir, relPath);
  return parseTicketBytes(readFileSync(path), { path, relPath, agents });
}

/** The run was paused or stopped while the merged tree was being checked: the lane stays queued. */
export class MergeAborted extends Error {
  constructor() {
    super('the merge was interrupted');
    this.name = 'MergeAborted';
  }
}

/** Records why the ticket did not merge, then sends it back as the host does. */
function sendBackVia(host: MergeHost, lane: LaneRecord, feedback: MergeFeedback): Promise<boolean> {
  lane.mergeAttempts = feedback.attempt;
  host.persist([
    feedback.kind === 'conflict'
      ? {
          type: 'merge_conflict',
          data: { lane: lane.slot, ticket: lane.ticket, files: feedback.files, attempt: feedback.attempt },
        }
      : {
          type: 'merge_verify_failed',
          data: {
            lane: lane.slot,
            ticket: lane.ticket,
            summary: feedback.output.split('\n')[0] ?? '',
            attempt: feedback.attempt,
          },
        },
  ]);
  return 'sendBack' in host ? host.sendBack(lane, feedback) : sendBack(host, lane, feedback);
}

/**
 * Back to the lane: the tip merged into its branch (a conflict left for the agent), `done: false`, the
 * feedback in its state for the next prompt, and a verify baseline at the tip, so the lane's own gate
 * checks only the lane's work, not what other tickets brought in.
 */
async function sendBack(host: LocalMergeHost, lane: LaneRecord, feedback: MergeFeedback): Promise<boolean> {
  const { deps } = host;
  const dir = await host.worktreeFor(lane);
  if (dir === null) return true;
  const state = await reopenTicket(deps, dir, lane, feedback);
  lane.base = feedback.onto;
  const toPerson = feedback.attempt > deps.settings.verify.maxFailures;
  lane.phase = toPerson ? 'waiting' : 'working';
  lane.queuedAt = null;
  deps.store.transaction(() => {
    deps.store.updateRun(lane.runId, {
      state: state as unknown as Record<string, unknown>,
      ...(toPerson
        ? {
            status: 'paused',
            reasonCode: 'verify_failed',
            reason: `${lane.ticket} could not be merged into ${feedback.integration} after ${feedback.attempt - 1} attempt(s); fix it in its worktree (${lane.worktree}) and resume.`,
            finishedAt: null,
          }
        : { status: 'pending', reasonCode: null, reason: null, reasonDetails: null, finishedAt: null }),
    });
    host.persist();
  });
  return toPerson;
}

/**
 * A ticket the merge queue turned down, made ready to be worked again in `dir` (its branch checked out):
 * the integration commit it was tried on merged in (a conflict left in the files), `done: false`, and
 * the run state its next prompt is made from: the feedback, and a verify baseline at that commit. Also
 * used by a hub ticket job that carries the feedback to another machine.
 */
export async function reopenTicket(
  deps: Pick<FlowDeps, 'store' | 'settings' | 'knownAgents'> & { lanePorts: LanePorts },
  dir: string,
  lane: { ticket: string; ticketId: string; runId: string; branch: string },
  feedback: MergeFeedback,
): Promise<ReturnType<typeof loadState>> {
  const merge = await deps.lanePorts.git.mergeInto(
    dir,
    feedback.onto,
    `car: bring ${feedback.integration} into ${lane.branch}`,
  );
  if (!merge.ok && feedback.files.length === 0) feedback.files = merge.conflicts;
  setTicketFileField(join(dir, lane.ticket), 'done', false, lane.ticket);
  const ticket = readTicket(dir, lane.ticket, deps.knownAgents);
  const verifyValue = ticket.frontmatter?.verify ?? null;
  const run = deps.store.getRun(lane.runId);
  if (!run) throw new Error(`lane run ${lane.runId} is missing`);
  const state = loadState(run.state, deps.settings.maxTotalTurns);
  state.ticket = {
    ...newTicketProgress(
      lane.ticket,
      lane.ticketId,
      (ticket.agent ?? '').toLowerCase(),
      ticket.profile ?? null,
      newVerifyProgress(feedback.onto, verifyValue, planCommands(deps.settings.verify.commands, verifyValue)),
    ),
    merge: feedback,
  };
  state.phase = 'idle';
  return state;
}
