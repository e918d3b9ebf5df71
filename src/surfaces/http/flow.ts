// /api/flow: status and steering (start, resume, pause, stop, reply, finish-user-ticket). Runs execute in
// a detached worker process (as `car flow start`), so the server stays light and restarting it never
// kills a run.
import { Hono } from 'hono';
import * as z from 'zod';
import type { FlowControl, ResumeOptions, StartOptions } from '../../control/flow-control.ts';
import { defaultAgentId, knownAgentIds } from '../../core/config/index.ts';
import { MAX_SPEC_BYTES, seedPlan, TicketCreateError, TicketEditError } from '../../core/tickets/index.ts';
import { runJson } from '../flow-report.ts';
import { sendAnswer } from './answer.ts';
import type { ApiContext } from './context.ts';
import { ApiError } from './errors.ts';
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

const BootstrapBody = z.strictObject({
  spec: z
    .string()
    .refine((t) => t.trim() !== '', { error: 'must not be empty' })
    .refine((t) => Buffer.byteLength(t) <= MAX_SPEC_BYTES, {
      error: `must be at most ${MAX_SPEC_BYTES} bytes`,
    }),
  agent: z.string().trim().min(1).max(100).optional(),
  replace_spec: z.boolean().default(false),
  start: z.boolean().default(true),
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
    const { run, action, workerPid } = await control.launchStart(opts);
    return c.json({ run_id: run.id, action, worker_pid: workerPid, run: runJson(run, control) }, 202);
  });

  // "New plan": the spec into contextspace, a planning ticket after the queue, then a run (car flow bootstrap)
  app.post('/bootstrap', async (c) => {
    const body = await readJson(c, BootstrapBody);
    const config = ctx.loaded().config;
    let seeded: ReturnType<typeof seedPlan>;
    try {
      seeded = seedPlan(ctx.paths, knownAgentIds(config), body.agent ?? defaultAgentId(config), body.spec, {
        replace: body.replace_spec,
      });
    } catch (err) {
      if (!(err instanceof TicketCreateError)) throw err;
      if (err.code === 'spec_exists') throw new ApiError(409, 'spec_exists', err.message, { field: 'spec' });
      throw new ApiError(400, err.code, err.message, { field: err.field ?? 'spec' });
    }
    const out = {
      spec_file: seeded.specFile.slice(ctx.paths.root.length + 1),
      plan_ticket: seeded.ticket.relPath,
    };
    if (!body.start) return c.json({ ...out, run_id: null }, 201);
    const control = ctx.control();
    const { run, action, workerPid } = await control.launchStart({});
    return c.json({ ...out, run_id: run.id, action, worker_pid: workerPid, run: runJson(run, control) }, 202);
  });

  app.post('/resume', async (c) => {
    const body = await readJson(c, ResumeBody);
    const control = ctx.control();
    const opts: ResumeOptions = {};
    if (body.force) opts.force = true;
    if (body.max_total_turns !== undefined) opts.maxTotalTurns = body.max_total_turns;
    const { run, workerPid } = await control.launchResume(body.run_id, opts);
    return c.json(
      { run_id: run.id, action: 'resumed', worker_pid: workerPid, run: runJson(run, control) },
      202,
    );
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

  // A person did the user ticket the run waits for: `car ticket done N`, the commit of that edit when it
  // is the tree's only change, and resume (FlowControl.finishUserTicket).
  app.post('/finish-user-ticket', async (c) => {
    const body = await readJson(c, RequestBody);
    const control = ctx.control();
    let done: Awaited<ReturnType<FlowControl['finishUserTicket']>>;
    try {
      done = await control.finishUserTicket(body.run_id);
    } catch (err) {
      if (err instanceof TicketEditError) throw new ApiError(422, 'edit_failed', err.message);
      throw err;
    }
    return c.json(
      {
        run_id: done.run.id,
        action: 'resumed',
        ticket: done.ticket,
        commit: done.commit,
        worker_pid: done.workerPid,
        run: runJson(done.run, control),
      },
      202,
    );
  });

  app.post('/reply', async (c) => {
    const body = await readJson(c, ReplyBody);
    const control = ctx.control();
    const { run, file, workerPid } = body.resume
      ? await control.replyAndResume(body.run_id, body.text, body.title)
      : { ...(await control.reply(body.run_id, body.text, body.title)), workerPid: null };
    return c.json({
      run_id: run.id,
      reply_file: file,
      resumed: workerPid !== null,
      worker_pid: workerPid,
      run: runJson(run, control),
    });
  });

  return app;
}
