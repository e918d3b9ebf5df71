// /api/flow: status and steering. Runs execute in a detached worker process (as `car flow start`), so
// the server stays light and restarting it never kills a run.
import { Hono } from 'hono';
import * as z from 'zod';
import type { StartOptions } from '../../control/flow-control.ts';
import { runJson } from '../flow-report.ts';
import { sendAnswer } from './answer.ts';
import type { ApiContext } from './context.ts';
import { flowStatusAnswers } from './flow-status.ts';
import { readJson, readQuery } from './validate.ts';

export const runIdSchema = z.string().regex(/^[A-Za-z0-9][A-Za-z0-9._:-]{0,99}$/, { error: 'not a run id' });

const StartBody = z.strictObject({
  new: z.boolean().optional(),
  force: z.boolean().optional(),
  max_total_turns: z.int().min(1).max(100_000).optional(),
});

const ResumeBody = z.strictObject({
  run_id: runIdSchema.optional(),
  force: z.boolean().optional(),
  max_total_turns: z.int().min(1).max(100_000).optional(),
});

const RequestBody = z.strictObject({ run_id: runIdSchema.optional() });

const ReplyBody = z.strictObject({
  text: z.string().refine((t) => t.trim() !== '', { error: 'must not be empty' }),
  title: z.string().max(500).optional(),
  run_id: runIdSchema.optional(),
  resume: z.boolean().optional(),
});

const StatusQuery = z.object({ run: runIdSchema.optional() });

export function flowRoutes(ctx: ApiContext): Hono {
  const app = new Hono();

  const status = flowStatusAnswers(ctx);
  app.get('/status', async (c) => {
    const { run } = readQuery(c, StatusQuery);
    return sendAnswer(c, await status(run));
  });

  app.post('/start', async (c) => {
    const body = await readJson(c, StartBody);
    const control = ctx.control();
    const opts: StartOptions = {};
    if (body.new) opts.newRun = true;
    if (body.force) opts.force = true;
    if (body.max_total_turns !== undefined) opts.maxTotalTurns = body.max_total_turns;
    const prepared = await control.prepareStart(opts);
    const pid = await ctx.startWorker(prepared.run.id);
    const run = control.store.getRun(prepared.run.id) ?? prepared.run;
    return c.json(
      { run_id: run.id, action: prepared.action, worker_pid: pid, run: runJson(run, control) },
      202,
    );
  });

  app.post('/resume', async (c) => {
    const body = await readJson(c, ResumeBody);
    const control = ctx.control();
    const opts: { force?: boolean; maxTotalTurns?: number } = {};
    if (body.force) opts.force = true;
    if (body.max_total_turns !== undefined) opts.maxTotalTurns = body.max_total_turns;
    const resumed = await control.resume(body.run_id, opts);
    const pid = await ctx.startWorker(resumed.id);
    const run = control.store.getRun(resumed.id) ?? resumed;
    return c.json({ run_id: run.id, action: 'resumed', worker_pid: pid, run: runJson(run, control) }, 202);
  });

  for (const what of ['pause', 'stop'] as const) {
    app.post(`/${what}`, async (c) => {
      const body = await readJson(c, RequestBody);
      const control = ctx.control();
      const result = await control.request(body.run_id, what);
      return c.json({
        run_id: result.run.id,
        status: result.run.status,
        immediate: result.immediate,
        worker_pid: result.workerPid,
        orphans_stopped: result.orphans,
        run: runJson(result.run, control),
      });
    });
  }

  app.post('/reply', async (c) => {
    const body = await readJson(c, ReplyBody);
    const control = ctx.control();
    const { run, file } = await control.reply(body.run_id, body.text, body.title);
    let pid: number | null = null;
    if (body.resume && run.status === 'paused') {
      const resumed = await control.resume(run.id);
      pid = await ctx.startWorker(resumed.id);
    }
    const latest = control.store.getRun(run.id) ?? run;
    return c.json({
      run_id: run.id,
      reply_file: file,
      resumed: pid !== null,
      worker_pid: pid,
      run: runJson(latest, control),
    });
  });

  return app;
}
