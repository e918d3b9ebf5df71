// Layout of one run's folder (`.codex-autorunner/runs/<run_id>/`), CAR-compatible, plus the small
// file primitives the dispatch and reply protocols share: history numbering and staging archives.
import { type Dirent, mkdirSync } from 'node:fs';
import { cp, mkdir, readdir, rm, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import { STATE_DIR } from '../paths.ts';

interface RunLayout {
  runDir: string;
  dispatchFile: string;
  dispatchDir: string;
  dispatchHistoryDir: string;
  replyFile: string;
  replyDir: string;
  replyHistoryDir: string;
}

/** Every path of one run: absolute (top level) and repo-relative posix (`rel`). */
export interface RunPaths extends RunLayout {
  root: string;
  runId: string;
  rel: RunLayout;
}

const RUN_ID_RE = /^[A-Za-z0-9][A-Za-z0-9._-]*$/;

export function runPaths(root: string, runId: string): RunPaths {
  // The id becomes a folder name: refuse anything that could climb out of runs/.
  if (!RUN_ID_RE.test(runId) || runId.includes('..')) throw new Error(`invalid run id: ${runId}`);
  const runDir = `${STATE_DIR}/runs/${runId}`;
  const rel: RunLayout = {
    runDir,
    dispatchFile: `${runDir}/DISPATCH.md`,
    dispatchDir: `${runDir}/dispatch`,
    dispatchHistoryDir: `${runDir}/dispatch_history`,
    replyFile: `${runDir}/USER_REPLY.md`,
    replyDir: `${runDir}/reply`,
    replyHistoryDir: `${runDir}/reply_history`,
  };
  const abs = Object.fromEntries(
    Object.entries(rel).map(([key, value]) => [key, join(root, ...value.split('/'))]),
  ) as unknown as RunLayout;
  return { root, runId, ...abs, rel };
}

export function ensureRunDirs(paths: RunPaths): void {
  for (const dir of [paths.dispatchDir, paths.dispatchHistoryDir, paths.replyDir, paths.replyHistoryDir]) {
    mkdirSync(dir, { recursive: true });
  }
}

/** `7` → `0007`, the history folder name CAR uses. */
export function seqName(seq: number): string {
  return String(seq).padStart(4, '0');
}

const SEQ_DIR_RE = /^\d{4,}$/;

/** Archived sequence numbers in a history folder, ascending (missing folder → none). */
export async function listSeqs(historyDir: string): Promise<number[]> {
  let entries: Dirent[];
  try {
    entries = await readdir(historyDir, { withFileTypes: true });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw err;
  }
  return entries
    .filter((e) => e.isDirectory() && SEQ_DIR_RE.test(e.name))
    .map((e) => Number(e.name))
    .sort((a, b) => a - b);
}

/** Next free number, from what is on disk, so a crash between steps never reuses one. */
export async function nextSeq(historyDir: string): Promise<number> {
  const seqs = await listSeqs(historyDir);
  return (seqs.at(-1) ?? 0) + 1;
}

/** Creates `<historyDir>/<NNNN>/` exclusively: an existing folder is never reused or overwritten. */
export async function createSeqDir(historyDir: string, seq: number): Promise<string> {
  if (!Number.isInteger(seq) || seq < 1) throw new Error(`invalid sequence number: ${seq}`);
  await mkdir(historyDir, { recursive: true });
  const dir = join(historyDir, seqName(seq));
  await mkdir(dir);
  return dir;
}

/** Top-level entries of a staging folder, sorted; dot-files are not attachments. */
export async function listAttachments(stagingDir: string): Promise<string[]> {
  try {
    const names = await readdir(stagingDir);
    return names.filter((n) => !n.startsWith('.')).sort();
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw err;
  }
}

/**
 * Moves a staged message file and its attachments into a fresh `<historyDir>/<NNNN>/`. Attachments are
 * copied first and the message last, so a folder holding the message is complete. Staging is cleared
 * message-first: after a crash mid-cleanup the message is never archived twice.
 */
export async function archiveStaged(opts: {
  messageFile: string;
  stagingDir: string;
  historyDir: string;
  seq: number;
  reservedName: string;
}): Promise<{ dir: string; attachments: string[] }> {
  const names = (await listAttachments(opts.stagingDir)).filter((n) => n !== opts.reservedName);
  const dir = await createSeqDir(opts.historyDir, opts.seq);
  for (const name of names) {
    await cp(join(opts.stagingDir, name), join(dir, name), {
      recursive: true,
      errorOnExist: true,
      force: false,
    });
  }
  await cp(opts.messageFile, join(dir, opts.reservedName), { errorOnExist: true, force: false });
  await unlink(opts.messageFile);
  for (const name of names) await rm(join(opts.stagingDir, name), { recursive: true, force: true });
  return { dir, attachments: names };
}
