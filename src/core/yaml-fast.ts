// Plain block YAML read without the `yaml` package's parser, for config files and the hub manifest.
// That parser costs ~25 µs a token in a cold process (a 500-repo manifest is ~26,000 tokens: ~0.3 s;
// CAR's whole default config ~3,100: ~0.1 s), so what CAR, car and people write is read here in one
// pass over the lines instead: a mapping at the top, block mappings and sequences, plain and quoted
// scalars (multi-line ones too, folded as YAML folds them), literal block scalars (`|`, `|-`, `|+`),
// flow collections on one line, comments. Scalars are resolved by the `yaml` package's own YAML 1.1
// tags, so the value is the one its parse + toJS gives. Anything else (anchors, aliases, tags, folded
// block scalars, complex or non-string keys, duplicate keys, merge keys, tabs, control and format
// characters, directives, `---`, unexpected indentation...) is declined, saying on which line and
// what is there, and the caller parses the text with the `yaml` package within its token budget
// (yaml-limits.ts), whose error names that line. yaml-fast.test.ts checks on generated and mutated
// files that both readers agree wherever this one answers.
import { Document, isScalar } from 'yaml';
import { INPUT_LIMITS } from './input-limits.ts';

/** Thrown inside the reader when the text is not plain block YAML, with what was found. */
class Decline extends Error {}

function decline(reason: string): never {
  throw new Decline(reason);
}

/** What a value starting with `c` is, where this reader does not take it. */
function startReason(c: string): string {
  const what: Record<string, string> = {
    '&': 'an anchor',
    '*': 'an alias',
    '!': 'a tag',
    '>': 'a folded block scalar',
    '?': 'a complex key',
    '-': 'a sequence entry where a value goes',
    '|': 'a block scalar header other than |, |- or |+',
  };
  return what[c] ?? `a value starting with ${c}`;
}

interface Tag {
  default?: boolean | 'key';
  test?: RegExp;
  resolve: (value: string, onError: (message: string) => void, options: object) => unknown;
}

let valueTags: Tag[] | null = null;
let keyTags: Tag[] | null = null;

/** The `yaml` package's YAML 1.1 tags that resolve plain scalars, as its composer finds them. */
function tags(): { value: Tag[]; key: Tag[] } {
  if (!valueTags || !keyTags) {
    const schema = new Document(null, { version: '1.1' }).schema as unknown as { tags: Tag[] };
    valueTags = schema.tags.filter((t) => t.default === true && t.test);
    keyTags = schema.tags.filter((t) => (t.default === true || t.default === 'key') && t.test);
  }
  return { value: valueTags, key: keyTags };
}

const RESOLVE_OPTIONS = { intAsBigInt: false };

/**
 * The first characters a YAML 1.1 tag's test can match: `~` and `null` (null), `y n true false on
 * off` in their spellings (bool), a sign, digit or dot and `e5` (int, float), a digit (timestamp).
 * A plain scalar starting otherwise is a string, which saves a dozen tests per scalar.
 */
const RESOLVABLE_START = /^[-+.0-9~yYnNtTfFoOeE]/;

/** Resolved plain scalars that are primitives (`true`, `1`, `null`...), which files repeat. */
const resolved = new Map<string, unknown>();
const RESOLVED_MAX = 10_000;

/** A plain scalar's value: the first YAML 1.1 tag whose test matches resolves it, else a string. */
function resolvePlain(source: string): unknown {
  if (!RESOLVABLE_START.test(source)) return source;
  const known = resolved.get(source);
  if (known !== undefined || resolved.has(source)) return known;
  const value = resolveByTags(source);
  if ((value === null || typeof value !== 'object') && resolved.size < RESOLVED_MAX)
    resolved.set(source, value);
  return value;
}

function resolveByTags(source: string): unknown {
  for (const tag of tags().value) {
    if (!tag.test!.test(source)) continue;
    let failed = false;
    let res: unknown;
    try {
      res = tag.resolve(
        source,
        () => {
          failed = true;
        },
        RESOLVE_OPTIONS,
      );
    } catch {
      return decline('a value YAML cannot build (an impossible date?)');
    }
    if (failed) decline('a value YAML cannot build (an impossible date?)');
    return isScalar(res) ? res.value : res;
  }
  return source;
}

/** A plain key, which must resolve to a string (`yes:`, `1:`, `~:` and `<<:` do not). */
function plainKey(source: string): string {
  if (!RESOLVABLE_START.test(source)) return source;
  for (const tag of tags().key)
    if (tag.test!.test(source)) decline('a key YAML reads as a boolean, number, date or null');
  return source;
}

// Characters the reader takes anywhere: line feeds, ASCII printables but the tab, and non-ASCII
// letters, marks, numbers, punctuation and symbols (no control, format, private-use or unassigned
// characters, no Unicode spaces or line breaks, no BOM: YAML readers disagree on those).
const ODD_CHAR_RE = /[^\n\x20-\x7e\p{L}\p{M}\p{N}\p{P}\p{S}]/u;
// Directives and document markers, at the start of a line.
const MARKER_RE = /^(?:%|(?:---|\.\.\.)(?: |$))/m;
// A plain key: words of letters, digits and `_$./~()+=^-`, single spaces between, then `:` and a
// space or the end of the line. It cannot start with `-` (a sequence entry) or `=`.
const PLAIN_KEY_RE = /([\p{L}\p{N}_$./~(+^][\p{L}\p{N}_$./~()+=^-]*(?: [\p{L}\p{N}_$./~()+=^-]+)*):(?: |$)/uy;

function unicodeKeyAt(line: string, pos: number): string | null {
  PLAIN_KEY_RE.lastIndex = pos;
  return PLAIN_KEY_RE.exec(line)?.[1] ?? null;
}

/** PLAIN_KEY_RE's ASCII characters: 1, may start a key; 2, may be in one. */
const KEY_CHAR = new Uint8Array(128);
for (const c of 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_$./~(+^') {
  KEY_CHAR[c.charCodeAt(0)] = 3;
}
for (const c of ')=-') KEY_CHAR[c.charCodeAt(0)] = 2;

/**
 * The plain key at `pos` in `line` (then `:` and a space or the end), or null: PLAIN_KEY_RE, scanned
 * by hand for ASCII keys (the regex cost more than the rest of the reader), by it for the others.
 */
function plainKeyAt(line: string, pos: number): string | null {
  const first = line.charCodeAt(pos);
  if (first >= 128) return unicodeKeyAt(line, pos);
  if (!(KEY_CHAR[first]! & 1)) return null;
  for (let i = pos + 1; ; i++) {
    const c = line.charCodeAt(i);
    if (c === 58 /* : */) {
      return i + 1 === line.length || line.charCodeAt(i + 1) === 32 ? line.slice(pos, i) : null;
    }
    if (c === 32) {
      // one space between words
      const next = line.charCodeAt(++i);
      if (next >= 128) return unicodeKeyAt(line, pos);
      if (!(KEY_CHAR[next]! & 2)) return null;
      continue;
    }
    if (c >= 128) return unicodeKeyAt(line, pos);
    if (!(KEY_CHAR[c]! & 2)) return null; // also the end of the line (NaN)
  }
}
// What may not start a plain scalar here (YAML indicators; `-` only when a space or nothing follows).
const PLAIN_START_BAD = new Set([...'&*!|>%@`?:,[]{}#\'"']);
const ESCAPES: Record<string, string> = {
  '0': '\0',
  a: '\x07',
  b: '\b',
  e: '\x1b',
  f: '\f',
  n: '\n',
  r: '\r',
  t: '\t',
  v: '\v',
  N: '\u0085',
  _: '\u00a0',
  L: '\u2028',
  P: '\u2029',
  ' ': ' ',
  '"': '"',
  '/': '/',
  '\\': '\\',
};
const HEX_RE = /^[0-9a-fA-F]+$/;

function indentOf(line: string): number {
  let n = 0;
  while (line.charCodeAt(n) === 32) n++;
  return n;
}

/** What may follow a scalar or flow collection on its line: spaces, then a comment or nothing. */
function restIsEmpty(rest: string): boolean {
  const t = rest.trimStart();
  return t === '' || (t[0] === '#' && t.length < rest.length);
}

/** Sets a key as the `yaml` package's toJS does (`defineProperty` for a name objects inherit). */
function setKey(map: Record<string, unknown>, key: string, value: unknown): void {
  if (!(key in map)) {
    if (key === '<<') decline('a merge key (<<)');
    map[key] = value;
    return;
  }
  if (key === '__proto__') decline('the key __proto__');
  if (Object.hasOwn(map, key)) decline('a duplicate key');
  Object.defineProperty(map, key, { value, writable: true, enumerable: true, configurable: true });
}

/** A double-quoted scalar on one line from `s[start]` (the quote): its value and the index after it. */
function doubleQuoted(s: string, start: number): { value: string; end: number } {
  const close = s.indexOf('"', start + 1);
  const backslash = s.indexOf('\\', start + 1);
  if (close !== -1 && (backslash === -1 || backslash > close))
    return { value: s.slice(start + 1, close), end: close + 1 };
  let out = '';
  for (let i = start + 1; i < s.length; i++) {
    const ch = s[i]!;
    if (ch === '"') return { value: out, end: i + 1 };
    if (ch !== '\\') {
      out += ch;
      continue;
    }
    const next = s[++i];
    if (next === undefined) decline('a double-quoted string over several lines'); // an escaped line break: a multi-line scalar
    const simple = ESCAPES[next];
    if (simple !== undefined) {
      out += simple;
      continue;
    }
    const length =
      next === 'x' ? 2 : next === 'u' ? 4 : next === 'U' ? 8 : decline('an unknown escape sequence');
    const hex = s.slice(i + 1, i + 1 + length);
    if (hex.length !== length || !HEX_RE.test(hex)) decline('a bad escape sequence');
    const code = Number.parseInt(hex, 16);
    if (code > 0x10ffff || (code >= 0xd800 && code <= 0xdfff))
      decline('an escape of a surrogate or past U+10FFFF');
    out += String.fromCodePoint(code);
    i += length;
  }
  return decline('a double-quoted string over several lines'); // not closed on this line
}

/** The index after a single-quoted scalar's closing quote in `s` from `from`, or -1. */
function singleQuoteEnd(s: string, from: number): number {
  for (let i = from; i < s.length; i++) {
    if (s[i] !== "'") continue;
    if (s[i + 1] === "'") i++;
    else return i + 1;
  }
  return -1;
}

class Reader {
  private readonly lines: string[];
  private readonly textEndsWithBreak: boolean;
  /** The next line to read. */
  private i = 0;
  /** The line being read, for where a decline happened. */
  at = 0;
  /**
   * Tokens the `yaml` lexer emits for what was read so far, at least: two for a key (the scalar and
   * `:`), one for an entry's `-`, a value, a flow indicator, a blank or comment line.
   */
  tokens = 0;
  private depth = 0;

  constructor(text: string) {
    this.lines = text.split('\n');
    this.textEndsWithBreak = text.endsWith('\n');
    // the lines are what ends in a line break, and what follows the last one if anything does
    if (this.textEndsWithBreak) this.lines.pop();
  }

  read(): Record<string, unknown> {
    const j = this.nextContent();
    this.at = Math.min(j, this.lines.length - 1);
    if (j === this.lines.length || indentOf(this.lines[j]!) !== 0) decline('no `key: value` line at the top');
    const value = this.map(0);
    if (this.nextContent() !== this.lines.length) decline('unexpected indentation');
    return value;
  }

  /** Skips blank and comment lines; the index of the next other line (or the line count). */
  private nextContent(): number {
    const { lines } = this;
    while (this.i < lines.length) {
      const line = lines[this.i]!;
      const n = indentOf(line);
      if (n < line.length && line[n] !== '#') break;
      this.i++;
      this.tokens++;
    }
    return this.i;
  }

  private enter(): void {
    if (++this.depth > INPUT_LIMITS.yamlDepth) decline('nesting deeper than 64 levels');
  }

  /**
   * A block mapping whose keys are at column `n`, from the current line; `entry`: that line is a
   * sequence entry (`- key: value`) whose first key is at column `n`.
   */
  private map(n: number, entry = false): Record<string, unknown> {
    this.enter();
    const map: Record<string, unknown> = {};
    for (let first = entry; ; first = false) {
      const j = this.nextContent();
      if (j === this.lines.length) break;
      const line = this.lines[j]!;
      const ind = first ? n : indentOf(line);
      if (ind < n) break;
      this.at = j;
      if (ind > n) decline('unexpected indentation');
      const after = this.key(line, n);
      this.tokens += 2;
      this.i = j + 1;
      setKey(map, this.keyName, this.value(line, after, n, true));
    }
    this.depth--;
    return map;
  }

  /** The key `key` read last. */
  private keyName = '';

  /** `key:` at column `n` of `line`: sets keyName and returns the index after the colon. */
  private key(line: string, n: number): number {
    const q = line[n];
    if (q === '"' || q === "'") {
      let end: number;
      if (q === '"') ({ value: this.keyName, end } = doubleQuoted(line, n));
      else {
        end = singleQuoteEnd(line, n + 1);
        if (end === -1) decline('an unclosed quoted key');
        this.keyName = line.slice(n + 1, end - 1).replaceAll("''", "'");
      }
      if (line[end] !== ':' || (end + 1 < line.length && line[end + 1] !== ' '))
        decline('a quoted key without `: ` after it');
      return end + 1;
    }
    const key = plainKeyAt(line, n) ?? decline('not a `key: value` line');
    this.keyName = plainKey(key);
    return n + key.length + 1;
  }

  /**
   * The value after `key:` or `- ` (from `pos` in `line`, the character after the indicator) of a
   * node at column `n`; `inMap`: a mapping's value, which may be a sequence at the mapping's column.
   */
  private value(line: string, pos: number, n: number, inMap: boolean): unknown {
    let start = pos;
    while (line.charCodeAt(start) === 32) start++;
    if (start === line.length || line.charCodeAt(start) === 35 /* # */) {
      const j = this.nextContent();
      if (j < this.lines.length) {
        const next = this.lines[j]!;
        const ind = indentOf(next);
        if (ind > n) return this.block(ind);
        if (inMap && ind === n && isEntry(next, n)) return this.seq(n);
      }
      return null;
    }
    return this.inline(start === 0 ? line : line.slice(start), n);
  }

  /** The block node at column `n` on the current line: a sequence or a mapping. */
  private block(n: number): unknown {
    return isEntry(this.lines[this.i]!, n) ? this.seq(n) : this.map(n);
  }

  /** A block sequence whose `-` are at column `n`. */
  private seq(n: number): unknown[] {
    this.enter();
    const items: unknown[] = [];
    for (;;) {
      const j = this.nextContent();
      if (j === this.lines.length) break;
      const line = this.lines[j]!;
      const ind = indentOf(line);
      if (ind < n) break;
      this.at = j;
      if (ind > n) decline('unexpected indentation');
      if (!isEntry(line, n)) break; // the next key of the mapping this sequence is a value of
      this.tokens++;
      let col = n + 1;
      while (line.charCodeAt(col) === 32) col++;
      if (isEntry(line, col)) decline('a sequence entry holding a sequence (`- -`)'); // `- - a`
      if (col < line.length && line[col] !== '#' && this.isKeyAt(line, col)) {
        // `- key: value`: a mapping at the column of its first key
        this.i = j;
        items.push(this.map(col, true));
        continue;
      }
      this.i = j + 1;
      items.push(this.value(line, n + 1, n, false));
    }
    this.depth--;
    return items;
  }

  /** Whether `line` has a `key:` at `pos`. */
  private isKeyAt(line: string, pos: number): boolean {
    const q = line[pos];
    if (q === '"' || q === "'") {
      const end = q === "'" ? singleQuoteEnd(line, pos + 1) : quotedEnd(line, pos);
      return end !== -1 && line[end] === ':' && (end + 1 === line.length || line[end + 1] === ' ');
    }
    return plainKeyAt(line, pos) !== null;
  }

  /** A value written on the line of its key or entry (`v`, from its first character). */
  private inline(v: string, n: number): unknown {
    const c = v[0]!;
    this.tokens++;
    if (c === '"') {
      const { value, end } = doubleQuoted(v, 0);
      if (!restIsEmpty(v.slice(end))) decline('text after a quoted string');
      return value;
    }
    if (c === "'") return this.singleQuoted(v, n);
    if (c === '[' || c === '{') return this.flow(v);
    if (c === '|') return this.literal(v, n);
    if (PLAIN_START_BAD.has(c) || (c === '-' && (v.length === 1 || v[1] === ' '))) decline(startReason(c));
    return this.plain(v, n);
  }

  /** A plain scalar from `v`, continued on the lines below indented past `n`. */
  private plain(v: string, n: number): unknown {
    const hash = v.indexOf(' #');
    const first = (hash === -1 ? v : v.slice(0, hash)).trimEnd();
    if (first.includes(': ') || first.endsWith(':')) decline('`: ` inside a plain value');
    let value = first;
    if (hash === -1) {
      let breaks = 0;
      for (let k = this.i; k < this.lines.length; k++) {
        const line = this.lines[k]!;
        const ind = indentOf(line);
        if (ind === line.length) {
          breaks++;
          continue;
        }
        if (ind <= n || line[ind] === '#') break;
        this.at = k;
        const text = line.slice(ind).trimEnd();
        // any first character continues it (`--fix`, `"quoted words"`); `key: value` cannot
        if (text.includes(': ') || text.endsWith(':') || text.includes(' #'))
          decline('`: ` or ` #` inside a continued plain value');
        value += breaks === 0 ? ` ${text}` : '\n'.repeat(breaks) + text;
        breaks = 0;
        this.i = k + 1;
      }
    }
    return resolvePlain(value);
  }

  /** A single-quoted scalar from `v`, possibly over several lines indented past `n`. */
  private singleQuoted(v: string, n: number): string {
    const end = singleQuoteEnd(v, 1);
    if (end !== -1) {
      if (!restIsEmpty(v.slice(end))) decline('text after a quoted string');
      return v.slice(1, end - 1).replaceAll("''", "'");
    }
    let value = v.slice(1).trimEnd();
    let breaks = 0;
    for (let k = this.i; k < this.lines.length; k++) {
      const line = this.lines[k]!;
      const ind = indentOf(line);
      if (ind === line.length) {
        breaks++;
        continue;
      }
      this.at = k;
      if (ind <= n) decline('a quoted string continued at too small an indentation');
      const text = line.slice(ind);
      const close = singleQuoteEnd(text, 0);
      const part = close === -1 ? text.trimEnd() : text.slice(0, close - 1);
      value += breaks === 0 ? ` ${part}` : '\n'.repeat(breaks) + part;
      breaks = 0;
      if (close !== -1) {
        if (!restIsEmpty(text.slice(close))) decline('text after a quoted string');
        this.i = k + 1;
        return value.replaceAll("''", "'");
      }
    }
    return decline('an unclosed quoted string');
  }

  /** A literal block scalar (`|`, `|-`, `|+`) whose content is indented past `n`. */
  private literal(v: string, n: number): string {
    const m = /^\|([+-]?)(?: +#.*| *)$/.exec(v) ?? decline('a block scalar header other than |, |- or |+');
    const chomp = m[1];
    const { lines } = this;
    const parts: string[] = [];
    let indent = -1;
    let k = this.i;
    for (; k < lines.length; k++) {
      const line = lines[k]!;
      const ind = indentOf(line);
      this.at = k;
      if (ind === line.length) {
        // spaces past the content's indentation are content, and before the first line of content
        // they set it: readers differ there
        if (indent === -1 ? ind > 0 : ind > indent) decline('spaces on a blank line of a block scalar');
        parts.push('');
        continue;
      }
      if (indent === -1) {
        if (ind <= n) break;
        indent = ind;
      } else if (ind < indent) break;
      parts.push(line.slice(indent));
    }
    let last = parts.length - 1;
    while (last >= 0 && parts[last] === '') last--;
    if (last === -1) decline('an empty block scalar'); // no content
    // the scalar's last line ends the text without a line break: readers differ there
    if (k === lines.length && !this.textEndsWithBreak)
      decline('a block scalar ending the file with no final line break');
    this.i = k;
    const body = parts.slice(0, last + 1).join('\n');
    if (chomp === '-') return body;
    if (chomp === '') return `${body}\n`;
    // keep: every line break, the ones of trailing blank lines too
    return `${body}\n${'\n'.repeat(parts.length - 1 - last)}`;
  }

  /** A flow collection that is the whole value on one line. */
  private flow(v: string): unknown {
    const reader = new FlowReader(v, this.depth);
    const value = reader.node();
    this.tokens += reader.tokens;
    if (!restIsEmpty(v.slice(reader.pos))) decline('text after a flow collection');
    return value;
  }
}

/** The index after the closing quote of a double-quoted scalar opening at `start` in `s`, or -1. */
function quotedEnd(s: string, start: number): number {
  for (let i = start + 1; i < s.length; i++) {
    if (s[i] === '\\') i++;
    else if (s[i] === '"') return i + 1;
  }
  return -1;
}

/** `-` at column `n`, then a space or the end of the line. */
function isEntry(line: string, n: number): boolean {
  return line[n] === '-' && (line.length === n + 1 || line[n + 1] === ' ');
}

/** A plain scalar in a flow collection runs to the first of these (sticky: from lastIndex). */
const FLOW_PLAIN_RE = /[^,[\]{}:#]*/y;
const FLOW_DASH_END = new Set([...' ,[]{}#']);

/** A flow collection on one line: `[a, 'b', {c: 1}]`. */
class FlowReader {
  pos = 0;
  /** Flow indicators and scalars read (see Reader.tokens). */
  tokens = 0;
  private readonly s: string;
  private depth: number;

  constructor(s: string, depth: number) {
    this.s = s;
    this.depth = depth;
  }

  private spaces(): void {
    while (this.s.charCodeAt(this.pos) === 32) this.pos++;
  }

  node(): unknown {
    this.spaces();
    const c = this.s[this.pos];
    if (c === '[') return this.seq();
    if (c === '{') return this.map();
    return this.scalar(false);
  }

  private enter(): void {
    if (++this.depth > INPUT_LIMITS.yamlDepth) decline('nesting deeper than 64 levels');
    this.pos++;
    this.tokens += 2; // the brackets
  }

  private seq(): unknown[] {
    this.enter();
    const items: unknown[] = [];
    for (;;) {
      this.spaces();
      if (this.s[this.pos] === ']') break;
      items.push(this.node());
      this.spaces();
      const c = this.s[this.pos];
      if (c === ',') {
        this.pos++;
        this.tokens++;
      } else if (c !== ']') decline('an unusual flow collection'); // `[a: 1]`, a comment, the end of the line
    }
    this.pos++;
    this.depth--;
    return items;
  }

  private map(): Record<string, unknown> {
    this.enter();
    const map: Record<string, unknown> = {};
    for (;;) {
      this.spaces();
      if (this.s[this.pos] === '}') break;
      const key = this.scalar(true);
      if (typeof key !== 'string' || this.s[this.pos] !== ':' || this.s[this.pos + 1] !== ' ')
        decline('an unusual flow collection');
      this.pos += 2;
      this.tokens++; // the `:`
      this.spaces();
      const c = this.s[this.pos];
      if (c === ',' || c === '}' || c === undefined) decline('an unusual flow collection'); // `{a: }`: readers differ
      setKey(map, key, this.node());
      this.spaces();
      const next = this.s[this.pos];
      if (next === ',') {
        this.pos++;
        this.tokens++;
      } else if (next !== '}') decline('an unusual flow collection');
    }
    this.pos++;
    this.depth--;
    return map;
  }

  /** A flow scalar; as a key it stays a string (quoted) or must resolve to one (plain). */
  private scalar(asKey: boolean): unknown {
    const { s } = this;
    const c = s[this.pos];
    this.tokens++;
    if (c === '"') {
      const { value, end } = doubleQuoted(s, this.pos);
      this.pos = end;
      return value;
    }
    if (c === "'") {
      const end = singleQuoteEnd(s, this.pos + 1);
      if (end === -1) decline('an unusual flow collection');
      const value = s.slice(this.pos + 1, end - 1).replaceAll("''", "'");
      this.pos = end;
      return value;
    }
    // `-` starts a plain scalar only before a character that could go on one (`-1`, not `- `, `-]`)
    if (
      c === undefined ||
      PLAIN_START_BAD.has(c) ||
      (c === '-' && FLOW_DASH_END.has(s[this.pos + 1] ?? ' '))
    ) {
      decline(c === undefined ? 'an unusual flow collection' : startReason(c));
    }
    const start = this.pos;
    FLOW_PLAIN_RE.lastIndex = start;
    FLOW_PLAIN_RE.test(s);
    this.pos = FLOW_PLAIN_RE.lastIndex;
    if (s[this.pos] === '#') decline('an unusual flow collection');
    const source = s.slice(start, this.pos).trimEnd();
    // `a:b` in flow context: readers differ; a `:` may only end a key here
    if (s[this.pos] === ':' && (!asKey || s[this.pos + 1] !== ' ')) decline('an unusual flow collection');
    return asKey ? plainKey(source) : resolvePlain(source);
  }
}

/** Where and why a text is not plain block YAML. */
export interface NotPlain {
  /** 1-based. */
  line: number;
  /** What is there: `a duplicate key`, `an anchor`, `a tab`... */
  reason: string;
  /** Tokens the `yaml` lexer emits before that line, at least. */
  tokens: number;
}

function lineOf(text: string, offset: number): number {
  let line = 1;
  for (let i = text.indexOf('\n'); i !== -1 && i < offset; i = text.indexOf('\n', i + 1)) line++;
  return line;
}

/**
 * The value of `text` read as plain block YAML (see the top of this file), or where and why it is
 * not: then parse it with the `yaml` package (YAML 1.1), which gives the same value where this
 * answers. The text's size is the caller's to check.
 */
export function readPlainBlockYaml(
  text: string,
): { value: Record<string, unknown>; notPlain: null } | { value: null; notPlain: NotPlain } {
  let source = text;
  const no = (offset: number, reason: string) => ({
    value: null,
    notPlain: { line: lineOf(source, offset), reason, tokens: 0 },
  });
  if (source.includes('\r')) {
    const lone = /\r(?!\n)/.exec(source);
    if (lone) return no(lone.index, 'a carriage return alone');
    source = source.replaceAll('\r\n', '\n');
  }
  const odd = ODD_CHAR_RE.exec(source);
  if (odd) {
    const code = odd[0].codePointAt(0)!.toString(16).toUpperCase().padStart(4, '0');
    return no(odd.index, odd[0] === '\t' ? 'a tab' : `the character U+${code}`);
  }
  const marker = MARKER_RE.exec(source);
  if (marker) return no(marker.index, 'a directive or document marker');
  const reader = new Reader(source);
  try {
    return { value: reader.read(), notPlain: null };
  } catch (err) {
    if (err instanceof Decline) {
      return { value: null, notPlain: { line: reader.at + 1, reason: err.message, tokens: reader.tokens } };
    }
    throw err;
  }
}
