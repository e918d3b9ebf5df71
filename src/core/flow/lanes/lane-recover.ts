// What a killed worker left of its lanes, put right before they go on: a merge or re-verify cut short
// goes back to the queue; an integration branch move that did happen is recognised by ancestry (the
// move is a compare-and-swap, so it either happened or not); worktrees a crash left missing are made
// again from their branches (the work is in commits there); git index locks in car's own worktrees are
// removed (the worker owns the repo, the agents a killed worker left are stopped before this); lane
// worktrees no record names are removed, their branches kept unless already merged.
import { existsSync } from 'node:fs';
import { join, sep } from 'node:path';
import type { JsonObject } from '../../store/types.ts';
import type { FlowEvent } from '../events.ts';
import type { FlowDeps } from '../flow-types.ts';
import type { LanePorts } from '../ports.ts';
import { reasonInfo } from '../reasons.ts';
import { grantAgain } from '../resume-grant.ts';
import { runPaths } from '../run-paths.ts';
import { loadState } from '../state.ts';
import {
  branchRef,
  LANE_BRANCH_PREFIX,
  LANES_DIR,
  type LaneRecord,
  type LanesState,
  MERGE_TREE,
} from './lane-state.ts';
import { LaneSetupError, setupWorktree } from './setup.ts';
import type { LanesBudget } from './shared-budget.ts';

/** What recovery needs of the run that drives the lanes (the scheduler). */
export interface RecoveryHost {
  readonly deps: FlowDeps & { lanePorts: LanePorts };
  readonly lanes: LanesState;
  persist(events?: FlowEvent[]): void;
  closeLane(lane: LaneRecord): Promise<void>;
  makeWorktree(lane: LaneRecord, from?: string): Promise<void>;
  setupFailed(lane: LaneRecord, err: LaneSetupError): void;
  readonly budget: LanesBudget;
}

export async function recoverLanes(s: RecoveryHost): Promise<void> {
  const { deps, lanes } = s;
  const { git, repoAt } = deps.lanePorts;
  const root = deps.root;
  const trees = await git.worktrees(root);
  const known = new Set(trees.map((t) => t.path));
  const tip = await git.resolve(root, branchRef(lanes.integration));
  for (const lane of [...lanes.lanes]) {
    const laneTip = await git.resolve(root, branchRef(lane.branch));
    if (lane.phase === 'advancing' || lane.phase === 'merging') {
      // the move either happened or not (compare-and-swap): the tip holds the merged commit, or the lane
      // (a merge commit has the lane's tip as a parent; a rebase leaves new commits, hence mergedSha)
      const target = lane.phase === 'advancing' ? (lane.mergedSha ?? laneTip) : laneTip;
      const merged = target && tip !== null ? await git.isAncestor(root, target, tip) : false;
      if (lane.phase === 'advancing' && (await git.currentBranch(root)) === lanes.integration) {
        // the fast-forward in the person's checkout may have been killed holding the index lock
        if (await repoAt(root).removeStaleIndexLock()) {
          s.persist([
            { type: 'git_index_lock_removed', data: { reason: 'car was killed while merging a lane' } },
          ]);
        }
      }
      if (merged) {
        s.persist([
          { type: 'lane_recovered', data: { lane: lane.slot, ticket: lane.ticket, action: 'merged' } },
        ]);
        await s.closeLane(lane);
        continue;
      }
      lane.phase = 'queued';
      s.persist([
        { type: 'lane_recovered', data: { lane: lane.slot, ticket: lane.ticket, action: 'queued again' } },
      ]);
    }
    // a queued ticket needs no worktree (one a record still names is swept below with the unnamed ones)
    if (lane.phase === 'queued') lane.worktree = null;
    if (lane.worktree === null) continue;
    const dir = join(root, lane.worktree);
    if (!known.has(dir)) {
      try {
        await s.makeWorktree(lane, laneTip ?? lane.base);
      } catch (err) {
        if (!(err instanceof LaneSetupError)) throw err;
        s.setupFailed(lane, err);
        continue;
      }
      s.persist([
        {
          type: 'lane_recovered',
          data: { lane: lane.slot, ticket: lane.ticket, action: 'worktree made again' },
        },
      ]);
    } else if (await repoAt(dir).removeStaleIndexLock()) {
      s.persist([
        { type: 'git_index_lock_removed', data: { reason: `lane ${lane.slot}: car was killed mid-way` } },
      ]);
    }
    if (lane.phase === 'waiting' && resumable(s, lane.runId)) {
      grantLaneAgain(s, lane.runId);
      if (s.deps.store.getRun(lane.runId)?.reasonCode === 'lane_setup_failed') {
        try {
          await setupWorktree(s.deps, dir);
        } catch (err) {
          if (!(err instanceof LaneSetupError)) throw err;
          s.setupFailed(lane, err);
          continue;
        }
      }
      lane.phase = 'working';
    }
  }
  const scratch = join(root, MERGE_TREE);
  if (known.has(scratch)) await repoAt(scratch).removeStaleIndexLock();
  const lanesRoot = join(root, LANES_DIR) + sep;
  const recorded = new Set(lanes.lanes.flatMap((l) => (l.worktree ? [join(root, l.worktree)] : [])));
  for (const tree of trees) {
    if (!tree.path.startsWith(lanesRoot) || tree.path === scratch || recorded.has(tree.path)) continue;
    const branchTip = tree.branch ? await git.resolve(root, branchRef(tree.branch)) : null;
    const merged =
      tree.branch?.startsWith(LANE_BRANCH_PREFIX) &&
      branchTip !== null &&
      tip !== null &&
      (await git.isAncestor(root, branchTip, tip));
    await git.removeWorktree(root, tree.path, merged ? tree.branch : null);
    s.persist([
      { type: 'lane_worktree_removed', data: { path: tree.path, branch: merged ? tree.branch : null } },
    ]);
  }
  s.persist();
}

/** The lane run's pause granted again, as `car flow resume` does for a run (resume-grant.ts). */
function grantLaneAgain(s: RecoveryHost, runId: string): void {
  const { store, settings } = s.deps;
  const run = store.getRun(runId);
  if (run?.status !== 'paused') return;
  const state = loadState(run.state, settings.maxTotalTurns);
  grantAgain(state, run, settings);
  // the run's own budgets are the lanes run's (shared-budget.ts): granted there
  const resets = reasonInfo(run.reasonCode)?.resumeResets;
  if (resets === 'turn_limit') s.budget.grant('turns');
  if (resets === 'token_budget' && run.reasonDetails?.scope === 'run') s.budget.grant('tokens');
  store.transaction(() => {
    store.updateRun(runId, { state: state as unknown as JsonObject });
    store.appendEvent(runId, {
      type: 'resume_requested',
      data: { previous_reason: run.reasonCode, force: false },
    } satisfies FlowEvent);
  });
}

/**
 * A lane run that paused, failed or stopped goes on when its driving run does, unless its pause needs a
 * change first (a reply or a fix) and none came (resume gating, as `car flow resume` does for a run).
 */
function resumable(s: RecoveryHost, runId: string): boolean {
  const run = s.deps.store.getRun(runId);
  if (!run) return false;
  if (run.status !== 'paused') return true;
  if (!reasonInfo(run.reasonCode)?.blocking) return true;
  return existsSync(runPaths(s.deps.root, runId).replyFile);
}
