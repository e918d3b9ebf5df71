// How the board shows lanes and dependencies: ticket names from repo-relative paths, what a lane is
// doing in a few words, and the merge queue in the order the run merges.
import type { LanePhase, OpenLane } from './types.ts';

/** `TICKET-004` from `.codex-autorunner/tickets/TICKET-004.md` (or a bare name). */
export function ticketLabel(path: string): string {
  return (path.split('/').pop() ?? path).replace(/\.md$/i, '');
}

/** A list of ticket paths as names: `TICKET-001, TICKET-003`, the rest counted past `max`. */
export function ticketList(paths: readonly string[], max = 3): string {
  const names = paths.slice(0, max).map(ticketLabel);
  return paths.length > max ? `${names.join(', ')} +${paths.length - max}` : names.join(', ');
}

const PHASE_TEXT: Record<LanePhase, string> = {
  working: 'working',
  queued: 'queued to merge',
  merging: 'merging',
  // merged and verified: the integration branch is being moved to it
  advancing: 'merging',
  waiting: 'waiting',
};

export function phaseText(phase: LanePhase): string {
  return PHASE_TEXT[phase] ?? phase;
}

/** The merge queue: the lane being merged first, then the queued ones by their place in the queue. */
export function mergeQueue(open: readonly OpenLane[]): OpenLane[] {
  const merging = open.filter((l) => l.phase === 'merging' || l.phase === 'advancing');
  const queued = open
    .filter((l) => l.phase === 'queued')
    .sort((a, b) => (a.queued_at ?? Number.MAX_SAFE_INTEGER) - (b.queued_at ?? Number.MAX_SAFE_INTEGER));
  return [...merging, ...queued];
}
