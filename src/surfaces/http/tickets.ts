// /api/tickets: list (paged), read, create, replace and field edits. Every write is guarded by the hash
// of the bytes the client last saw, so an editor and the UI never overwrite each other silently. The list
// and lint answers are kept per queue generation (ticket-listing.ts) with strong ETags (If-None-Match:
// 304), so an unchanged queue costs a scan of stat stamps shared by concurrent requests. One ticket's
// ETag is its bytes' sha256, the hash writes are guarded with.

import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Hono } from 'hono';
import * as z from 'zod';
import { defaultAgentId, knownAgentIds } from '../../core/config/index.ts';
import { writeFileAtomic } from '../../core/fs/atomic.ts';
import {
  createTicket,
  type LintIssue,
  parseTicket,
  parseTicketBytes,
  readiness,
  setFrontmatterFieldBytes,
  TICKET_NAME_RE,
  type Ticket,
  TicketCreateError,
  TicketEditError,
  ticketState,
} from '../../core/tickets/index.ts';
import { collectEvidence } from '../../core/verify/evidence.ts';
import { prJson } from '../pr-json.ts';
import { queuedTicketFields, ticketFields } from '../ticket-json.ts';
import { AnswerCache, jsonAnswer, sendAnswer } from './answer.ts';
import type { ApiContext } from './context.ts';
import { ApiError, notFound } from './errors.ts';
import { runIdSchema } from './flow.ts';
import { confinedPath, expectedHash, sha256 } from './security.ts';
import { ticketWorkAnswers } from './ticket-work.ts';
import { readJson, readQuery } from './validate.ts';

const WorkQuery = z.object({ run: runIdSchema.optional() });

/** A ticket file name from a request: the ticket filename rule, one path segment, nothing to escape. */
export function checkTicketName(name: string): string {
  if (
    name.length > 200 ||
    !TICKET_NAME_RE.test(name) ||
    /[/\\\0]/.test(name) ||
    name.includes('..') ||
    // biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are what is refused
    /[\x00-\x1f\x7f]/.test(name)
  ) {
    throw new ApiError(400, 'invalid_ticket_name', 'not a ticket file name (TICKET-<number>[suffix].md)', {
      field: 'name',
    });
  }
  return name;
}

function summaryJson(ticket: Ticket, hash: string) {
  return { ...ticketFields(ticket), hash };
}

function fullJson(ticket: Ticket, hash: string) {
  return {
    ...summaryJson(ticket, hash),
    frontmatter: ticket.frontmatter,
    body: ticket.body,
    content: ticket.raw,
  };
}

const PageQuery = z.object({
  offset: z.coerce.number().int().min(0).default(0),
  limit: z.coerce.number().int().min(1).max(1000).default(100),
});

const ForceQuery = z.object({ force: z.enum(['0', '1', 'true', 'false']).optional() });

const hashSchema = z.string().regex(/^[0-9a-fA-F]{64}$/, { error: 'must be a sha256 hex digest' });

const CreateBody = z.strictObject({
  /** Default: the config's `ticket_flow.default_agent`. */
  agent: z.string().trim().min(1).max(100).optional(),
  title: z.string().max(500).optional(),
  goal: z.string().max(2000).optional(),
  body: z.string().optional(),
  slug: z.string().max(100).optional(),
  done: z.boolean().default(false),
  depends_on: z
    .array(z.union([z.string().trim().min(1).max(200), z.int().nonnegative()]))
    .max(100)
    .optional(),
});

const PutBody = z.strictObject({ content: z.string(), base_hash: hashSchema.optional() });
const LintBody = z.strictObject({ content: z.string() });

const scalar = z.union([z.string(), z.number(), z.boolean(), z.null()]);
const PatchBody = z.strictObject({
  fields: z
    .record(z.string().regex(/^[A-Za-z_][A-Za-z0-9_-]*$/, { error: 'not a frontmatter key' }), scalar)
    .refine((f) => Object.keys(f).length > 0, { error: 'give at least one field' }),
  base_hash: hashSchema.optional(),
});

const isForced = (q: { force?: string | undefined }) => q.force === '1' || q.force === 'true';

const errorKey = (i: LintIssue) => `${i.code}|${i.field ?? ''}|${i.message}`;

export function ticketRoutes(ctx: ApiContext): Hono {
  const app = new Hono();

  const agents = () => knownAgentIds(ctx.loaded().config);
  const relOf = (name: string) => `${ctx.paths.ticketsDir.slice(ctx.paths.root.length + 1)}/${name}`;

  const answers = new AnswerCache();

  /** Reads a ticket by name: its bytes, hash and parse, with the file confined to the repo. */
  const read = (rawName: string) => {
    const name = checkTicketName(rawName);
    const path = join(ctx.paths.ticketsDir, name);
    const real = confinedPath(ctx.paths.root, path);
    let bytes: Buffer;
    try {
      bytes = readFileSync(real);
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code === 'ENOENT') throw notFound(`ticket ${name}`);
      if (code === 'EISDIR') throw new ApiError(400, 'not_a_file', `${name} is not a file`);
      throw err;
    }
    const ticket = parseTicketBytes(bytes, { path, relPath: relOf(name), agents: agents() });
    return { name, path, real, hash: sha256(bytes), bytes, ticket };
  };

  const guard = (current: string, ifMatch: string | undefined, baseHash: string | undefined) => {
    const expected = expectedHash(ifMatch, baseHash);
    if (expected === null) {
      throw new ApiError(
        428,
        'hash_required',
        'send If-Match: <hash> or base_hash with the hash you edited',
        {
          current_hash: current,
        },
      );
    }
    if (expected !== current) {
      throw new ApiError(409, 'hash_mismatch', 'the file changed since you read it; reload and re-apply', {
        current_hash: current,
      });
    }
  };

  const written = (path: string, name: string, bytes: Buffer) => {
    const ticket = parseTicketBytes(bytes, { path, relPath: relOf(name), agents: agents() });
    return fullJson(ticket, sha256(bytes));
  };

  app.get('/', async (c) => {
    const { offset, limit } = readQuery(c, PageQuery);
    const { queue: q, generation } = await ctx.tickets.current();
    const answer = await answers.get(`list:${generation}:${offset}:${limit}`, async () => {
      const shown = await ctx.tickets.shown(q.tickets.slice(offset, offset + limit));
      const fields = queuedTicketFields(q);
      const next = readiness(q.tickets, q.dependencies).ready[0];
      return jsonAnswer({
        tickets: shown.flatMap((s) => (s ? [{ ...fields(s.ticket), hash: s.hash }] : [])),
        offset,
        limit,
        total: q.tickets.length,
        has_more: offset + limit < q.tickets.length,
        summary: {
          total: q.tickets.length,
          done: q.tickets.filter((t) => t.isDone).length,
          open: q.tickets.filter((t) => ticketState(t) === 'open').length,
          invalid: q.tickets.filter((t) => ticketState(t) === 'invalid').length,
        },
        next: next?.name ?? null,
        issues: q.issues,
      });
    });
    return sendAnswer(c, answer);
  });

  app.get('/lint', async (c) => {
    const { queue: q, generation } = await ctx.tickets.current();
    const answer = await answers.get(`lint:${generation}`, () => {
      const issues = [...q.issues, ...q.tickets.flatMap((t) => t.issues)];
      const errors = issues.filter((i) => i.severity === 'error').length;
      return jsonAnswer({ ok: errors === 0, tickets: q.tickets.length, errors, issues });
    });
    return sendAnswer(c, answer);
  });

  app.post('/', async (c) => {
    const body = await readJson(c, CreateBody);
    let ticket: Ticket;
    try {
      const { depends_on, ...spec } = body;
      ticket = createTicket(ctx.paths, agents(), {
        ...spec,
        agent: spec.agent ?? defaultAgentId(ctx.loaded().config),
        dependsOn: depends_on?.map(String),
      });
    } catch (err) {
      if (!(err instanceof TicketCreateError)) throw err;
      if (err.code === 'no_free_number') throw new ApiError(409, 'create_conflict', err.message);
      throw new ApiError(400, 'invalid_body', `invalid body: ${err.field ?? 'body'}: ${err.message}`, {
        issues: [{ field: err.field ?? 'body', message: err.message }],
      });
    }
    c.header('Location', `/api/tickets/${encodeURIComponent(ticket.name)}`);
    return c.json(fullJson(ticket, sha256(Buffer.from(ticket.raw, 'utf8'))), 201);
  });

  app.get('/:name', (c) => {
    const { hash, ticket } = read(c.req.param('name'));
    c.header('ETag', `"${hash}"`);
    return c.json(fullJson(ticket, hash));
  });

  // Why car closed the ticket: the verify gate's evidence records, newest first.
  app.get('/:name/evidence', (c) => {
    const { ticket } = read(c.req.param('name'));
    const evidence = collectEvidence(ctx.control().store, ctx.paths.root, ticket.ticketId);
    return c.json({ ticket: ticket.relPath, ticket_id: ticket.ticketId, evidence });
  });

  // What the ticket's work changed (an open lane's branch, else the commits its evidence names).
  const work = ticketWorkAnswers(ctx);
  app.get('/:name/work', async (c) => {
    const { ticket } = read(c.req.param('name'));
    const { run } = readQuery(c, WorkQuery);
    return sendAnswer(c, await work(ticket, run));
  });

  // The pull requests car opened for the ticket or with its work (car pr open), as last seen.
  app.get('/:name/pull-requests', (c) => {
    const { ticket } = read(c.req.param('name'));
    const prs = ctx.control().store.prs().forTicket(ticket.ticketId).map(prJson);
    return c.json({ ticket: ticket.relPath, ticket_id: ticket.ticketId, pull_requests: prs });
  });

  // Lints text as the ticket's content without writing it (the editor's findings while typing): the
  // issues a PUT of that text would be checked against. The file need not exist.
  app.post('/:name/lint', async (c) => {
    const name = checkTicketName(c.req.param('name'));
    const body = await readJson(c, LintBody);
    const path = join(ctx.paths.ticketsDir, name);
    const ticket = parseTicket(body.content, { path, relPath: relOf(name), agents: agents() });
    const errors = ticket.issues.filter((i) => i.severity === 'error').length;
    return c.json({ ok: errors === 0, errors, issues: ticket.issues });
  });

  app.put('/:name', async (c) => {
    const force = isForced(readQuery(c, ForceQuery));
    const body = await readJson(c, PutBody);
    const current = read(c.req.param('name'));
    guard(current.hash, c.req.header('if-match'), body.base_hash);
    const next = parseTicket(body.content, {
      path: current.path,
      relPath: current.ticket.relPath,
      agents: agents(),
    });
    const errors = next.issues.filter((i) => i.severity === 'error');
    if (errors.length > 0 && !force) {
      throw new ApiError(422, 'ticket_invalid', 'the new content does not lint; fix it or send ?force=1', {
        issues: errors,
      });
    }
    // Read, check and write with no await in between: within this server they cannot interleave.
    const bytes = Buffer.from(body.content, 'utf8');
    writeFileAtomic(current.real, bytes);
    const out = written(current.path, current.name, bytes);
    c.header('ETag', `"${out.hash}"`);
    return c.json(out);
  });

  app.patch('/:name', async (c) => {
    const force = isForced(readQuery(c, ForceQuery));
    const body = await readJson(c, PatchBody);
    const current = read(c.req.param('name'));
    guard(current.hash, c.req.header('if-match'), body.base_hash);
    // Edits the bytes: every byte outside the edited values is kept, invalid UTF-8 included.
    let bytes = current.bytes;
    try {
      for (const [key, value] of Object.entries(body.fields)) {
        bytes = setFrontmatterFieldBytes(bytes, key, value);
      }
    } catch (err) {
      if (err instanceof TicketEditError) throw new ApiError(422, 'edit_failed', err.message);
      throw err;
    }
    const after = parseTicketBytes(bytes, {
      path: current.path,
      relPath: current.ticket.relPath,
      agents: agents(),
    });
    const before = new Set(current.ticket.issues.filter((i) => i.severity === 'error').map(errorKey));
    const introduced = after.issues.filter((i) => i.severity === 'error' && !before.has(errorKey(i)));
    if (introduced.length > 0 && !force) {
      throw new ApiError(
        422,
        'ticket_invalid',
        'the edit would make the ticket invalid; send ?force=1 to write anyway',
        {
          issues: introduced,
        },
      );
    }
    writeFileAtomic(current.real, bytes);
    const out = written(current.path, current.name, bytes);
    c.header('ETag', `"${out.hash}"`);
    return c.json(out);
  });

  return app;
}
