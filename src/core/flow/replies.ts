// Replies (human → agent), CAR-compatible: `runs/<id>/USER_REPLY.md` (optional frontmatter `title`)
// plus attachments in `reply/`, archived into `reply_history/<NNNN>/` before the next turn and shown to
// the agent in `<CAR_HUMAN_REPLIES>` until a turn succeeds.
import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { writeFileAtomic } from '../fs/atomic.ts';
import { checkTextSize, INPUT_LIMITS, InputLimitError, readFileBounded } from '../input-limits.ts';
import { parseYamlWithinLimits } from '../yaml-limits.ts';
import { normalizeBody, splitFrontmatter } from './dispatch.ts';
import type { RunPaths } from './run-paths.ts';
import { archiveStaged, listSeqs, nextSeq, seqName } from './run-paths.ts';

const REPLY_FILE = 'USER_REPLY.md';

export interface UserReply {
  title: string | null;
  body: string;
  /** Frontmatter keys other than title, kept as written. */
  extra: Record<string, unknown>;
}

export interface ArchivedReply extends UserReply {
  seq: number;
  /** Repo-relative posix paths of the archived attachments. */
  attachments: string[];
  /** Absolute path of `reply_history/<NNNN>/`. */
  dir: string;
  /** Set when the archived folder has no readable USER_REPLY.md. */
  error?: string;
}

/**
 * Permissive on purpose: a human's words are never rejected; frontmatter that does not parse, or is
 * over an input limit (then it is not parsed at all), stays in the body.
 */
export function parseReply(text: string): UserReply {
  const doc = splitFrontmatter(text);
  let data: unknown = null;
  if (doc.yaml !== null && !checkTextSize(doc.yaml, INPUT_LIMITS.frontmatterBytes, 'frontmatter')) {
    const parsed = parseYamlWithinLimits(doc.yaml, { logLevel: 'error' });
    data = parsed.problems ? null : parsed.value;
  }
  if (typeof data !== 'object' || data === null || Array.isArray(data)) {
    return { title: null, body: normalizeBody(text), extra: {} };
  }
  const { title: rawTitle, ...extra } = data as Record<string, unknown>;
  const title = typeof rawTitle === 'string' && rawTitle.trim() ? rawTitle.trim() : null;
  return { title, body: normalizeBody(doc.body), extra };
}

/**
 * Reads a reply file within the size limit: its text, or `error` saying why it was not read (over the
 * limit, not a regular file). Other errors (ENOENT) are thrown.
 */
function readReplyFile(file: string): { text: string } | { error: string } {
  try {
    return { text: readFileBounded(file, INPUT_LIMITS.replyFileBytes, 'a reply').toString('utf8') };
  } catch (err) {
    if (err instanceof InputLimitError) return { error: `${REPLY_FILE} ${err.message}` };
    throw err;
  }
}

/**
 * Archives a staged USER_REPLY.md + `reply/*` under the next free number; null when none is staged.
 * A reply over the size limit is archived unread (a person's file is kept), with `error` saying so.
 */
export async function archiveReply(paths: RunPaths): Promise<ArchivedReply | null> {
  let read: { text: string } | { error: string };
  try {
    read = readReplyFile(paths.replyFile);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw err;
  }
  const seq = await nextSeq(paths.replyHistoryDir);
  const { dir, attachments } = await archiveStaged({
    messageFile: paths.replyFile,
    stagingDir: paths.replyDir,
    historyDir: paths.replyHistoryDir,
    seq,
    reservedName: REPLY_FILE,
  });
  const relDir = `${paths.rel.replyHistoryDir}/${seqName(seq)}`;
  const reply =
    'text' in read ? parseReply(read.text) : { title: null, body: '', extra: {}, error: read.error };
  return { ...reply, seq, dir, attachments: attachments.map((n) => `${relDir}/${n}`) };
}

/**
 * Stages USER_REPLY.md for the runner (`car flow reply`). A reply still waiting in staging is archived
 * first, so a second reply before the next turn adds to the first instead of replacing it.
 */
export async function writeReply(
  paths: RunPaths,
  reply: { body: string; title?: string | undefined },
): Promise<void> {
  await archiveReply(paths);
  const body = normalizeBody(reply.body);
  const content = reply.title ? `---\n${stringify({ title: reply.title })}---\n\n${body}\n` : `${body}\n`;
  writeFileAtomic(paths.replyFile, content, { createDirs: true });
}

async function readArchived(paths: RunPaths, seq: number): Promise<ArchivedReply> {
  const dir = join(paths.replyHistoryDir, seqName(seq));
  const relDir = `${paths.rel.replyHistoryDir}/${seqName(seq)}`;
  const entries = await readdir(dir, { withFileTypes: true });
  const attachments = entries
    .filter((e) => e.isFile() && !e.name.startsWith('.') && e.name !== REPLY_FILE)
    .map((e) => `${relDir}/${e.name}`)
    .sort();
  try {
    const read = readReplyFile(join(dir, REPLY_FILE));
    if ('error' in read)
      return { title: null, body: '', extra: {}, seq, dir, attachments, error: read.error };
    return { ...parseReply(read.text), seq, dir, attachments };
  } catch (err) {
    const error = `${REPLY_FILE} unreadable: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`;
    return { title: null, body: '', extra: {}, seq, dir, attachments, error };
  }
}

/** Archived replies numbered above `seq` (the last one a successful turn consumed), ascending. */
export async function listRepliesAfter(paths: RunPaths, seq: number): Promise<ArchivedReply[]> {
  const seqs = (await listSeqs(paths.replyHistoryDir)).filter((s) => s > seq);
  return Promise.all(seqs.map((s) => readArchived(paths, s)));
}

/** CAR's prompt rendering: `[USER_REPLY NNNN]`, then Title, body and Attachments lines when present. */
export function renderRepliesBlock(replies: readonly ArchivedReply[]): string {
  return replies
    .map((r) => {
      const lines = [`[USER_REPLY ${seqName(r.seq)}]`];
      if (r.error) lines.push(`Errors:\n- ${r.error}`);
      if (r.title) lines.push(`Title: ${r.title}`);
      if (r.body) lines.push(r.body);
      if (r.attachments.length > 0) lines.push(`Attachments:\n- ${r.attachments.join('\n- ')}`);
      return lines.join('\n');
    })
    .join('\n\n');
}
