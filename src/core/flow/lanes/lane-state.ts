// What a run with lanes remembers, in its own `runs.state` (as `lanes`): the integration branch and one
// record per lane still open. A lane is a run of its own (the lane run), with the usual engine state,
// events and run folder, working one ticket in a worktree; the record ties it to its branch, worktree and
// place in the merge queue. Records are written before the side effect they describe, so a killed
// worker finds every worktree and branch it made (recover.ts).
import { STATE_DIR } from '../../paths.ts';
import type { JsonObject } from '../../store/types.ts';

/** Worktrees of lanes live here, ignored by git (`info/exclude`) and by car's own tree checks. */
export const LANES_DIR = `${STATE_DIR}/lanes`;
/** The merge queue's scratch worktree: the integration tip, where lanes are merged and re-verified. */
export const MERGE_TREE = `${LANES_DIR}/.merge`;
/** Branches of lanes: `car/lane/<run id prefix>/<ticket file name>`. */
export const LANE_BRANCH_PREFIX = 'car/lane/';

/**
 * - working: the lane run is working its ticket
 * - queued: its ticket is done (verified, committed on its branch) and waits for the merge queue
 * - merging: being merged and re-verified in the scratch worktree
 * - advancing: merged and verified; the integration branch is being moved to it
 * - waiting: the lane run paused, failed or stopped: a person decides (reply, fix, resume)
 */
export type LanePhase = 'working' | 'queued' | 'merging' | 'advancing' | 'waiting';

export interface LaneRecord {
  slot: number;
  ticket: string;
  ticketId: string;
  runId: string;
  branch: string;
  /**
   * Repo-relative posix path of the worktree; null once the ticket is done and queued: the merge queue
   * works on the branch's commits, and the worktree went on to the next lane.
   */
  worktree: string | null;
  /** The integration commit the lane started from (or was last brought up to). */
  base: string;
  phase: LanePhase;
  /** The merge queue sent the ticket back this often. */
  mergeAttempts: number;
  /** Order in the merge queue (lower first). */
  queuedAt: number | null;
  /** Why the merge waits (the person's own changes are in the way), as last told. */
  blocked: string | null;
  /** While `advancing`: the merged commit the integration branch is being moved to. */
  mergedSha?: string | null;
}

export interface LanesState {
  integration: string;
  lanes: LaneRecord[];
  /** Tickets this run merged, in order. */
  merged: string[];
}

export function readLanesState(state: JsonObject): LanesState | null {
  const lanes = state.lanes as LanesState | undefined;
  return lanes && typeof lanes.integration === 'string' && Array.isArray(lanes.lanes) ? lanes : null;
}

/** A branch by its full ref name: never mistaken for a tag of the same name (and read without git). */
export function branchRef(branch: string): string {
  return `refs/heads/${branch}`;
}

export function laneBranch(runId: string, ticketName: string): string {
  return `${LANE_BRANCH_PREFIX}${runId.slice(0, 8)}/${ticketName.replace(/\.md$/i, '')}`;
}

/** A new lane worktree's path: `lanes/lane-<n>`, the first not in `used` (a worktree outlives its ticket). */
export function laneWorktree(used: ReadonlySet<string>): string {
  let n = 1;
  while (used.has(`${LANES_DIR}/lane-${n}`)) n++;
  return `${LANES_DIR}/lane-${n}`;
}
