// /api/templates: the board's template picker. GET / lists the repo's templates (folders and pinned
// template repos), GET /show?ref= reads one with its variables, POST /apply writes its ticket(s) after
// the queue. Everything a request names is a template ref, checked like the CLI's (no `..`, no links,
// bounded files); nothing here fetches from the network (car templates fetch does).
import { Hono } from 'hono';
import * as z from 'zod';
import { defaultAgentId, knownAgentIds } from '../../core/config/index.ts';
import {
  type LoadedTemplate,
  listTemplates,
  loadTemplate,
  TemplateError,
} from '../../core/templates/catalog.ts';
import { TemplatesConfigError } from '../../core/templates/config.ts';
import { parseTemplateRef, TemplateRefError } from '../../core/templates/ref.ts';
import { TemplateRenderError } from '../../core/templates/render.ts';
import { TicketCreateError, TicketEditError } from '../../core/tickets/index.ts';
import { applyTemplate } from '../../integrations/templates/apply.ts';
import { allSources, sourceFor, templatesContext } from '../../integrations/templates/sources.ts';
import { ticketFields } from '../ticket-json.ts';
import type { ApiContext } from './context.ts';
import { ApiError } from './errors.ts';
import { readJson, readQuery } from './validate.ts';

const RefQuery = z.object({ ref: z.string().min(1).max(1000) });
const ApplyBody = z.strictObject({
  ref: z.string().min(1).max(1000),
  values: z
    .record(
      z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/, { error: 'not a variable name' }),
      z.string().max(100_000),
    )
    .default({}),
  agent: z.string().trim().min(1).max(100).optional(),
  trust: z.boolean().default(false),
  suffix: z.string().max(100).optional(),
});

const STATUS: Record<string, 400 | 403 | 404 | 409 | 422> = {
  not_found: 404,
  not_fetched: 409,
  untrusted: 403,
  refused: 422,
};

/** The templates layer's refusals as API errors. */
async function answering<T>(fn: () => Promise<T> | T): Promise<T> {
  try {
    return await fn();
  } catch (err) {
    if (err instanceof TemplateError)
      throw new ApiError(STATUS[err.code] ?? 400, `template_${err.code}`, err.message);
    if (err instanceof TemplateRefError)
      throw new ApiError(400, 'invalid_template_ref', err.message, { field: 'ref' });
    if (err instanceof TemplateRenderError)
      throw new ApiError(400, 'template_variables', err.message, { field: 'values' });
    if (err instanceof TemplatesConfigError) throw new ApiError(422, 'invalid_config', err.message);
    if (err instanceof TicketEditError) throw new ApiError(422, 'template_refused', err.message);
    if (err instanceof TicketCreateError) {
      if (err.code === 'no_free_number') throw new ApiError(409, 'create_conflict', err.message);
      throw new ApiError(422, err.code, err.message);
    }
    throw err;
  }
}

const loadedJson = (t: LoadedTemplate) => ({
  ref: t.ref,
  source: t.source,
  path: t.path,
  kind: t.kind,
  name: t.name,
  summary: t.summary,
  trusted: t.trusted,
  commit: t.commit,
  git_ref: t.gitRef,
  variables: t.variables,
  contents: t.contents.map((c) => ({ path: c.path, blob: c.blob, text: c.text })),
});

export function templateRoutes(ctx: ApiContext): Hono {
  const app = new Hono();
  const context = () => answering(() => templatesContext(ctx.paths.root, ctx.env));
  const load = async (raw: string) => {
    const tctx = await context();
    return answering(async () => {
      const ref = parseTemplateRef(raw);
      const source = await sourceFor(tctx, ref);
      return loadTemplate(source, ref.path, ref.ref ?? source.ref);
    });
  };

  app.get('/', async (c) => {
    const tctx = await context();
    const { templates, notes } = await answering(async () => listTemplates(await allSources(tctx)));
    return c.json({ templates, notes });
  });

  app.get('/show', async (c) => {
    const { ref } = readQuery(c, RefQuery);
    return c.json(loadedJson(await load(ref)));
  });

  app.post('/apply', async (c) => {
    const body = await readJson(c, ApplyBody);
    const config = ctx.loaded().config;
    const agents = knownAgentIds(config);
    if (body.agent !== undefined && !agents.has(body.agent.toLowerCase()))
      throw new ApiError(400, 'unknown_agent', `unknown agent "${body.agent}"`, { field: 'agent' });
    const t = await load(body.ref);
    const applied = await answering(() =>
      applyTemplate(ctx.paths, agents, t, {
        values: new Map(Object.entries(body.values)),
        agent: body.agent?.toLowerCase(),
        defaultAgent: defaultAgentId(config),
        trust: body.trust,
        suffix: body.suffix,
      }),
    );
    return c.json(
      {
        template: t.ref,
        tickets: applied.tickets.map(ticketFields),
        agents_replaced: applied.agentsReplaced,
      },
      201,
    );
  });
  return app;
}
