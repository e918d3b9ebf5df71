// The merge queue's one step: a lane whose ticket is done is merged onto the integration tip in the
// scratch worktree, the verify gate runs again on the merged tree (tamper checks against the tip, the
// ticket's verify commands), and only then the integration branch moves, by compare-and-swap. A conflict
// or a failing check sends the ticket back to its lane: car merges the tip into the lane's branch
// (leaving any conflict for the agent), sets `done: false`, and the next prompt says why.
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
import { runVerifyGate } from '../verify-gate.ts';
import { type LaneRecord, type LanesState, MERGE_TREE } from './lane-state.ts';
import { LaneSetupError, setupWorktree } from './setup.ts';

export type MergeResult =
  | { kind: 'merged'; sha: string }
  /** Sent back to its lane (which runs again), or to a person after too many attempts. */
  | { kind: 'sent_back'; feedback: MergeFeedback; toPerson: boolean }
  /** The integration branch cannot move now: someone moved it, or the person's changes are in the way. */
  | { kind: 'blocked'; reason: 'moved' | 'local_changes' | 'setup_failed'; detail: string };

export interface MergeHost {
  readonly deps: FlowDeps & { lanePorts: LanePorts };
  readonly runId: string;
  readonly lanes: LanesState;
  /** Writes the driving run's state and events in one transaction. */
  persist(events?: Parameters<RunContext['events']>[0]): void;
  /** `ticket_flow.lane_setup` ran in the scratch worktree (once per worker). */
  scratchSetUp: boolean;
}

export async function mergeLane(host: MergeHost, lane: LaneRecord): Promise<MergeResult> {
  const { deps, lanes } = host;
  const { git } = deps.lanePorts;
  const root = deps.root;
  const started = Date.now();
  const onto = await git.resolve(root, lanes.integration);
  if (!onto) throw new Error(`the integration branch ${lanes.integration} does not exist`);
  const scratch = join(root, MERGE_TREE);
  if (!existsSync(join(scratch, '.git')) || !(await git.worktrees(root)).some((w) => w.path === scratch)) {
    rmSync(scratch, { recursive: true, force: true });
    await git.addDetachedWorktree(root, scratch, onto);
    host.scratchSetUp = false;
  }
  lane.phase = 'merging';
  host.persist([{ type: 'merge_started', data: { lane: lane.slot, ticket: lane.ticket, onto } }]);
  const message = `car: merge ${lane.ticket.split('/').pop()?.replace(/\.md$/i, '')} (lane ${lane.slot})`;
  const merged = await git.integrate(scratch, onto, lane.branch, deps.settings.mergeMode, message);
  if (!host.scratchSetUp) {
    // after the merge is checked out, so what the setup makes fits the tree the commands run on
    try {
      await setupWorktree(deps, scratch);
    } catch (err) {
      if (!(err instanceof LaneSetupError)) throw err;
      lane.phase = 'queued';
      return {
        kind: 'blocked',
        reason: 'setup_failed',
        detail: `${err.message}\n${err.output.slice(-2000)}`,
      };
    }
    host.scratchSetUp = true;
  }
  if (!merged.ok) {
    return sendBack(host, lane, {
      kind: 'conflict',
      integration: lanes.integration,
      onto,
      attempt: lane.mergeAttempts + 1,
      files: merged.conflicts,
      output: merged.output.slice(-4000),
    });
  }
  // The tip has not moved since the lane started from it: the merged tree is the lane's own, which its
  // gate verified; otherwise other work came in, and the merged tree is checked again.
  const failure = onto === lane.base ? null : await reverify(host, lane, scratch, onto);
  if (failure) return sendBack(host, lane, { ...failure, integration: lanes.integration, onto });
  lane.phase = 'advancing';
  // recorded first: a worker killed during the move finds the commit it was moving to (lane-recover.ts)
  lane.mergedSha = merged.sha;
  host.persist();
  const moved = await git.advance(root, lanes.integration, onto, merged.sha);
  if (!moved.ok) {
    lane.phase = 'queued';
    return { kind: 'blocked', reason: moved.reason, detail: moved.detail };
  }
  host.persist([
    {
      type: 'lane_merged',
      data: { lane: lane.slot, ticket: lane.ticket, sha: merged.sha, ms: Date.now() - started },
    },
  ]);
  return { kind: 'merged', sha: merged.sha };
}

/** The verify gate on the merged tree, as the lane's run (its events land there); null when it passes. */
async function reverify(
  host: MergeHost,
  lane: LaneRecord,
  scratch: string,
  onto: string,
): Promise<Omit<MergeFeedback, 'integration' | 'onto'> | null> {
  const { deps } = host;
  const run = deps.store.getRun(lane.runId);
  if (!run) throw new Error(`lane run ${lane.runId} is missing`);
  const ticket = readTicket(scratch, lane.ticket, deps.knownAgents);
  const verifyValue = ticket.frontmatter?.verify ?? null;
  const state = loadState(run.state, deps.settings.maxTotalTurns);
  // a throw-away copy: the merged tree's baseline is the integration tip, not the lane's fork point
  const progress = newTicketProgress(
    lane.ticket,
    lane.ticketId,
    (ticket.agent ?? '').toLowerCase(),
    ticket.profile ?? null,
    newVerifyProgress(onto, verifyValue, planCommands(deps.settings.verify.commands, verifyValue)),
  );
  const ctx = new RunContext(
    {
      ...deps,
      root: scratch,
      repo: deps.lanePorts.repoAt(scratch),
      lane: { ticket: lane.ticket, controlRunId: host.runId },
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
  const verdict = await runVerifyGate(ctx, ticket, progress);
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

/**
 * Back to the lane: the tip merged into its branch (a conflict left for the agent), `done: false`, the
 * feedback in its state for the next prompt, and a verify baseline at the tip, so the lane's own gate
 * checks only the lane's work, not what other tickets brought in.
 */
async function sendBack(host: MergeHost, lane: LaneRecord, feedback: MergeFeedback): Promise<MergeResult> {
  const { deps } = host;
  const { git } = deps.lanePorts;
  const dir = join(deps.root, lane.worktree);
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
  const merge = await git.mergeInto(
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
  return { kind: 'sent_back', feedback, toPerson };
}
