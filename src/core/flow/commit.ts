// car's own commits (`git.auto_commit`): a checkpoint after a turn, or the work of a ticket marked done.
// The `committing` phase is persisted first, so a worker killed mid-commit has its index.lock removed
// on recovery. A failed commit is recorded and told to the next prompt, never fatal.
import { RUNTIME_PATHS } from '../paths.ts';
import type { Ticket } from '../tickets/index.ts';
import type { RunContext } from './run-context.ts';

export async function commitTree(
  ctx: RunContext,
  ticket: Ticket,
  why: 'checkpoint' | 'ticket_done',
): Promise<void> {
  const message = ctx.settings.commitMessageTemplate
    .replaceAll('{run_id}', ctx.runId)
    .replaceAll('{turn}', String(ctx.state.totalTurns))
    .replaceAll('{ticket}', ticket.name)
    .replaceAll('{agent}', ctx.state.ticket?.agent ?? '');
  ctx.state.phase = 'committing';
  ctx.forgetTree();
  ctx.persist();
  try {
    const sha = await ctx.wait('git commit', ctx.repo.commitAll(message, RUNTIME_PATHS));
    ctx.event({ type: 'auto_commit', data: { why, ticket: ticket.relPath, sha } });
  } catch (err) {
    ctx.state.checkpointError = (err as Error).message.slice(0, 2000);
    ctx.event({
      type: 'auto_commit_failed',
      data: { why, ticket: ticket.relPath, error: ctx.state.checkpointError },
    });
  }
  ctx.state.phase = 'idle';
  ctx.persist();
}
