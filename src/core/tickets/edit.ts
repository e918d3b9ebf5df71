// Writes to ticket frontmatter. Edits are surgical: only the bytes of one value change, so comments,
// key order, quoting, line endings, a BOM and the body stay exactly as the author (or CAR) left them.
import { isDeepStrictEqual } from 'node:util';
import { isAlias, isMap, isScalar, isSeq, Scalar, type YAMLMap } from 'yaml';
import { writeFileAtomic } from '../fs/atomic.ts';
import { checkTextSize, INPUT_LIMITS, InputLimitError, readFileBounded } from '../input-limits.ts';
import { type FrontmatterSplit, splitFrontmatter } from './frontmatter.ts';
import { sanitizeTicketId } from './lint.ts';
import { newTicketId } from './ticket.ts';
import { decodeWithOffsets } from './utf8-offsets.ts';
import {
  documentProblems,
  documentValue,
  findPair,
  parseBoundedYamlDocument,
  parseYaml,
  resolvePlain,
} from './yaml.ts';

export class TicketEditError extends Error {
  override name = 'TicketEditError';
}

export type ScalarValue = string | number | boolean | null;

// Conservative plain-scalar shape; whether PyYAML reads it back as the same string is checked after.
const PLAIN_RE = /^[\p{L}\p{N}_./(][^\p{C}\p{Zl}\p{Zp},[\]{}]*$/u;

function isPlainSafe(s: string): boolean {
  if (!PLAIN_RE.test(s) || / #|: |[: ]$/.test(s)) return false;
  // Our reader keeps timestamps as text, but PyYAML would read a date: those must be quoted too.
  if (resolvePlain(s)?.tag !== undefined) return false;
  const { value, errors } = parseYaml(`k: ${s}`);
  return errors.length === 0 && isDeepStrictEqual(value, { k: s });
}

function doubleQuoted(s: string): string {
  let out = '"';
  for (const ch of s) {
    const code = ch.codePointAt(0)!;
    if (ch === '"' || ch === '\\') out += `\\${ch}`;
    else if (ch === '\n') out += '\\n';
    else if (ch === '\t') out += '\\t';
    else if (ch === '\r') out += '\\r';
    // Control, format, surrogate and line/paragraph separator characters are escaped.
    else if (/[\p{C}\p{Zl}\p{Zp}]/u.test(ch)) {
      out +=
        code > 0xffff
          ? `\\U${code.toString(16).padStart(8, '0')}`
          : `\\u${code.toString(16).padStart(4, '0')}`;
    } else out += ch;
  }
  return `${out}"`;
}

/** PyYAML's float spelling: it needs a dot, so `1e+21` is written `1.0e+21`. */
function floatText(n: number): string {
  if (Number.isNaN(n)) return '.nan';
  if (!Number.isFinite(n)) return n > 0 ? '.inf' : '-.inf';
  const text = String(n);
  return text.includes('.') || !text.includes('e') ? text : text.replace('e', '.0e');
}

/** Renders a scalar so PyYAML reads back the same value: plain when that is safe, else double-quoted. */
export function renderScalar(value: ScalarValue): string {
  if (value === null) return 'null';
  if (typeof value === 'boolean') return value ? 'true' : 'false';
  if (typeof value === 'number') return Number.isSafeInteger(value) ? String(value) : floatText(value);
  return isPlainSafe(value) ? value : doubleQuoted(value);
}

function parseFrontmatterMap(text: string, where: string): { map: YAMLMap | null; split: FrontmatterSplit } {
  const split = splitFrontmatter(text);
  if (split.yaml === null) throw new TicketEditError(`${where}has no valid frontmatter (${split.absence})`);
  const tooBig =
    checkTextSize(text, INPUT_LIMITS.ticketFileBytes, 'a ticket file') ??
    checkTextSize(split.yaml, INPUT_LIMITS.frontmatterBytes, 'frontmatter');
  if (tooBig) throw new TicketEditError(`${where}${tooBig.message}`);
  const { doc, limit } = parseBoundedYamlDocument(split.yaml);
  if (limit) throw new TicketEditError(`${where}line ${split.yamlLine - 1 + limit.line}: ${limit.message}`);
  const problem = documentProblems(doc)[0];
  if (problem) throw new TicketEditError(`${where}frontmatter is not valid YAML: ${problem.message}`);
  const contents = doc.contents;
  if (contents === null || (isScalar(contents) && contents.value === null)) return { map: null, split };
  if (!isMap(contents)) throw new TicketEditError(`${where}frontmatter is not a mapping`);
  return { map: contents, split };
}

/** The frontmatter's value; `text` has passed parseFrontmatterMap (so it is within the limits). */
function frontmatterValue(text: string): Record<string, unknown> {
  const split = splitFrontmatter(text);
  const { doc } = parseBoundedYamlDocument(split.yaml ?? '');
  const { value } = doc ? documentValue(doc, split.yaml ?? '') : { value: null };
  return (value ?? {}) as Record<string, unknown>;
}

/** The [start, end) region in the YAML text to replace, and what to put there. */
function valueRegion(
  yaml: string,
  map: YAMLMap,
  key: string,
  rendered: string,
): [number, number, string] | null {
  const pair = findPair(map, key);
  if (!pair) return null;
  const value = pair.value;
  const keyEnd = (pair.key as Scalar).range?.[1] ?? 0;
  const colon = yaml.indexOf(':', keyEnd);
  if (colon < 0) return null;
  const range = (isScalar(value) || isAlias(value)) && value.range;
  // A tag or anchor sits between the colon and the value's range; comments there are harmless.
  const props = range ? /[!&]/.test(yaml.slice(colon + 1, range[0]).replace(/#.*/g, '')) : true;
  const block =
    isScalar(value) && (value.type === Scalar.BLOCK_LITERAL || value.type === Scalar.BLOCK_FOLDED);
  const simple = range && range[1] > range[0] && !props && !block;
  if (simple) return [range[0], range[1], rendered];
  // Empty, tagged, anchored, block or collection values: replace everything after the colon.
  let end = (value as Scalar | null)?.range?.[1] ?? colon + 1;
  while (end > colon + 1 && /\s/.test(yaml[end - 1]!)) end--;
  return [colon + 1, Math.max(end, colon + 1), ` ${rendered}`];
}

/** One edit of a file's text: replace [start, end) with `insert`. */
interface Splice {
  start: number;
  end: number;
  insert: string;
}

const applySplice = (text: string, s: Splice): string =>
  text.slice(0, s.start) + s.insert + text.slice(s.end);

/** The splice that sets `key`, checked to read back as intended (see setFrontmatterField). */
function planEdit(text: string, key: string, value: ScalarValue, where: string): Splice {
  const { map, split } = parseFrontmatterMap(text, where);
  const yaml = split.yaml!;
  const offset = split.yamlOffset;
  const rendered = renderScalar(value);
  let splice: Splice;
  const region = map && valueRegion(yaml, map, key, rendered);
  if (region) {
    const [start, end, insert] = region;
    splice = { start: offset + start, end: offset + end, insert };
  } else {
    if (map?.flow) throw new TicketEditError(`${where}cannot add '${key}' to a flow-style frontmatter`);
    const firstKey = (map?.items[0]?.key as Scalar | undefined)?.range?.[0];
    const indent =
      firstKey === undefined ? '' : yaml.slice(yaml.lastIndexOf('\n', firstKey - 1) + 1, firstKey);
    const at = offset + yaml.length;
    splice = { start: at, end: at, insert: `${indent}${renderScalar(key)}: ${rendered}${split.eol}` };
  }
  verifyEdit(text, applySplice(text, splice), key, value, where);
  return splice;
}

/**
 * Sets one top-level frontmatter key, changing only the bytes of its value. An absent key is added
 * as a new line just before the closing fence. Throws TicketEditError when the text has no valid
 * frontmatter mapping or the result would not read back as intended.
 */
export function setFrontmatterField(text: string, key: string, value: ScalarValue, file?: string): string {
  return applySplice(text, planEdit(text, key, value, file ? `${file}: ` : ''));
}

/**
 * setFrontmatterField on a file's bytes, which need not be valid UTF-8: every byte outside the edited
 * value is kept exactly (decoding and encoding the whole file would turn invalid bytes into U+FFFD).
 */
export function setFrontmatterFieldBytes(
  bytes: Uint8Array,
  key: string,
  value: ScalarValue,
  file?: string,
): Buffer {
  const { text, byteOffset } = decodeWithOffsets(bytes);
  const splice = planEdit(text, key, value, file ? `${file}: ` : '');
  return Buffer.concat([
    bytes.subarray(0, byteOffset(splice.start)),
    Buffer.from(splice.insert, 'utf8'),
    bytes.subarray(byteOffset(splice.end)),
  ]);
}

/**
 * Sets one frontmatter key of the ticket file at `path` in place, atomically and keeping every other
 * byte. Throws TicketEditError naming `file` (default: `path`) for a file it cannot edit, a DiskError
 * when the disk is full or read-only.
 */
export function setTicketFileField(path: string, key: string, value: ScalarValue, file = path): void {
  let bytes: Buffer;
  try {
    bytes = readFileBounded(path, INPUT_LIMITS.ticketFileBytes, 'a ticket file');
  } catch (err) {
    if (err instanceof InputLimitError) throw new TicketEditError(`${file}: ${err.message}`);
    throw err;
  }
  writeFileAtomic(path, setFrontmatterFieldBytes(bytes, key, value, file));
}

function verifyEdit(before: string, after: string, key: string, value: ScalarValue, where: string): void {
  const expected = { ...frontmatterValue(before), [key]: value };
  let actual: Record<string, unknown>;
  try {
    parseFrontmatterMap(after, where);
    actual = frontmatterValue(after);
  } catch {
    actual = {};
  }
  if (!isDeepStrictEqual(actual, expected)) {
    throw new TicketEditError(
      `${where}setting '${key}' would not read back as intended; edit the file by hand`,
    );
  }
}

export interface NewTicketFields {
  /** Generated (`tkt_<uuid4 hex>`) when absent or invalid. */
  ticket_id?: string;
  agent: string;
  done: boolean;
  title?: string;
  goal?: string;
  model?: string;
  reasoning?: string;
  profile?: string;
  context?: Array<{ path: string; max_bytes?: number; required?: boolean }>;
  [key: string]: unknown;
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function inline(v: unknown): string {
  if (Array.isArray(v)) return '[]';
  if (isObject(v)) return '{}';
  if (v === null || typeof v === 'boolean' || typeof v === 'number' || typeof v === 'string')
    return renderScalar(v);
  return renderScalar(String(v));
}

function dumpEntries(obj: Record<string, unknown>, indent: number): string[] {
  const pad = ' '.repeat(indent);
  const lines: string[] = [];
  for (const [k, v] of Object.entries(obj)) {
    if (v === undefined) continue;
    const key = `${pad}${renderScalar(k)}:`;
    if (isObject(v) && Object.keys(v).length > 0) lines.push(key, ...dumpEntries(v, indent + 2));
    else if (Array.isArray(v) && v.length > 0) lines.push(key, ...dumpItems(v, indent));
    else lines.push(`${key} ${inline(v)}`);
  }
  return lines;
}

/** Block sequence items at the parent key's indent, as PyYAML's safe_dump writes them. */
function dumpItems(items: unknown[], indent: number): string[] {
  const pad = ' '.repeat(indent);
  const lines: string[] = [];
  for (const item of items) {
    const nested = isObject(item) && Object.keys(item).length > 0 ? dumpEntries(item, indent + 2) : null;
    const inner = Array.isArray(item) && item.length > 0 ? dumpItems(item, indent + 2) : nested;
    if (inner?.[0] !== undefined) lines.push(`${pad}- ${inner[0].slice(indent + 2)}`, ...inner.slice(1));
    else lines.push(`${pad}- ${inline(item)}`);
  }
  return lines;
}

/** A new ticket in CAR's layout: `---\n<yaml>\n---\n\n<body>\n` (no body section when it is empty). */
export function renderNewTicket(fields: NewTicketFields, body: string): string {
  const { ticket_id, ...rest } = fields;
  const data = { ticket_id: sanitizeTicketId(ticket_id) ?? newTicketId(), ...rest };
  const yaml = dumpEntries(data, 0).join('\n');
  const text = body.replace(/^\n+/, '').trimEnd();
  return text ? `---\n${yaml}\n---\n\n${text}\n` : `---\n${yaml}\n---\n`;
}

/**
 * Rewrites the entries of the `depends_on` key (a list, or one value) through `rename` (null: keep the
 * entry), splicing only each changed entry's bytes. Text without the key is returned as it is. Throws
 * TicketEditError when the frontmatter cannot be read or the result would not read back as intended.
 */
export function renameDependsOn(text: string, rename: (ref: string) => string | null, file?: string): string {
  const where = file ? `${file}: ` : '';
  const { map, split } = parseFrontmatterMap(text, where);
  const value = map ? findPair(map, 'depends_on')?.value : undefined;
  if (!value) return text;
  const items = isSeq(value) ? value.items : [value];
  const splices: Splice[] = [];
  const expected: unknown[] = [];
  for (const item of items) {
    if (
      !isScalar(item) ||
      !item.range ||
      (typeof item.value !== 'string' && typeof item.value !== 'number')
    ) {
      expected.push(isScalar(item) ? item.value : undefined);
      continue;
    }
    // numbers are matched as their digits were written (`010` is ticket 10, not octal 8)
    const written = split.yaml!.slice(item.range[0], item.range[1]).trim();
    const ref = typeof item.value === 'number' && /^\d+$/.test(written) ? written : String(item.value);
    const renamed = rename(ref);
    expected.push(renamed ?? item.value);
    if (renamed === null || renamed === ref) continue;
    const start = split.yamlOffset + item.range[0];
    splices.push({ start, end: start + written.length, insert: renderScalar(renamed) });
  }
  let out = text;
  for (const s of splices.sort((a, b) => b.start - a.start)) out = applySplice(out, s);
  if (splices.length === 0) return text;
  const after = frontmatterValue(out).depends_on;
  const got = Array.isArray(after) ? after : [after];
  if (!isDeepStrictEqual(got, expected))
    throw new TicketEditError(`${where}renumbering depends_on would not read back as intended`);
  return out;
}
