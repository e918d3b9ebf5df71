// /api/usage: tokens and cost summed per day or per ticket. A turn's own usage (what the agent reported
// when the turn ended) counts; a turn without one counts its last `usage` event instead. The sums are
// taken run by run in slices (the store holds any number of runs) and kept while the store is unchanged.
import { Hono } from 'hono';
import * as z from 'zod';
import type { RunStore } from '../../core/store/run-store.ts';
import type { JsonObject, Turn } from '../../core/store/types.ts';
import { AnswerCache, jsonAnswer, sendAnswer } from './answer.ts';
import type { ApiContext } from './context.ts';
import { notFound } from './errors.ts';
import { runIdSchema } from './flow.ts';
import { readQuery } from './validate.ts';

const UsageQuery = z.object({
  by: z.enum(['day', 'ticket']).default('day'),
  run: runIdSchema.optional(),
  since: z.iso.date().optional(),
});

interface Totals {
  turns: number;
  input_tokens: number;
  cached_input_tokens: number;
  output_tokens: number;
  cost_usd: number | null;
}

const emptyTotals = (): Totals => ({
  turns: 0,
  input_tokens: 0,
  cached_input_tokens: 0,
  output_tokens: 0,
  cost_usd: null,
});

function num(usage: JsonObject, ...keys: string[]): number | null {
  for (const key of keys) {
    const v = usage[key];
    if (typeof v === 'number' && Number.isFinite(v)) return v;
  }
  return null;
}

function add(into: Totals, usage: JsonObject): void {
  into.turns++;
  into.input_tokens += num(usage, 'inputTokens', 'input_tokens') ?? 0;
  into.cached_input_tokens += num(usage, 'cachedInputTokens', 'cached_input_tokens') ?? 0;
  into.output_tokens += num(usage, 'outputTokens', 'output_tokens') ?? 0;
  const cost = num(usage, 'costUsd', 'cost_usd');
  if (cost !== null) into.cost_usd = (into.cost_usd ?? 0) + cost;
}

/** The last `usage` event per turn of a run, read a page at a time. */
function usageEvents(store: RunStore, runId: string): Map<number, JsonObject> {
  const out = new Map<number, JsonObject>();
  let after = 0;
  for (;;) {
    const page = store.listEvents(runId, { afterSeq: after, limit: 1000, types: ['usage'] });
    for (const e of page) {
      const usage = e.data.usage;
      if (e.turnId !== null && typeof usage === 'object' && usage !== null)
        out.set(e.turnId, usage as JsonObject);
    }
    if (page.length < 1000) return out;
    after = page.at(-1)!.seq;
  }
}

export function usageRoutes(ctx: ApiContext): Hono {
  const app = new Hono();
  const answers = new AnswerCache();

  app.get('/', async (c) => {
    const { by, run, since } = readQuery(c, UsageQuery);
    const store = ctx.control().store;
    const key = JSON.stringify([store.changeStamp(), by, run ?? null, since ?? null]);
    const answer = await answers.get(key, async () => {
      const groups = new Map<string, Totals>();
      const total = emptyTotals();
      const count = (turns: Turn[], runId: string) => {
        const missing = turns.some((t) => t.usage === null);
        const fromEvents = missing ? usageEvents(store, runId) : new Map<number, JsonObject>();
        for (const t of turns) {
          if (since !== undefined && t.startedAt.slice(0, 10) < since) continue;
          const usage = t.usage ?? fromEvents.get(t.id);
          if (!usage) continue;
          const key = by === 'day' ? t.startedAt.slice(0, 10) : (t.ticketPath ?? '(none)');
          let g = groups.get(key);
          if (!g) {
            g = emptyTotals();
            groups.set(key, g);
          }
          add(g, usage);
          add(total, usage);
        }
      };
      if (run !== undefined) {
        if (!store.getRun(run)) throw notFound(`run ${run}`);
        count(store.listTurns(run), run);
      } else {
        // one run per step; a run created meanwhile shifts the pages (newest first): count each once
        const counted = new Set<string>();
        await ctx.steps.drive(
          (function* () {
            for (let offset = 0; ; offset += 100) {
              const runs = store.listRuns({ offset, limit: 100, includeLanes: true });
              for (const r of runs) {
                if (counted.has(r.id)) continue;
                counted.add(r.id);
                count(store.listTurns(r.id), r.id);
                yield;
              }
              if (runs.length < 100) return;
            }
          })(),
        );
      }
      const rows = [...groups.entries()]
        .map(([key, t]) => ({ key, ...t }))
        .sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
      return jsonAnswer({ by, rows, total });
    });
    return sendAnswer(c, answer);
  });

  return app;
}
