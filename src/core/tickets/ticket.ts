import { createHash, randomUUID } from 'node:crypto';
import { basename } from 'node:path';
import { checkTextSize, INPUT_LIMITS } from '../input-limits.ts';
import { type FrontmatterSplit, splitFrontmatter } from './frontmatter.ts';
import { INVALID_FILENAME, lintFrontmatter } from './lint.ts';
import { loadFrontmatterYaml } from './load.ts';
import { pyDigitsValue, pyJoinLines } from './python-str.ts';
import type { LintIssue, Ticket, TicketFields } from './types.ts';

/**
 * CAR's `^TICKET-(\d{3,})(?:[^/]*)\.md$` with re.IGNORECASE, as Python reads it: `\d` is any Unicode
 * decimal digit, `$` also matches before a final newline, and the case folding matches `İ`, `ı` for
 * `i` and the Kelvin sign for `k`.
 */
export const TICKET_NAME_RE = /^[Tt][Ii\u0130\u0131][Cc][Kk\u212a][Ee][Tt]-(\p{Nd}{3,})[^/]*\.[Mm][Dd]\n?$/u;

/** The ticket number in a file name, or null when it is not a ticket name. */
export function ticketIndexFromName(name: string): number | null {
  const digits = TICKET_NAME_RE.exec(name)?.[1];
  return digits === undefined ? null : pyDigitsValue(digits);
}

/** A fresh id as CAR writes them: `tkt_` + uuid4 hex. */
export function newTicketId(): string {
  return `tkt_${randomUUID().replaceAll('-', '')}`;
}

/**
 * CAR's fallback id for a ticket without a valid one: hashes the posix path from the first
 * `.codex-autorunner` component on (just the file name when there is none).
 */
export function autoTicketId(absPath: string): string {
  const parts = absPath.split(/[\\/]/).filter((p) => p !== '');
  const at = parts.indexOf('.codex-autorunner');
  const identity = at === -1 ? (parts.at(-1) ?? '') : parts.slice(at).join('/');
  return `tkt_auto_${createHash('sha256').update(identity, 'utf8').digest('hex').slice(0, 32)}`;
}

export interface ParseTicketOptions {
  /** Absolute path. */
  path: string;
  /** Repo-relative posix path. */
  relPath: string;
  /** Allowed agent ids (configured agents plus `user`); unchecked when absent. */
  agents?: ReadonlySet<string>;
}

const emptyFields = (): TicketFields => ({
  ticketId: null,
  agent: null,
  done: null,
  title: null,
  goal: null,
  model: null,
  reasoning: null,
  profile: null,
  context: [],
  dependsOn: [],
  extra: {},
});

const ABSENCE_MESSAGES = {
  empty: ['empty-file', 'Empty file; missing YAML frontmatter.'],
  missing: ['frontmatter-missing', "Missing YAML frontmatter (expected leading '---')."],
  unclosed: ['frontmatter-unclosed', "Frontmatter is not closed (missing trailing '---')."],
} as const;

const NOT_A_MAPPING = 'Missing or invalid YAML frontmatter (expected a mapping).';
const BOM_MESSAGE =
  'File starts with a UTF-8 byte order mark, so CAR finds no frontmatter in it; remove the mark.';

interface ReadFrontmatter {
  data: Record<string, unknown> | null;
  fields: TicketFields;
  issues: LintIssue[];
}

function readFrontmatter(
  split: FrontmatterSplit,
  file: string,
  agents?: ReadonlySet<string>,
): ReadFrontmatter {
  const fail = (code: string, message: string, line = 1): ReadFrontmatter => ({
    data: null,
    fields: emptyFields(),
    issues: [{ file, line, message, code, severity: 'error' }],
  });
  if (split.bom) return fail('bom', BOM_MESSAGE);
  if (split.yaml === null) {
    const [code, message] = ABSENCE_MESSAGES[split.absence ?? 'missing'];
    return fail(code, message);
  }
  // Checked before parsing: the fence is on line 1.
  const tooBig = checkTextSize(split.yaml, INPUT_LIMITS.frontmatterBytes, 'frontmatter');
  if (tooBig) return fail(tooBig.code, tooBig.message);
  const { value, root, problem } = loadFrontmatterYaml(pyJoinLines(split.yaml), split.yamlLine);
  if (problem?.code) return fail(problem.code, problem.message, problem.line);
  if (problem) return fail('yaml-invalid', `YAML parse error: ${problem.message}`, problem.line);
  if (root === null) return fail('frontmatter-empty', NOT_A_MAPPING);
  if (root.pairs === undefined || !isPlainMapping(value)) {
    return fail('frontmatter-not-mapping', 'Invalid YAML frontmatter (expected a mapping).', root.line);
  }
  // CAR treats an empty mapping like a missing one.
  if (Object.keys(value).length === 0) return { ...fail('frontmatter-empty', NOT_A_MAPPING), data: value };
  const { fields, issues } = lintFrontmatter(file, root, value, agents);
  return { data: value, fields, issues };
}

function isPlainMapping(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/**
 * A ticket that was not read or parsed because it is over an input limit (core/input-limits.ts): no
 * text, no fields, invalid, with one issue (`code` a `limit-` code) saying why, on line 1.
 */
export function refusedTicket(opts: ParseTicketOptions, code: string, message: string): Ticket {
  const name = basename(opts.path);
  const index = ticketIndexFromName(name);
  const issues: LintIssue[] = [];
  if (index === null)
    issues.push({
      file: opts.relPath,
      message: INVALID_FILENAME,
      code: 'filename-invalid',
      severity: 'error',
    });
  issues.push({ file: opts.relPath, line: 1, message, code, severity: 'error' });
  const { ticketId: _, ...known } = emptyFields();
  return {
    path: opts.path,
    relPath: opts.relPath,
    name,
    index,
    raw: '',
    frontmatter: null,
    body: '',
    ...known,
    ticketId: autoTicketId(opts.path),
    ticketIdIsAuto: true,
    issues,
    valid: false,
    isDone: false,
  };
}

/**
 * Parses and lints one ticket file's text. Never throws on bad content: problems become issues, an
 * input limit hit among them (a text over the ticket file limit is not parsed at all).
 */
export function parseTicket(text: string, opts: ParseTicketOptions): Ticket {
  const tooBig = checkTextSize(text, INPUT_LIMITS.ticketFileBytes, 'a ticket file');
  if (tooBig) return refusedTicket(opts, tooBig.code, tooBig.message);
  const file = opts.relPath;
  const name = basename(opts.path);
  const index = ticketIndexFromName(name);
  const split = splitFrontmatter(text);
  const issues: LintIssue[] = [];
  if (index === null)
    issues.push({ file, message: INVALID_FILENAME, code: 'filename-invalid', severity: 'error' });
  const { data, fields, issues: fmIssues } = readFrontmatter(split, file, opts.agents);
  issues.push(...fmIssues);
  const valid = !issues.some((i) => i.severity === 'error');
  const { ticketId, ...known } = fields;
  return {
    path: opts.path,
    relPath: opts.relPath,
    name,
    index,
    raw: text,
    frontmatter: data,
    body: split.body,
    ...known,
    ticketId: ticketId ?? autoTicketId(opts.path),
    ticketIdIsAuto: ticketId === null,
    issues,
    valid,
    isDone: valid && data !== null && fields.done === true,
  };
}

const strictUtf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

/**
 * parseTicket of a file's bytes. Bytes that are not valid UTF-8 are an error (CAR cannot read the file);
 * the rest is still parsed, read with replacement characters, so lint can say more.
 */
export function parseTicketBytes(bytes: Buffer, opts: ParseTicketOptions): Ticket {
  let text: string;
  try {
    text = strictUtf8.decode(bytes);
  } catch {
    const ticket = parseTicket(bytes.toString('utf8'), opts);
    const issue: LintIssue = {
      file: opts.relPath,
      message: 'Failed to read ticket',
      code: 'read-failed',
      severity: 'error',
    };
    return { ...ticket, issues: [issue, ...ticket.issues], valid: false, isDone: false };
  }
  return parseTicket(text, opts);
}

/** Where a ticket stands in the queue: invalid frontmatter, done, or open (the only three states). */
export function ticketState(ticket: Pick<Ticket, 'valid' | 'isDone'>): 'done' | 'open' | 'invalid' {
  if (!ticket.valid) return 'invalid';
  return ticket.isDone ? 'done' : 'open';
}
