// /api/runs: run history, one run with its turns, its events paged by sequence number, and a live SSE
// stream of them (run-stream.ts). Nothing here loads a whole run's events: pages and stream batches are
// bounded. Answers are kept while the store's change stamp holds (strong ETags, If-None-Match: 304).
import { Hono } from 'hono';
import * as z from 'zod';
import { RUN_STATUSES } from '../../core/store/schema.ts';
import { runJson } from '../flow-report.ts';
import { AnswerCache, jsonAnswer, rawAnswer, sendAnswer } from './answer.ts';
import type { ApiContext } from './context.ts';
import { ApiError, notFound } from './errors.ts';
import { runIdSchema } from './flow.ts';
import { ACTIVE_STATUSES, RunStreams, type StreamOptions } from './run-stream.ts';
import { readQuery } from './validate.ts';

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

export interface RunRoutes {
  routes: Hono;
  /** Ends the open streams. */
  close(): void;
}

export function runRoutes(
  ctx: ApiContext,
  stream: StreamOptions = {},
  log: (line: string) => void = () => {},
): RunRoutes {
  const app = new Hono();
  const streams = new RunStreams(() => ctx.control().store, ctx.steps, stream, log);
  const answers = new AnswerCache();

  const runIdOf = (raw: string): string => {
    const parsed = runIdSchema.safeParse(raw);
    if (!parsed.success) throw new ApiError(400, 'invalid_run_id', 'not a run id', { field: 'id' });
    return parsed.data;
  };

  app.get('/', async (c) => {
    const { offset, limit, status } = readQuery(c, RunsQuery);
    const control = ctx.control();
    const key = JSON.stringify(['runs', control.store.changeStamp(), offset, limit, status ?? null]);
    const answer = await answers.get(key, () => {
      // paused lane runs too: each waits for a person (the web Inbox lists them), as any paused run
      const rows = control.store.listRuns({
        offset,
        limit: limit + 1,
        ...(status ? { status } : {}),
        includeLanes: status === 'paused',
      });
      return jsonAnswer({
        runs: rows.slice(0, limit).map((r) => runJson(r, control)),
        offset,
        limit,
        has_more: rows.length > limit,
      });
    });
    return sendAnswer(c, answer);
  });

  app.get('/:id', async (c) => {
    const id = runIdOf(c.req.param('id'));
    const control = ctx.control();
    const answer = await answers.get(JSON.stringify(['run', control.store.changeStamp(), id]), () => {
      const run = control.store.getRun(id);
      if (!run) throw notFound(`run ${id}`);
      return jsonAnswer({
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
    return sendAnswer(c, answer);
  });

  app.get('/:id/events', async (c) => {
    const id = runIdOf(c.req.param('id'));
    const { after, limit, types, offset } = readQuery(c, EventsQuery);
    const store = ctx.control().store;
    const key = JSON.stringify(['events', store.changeStamp(), id, after, limit, types, offset]);
    const answer = await answers.get(key, () => {
      const progress = store.runProgress(id);
      if (!progress) throw notFound(`run ${id}`);
      const rows = store.listEventsJson(id, {
        afterSeq: after,
        limit: limit + 1,
        offset,
        ...(types.length > 0 ? { types } : {}),
      });
      const events = rows.slice(0, limit);
      return rawAnswer(
        `{"run_id":${JSON.stringify(id)},"events":[${events.map((e) => e.json).join(',')}],` +
          `"next_after":${events.at(-1)?.seq ?? after},"has_more":${rows.length > limit},` +
          `"last_event_seq":${progress.lastEventSeq}}`,
      );
    });
    return sendAnswer(c, answer);
  });

  app.get('/:id/stream', (c) => {
    const id = runIdOf(c.req.param('id'));
    const store = ctx.control().store;
    const progress = store.runProgress(id);
    if (!progress) throw notFound(`run ${id}`);
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
    // Nothing more will ever come: 204 tells an EventSource to stop reconnecting.
    if (
      !ACTIVE_STATUSES.has(progress.status) &&
      store.listEventsJson(id, { afterSeq: after, limit: 1, ...types }).length === 0
    ) {
      return c.body(null, 204);
    }
    c.header('Content-Type', 'text/event-stream');
    c.header('Cache-Control', 'no-store');
    c.header('X-Accel-Buffering', 'no');
    // chunked: the server sends the head at once instead of waiting for a first chunk
    c.header('Transfer-Encoding', 'chunked');
    // @hono/node-server passes its Node response as `outgoing`: that consumer takes text
    const toSocket = (c.env as { outgoing?: unknown } | undefined)?.outgoing !== undefined;
    return c.body(streams.open(id, after, query.types, !toSocket), 200);
  });

  return { routes: app, close: () => streams.close() };
}
