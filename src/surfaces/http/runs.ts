// /api/runs: run history, one run with its turns, its events paged by sequence number, and a live SSE
// stream of them. Nothing here loads a whole run's events: pages and stream batches are bounded.
import { Hono } from 'hono';
import { streamSSE } from 'hono/streaming';
import * as z from 'zod';
import { RUN_STATUSES } from '../../core/store/schema.ts';
import type { Run, RunEvent } from '../../core/store/types.ts';
import { runJson } from '../flow-report.ts';
import type { ApiContext } from './context.ts';
import { ApiError, notFound } from './errors.ts';
import { runIdSchema } from './flow.ts';
import { readQuery } from './validate.ts';

const ACTIVE: ReadonlySet<string> = new Set(['pending', 'running', 'stopping']);

export interface StreamOptions {
  /** How often the stream looks for new events (default 200 ms). */
  pollMs?: number;
  /** Comment frames keep proxies from closing an idle stream (default 15 s). */
  keepAliveMs?: number;
  /** Events per store read (default 200). */
  batch?: number;
}

const RunsQuery = z.object({
  offset: z.coerce.number().int().min(0).default(0),
  limit: z.coerce.number().int().min(1).max(500).default(50),
  status: z.enum(RUN_STATUSES).optional(),
});

const typesSchema = z
  .union([z.string(), z.array(z.string())])
  .optional()
  .transform((v) =>
    (v === undefined ? [] : Array.isArray(v) ? v : [v])
      .flatMap((s) => s.split(','))
      .map((s) => s.trim())
      .filter((s) => s !== ''),
  )
  .refine((t) => t.length <= 50 && t.every((s) => /^[A-Za-z0-9_.:-]{1,100}$/.test(s)), {
    error: 'a comma-separated list of event types',
  });

const EventsQuery = z.object({
  after: z.coerce.number().int().min(0).default(0),
  limit: z.coerce.number().int().min(1).max(1000).default(200),
  types: typesSchema,
  /** Skip this many matching events (a filtered log opened anywhere, e.g. the web run view). */
  offset: z.coerce.number().int().min(0).max(10_000_000).default(0),
});

const StreamQuery = z.object({ after: z.coerce.number().int().min(0).optional(), types: typesSchema });

export function eventJson(e: RunEvent) {
  return { run_id: e.runId, seq: e.seq, type: e.type, at: e.at, turn_id: e.turnId, data: e.data };
}

export function runRoutes(ctx: ApiContext, stream: StreamOptions = {}): Hono {
  const app = new Hono();
  const pollMs = stream.pollMs ?? 200;
  const keepAliveMs = stream.keepAliveMs ?? 15_000;
  const batch = stream.batch ?? 200;

  const runOf = (raw: string): Run => {
    const parsed = runIdSchema.safeParse(raw);
    if (!parsed.success) throw new ApiError(400, 'invalid_run_id', 'not a run id', { field: 'id' });
    const run = ctx.control().store.getRun(parsed.data);
    if (!run) throw notFound(`run ${parsed.data}`);
    return run;
  };

  app.get('/', (c) => {
    const { offset, limit, status } = readQuery(c, RunsQuery);
    const control = ctx.control();
    const rows = control.store.listRuns({ offset, limit: limit + 1, ...(status ? { status } : {}) });
    return c.json({
      runs: rows.slice(0, limit).map((r) => runJson(r, control)),
      offset,
      limit,
      has_more: rows.length > limit,
    });
  });

  app.get('/:id', (c) => {
    const run = runOf(c.req.param('id'));
    const control = ctx.control();
    return c.json({
      run: runJson(run, control),
      turns: control.store.listTurns(run.id).map((t) => ({
        id: t.id,
        seq: t.seq,
        ticket_path: t.ticketPath,
        ticket_id: t.ticketId,
        agent: t.agent,
        kind: t.kind,
        status: t.status,
        started_at: t.startedAt,
        finished_at: t.finishedAt,
        usage: t.usage,
        error: t.error,
        output_excerpt: t.outputExcerpt,
      })),
      event_stats: control.store.eventStats(run.id),
      artifacts: control.store.listArtifacts(run.id),
    });
  });

  app.get('/:id/events', (c) => {
    const run = runOf(c.req.param('id'));
    const { after, limit, types, offset } = readQuery(c, EventsQuery);
    const rows = ctx.control().store.listEvents(run.id, {
      afterSeq: after,
      limit: limit + 1,
      offset,
      ...(types.length > 0 ? { types } : {}),
    });
    const events = rows.slice(0, limit);
    return c.json({
      run_id: run.id,
      events: events.map(eventJson),
      next_after: events.at(-1)?.seq ?? after,
      has_more: rows.length > limit,
      last_event_seq: run.lastEventSeq,
    });
  });

  app.get('/:id/stream', (c) => {
    const run = runOf(c.req.param('id'));
    const query = readQuery(c, StreamQuery);
    // A reconnecting EventSource sends the last id it saw; it wins over the URL's ?after.
    const header = c.req.header('last-event-id')?.trim();
    let after = query.after ?? 0;
    if (header !== undefined && header !== '') {
      if (!/^\d{1,15}$/.test(header)) {
        throw new ApiError(400, 'invalid_last_event_id', 'Last-Event-ID must be an event sequence number');
      }
      after = Number(header);
    }
    const types = query.types.length > 0 ? { types: query.types } : {};
    const store = ctx.control().store;
    // Nothing more will ever come: 204 tells an EventSource to stop reconnecting.
    if (
      !ACTIVE.has(run.status) &&
      store.listEvents(run.id, { afterSeq: after, limit: 1, ...types }).length === 0
    ) {
      return c.body(null, 204);
    }
    c.header('Cache-Control', 'no-store');
    c.header('X-Accel-Buffering', 'no');
    return streamSSE(c, async (sse) => {
      let lastWrite = Date.now();
      while (!sse.aborted) {
        // Status first, then events: events written before the run settled are always in this read.
        const status = store.getRun(run.id)?.status ?? 'failed';
        const events = store.listEvents(run.id, { afterSeq: after, limit: batch, ...types });
        for (const e of events) {
          if (sse.aborted) return;
          await sse.writeSSE({ id: String(e.seq), data: JSON.stringify(eventJson(e)) });
          after = e.seq;
          lastWrite = Date.now();
        }
        if (events.length === batch) continue;
        if (events.length === 0 && !ACTIVE.has(status)) {
          await sse.writeSSE({
            event: 'end',
            data: JSON.stringify({ run_id: run.id, status, last_seq: after }),
          });
          return;
        }
        if (Date.now() - lastWrite >= keepAliveMs) {
          await sse.write(': keep-alive\n\n');
          lastWrite = Date.now();
        }
        await sse.sleep(pollMs);
      }
    });
  });

  return app;
}
