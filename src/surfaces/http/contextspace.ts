// /api/contextspace: the durable docs agents share (the catalogue's kinds only), hash-guarded writes.
import { Hono } from 'hono';
import * as z from 'zod';
import {
  contextspaceDoc,
  listContextspace,
  readContextspace,
  writeContextspace,
} from '../contextspace-docs.ts';
import type { ApiContext } from './context.ts';
import { expectedHash } from './security.ts';
import { readJson } from './validate.ts';

const PutBody = z.strictObject({
  content: z.string(),
  base_hash: z
    .string()
    .regex(/^[0-9a-fA-F]{64}$/, { error: 'must be a sha256 hex digest' })
    .optional(),
});

export function contextspaceRoutes(ctx: ApiContext): Hono {
  const app = new Hono();

  app.get('/', (c) => c.json({ docs: listContextspace(ctx.paths) }));

  app.get('/:kind', (c) => {
    const doc = readContextspace(ctx.paths, c.req.param('kind'));
    c.header('ETag', `"${doc.hash}"`);
    return c.json(doc);
  });

  app.put('/:kind', async (c) => {
    const kind = contextspaceDoc(c.req.param('kind')).kind;
    const body = await readJson(c, PutBody);
    const out = writeContextspace(
      ctx.paths,
      kind,
      body.content,
      expectedHash(c.req.header('if-match'), body.base_hash),
    );
    c.header('ETag', `"${out.hash}"`);
    return c.json(out);
  });

  return app;
}
