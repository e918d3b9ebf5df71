// Files the DISPATCH.md an agent (or car itself) staged: archived under `dispatch_history/NNNN/` with a
// `dispatch` event. An invalid one pauses the run and stays in place for a person to fix.
import type { JsonObject } from '../store/types.ts';
import {
  type ArchivedDispatch,
  archiveDispatch,
  DispatchFrontmatterError,
  nextDispatchSeq,
} from './dispatch.ts';
import type { FlowOutcome } from './flow-types.ts';
import type { RunContext } from './run-context.ts';

export type Filed = { archived: ArchivedDispatch | null } | { outcome: FlowOutcome };

export async function fileStagedDispatch(ctx: RunContext, meta: JsonObject): Promise<Filed> {
  try {
    const archived = await archiveDispatch(ctx.paths, await nextDispatchSeq(ctx.paths));
    if (archived) {
      ctx.event({
        type: 'dispatch',
        data: {
          seq: archived.seq,
          mode: archived.mode,
          title: archived.title,
          body: archived.body.slice(0, 4000),
          attachments: archived.attachments,
          ...(archived.options.length > 0 ? { options: archived.options } : {}),
          ...meta,
        },
      });
      ctx.progress({ type: 'dispatch', mode: archived.mode, title: archived.title });
    }
    return { archived };
  } catch (err) {
    if (!(err instanceof DispatchFrontmatterError)) throw err;
    return {
      outcome: await ctx.pause(
        'invalid_dispatch',
        `${ctx.paths.rel.dispatchFile} has invalid frontmatter: ${err.message}. Fix it and resume.`,
      ),
    };
  }
}
