// /api/contextspace: the durable docs agents share (the catalogue's kinds only), hash-guarded writes.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Hono } from 'hono';
import * as z from 'zod';
import { writeFileAtomic } from '../../core/fs/atomic.ts';
import { CONTEXTSPACE_DOCS, STATE_DIR } from '../../core/paths.ts';
import type { ApiContext } from './context.ts';
import { ApiError } from './errors.ts';
import { confinedPath, expectedHash, sha256 } from './security.ts';
import { readJson } from './validate.ts';

type Doc = (typeof CONTEXTSPACE_DOCS)[number];

const PutBody = z.strictObject({
  content: z.string(),
  base_hash: z
    .string()
    .regex(/^[0-9a-fA-F]{64}$/, { error: 'must be a sha256 hex digest' })
    .optional(),
});

function docOf(kind: string): Doc {
  const doc = CONTEXTSPACE_DOCS.find((d) => d.kind === kind);
  if (!doc) {
    throw new ApiError(404, 'unknown_kind', `no contextspace document "${kind}"`, {
      kinds: CONTEXTSPACE_DOCS.map((d) => d.kind),
    });
  }
  return doc;
}

export function contextspaceRoutes(ctx: ApiContext): Hono {
  const app = new Hono();

  /** A doc's bytes; a missing doc reads as empty (its hash is the empty hash, so a first write works). */
  const read = (doc: Doc) => {
    const real = confinedPath(ctx.paths.root, join(ctx.paths.contextspaceDir, doc.file));
    let bytes: Buffer;
    let exists = true;
    try {
      bytes = readFileSync(real);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
      bytes = Buffer.alloc(0);
      exists = false;
    }
    return { real, bytes, exists, hash: sha256(bytes) };
  };

  const docJson = (doc: Doc, r: { bytes: Buffer; exists: boolean; hash: string }) => ({
    kind: doc.kind,
    label: doc.label,
    path: `${STATE_DIR}/contextspace/${doc.file}`,
    exists: r.exists,
    bytes: r.bytes.length,
    hash: r.hash,
  });

  app.get('/', (c) => c.json({ docs: CONTEXTSPACE_DOCS.map((doc) => docJson(doc, read(doc))) }));

  app.get('/:kind', (c) => {
    const doc = docOf(c.req.param('kind'));
    const r = read(doc);
    c.header('ETag', `"${r.hash}"`);
    return c.json({ ...docJson(doc, r), content: r.bytes.toString('utf8') });
  });

  app.put('/:kind', async (c) => {
    const doc = docOf(c.req.param('kind'));
    const body = await readJson(c, PutBody);
    const r = read(doc);
    const expected = expectedHash(c.req.header('if-match'), body.base_hash);
    if (expected === null) {
      throw new ApiError(
        428,
        'hash_required',
        'send If-Match: <hash> or base_hash with the hash you edited',
        {
          current_hash: r.hash,
        },
      );
    }
    if (expected !== r.hash) {
      throw new ApiError(
        409,
        'hash_mismatch',
        'the document changed since you read it; reload and re-apply',
        {
          current_hash: r.hash,
        },
      );
    }
    writeFileAtomic(r.real, body.content, { createDirs: true });
    const bytes = Buffer.from(body.content, 'utf8');
    const out = { ...docJson(doc, { bytes, exists: true, hash: sha256(bytes) }), content: body.content };
    c.header('ETag', `"${out.hash}"`);
    return c.json(out);
  });

  return app;
}
