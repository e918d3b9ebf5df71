// Loads frontmatter YAML into plain values plus the line of every node lint needs. Most tickets are
// flat `key: scalar` lines; those take a line-by-line fast path (the `yaml` package costs ~0.3 ms per
// document in a cold process, which 500 tickets cannot afford). Anything else goes to the full parser.
import { type Document, isAlias, isMap, isScalar, isSeq } from 'yaml';
import type { InputLimitCode } from '../input-limits.ts';
import { nonPrintableRefusal } from './pyyaml-compat.ts';
import {
  BOOL_RE,
  documentProblems,
  documentValue,
  isIntNode,
  isTimestampNode,
  NULL_RE,
  parseBoundedYamlValues,
  resolvePlain,
} from './yaml.ts';

/** A YAML node reduced to what lint needs, with 1-based lines in the file. */
export interface Located {
  line: number;
  /** An int as PyYAML constructs it (not a float, not a string). */
  isInt: boolean;
  /** A timestamp: car keeps its text where PyYAML constructs a date, so it is no str to CAR. */
  isTimestamp?: true;
  /** An int's text as written: PyYAML reads `010` as octal 8, a ticket number in `depends_on` is decimal. */
  intText?: string;
  /** Mapping: each string key's line and value; the last duplicate wins, as in PyYAML. */
  pairs?: Map<string, { keyLine: number; value: Located }>;
  /** Sequence items. */
  items?: Located[];
}

export interface LoadedYaml {
  /** The safe_load value (null for an empty document or on a problem). */
  value: unknown;
  /** Null for an empty document or on a problem. */
  root: Located | null;
  /** `code` is set when an input limit was hit (core/input-limits.ts). */
  problem: { message: string; line: number; code?: InputLimitCode } | null;
}

const KEY_LINE_RE = /^([A-Za-z_][A-Za-z0-9_-]*):(?:[ ]+(.*))?$/;
const SKIP_LINE_RE = /^[ ]*(?:#.*)?$/;
const DOUBLE_RE = /^"([^"\\\p{C}\p{Zl}\p{Zp}]*)"(?:[ ]+#.*)?[ ]*$/u;
const SINGLE_RE = /^'((?:[^'\p{C}\p{Zl}\p{Zp}]|'')*)'(?:[ ]+#.*)?[ ]*$/u;
// Plain scalars that cannot start an indicator, hold a tab or a YAML 1.1 line break.
const PLAIN_RE = /^[\p{L}\p{N}_./~(+-][^\p{C}\p{Zl}\p{Zp}]*$/u;

type FastValue = { value: unknown; isInt: boolean; isTimestamp?: true; intText?: string };

/** A flat value, or undefined when the text needs the full parser. */
function fastValue(rest: string | undefined): FastValue | undefined {
  const text = rest?.replace(/^ +/, '') ?? '';
  if (text === '' || text.startsWith('#')) return { value: null, isInt: false };
  if (text[0] === '"') {
    const m = DOUBLE_RE.exec(text);
    return m ? { value: m[1], isInt: false } : undefined;
  }
  if (text[0] === "'") {
    const m = SINGLE_RE.exec(text);
    return m ? { value: m[1]!.replaceAll("''", "'"), isInt: false } : undefined;
  }
  const cut = text.indexOf(' #');
  const plain = (cut === -1 ? text : text.slice(0, cut)).replace(/ +$/, '');
  if (!PLAIN_RE.test(plain) || plain.includes(': ') || plain.endsWith(':')) return undefined;
  if (plain[0] === '-' && (plain.length === 1 || plain[1] === ' ')) return undefined;
  const node = resolvePlain(plain);
  if (!node) return undefined;
  if (isTimestampNode(node)) return { value: node.value, isInt: false, isTimestamp: true };
  return isIntNode(node)
    ? { value: node.value, isInt: true, intText: plain }
    : { value: node.value, isInt: false };
}

/** The Located of a flat value on `line`. */
function locatedValue(line: number, v: FastValue): Located {
  if (v.isTimestamp) return { line, isInt: false, isTimestamp: true };
  return v.intText === undefined ? { line, isInt: v.isInt } : { line, isInt: v.isInt, intText: v.intText };
}

type Pairs = Map<string, { keyLine: number; value: Located }>;

/** Adds `key: scalar` (from a KEY_LINE_RE match) to a mapping; false when it needs the full parser. */
function addPair(m: RegExpExecArray, line: number, data: Record<string, unknown>, pairs: Pairs): boolean {
  const key = m[1]!;
  if (BOOL_RE.test(key) || NULL_RE.test(key) || key === '__proto__') return false;
  const v = fastValue(m[2]);
  if (!v) return false;
  data[key] = v.value;
  pairs.set(key, { keyLine: line, value: locatedValue(line, v) });
  return true;
}

/**
 * A block sequence of scalars or flat mappings (the shape of `context`) starting at `lines[start]`.
 * Returns the items and the index of the first line after it, or null to use the full parser.
 */
function loadSeq(
  lines: string[],
  start: number,
  firstLine: number,
): { value: unknown[]; items: Located[]; end: number } | null {
  const indent = /^ */.exec(lines[start]!)![0].length;
  const itemRe = new RegExp(`^ {${indent}}- (?! )(.*)$`);
  const contRe = new RegExp(`^ {${indent + 2}}(?! )(.*)$`);
  const value: unknown[] = [];
  const items: Located[] = [];
  let map: { data: Record<string, unknown>; pairs: Pairs } | null = null;
  let i = start;
  for (; i < lines.length; i++) {
    const line = lines[i]!;
    if (SKIP_LINE_RE.test(line)) continue;
    const item = itemRe.exec(line);
    const cont = item ? null : map && contRe.exec(line);
    const text = item?.[1] ?? cont?.[1];
    if (text === undefined) break;
    const pair = KEY_LINE_RE.exec(text);
    if (cont && !pair) return null;
    if (pair) {
      // An empty value may open a nested block, which only the full parser handles.
      if (!pair[2]?.trim()) return null;
      if (item) {
        map = { data: {}, pairs: new Map() };
        value.push(map.data);
        items.push({ line: firstLine + i, isInt: false, pairs: map.pairs });
      }
      if (!addPair(pair, firstLine + i, map!.data, map!.pairs)) return null;
      continue;
    }
    map = null;
    const v = fastValue(text);
    if (!v || v.value === null) return null;
    value.push(v.value);
    items.push(locatedValue(firstLine + i, v));
  }
  // Trailing comment lines belong to whatever follows.
  while (i > start && SKIP_LINE_RE.test(lines[i - 1]!)) i--;
  return { value, items, end: i };
}

/**
 * Flat frontmatter: top-level `key: scalar` lines, comments, blank lines, and block sequences of
 * scalars or flat mappings. Null when the text needs the full parser.
 */
export function loadFlat(yaml: string, firstLine: number): LoadedYaml | null {
  const lines = yaml.split(/\r\n|\n|\r/);
  const data: Record<string, unknown> = {};
  const pairs: Pairs = new Map();
  let rootLine: number | undefined;
  let i = 0;
  while (i < lines.length) {
    const line = lines[i]!;
    const m = KEY_LINE_RE.exec(line);
    if (!m) {
      if (!SKIP_LINE_RE.test(line)) return null;
      i++;
      continue;
    }
    if (!addPair(m, firstLine + i, data, pairs)) return null;
    rootLine ??= firstLine + i;
    i++;
    let next = i;
    while (next < lines.length && SKIP_LINE_RE.test(lines[next]!)) next++;
    // Only an empty value (`key:` or `key: # note`) can open a block sequence.
    if (SKIP_LINE_RE.test(m[2] ?? '') && next < lines.length && /^ *- /.test(lines[next]!)) {
      const seq = loadSeq(lines, next, firstLine);
      if (!seq) return null;
      data[m[1]!] = seq.value;
      pairs.get(m[1]!)!.value = { line: firstLine + next, isInt: false, items: seq.items };
      i = seq.end;
    }
  }
  if (rootLine === undefined) return { value: null, root: null, problem: null };
  return { value: data, root: { line: rootLine, isInt: false, pairs }, problem: null };
}

function locate(
  node: unknown,
  doc: Document.Parsed,
  lineOf: (offset: number) => number,
  fallback: number,
): Located {
  const target = isAlias(node) ? node.resolve(doc) : node;
  const range = (node as { range?: [number, number, number] } | null)?.range;
  const line = range ? lineOf(range[0]) : fallback;
  if (isMap(target)) {
    const pairs = new Map<string, { keyLine: number; value: Located }>();
    for (const pair of target.items) {
      if (!isScalar(pair.key) || typeof pair.key.value !== 'string') continue;
      const keyLine = pair.key.range ? lineOf(pair.key.range[0]) : line;
      pairs.set(pair.key.value, { keyLine, value: locate(pair.value, doc, lineOf, keyLine) });
    }
    return { line, isInt: false, pairs };
  }
  if (isSeq(target))
    return { line, isInt: false, items: target.items.map((it) => locate(it, doc, lineOf, line)) };
  if (isTimestampNode(target)) return { line, isInt: false, isTimestamp: true };
  if (!isIntNode(target)) return { line, isInt: false };
  const text = (target as { source?: string }).source;
  return text === undefined ? { line, isInt: true } : { line, isInt: true, intText: text };
}

/** The full parser, within the input limits (the caller has checked the frontmatter's size). */
export function loadFull(yaml: string, firstLine: number): LoadedYaml {
  const { doc, limit, text, lineCounter: counter } = parseBoundedYamlValues(yaml);
  if (limit) {
    const problem = { message: limit.message, line: firstLine - 1 + limit.line };
    return { value: null, root: null, problem: limit.code ? { ...problem, code: limit.code } : problem };
  }
  const problems = documentProblems(doc, text);
  const { value, errors } =
    problems.length > 0 ? { value: null, errors: problems } : documentValue(doc, text);
  const problem = errors[0];
  if (problem) {
    return {
      value: null,
      root: null,
      problem: { message: problem.message, line: firstLine - 1 + problem.line },
    };
  }
  if (value === null || value === undefined) return { value: null, root: null, problem: null };
  const lineOf = (offset: number): number => firstLine - 1 + counter.linePos(offset).line;
  return { value, root: locate(doc.contents, doc, lineOf, firstLine), problem: null };
}

/** PyYAML `safe_load` of frontmatter whose first line is `firstLine` in the file. */
export function loadFrontmatterYaml(yaml: string, firstLine: number): LoadedYaml {
  // The fast path takes any character in a comment; the full parser reports what PyYAML refuses. The
  // other things PyYAML refuses (anchor names, tabs between tokens, explicit keys, `]: `) are never in
  // the flat lines the fast path takes.
  if (nonPrintableRefusal(yaml)) return loadFull(yaml, firstLine);
  return loadFlat(yaml, firstLine) ?? loadFull(yaml, firstLine);
}
