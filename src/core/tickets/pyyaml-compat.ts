// Where PyYAML (what CAR reads frontmatter with) and the `yaml` package read the same text differently.
// PyYAML refuses, where `yaml` reads something: control characters anywhere (its reader); a tab
// anywhere but inside a quoted scalar, a comment or block scalar content past its indentation (its
// scanner skips only spaces between tokens); anchor names beyond [A-Za-z0-9_-]; a collection as a
// mapping key (unhashable in Python); a key after a value on the same line, and content after an
// explicit key that is not its value (its parser). PyYAML reads, where `yaml` refuses: a quoted value
// continued on lines with less indentation than the YAML spec asks for.
import { CST, type Document, isAlias, isCollection, Lexer, Parser, visit } from 'yaml';
import { INPUT_LIMITS } from '../input-limits.ts';

// PyYAML's reader (`Reader.NON_PRINTABLE`): anything else is refused, comments included.
const NON_PRINTABLE_RE = /[^\t\n\r\x20-\x7e\x85\xa0-\ud7ff\ue000-\ufffd\u{10000}-\u{10ffff}]/u;
// The lexer's control tokens (document start, scalar, flow end) are not in the text.
const CONTROL_TOKENS = new Set(['\x02', '\x1f', '\x18']);
const ANCHOR_NAME_RE = /^[0-9A-Za-z_-]+$/;

export interface PyYamlRefusal {
  /** Offset in the text. */
  offset: number;
  /** PyYAML's words. */
  message: string;
}

function nonPrintable(text: string): PyYamlRefusal | null {
  const bad = NON_PRINTABLE_RE.exec(text);
  if (!bad) return null;
  const code = bad[0].codePointAt(0)!.toString(16).padStart(4, '0');
  return {
    offset: bad.index,
    message: `unacceptable character #x${code}: special characters are not allowed`,
  };
}

/** The offset of a tab in a block scalar's indentation (auto-detected from its first content line). */
function tabInBlockIndent(content: string): number {
  const lines = content.split('\n');
  const first = lines.find((line) => /[^ ]/.test(line) && !/^ *\t/.test(line));
  const indent = first === undefined ? Number.POSITIVE_INFINITY : /^ */.exec(first)![0].length;
  let offset = 0;
  for (const line of lines) {
    const spaces = /^ */.exec(line)![0].length;
    if (line[spaces] === '\t' && spaces < indent) return offset + spaces;
    offset += line.length + 1;
  }
  return -1;
}

/**
 * What PyYAML's scanner refuses, from the lexemes of a text as the `yaml` lexer emits them (control
 * tokens included), each with its offset: an anchor or alias name beyond [A-Za-z0-9_-], a tab where
 * PyYAML skips only spaces (not in a quoted scalar, a comment, or block scalar content past its
 * indentation). `found` is the first.
 */
class ScannerWatch {
  found: PyYamlRefusal | null = null;
  private readonly tabs: boolean;
  private readonly active: boolean;
  private afterHeader = false;
  private blockContent = false;

  constructor(text: string) {
    this.tabs = text.includes('\t');
    this.active = this.tabs || /[&*]/.test(text);
  }

  lexeme(lexeme: string, offset: number): void {
    if (!this.active || this.found) return;
    if (CONTROL_TOKENS.has(lexeme)) {
      // A block scalar's content is the lexeme after the scalar token that follows its header.
      if (lexeme === '\x1f' && this.afterHeader) this.blockContent = true;
      return;
    }
    const blockContent = this.blockContent;
    const type = CST.tokenType(lexeme);
    if (blockContent) this.afterHeader = this.blockContent = false;
    else if (type === 'block-scalar-header') this.afterHeader = true;
    if ((type === 'anchor' || type === 'alias') && !ANCHOR_NAME_RE.test(lexeme.slice(1))) {
      const what = type === 'anchor' ? 'an anchor' : 'an alias';
      this.found = { offset, message: `while scanning ${what}: expected alphabetic or numeric character` };
      return;
    }
    if (!this.tabs) return;
    let at = -1;
    if (blockContent) at = tabInBlockIndent(lexeme);
    else if (type !== 'comment' && lexeme[0] !== '"' && lexeme[0] !== "'") at = lexeme.indexOf('\t');
    if (at !== -1) {
      this.found = { offset: offset + at, message: "found character '\\t' that cannot start any token" };
    }
  }
}

/**
 * What PyYAML's parser refuses in a block mapping and `yaml` reads, from the CST documents of a text:
 * content after an explicit key (`? x`) that is not its value, such as `- item` at the mapping's
 * indent (`yaml` drops it), and a `: ` after a flow collection that is a value (`a: [x]: y`, `yaml`
 * adds an empty key). `found` is the first.
 */
class ParserWatch {
  found: PyYamlRefusal | null = null;
  private readonly text: string;
  private readonly active: boolean;

  constructor(text: string) {
    this.text = text;
    const explicitKeys = /(?:^|[\s[{,])\?(?:\s|$)/.test(text);
    this.active = explicitKeys || /[\]}][ \t]*:/.test(text);
  }

  document(token: CST.Document): void {
    if (!this.active || this.found) return;
    CST.visit(token, (item) => {
      const { explicitKey, key, sep, value } = item as CST.CollectionItem & { explicitKey?: true };
      const indicator = sep?.find((t) => t.type === 'map-value-ind');
      if (explicitKey && value && !indicator) {
        this.found = { offset: value.offset, message: 'while parsing a block mapping: expected <block end>' };
      } else if (!explicitKey && !key && indicator && /\S/.test(lineBefore(this.text, indicator.offset))) {
        this.found = { offset: indicator.offset, message: 'mapping values are not allowed here' };
      }
      return this.found ? CST.visit.BREAK : undefined;
    });
  }
}

function lineBefore(text: string, offset: number): string {
  return text.slice(text.lastIndexOf('\n', offset - 1) + 1, offset);
}

/** What a pass of the `yaml` parser shows a RefusalWatch: each lexeme with its offset, each CST document. */
export interface YamlPassObserver {
  lexeme(lexeme: string, offset: number): void;
  document(token: CST.Document): void;
}

/**
 * Watches one pass of the `yaml` parser over `text` (give `observer` to parseDocumentWithinLimits),
 * then says what PyYAML refuses in it, as pyYamlRefusal does, without a pass of its own.
 */
export function refusalWatch(text: string): { observer: YamlPassObserver; refusal(): PyYamlRefusal | null } {
  const scanner = new ScannerWatch(text);
  const parser = new ParserWatch(text);
  return {
    observer: {
      lexeme: (lexeme, offset) => scanner.lexeme(lexeme, offset),
      document: (token) => parser.document(token),
    },
    refusal: () => nonPrintable(text) ?? scanner.found ?? parser.found,
  };
}

/** What PyYAML's reader refuses: a character it does not take, anywhere (comments included). */
export function nonPrintableRefusal(text: string): PyYamlRefusal | null {
  return nonPrintable(text);
}

/**
 * The first thing in `text` PyYAML's reader, scanner or parser refuses and the `yaml` package may
 * not, in a pass of its own over the whole text (unbounded: for text already within the limits).
 */
export function pyYamlRefusal(text: string): PyYamlRefusal | null {
  const watch = refusalWatch(text);
  let offset = 0;
  for (const lexeme of new Lexer().lex(text)) {
    watch.observer.lexeme(lexeme, offset);
    if (!CONTROL_TOKENS.has(lexeme)) offset += lexeme.length;
  }
  for (const token of new Parser().parse(text)) if (token.type === 'document') watch.observer.document(token);
  return watch.refusal();
}

/** A mapping key that is a collection (or an alias to one): unhashable, so PyYAML refuses it. */
export function unhashableKey(doc: Document.Parsed): PyYamlRefusal | null {
  let found: PyYamlRefusal | null = null;
  visit(doc, {
    Pair(_, pair) {
      const key = isAlias(pair.key) ? pair.key.resolve(doc) : pair.key;
      if (!isCollection(key)) return undefined;
      const offset = (pair.key as { range?: [number, number, number] } | null)?.range?.[0] ?? 0;
      found = { offset, message: 'while constructing a mapping: found unhashable key' };
      return visit.BREAK;
    },
  });
  return found;
}

/**
 * A block scalar (`|`, `>`) whose last line ends the text without a line break: PyYAML keeps no final
 * line break then, the `yaml` package adds one. CAR's frontmatter never ends with a line break (CAR
 * joins its lines), so this is any block scalar that closes a frontmatter. Fixes the node in place.
 */
export function dropFinalBreakAtEnd(doc: Document.Parsed, text: string): void {
  const lastLine = text.slice(text.lastIndexOf('\n') + 1);
  if (!/\S/.test(lastLine)) return;
  visit(doc, {
    Scalar(_, node) {
      const block = node.type === 'BLOCK_LITERAL' || node.type === 'BLOCK_FOLDED';
      if (!block || (node.range?.[1] ?? 0) < text.length || typeof node.value !== 'string') return undefined;
      if (node.value.endsWith('\n')) node.value = node.value.slice(0, -1);
      return visit.BREAK;
    },
  });
}

/** The end of the quoted scalar opening at `start` (the offset of its closing quote), or -1. */
function closingQuote(text: string, start: number): number {
  const quote = text[start];
  for (let i = start + 1; i < text.length; i++) {
    const ch = text[i];
    if (quote === '"' && ch === '\\') i++;
    else if (ch === quote) {
      if (quote === "'" && text[i + 1] === "'") i++;
      else return i;
    }
  }
  return -1;
}

/** Each lexeme of `text` with its offset and whether it is a block scalar's content. */
function* lexemes(text: string): Generator<{ lexeme: string; offset: number; blockContent: boolean }> {
  let offset = 0;
  let afterHeader = false;
  let blockContent = false;
  for (const lexeme of new Lexer().lex(text)) {
    if (CONTROL_TOKENS.has(lexeme)) {
      // A block scalar's content is the lexeme after the scalar token that follows its header.
      if (lexeme === '\x1f' && afterHeader) blockContent = true;
      continue;
    }
    yield { lexeme, offset, blockContent };
    if (blockContent) afterHeader = blockContent = false;
    else if (CST.tokenType(lexeme) === 'block-scalar-header') afterHeader = true;
    offset += lexeme.length;
  }
}

/** Rounds of re-indenting; each costs a lexer pass, so a file of many such values stops early. */
const MAX_REINDENTS = 32;
/**
 * Lexemes all rounds together may lex: twice the frontmatter's token budget (the text was parsed
 * within it), so a frontmatter of many such values costs at most a few parses.
 */
const REINDENT_LEXEMES = 2 * INPUT_LIMITS.frontmatterYamlTokens;

/**
 * `text` with the continuation lines of multi-line quoted values indented past their opening quote,
 * where the `yaml` package would end the value early: PyYAML joins such lines whatever their indent,
 * and a continuation line's leading whitespace is folded away, so the values read are the same. Line
 * breaks stay where they are. Not for edits: offsets after an indented line move.
 */
export function indentQuotedContinuations(text: string): string {
  let budget = REINDENT_LEXEMES;
  for (let round = 0; round < MAX_REINDENTS; round++) {
    let fixed: string | null = null;
    for (const { lexeme, offset, blockContent } of lexemes(text)) {
      if (--budget < 0) return text;
      if (blockContent || (lexeme[0] !== '"' && lexeme[0] !== "'")) continue;
      if (closingQuote(lexeme, 0) === lexeme.length - 1) continue;
      const end = closingQuote(text, offset);
      if (end === -1) return text; // unclosed for PyYAML too
      const column = offset - (text.lastIndexOf('\n', offset) + 1);
      const pad = ' '.repeat(column + 1);
      // A document marker inside the value stays where it is: PyYAML refuses it, and so does `yaml`.
      const value = text
        .slice(offset, end)
        .replace(/\n(?!\n|---(?:[ \t\n]|$)|\.\.\.(?:[ \t\n]|$))/g, `\n${pad}`);
      fixed = text.slice(0, offset) + value + text.slice(end);
      break;
    }
    if (fixed === null || fixed === text) return text;
    text = fixed;
  }
  return text;
}
