// /api/approvals: what supervised agents wait for (approval_policy: ask), and a person's answer from the
// web inbox. The answer is recorded with who gave it (`web`) and wakes the waiting worker
// (FlowControl.answerApproval); an approval already settled (answered, expired) is refused with 409.
import { Hono } from 'hono';
import * as z from 'zod';
import { approvalJson } from '../approval-json.ts';
import type { ApiContext } from './context.ts';
import { readJson, readQuery } from './validate.ts';

const ListQuery = z.object({
  all: z.enum(['0', '1'], { error: 'must be 0 or 1' }).optional(),
  run: z.string().max(100).optional(),
});

const AnswerBody = z.strictObject({
  decision: z.enum(['accept', 'accept_for_session', 'decline'], {
    error: 'must be accept, accept_for_session or decline',
  }),
});

export function approvalRoutes(ctx: ApiContext): Hono {
  const app = new Hono();

  app.get('/', (c) => {
    const q = readQuery(c, ListQuery);
    const list = ctx.control().approvals({
      ...(q.all === '1' ? { all: true } : {}),
      ...(q.run ? { runId: q.run } : {}),
    });
    return c.json({ approvals: list.map(approvalJson) });
  });

  app.get('/:id', (c) => c.json({ approval: approvalJson(ctx.control().approval(c.req.param('id'))) }));

  app.post('/:id', async (c) => {
    const body = await readJson(c, AnswerBody);
    const approval = ctx.control().answerApproval(c.req.param('id'), body.decision, 'web');
    return c.json({ approval: approvalJson(approval) });
  });

  return app;
}
