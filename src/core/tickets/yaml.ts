// YAML reading that matches PyYAML's `safe_load` (YAML 1.1 resolvers), which is what CAR uses for
// ticket frontmatter. The `yaml` package does the parsing; only plain-scalar resolution is replaced.
import {
  type CollectionTag,
  CST,
  type Document,
  type DocumentOptions,
  isAlias,
  isMap,
  isNode,
  isPair,
  isScalar,
  LineCounter,
  type Pair,
  type ParseOptions,
  Parser,
  parseDocument,
  Scalar,
  type ScalarTag,
  type SchemaOptions,
  type YAMLMap,
  YAMLParseError,
  YAMLSeq,
} from 'yaml';
import { lineAndColumn, parseDocumentWithinLimits, type YamlLimitProblem } from '../yaml-limits.ts';
import {
  dropFinalBreakAtEnd,
  indentQuotedContinuations,
  type PyYamlRefusal,
  pyYamlRefusal,
  refusalWatch,
  unhashableKey,
} from './pyyaml-compat.ts';

const INT_TAG = 'tag:yaml.org,2002:int';
const FLOAT_TAG = 'tag:yaml.org,2002:float';
const BOOL_TAG = 'tag:yaml.org,2002:bool';
const NULL_TAG = 'tag:yaml.org,2002:null';
const TIMESTAMP_TAG = 'tag:yaml.org,2002:timestamp';

export interface YamlProblem {
  message: string;
  /** 1-based, relative to the parsed text. */
  line: number;
  col: number;
  /** Set when an input limit was hit (see core/input-limits.ts). */
  code?: YamlLimitProblem['code'];
}

// Resolvers copied as facts from PyYAML's resolver.py.
export const BOOL_RE = /^(?:yes|Yes|YES|no|No|NO|true|True|TRUE|false|False|FALSE|on|On|ON|off|Off|OFF)$/;
const TRUE_WORDS = new Set(['yes', 'true', 'on']);
const INT_RE =
  /^(?:[-+]?0b[0-1_]+|[-+]?0[0-7_]+|[-+]?(?:0|[1-9][0-9_]*)|[-+]?0x[0-9a-fA-F_]+|[-+]?[1-9][0-9_]*(?::[0-5]?[0-9])+)$/;
// PyYAML's float needs a dot, and an exponent needs a sign: `1e3` and `1.0e3` stay strings.
const FLOAT_RE =
  /^(?:[-+]?(?:[0-9][0-9_]*)\.[0-9_]*(?:[eE][-+][0-9]+)?|\.[0-9][0-9_]*(?:[eE][-+][0-9]+)?|[-+]?[0-9][0-9_]*(?::[0-5]?[0-9])+\.[0-9_]*|[-+]?\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN))$/;
export const NULL_RE = /^(?:~|null|Null|NULL|)$/;
const TIMESTAMP_RE =
  /^(?:[0-9]{4}-[0-9]{2}-[0-9]{2}|[0-9]{4}-[0-9]{1,2}-[0-9]{1,2}(?:[Tt]|[ \t]+)[0-9]{1,2}:[0-9]{2}:[0-9]{2}(?:\.[0-9]*)?(?:[ \t]*(?:Z|[-+][0-9]{1,2}(?::[0-9]{2})?))?)$/;
const TIMESTAMP_PARTS_RE = /^(\d{4})-(\d{1,2})-(\d{1,2})(?:(?:[Tt]|[ \t]+)(\d{1,2}):(\d{2}):(\d{2}))?/;

/** Resolved scalars carry their tag so callers can tell `1` (int) from `1.0` (float). */
function typed(value: unknown, tag: string): Scalar {
  const node = new Scalar(value);
  node.tag = tag;
  return node;
}

function sexagesimal(digits: string): number {
  return digits.split(':').reduce((acc, part) => acc * 60 + Number(part), 0);
}

function resolveInt(source: string, onError: (msg: string) => void): Scalar {
  let text = source.replaceAll('_', '');
  let sign = 1;
  if (text[0] === '-' || text[0] === '+') {
    if (text[0] === '-') sign = -1;
    text = text.slice(1);
  }
  let value: number;
  if (text === '0') value = 0;
  else if (text.startsWith('0b')) value = Number.parseInt(text.slice(2), 2);
  else if (text.startsWith('0x')) value = Number.parseInt(text.slice(2), 16);
  else if (text.startsWith('0')) value = Number.parseInt(text, 8);
  else if (text.includes(':')) value = sexagesimal(text);
  else value = Number.parseInt(text, 10);
  if (Number.isNaN(value)) onError(`invalid integer: ${source}`);
  return typed(value === 0 ? 0 : sign * value, INT_TAG);
}

function resolveFloat(source: string): Scalar {
  let text = source.replaceAll('_', '').toLowerCase();
  let sign = 1;
  if (text[0] === '-' || text[0] === '+') {
    if (text[0] === '-') sign = -1;
    text = text.slice(1);
  }
  let value: number;
  if (text === '.inf') value = Number.POSITIVE_INFINITY;
  else if (text === '.nan') value = Number.NaN;
  else if (text.includes(':')) value = sexagesimal(text);
  else value = Number(text);
  return typed(sign * value, FLOAT_TAG);
}

/** Timestamps stay their source text (never a Date), but impossible dates fail as in PyYAML. */
function resolveTimestamp(source: string, onError: (msg: string) => void): Scalar {
  const m = TIMESTAMP_PARTS_RE.exec(source);
  if (m) {
    const [year, month, day] = [Number(m[1]), Number(m[2]), Number(m[3])];
    const date = new Date(Date.UTC(year, month - 1, day));
    if (date.getUTCMonth() !== month - 1 || date.getUTCDate() !== day || year < 1) {
      onError(`invalid date: ${source}`);
    } else if (m[4] !== undefined && (Number(m[4]) > 23 || Number(m[5]) > 59 || Number(m[6]) > 59)) {
      onError(`invalid time: ${source}`);
    }
  }
  return typed(source, TIMESTAMP_TAG);
}

const TAGS: ScalarTag[] = [
  { tag: NULL_TAG, default: true, test: NULL_RE, resolve: () => typed(null, NULL_TAG) },
  {
    tag: BOOL_TAG,
    default: true,
    test: BOOL_RE,
    resolve: (s) => typed(TRUE_WORDS.has(s.toLowerCase()), BOOL_TAG),
  },
  { tag: FLOAT_TAG, default: true, test: FLOAT_RE, resolve: (s) => resolveFloat(s) },
  { tag: INT_TAG, default: true, test: INT_RE, resolve: resolveInt },
  // An explicit `!!float '1'` is constructed even though `1` does not match the implicit resolver.
  { tag: FLOAT_TAG, resolve: (s) => resolveFloat(s) },
  { tag: TIMESTAMP_TAG, default: true, test: TIMESTAMP_RE, resolve: resolveTimestamp },
  {
    // PyYAML resolves a plain `=` to the `value` tag, which safe_load cannot construct.
    tag: 'tag:yaml.org,2002:value',
    default: true,
    test: /^=$/,
    resolve: (s, onError) => {
      onError("could not determine a constructor for the tag 'tag:yaml.org,2002:value'");
      return s;
    },
  },
];

/**
 * Resolves a plain scalar as PyYAML's implicit resolvers do. Null when safe_load could not construct
 * it (an impossible date, a bare `=`); the full parser then reports the problem.
 */
export function resolvePlain(source: string): Scalar | null {
  for (const tag of TAGS) {
    if (tag.default !== true || !tag.test?.test(source)) continue;
    let failed = false;
    const node = tag.resolve(
      source,
      () => {
        failed = true;
      },
      {},
    );
    return failed || !(node instanceof Scalar) ? null : node;
  }
  return new Scalar(source);
}

type ToJSContext = Parameters<YAMLSeq['toJSON']>[1];

function nodeValue(node: unknown, ctx: ToJSContext): unknown {
  return isNode(node) ? (node as YAMLSeq).toJSON('', ctx) : node;
}

/**
 * PyYAML's `!!omap` and `!!pairs`: a list of [key, value] pairs, in order, duplicates kept (the `yaml`
 * package makes an omap a Map, which JSON writes as `{}`, and refuses duplicates).
 */
class PairList extends YAMLSeq {
  override toJSON(_?: unknown, ctx?: ToJSContext): unknown[] {
    return this.items.map((item) =>
      isPair(item) ? [nodeValue(item.key, ctx), nodeValue(item.value, ctx)] : nodeValue(item, ctx),
    );
  }
}

function pairListTag(tag: string): CollectionTag {
  return {
    tag,
    collection: 'seq',
    nodeClass: PairList,
    resolve(seq, onError) {
      const list = new PairList();
      for (const item of seq.items) {
        const pair = isPair(item) ? item : isMap(item) && item.items.length === 1 ? item.items[0] : undefined;
        if (pair) list.items.push(pair);
        else onError(`expected a mapping of length 1 in ${tag.replace('tag:yaml.org,2002:', '!!')}`);
      }
      return list;
    },
  };
}

const OPTIONS: ParseOptions & DocumentOptions & SchemaOptions = {
  version: '1.1',
  schema: 'failsafe',
  customTags: [
    ...TAGS,
    'binary',
    pairListTag('tag:yaml.org,2002:omap'),
    pairListTag('tag:yaml.org,2002:pairs'),
    'set',
  ],
  merge: true,
  // PyYAML keeps the last of duplicate keys silently.
  uniqueKeys: false,
};

/**
 * `doc` as PyYAML would read `text` (pyyaml-compat.ts): what PyYAML refuses is added as a parse error,
 * and a block scalar that ends the text loses the final line break PyYAML would not add.
 */
function asPyYaml(
  doc: Document.Parsed,
  text: string,
  refused: PyYamlRefusal | null = pyYamlRefusal(text),
): Document.Parsed {
  dropFinalBreakAtEnd(doc, text);
  const refusal = refused ?? unhashableKey(doc);
  if (refusal) {
    const { offset, message } = refusal;
    const error = new YAMLParseError([offset, offset + 1], 'UNEXPECTED_TOKEN', message);
    error.linePos = [lineAndColumn(text, offset)];
    doc.errors.unshift(error);
  }
  return doc;
}

/** Parses YAML text into a Document whose plain scalars resolve like PyYAML's safe_load. */
export function parseYamlDocument(text: string, lineCounter?: LineCounter): Document.Parsed {
  return asPyYaml(parseDocument(text, lineCounter ? { ...OPTIONS, lineCounter } : OPTIONS), text);
}

function limitProblem(text: string, limit: YamlLimitProblem): YamlProblem {
  return { ...lineAndColumn(text, limit.offset), message: limit.message, code: limit.code };
}

/**
 * parseYamlDocument within the input limits: flow nesting is checked as the text is lexed, aliases and
 * depth right after parsing, before anything converts the document to values. `limit` is set (and
 * `doc` null) when a limit was hit. Callers check the size of the text first.
 */
export function parseBoundedYamlDocument(
  text: string,
  lineCounter?: LineCounter,
): { doc: Document.Parsed; limit: null } | { doc: null; limit: YamlProblem } {
  // What PyYAML refuses is found in the same pass of the lexer and parser, not in passes of its own.
  const watch = refusalWatch(text);
  const { doc, limit } = parseDocumentWithinLimits(
    text,
    lineCounter ? { ...OPTIONS, lineCounter } : OPTIONS,
    { observer: watch.observer },
  );
  if (limit) return { doc: null, limit: limitProblem(text, limit) };
  return { doc: asPyYaml(doc, text, watch.refusal()), limit: null };
}

const UNCLOSED_QUOTE_RE = /^Missing closing ["']quote/;

/**
 * parseBoundedYamlDocument for reading values, never for edits: when a quoted value seems unclosed
 * to the `yaml` package because its continuation lines are not indented enough (PyYAML joins them
 * whatever their indent), the text is parsed again with them indented (pyyaml-compat.ts). `text` is
 * what was parsed (line breaks unchanged) and `lineCounter` counts its lines.
 */
export function parseBoundedYamlValues(source: string): (
  | { doc: Document.Parsed; limit: null }
  | { doc: null; limit: YamlProblem }
) & {
  text: string;
  lineCounter: LineCounter;
} {
  const lineCounter = new LineCounter();
  const first = parseBoundedYamlDocument(source, lineCounter);
  if (!first.doc?.errors.some((e) => e.code === 'MISSING_CHAR' && UNCLOSED_QUOTE_RE.test(e.message))) {
    return { ...first, text: source, lineCounter };
  }
  const text = indentQuotedContinuations(source);
  if (text === source) return { ...first, text: source, lineCounter };
  const again = new LineCounter();
  return { ...parseBoundedYamlDocument(text, again), text, lineCounter: again };
}

/**
 * Errors of a parsed document, with 1-based positions in its text. Unresolvable explicit tags are
 * warnings in `yaml` but errors in PyYAML's safe_load.
 */
export function documentProblems(doc: Document.Parsed, text?: string): YamlProblem[] {
  const problems = [...doc.errors, ...doc.warnings.filter((w) => w.code === 'TAG_RESOLVE_FAILED')];
  return problems.map((e) => {
    const message = (e.message.split('\n')[0] ?? e.message).replace(/ at line \d+, column \d+:?$/, '');
    const start = text === undefined ? null : unclosedStart(text, e);
    if (start !== null) return { message, ...lineAndColumn(text!, start) };
    return { message, line: e.linePos?.[0].line ?? 1, col: e.linePos?.[0].col ?? 1 };
  });
}

const QUOTED = new Set(['double-quoted-scalar', 'single-quoted-scalar']);

/**
 * Where the construct an unclosed-quote or unclosed-flow error is about starts. The `yaml` package
 * reports these where it gave up (the end of the text, or the next key's line: one line late, often
 * the closing fence); the line of the opening quote or bracket is the one to fix. Null for other errors.
 */
function unclosedStart(text: string, e: YAMLParseError): number | null {
  const kinds = /^Missing closing ['"]quote/.test(e.message)
    ? QUOTED
    : /^Flow (?:sequence|map) in block collection/.test(e.message)
      ? new Set(['flow-collection'])
      : null;
  if (kinds === null) return null;
  const at = e.pos[0];
  let best: number | null = null;
  for (const token of new Parser().parse(text)) {
    if (token.type !== 'document') continue;
    CST.visit(token, (item) => {
      for (const t of [item.key, item.value]) {
        if (!t || !kinds.has(t.type) || t.offset >= at) continue;
        if (t.offset + CST.stringify(t).length >= at && (best === null || t.offset > best)) best = t.offset;
      }
    });
  }
  return best;
}

/**
 * Converts a document that passed checkYamlDocument to plain JS values. Unknown aliases only surface
 * here, as a throw. The limits check bounds aliases and their expansion, so yaml's own per-anchor
 * heuristic (maxAliasCount) is off: it would refuse, say, 100 uses of one anchor the limits allow.
 */
export function documentValue(doc: Document.Parsed, text: string): { value: unknown; errors: YamlProblem[] } {
  try {
    return { value: doc.toJS({ maxAliasCount: -1 }), errors: [] };
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    const alias = /: (\S+)$/.exec(message)?.[1];
    const at = alias === undefined ? -1 : text.indexOf(`*${alias}`);
    const before = at < 0 ? '' : text.slice(0, at);
    const line = before.split('\n').length;
    return { value: null, errors: [{ message, line, col: at < 0 ? 1 : at - before.lastIndexOf('\n') }] };
  }
}

/**
 * PyYAML-compatible `safe_load`: the value (null for an empty document) and any problems, an input
 * limit hit among them (with its `code`). Callers check the size of the text first.
 */
export function parseYaml(source: string): { value: unknown; errors: YamlProblem[] } {
  const { doc, limit, text } = parseBoundedYamlValues(source);
  if (limit) return { value: null, errors: [limit] };
  const errors = documentProblems(doc, text);
  return errors.length > 0 ? { value: null, errors } : documentValue(doc, text);
}

/** True when a node is a plain-resolved or `!!int`-tagged integer (not a float). */
export function isIntNode(node: unknown): boolean {
  return node instanceof Scalar && node.tag === INT_TAG && typeof node.value === 'number';
}

/** True when a node is a timestamp: car keeps its text, PyYAML constructs a date (not a str). */
export function isTimestampNode(node: unknown): boolean {
  return node instanceof Scalar && node.tag === TIMESTAMP_TAG;
}

/** Top-level keys of a mapping document whose (last) value is a timestamp, aliases followed. */
export function timestampKeys(doc: Document.Parsed): Set<string> {
  const keys = new Set<string>();
  if (!isMap(doc.contents)) return keys;
  for (const pair of doc.contents.items) {
    if (!isScalar(pair.key) || typeof pair.key.value !== 'string') continue;
    const value = isAlias(pair.value) ? pair.value.resolve(doc) : pair.value;
    if (isTimestampNode(value)) keys.add(pair.key.value);
    else keys.delete(pair.key.value);
  }
  return keys;
}

/** The pair for a top-level key; the last of duplicates wins, as in PyYAML. */
export function findPair(map: YAMLMap, key: string): Pair | undefined {
  for (let i = map.items.length - 1; i >= 0; i--) {
    const pair = map.items[i]!;
    if (isScalar(pair.key) && pair.key.value === key) return pair;
  }
  return undefined;
}
