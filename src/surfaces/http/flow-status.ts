// GET /api/flow/status as a kept answer: rebuilt only when the store was written (its change stamp),
// the lock's holder or liveness changed, or the ticket queue has a new generation.
import { existsSync } from 'node:fs';
import { readLock } from '../../core/lock.ts';
import { flowStatusReport } from '../flow-report.ts';
import { type Answer, AnswerCache, jsonAnswer } from './answer.ts';
import type { ApiContext } from './context.ts';

export function flowStatusAnswers(ctx: ApiContext): (runId: string | undefined) => Promise<Answer> {
  const answers = new AnswerCache();
  return async (runId) => {
    const snapshot = await ctx.tickets.current();
    const control = ctx.control();
    // the holder's liveness is part of the answer (a worker can die without touching any file)
    const lockFile = control.paths.lockFile;
    const lock = existsSync(lockFile) ? readLock(lockFile) : null;
    const key = JSON.stringify([
      runId ?? null,
      control.store.changeStamp(),
      lock && [lock.holder, lock.stale],
      snapshot.generation,
    ]);
    return answers.get(key, () => jsonAnswer(flowStatusReport(control, runId, snapshot.queue)));
  };
}
