// The contextspace documents (the catalogue's kinds only) read and written with a hash guard: one
// implementation for the HTTP API and car's MCP server. Refusals are `ApiError`s, whose code and message
// both surfaces pass on as they are.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { writeFileAtomic } from '../core/fs/atomic.ts';
import { CONTEXTSPACE_DOCS, type RepoPaths, STATE_DIR } from '../core/paths.ts';
import { ApiError } from './http/errors.ts';
import { confinedPath, sha256 } from './http/security.ts';

export type ContextspaceDoc = (typeof CONTEXTSPACE_DOCS)[number];

export interface DocInfo {
  kind: string;
  label: string;
  path: string;
  exists: boolean;
  bytes: number;
  hash: string;
}

export function contextspaceDoc(kind: string): ContextspaceDoc {
  const doc = CONTEXTSPACE_DOCS.find((d) => d.kind === kind);
  if (!doc) {
    throw new ApiError(404, 'unknown_kind', `no contextspace document "${kind}"`, {
      kinds: CONTEXTSPACE_DOCS.map((d) => d.kind),
    });
  }
  return doc;
}

interface DocBytes {
  real: string;
  bytes: Buffer;
  exists: boolean;
  hash: string;
}

/** A doc's bytes; a missing doc reads as empty (its hash is the empty hash, so a first write works). */
function readDoc(paths: RepoPaths, doc: ContextspaceDoc): DocBytes {
  const real = confinedPath(paths.root, join(paths.contextspaceDir, doc.file));
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
}

function docInfo(doc: ContextspaceDoc, r: { bytes: Buffer; exists: boolean; hash: string }): DocInfo {
  return {
    kind: doc.kind,
    label: doc.label,
    path: `${STATE_DIR}/contextspace/${doc.file}`,
    exists: r.exists,
    bytes: r.bytes.length,
    hash: r.hash,
  };
}

export function listContextspace(paths: RepoPaths): DocInfo[] {
  return CONTEXTSPACE_DOCS.map((doc) => docInfo(doc, readDoc(paths, doc)));
}

export function readContextspace(paths: RepoPaths, kind: string): DocInfo & { content: string } {
  const doc = contextspaceDoc(kind);
  const r = readDoc(paths, doc);
  return { ...docInfo(doc, r), content: r.bytes.toString('utf8') };
}

/**
 * Replaces a doc when `expectedHash` is the hash of what is on disk now (the version the writer read);
 * null (no hash given) and a stale hash are refused, nothing written.
 */
export function writeContextspace(
  paths: RepoPaths,
  kind: string,
  content: string,
  expectedHash: string | null,
): DocInfo & { content: string } {
  const doc = contextspaceDoc(kind);
  const r = readDoc(paths, doc);
  if (expectedHash === null) {
    throw new ApiError(428, 'hash_required', 'send If-Match: <hash> or base_hash with the hash you edited', {
      current_hash: r.hash,
    });
  }
  if (expectedHash !== r.hash) {
    throw new ApiError(409, 'hash_mismatch', 'the document changed since you read it; reload and re-apply', {
      current_hash: r.hash,
    });
  }
  writeFileAtomic(r.real, content, { createDirs: true });
  const bytes = Buffer.from(content, 'utf8');
  return { ...docInfo(doc, { bytes, exists: true, hash: sha256(bytes) }), content };
}
