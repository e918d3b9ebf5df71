// Replies (human → agent), CAR-compatible: `runs/<id>/USER_REPLY.md` (optional frontmatter `title`)
// plus attachments in `reply/`, archived into `reply_history/<NNNN>/` before the next turn and shown to
// the agent in `<CAR_HUMAN_REPLIES>` until a turn succeeds.
import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { writeFileAtomic } from '../fs/atomic.ts';
import { INPUT_LIMITS, InputLimitError, readFileBounded } from '../input-limits.ts';
import { renderScalar } from '../tickets/edit.ts';
import { pyStrip } from '../tickets/python-str.ts';
import { bodyText, normalizeBody, readFrontmatterYaml, splitFrontmatter, UTF8 } from './dispatch.ts';
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
 * USER_REPLY.md as CAR reads it (`tickets/replies.py` parse_user_reply): optional frontmatter between
 * CAR's fences, read by PyYAML's rules with DISPATCH.md's reader; `title` when it is a string that is
 * not blank (not a number or a date), every other key kept in `extra`; the body after the frontmatter,
 * its lines joined as CAR joins them. Permissive on purpose, as in CAR: a reply is never refused.
 * Where car differs (README, "Differences from CAR"): frontmatter that does not parse, is not a
 * mapping or is over an input limit stays in the body, where CAR drops it and the person's words in
 * it; a leading byte order mark is skipped, as for DISPATCH.md.
 */
export function parseReply(text: string): UserReply {
  const doc = splitFrontmatter(text);
  if (doc.yaml === null) return { title: null, body: normalizeBody(bodyText(doc)), extra: {} };
  const { value, timestamps, problem } = readFrontmatterYaml(doc.yaml);
  const data = value ?? {};
  if (problem || typeof data !== 'object' || Array.isArray(data)) {
    // the whole text, as CAR reads a file without frontmatter (universal newlines)
    const whole = (text.charCodeAt(0) === 0xfeff ? text.slice(1) : text).replace(/\r\n?/g, '\n');
    return { title: null, body: normalizeBody(whole), extra: {} };
  }
  const { title: rawTitle, ...extra } = data as Record<string, unknown>;
  const title = typeof rawTitle === 'string' && !timestamps.has('title') ? pyStrip(rawTitle) || null : null;
  return { title, body: normalizeBody(bodyText(doc)), extra };
}

/**
 * Reads a reply file within the size limit: its text, or `error` saying why it was not read (over the
 * limit, not a regular file, not UTF-8: CAR cannot read that either). Other errors (ENOENT) are thrown.
 */
export function readReplyFile(file: string): { text: string } | { error: string } {
  let bytes: Buffer;
  try {
    bytes = readFileBounded(file, INPUT_LIMITS.replyFileBytes, 'a reply');
  } catch (err) {
    if (err instanceof InputLimitError) return { error: `${REPLY_FILE} ${err.message}` };
    throw err;
  }
  try {
    return { text: UTF8.decode(bytes) };
  } catch {
    return { error: `${REPLY_FILE} is not valid UTF-8; it was not read` };
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
  // the title as PyYAML reads it back, CAR's reader and car's (`yes`, a date, `1:30` are quoted)
  const content = reply.title ? `---\ntitle: ${renderScalar(reply.title)}\n---\n\n${body}\n` : `${body}\n`;
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
