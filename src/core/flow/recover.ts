// Recovery, the first step of every run. A process that died mid-run leaves a `running` turn and a
// non-idle phase: the turn is recorded as interrupted, what a killed commit leaves behind is undone, and
// a dispatch the agent managed to write is archived, so nothing it said is lost.
import { expireOrphanedApprovals } from './approvals.ts';
import type { FlowEvent } from './events.ts';
import type { FlowOutcome } from './flow-types.ts';
import type { RunContext } from './run-context.ts';
import { fileStagedDispatch } from './staged-dispatch.ts';

/** Returns an outcome when the recovered dispatch asked to pause (or was invalid). */
export async function recover(ctx: RunContext): Promise<FlowOutcome | null> {
  // an approval the dead worker waited on can reach no agent now: expired, never answered
  const expired = ctx.store.transaction(() => {
    const events = expireOrphanedApprovals(ctx.store, ctx.runId);
    if (events.length > 0) ctx.events(events);
    return events.length;
  });
  const interrupted = ctx.store.interruptRunningTurns(ctx.runId);
  const phase = ctx.state.phase;
  if (interrupted === 0 && expired === 0 && phase === 'idle') return null;
  const events: FlowEvent[] = [{ type: 'recovered', data: { interrupted_turns: interrupted, phase } }];
  if (phase === 'committing' && (await ctx.repo.removeStaleIndexLock())) {
    events.push({ type: 'git_index_lock_removed', data: { reason: 'car was killed while committing' } });
  }
  ctx.state.phase = 'idle';
  ctx.persist({}, events);
  if (phase !== 'turn' && phase !== 'post_turn') return null;
  const dispatch = await fileStagedDispatch(ctx, { recovered: true });
  if ('outcome' in dispatch) return dispatch.outcome;
  if (dispatch.archived?.mode === 'pause') {
    return ctx.pause('dispatch', dispatch.archived.title ?? 'The agent asked for input.', {
      dispatch_seq: dispatch.archived.seq,
    });
  }
  return null;
}
