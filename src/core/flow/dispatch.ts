// Dispatches (agent → human), CAR-compatible: the agent stages `runs/<id>/DISPATCH.md` (optional YAML
// frontmatter `mode`, `title`) plus attachments in `dispatch/`; after the turn the runner archives them
// into `dispatch_history/<NNNN>/`. Turn summaries share the same numbering.
import { join } from 'node:path';
import { stringify } from 'yaml';
import { writeFileAtomic } from '../fs/atomic.ts';
import { checkTextSize, INPUT_LIMITS, InputLimitError, readFileBounded } from '../input-limits.ts';
import { splitFrontmatter as splitTicketFrontmatter } from '../tickets/frontmatter.ts';
import { pyJoinLines, pyStrip } from '../tickets/python-str.ts';
import { documentProblems, documentValue, parseBoundedYamlValues, timestampKeys } from '../tickets/yaml.ts';
import type { RunPaths } from './run-paths.ts';
import { archiveStaged, createSeqDir, nextSeq, seqName } from './run-paths.ts';

export type DispatchMode = 'notify' | 'pause' | 'turn_summary';
const MODES: readonly string[] = ['notify', 'pause', 'turn_summary'];

export interface Dispatch {
  mode: DispatchMode;
  title: string | null;
  body: string;
  /** Ready answers for a person to pick (chat buttons); empty for a free-text question. */
  options: string[];
  /** Frontmatter keys other than mode and title, kept as written. */
  extra: Record<string, unknown>;
}

export interface ArchivedDispatch extends Dispatch {
  seq: number;
  /** Repo-relative posix paths of the archived attachments. */
  attachments: string[];
  /** Absolute path of `dispatch_history/<NNNN>/`. */
  dir: string;
}

/** DISPATCH.md whose frontmatter cannot be trusted; the staging file is left for a human to fix. */
export class DispatchFrontmatterError extends Error {
  readonly errors: string[];
  constructor(errors: string[], message = `Invalid DISPATCH.md frontmatter: ${errors.join('; ')}`) {
    super(message);
    this.name = 'DispatchFrontmatterError';
    this.errors = errors;
  }
}

/**
 * DISPATCH.md over the file size limit (or not a regular file): not read, left in place. A subclass,
 * so whatever pauses the run on bad frontmatter pauses it on this too, with this reason.
 */
export class DispatchTooLargeError extends DispatchFrontmatterError {
  constructor(reason: string) {
    super([reason], reason);
    this.name = 'DispatchTooLargeError';
  }
}

export interface SplitDoc {
  /** Raw YAML between the fences; null when the document has no frontmatter. */
  yaml: string | null;
  body: string;
  /** A `---` opener without a closing `---`/`...` line. */
  unclosed: boolean;
}

/** Splits frontmatter off a dispatch or reply with the same rules as tickets (CAR's fences). */
export function splitFrontmatter(text: string): SplitDoc {
  const split = splitTicketFrontmatter(text);
  // Without frontmatter the body is the text after a BOM, if any.
  if (split.yaml === null) return { yaml: null, body: split.body, unclosed: split.absence === 'unclosed' };
  return { yaml: split.yaml, body: split.body, unclosed: false };
}

/** Body as stored in history: leading blank lines and trailing whitespace dropped. */
export function normalizeBody(body: string): string {
  return body.replace(/^(\s*\n)+/, '').trimEnd();
}

/**
 * The frontmatter of a dispatch or reply as CAR's PyYAML reads it (the lines joined as CAR joins
 * them): its value, the top-level keys that hold a timestamp (text in car, a date for CAR, so no
 * title) and the first problem, an input limit hit (`code`) or a syntax error.
 */
export function readFrontmatterYaml(yaml: string): {
  value: unknown;
  timestamps: ReadonlySet<string>;
  problem: { message: string; line: number; code?: string } | null;
} {
  const none = { value: null, timestamps: new Set<string>() };
  const tooBig = checkTextSize(yaml, INPUT_LIMITS.frontmatterBytes, 'frontmatter');
  if (tooBig) return { ...none, problem: { message: tooBig.message, line: 1, code: tooBig.code } };
  const { doc, limit, text } = parseBoundedYamlValues(pyJoinLines(yaml));
  if (limit) return { ...none, problem: limit };
  const problems = documentProblems(doc, text);
  const { value, errors } =
    problems.length > 0 ? { value: null, errors: problems } : documentValue(doc, text);
  if (errors[0]) return { ...none, problem: errors[0] };
  return { value, timestamps: timestampKeys(doc), problem: null };
}

/** Text of a dispatch or reply body as CAR reads it: its line breaks as \n (universal newlines). */
export function bodyText(doc: SplitDoc): string {
  return doc.yaml === null ? doc.body.replace(/\r\n?/g, '\n') : pyJoinLines(doc.body);
}

/**
 * Parses DISPATCH.md. Stricter than CAR on purpose: unreadable YAML, frontmatter that is not a
 * mapping or never closed, or a mode that is not one of the three is an error, not a silent
 * `notify`, because a lost `pause` means the agent's question is never seen (README, "Differences
 * from CAR").
 */
export function parseDispatch(text: string): Dispatch {
  const doc = splitFrontmatter(text);
  if (doc.unclosed) throw new DispatchFrontmatterError(['frontmatter opened with --- but never closed']);
  let data: unknown = {};
  let timestamps: ReadonlySet<string> = new Set();
  if (doc.yaml !== null) {
    const parsed = readFrontmatterYaml(doc.yaml);
    const problem = parsed.problem;
    // Line numbers in the file: the YAML starts on line 2, after the opening fence.
    if (problem?.code) throw new DispatchFrontmatterError([`line ${problem.line + 1}: ${problem.message}`]);
    if (problem) throw new DispatchFrontmatterError([`YAML does not parse: ${problem.message}`]);
    data = parsed.value ?? {};
    timestamps = parsed.timestamps;
  }
  if (typeof data !== 'object' || data === null || Array.isArray(data)) {
    throw new DispatchFrontmatterError(['frontmatter must be a YAML mapping']);
  }
  const { mode: rawMode, title: rawTitle, options: rawOptions, ...extra } = data as Record<string, unknown>;
  const errors: string[] = [];
  let mode: DispatchMode = 'notify';
  if (rawMode !== undefined && rawMode !== null) {
    const m = typeof rawMode === 'string' && !timestamps.has('mode') ? pyStrip(rawMode).toLowerCase() : '';
    if (MODES.includes(m)) mode = m as DispatchMode;
    else errors.push("mode must be 'notify', 'pause' or 'turn_summary'");
  }
  const options = parseOptions(rawOptions, errors);
  if (errors.length > 0) throw new DispatchFrontmatterError(errors);
  // As in CAR, a title that is not a string (a number, a date) is no title.
  const title = typeof rawTitle === 'string' && !timestamps.has('title') ? pyStrip(rawTitle) || null : null;
  return { mode, title, body: normalizeBody(bodyText(doc)), options, extra };
}

/** Most answers a chat can offer as buttons in one message without burying the question. */
export const MAX_OPTIONS = 8;
const MAX_OPTION_CHARS = 80;

function parseOptions(raw: unknown, errors: string[]): string[] {
  if (raw === undefined || raw === null) return [];
  const list = Array.isArray(raw) ? raw : null;
  const ok =
    list !== null &&
    list.length <= MAX_OPTIONS &&
    list.every((o) => (typeof o === 'string' || typeof o === 'number') && String(o).trim() !== '');
  if (!ok) {
    errors.push(`options must be a list of up to ${MAX_OPTIONS} non-empty answers`);
    return [];
  }
  const options = list.map((o) => String(o).trim());
  if (options.some((o) => o.length > MAX_OPTION_CHARS)) {
    errors.push(`each option must be at most ${MAX_OPTION_CHARS} characters`);
    return [];
  }
  return options;
}

export function nextDispatchSeq(paths: RunPaths): Promise<number> {
  return nextSeq(paths.dispatchHistoryDir);
}

export const UTF8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

/**
 * Reads and parses a staged DISPATCH.md; null when there is none. Throws DispatchFrontmatterError
 * when it cannot be used: over the size limit (checked before reading, core/input-limits.ts), not
 * UTF-8 (CAR cannot read it either), or bad frontmatter.
 */
export function readDispatchFile(file: string): Dispatch | null {
  let bytes: Buffer;
  try {
    bytes = readFileBounded(file, INPUT_LIMITS.dispatchFileBytes, 'a dispatch');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
    if (err instanceof InputLimitError) throw new DispatchTooLargeError(err.message);
    throw err;
  }
  let text: string;
  try {
    text = UTF8.decode(bytes);
  } catch {
    const reason = 'the file is not valid UTF-8';
    throw new DispatchFrontmatterError([reason], reason);
  }
  return parseDispatch(text);
}

/**
 * Archives the staged DISPATCH.md and `dispatch/*` into `dispatch_history/<NNNN>/` and clears staging.
 * Returns null when the agent wrote no dispatch. Throws DispatchFrontmatterError (staging untouched)
 * when it cannot be used (readDispatchFile), and EEXIST when `seq` is already taken.
 */
export async function archiveDispatch(paths: RunPaths, seq: number): Promise<ArchivedDispatch | null> {
  const dispatch = readDispatchFile(paths.dispatchFile);
  if (dispatch === null) return null;
  const { dir, attachments } = await archiveStaged({
    messageFile: paths.dispatchFile,
    stagingDir: paths.dispatchDir,
    historyDir: paths.dispatchHistoryDir,
    seq,
    reservedName: 'DISPATCH.md',
  });
  const relDir = `${paths.rel.dispatchHistoryDir}/${seqName(seq)}`;
  return { ...dispatch, seq, dir, attachments: attachments.map((n) => `${relDir}/${n}`) };
}

/** Records the agent's final output as a `turn_summary` entry; empty output writes nothing (null). */
export async function writeTurnSummary(
  paths: RunPaths,
  seq: number,
  agentOutput: string,
  opts: { durable?: boolean } = {},
): Promise<string | null> {
  const output = agentOutput.trim();
  if (!output) return null;
  const dir = await createSeqDir(paths.dispatchHistoryDir, seq);
  writeFileAtomic(join(dir, 'DISPATCH.md'), `---\nmode: turn_summary\n---\n\n${output}\n`, {
    createDirs: true,
    durable: opts.durable ?? true,
  });
  return dir;
}

/** Stages a runner-written DISPATCH.md (loop guard, crash report); archive it like an agent's. */
export async function writeDispatch(
  paths: RunPaths,
  dispatch: { mode: 'notify' | 'pause'; title?: string | undefined; body: string },
): Promise<void> {
  const fm: Record<string, string> = { mode: dispatch.mode };
  if (dispatch.title) fm.title = dispatch.title;
  const body = normalizeBody(dispatch.body);
  writeFileAtomic(paths.dispatchFile, `---\n${stringify(fm)}---\n\n${body}\n`, { createDirs: true });
}
