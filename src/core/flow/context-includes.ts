// Files a ticket asks to see (`context:` in its frontmatter), read into `<CAR_REQUESTED_CONTEXT>` under
// CAR's per-entry and total byte caps (car-spec §2.6).
import { open, realpath, stat } from 'node:fs/promises';
import { isAbsolute, relative, resolve, sep } from 'node:path';
import { truncateUtf8, utf8Bytes } from './text-cut.ts';

export const CONTEXT_ENTRY_DEFAULT_MAX_BYTES = 4096;
export const CONTEXT_TOTAL_MAX_BYTES = 16384;

export interface ContextInclude {
  path: string;
  max_bytes?: number | undefined;
  required?: boolean | undefined;
}

export type ContextStatus = 'included' | 'missing' | 'not_a_file' | 'read_error' | 'skipped_budget_exhausted';

export interface RequestedContext {
  /** The rendered block; '' when the ticket requests nothing. */
  block: string;
  /** Required entries that could not be included: the run must fail before the agent is called. */
  missingRequired: string[];
  entries: { path: string; status: ContextStatus; detail?: string }[];
}

type Read =
  | { status: 'included'; text: string }
  | { status: Exclude<ContextStatus, 'included'>; detail?: string };

function inside(root: string, target: string): boolean {
  const rel = relative(root, target);
  return rel === '' || (!rel.startsWith(`..${sep}`) && rel !== '..' && !isAbsolute(rel));
}

const decoder = new TextDecoder('utf-8', { fatal: true });
// Read this much past the cap, so a huge file is never loaded whole yet trimming leading whitespace
// still leaves more than `cap` bytes to cut from.
const READ_SLACK = 64 * 1024;

/** The file's text, trimmed; for a file longer than `cap + READ_SLACK` only its beginning. */
async function readCapped(file: string, cap: number): Promise<string> {
  const fh = await open(file, 'r');
  try {
    const size = (await fh.stat()).size;
    const want = Math.min(size, cap + READ_SLACK);
    const buf = Buffer.alloc(want);
    const { bytesRead } = await fh.read(buf, 0, want, 0);
    if (bytesRead >= size) return decoder.decode(buf.subarray(0, bytesRead)).trim();
    // A partial read may end inside a character: cut back to a character start before strict decoding.
    let end = Math.max(0, bytesRead - 4);
    while (end > 0 && ((buf[end] ?? 0) & 0xc0) === 0x80) end--;
    return decoder.decode(buf.subarray(0, end)).trimStart();
  } finally {
    await fh.close();
  }
}

async function readEntry(rootReal: string, relPath: string, cap: number): Promise<Read> {
  const lexical = resolve(rootReal, relPath);
  if (isAbsolute(relPath) || !inside(rootReal, lexical))
    return { status: 'read_error', detail: 'outside repo' };
  let real: string;
  try {
    real = await realpath(lexical);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    return code === 'ENOENT' || code === 'ENOTDIR'
      ? { status: 'missing' }
      : { status: 'read_error', detail: code ?? 'error' };
  }
  // A symlink may point anywhere; only the resolved target counts.
  if (!inside(rootReal, real)) return { status: 'read_error', detail: 'outside repo' };
  try {
    if (!(await stat(real)).isFile()) return { status: 'not_a_file' };
    return { status: 'included', text: await readCapped(real, cap) };
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ERR_ENCODING_INVALID_ENCODED_DATA')
      return { status: 'read_error', detail: 'not valid UTF-8' };
    return { status: 'read_error', detail: code ?? (err as Error).message };
  }
}

function entryBlock(entry: ContextInclude, lines: string[]): string {
  return [
    '<CAR_CONTEXT_ENTRY>',
    `- path: ${entry.path}`,
    `- required: ${entry.required === true}`,
    ...lines,
    '</CAR_CONTEXT_ENTRY>',
  ].join('\n');
}

/**
 * Renders the requested context. Each entry gets `min(max_bytes ?? 4096, 16384, remaining)` bytes of
 * content; `remaining` counts the content already included, so entries stay whole (CAR cuts the last
 * entry's closing tag instead) and later ones are marked skipped_budget_exhausted.
 */
export async function buildContextIncludes(
  root: string,
  entries: readonly ContextInclude[],
): Promise<RequestedContext> {
  if (entries.length === 0) return { block: '', missingRequired: [], entries: [] };
  const rootReal = await realpath(root);
  let remaining = CONTEXT_TOTAL_MAX_BYTES;
  const blocks: string[] = [];
  const result: RequestedContext = { block: '', missingRequired: [], entries: [] };
  for (const entry of entries) {
    const cap = Math.min(
      entry.max_bytes ?? CONTEXT_ENTRY_DEFAULT_MAX_BYTES,
      CONTEXT_TOTAL_MAX_BYTES,
      remaining,
    );
    const read = await readEntry(rootReal, entry.path, Math.max(cap, 0));
    if (read.status !== 'included') {
      if (entry.required === true) result.missingRequired.push(entry.path);
      const status = read.detail ? `${read.status} (${read.detail})` : read.status;
      blocks.push(entryBlock(entry, [`- status: ${status}`]));
      result.entries.push(
        read.detail
          ? { path: entry.path, status: read.status, detail: read.detail }
          : { path: entry.path, status: read.status },
      );
      continue;
    }
    if (cap <= 0) {
      blocks.push(entryBlock(entry, ['- status: skipped_budget_exhausted']));
      result.entries.push({ path: entry.path, status: 'skipped_budget_exhausted' });
      continue;
    }
    const text = truncateUtf8(read.text, cap);
    remaining -= utf8Bytes(text);
    blocks.push(entryBlock(entry, [`- max_bytes: ${cap}`, '- status: included', 'CONTENT:', text]));
    result.entries.push({ path: entry.path, status: 'included' });
  }
  result.block = [
    `Requested ticket context includes (bounded total bytes=${CONTEXT_TOTAL_MAX_BYTES}):`,
    ...blocks,
  ].join('\n\n');
  return result;
}
