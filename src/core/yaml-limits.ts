// YAML parsing within the input limits (input-limits.ts): nesting is checked on the token stream before
// the parser recurses, aliases and expansion on the parsed document before anything converts it to values,
// duplicate keys with a set per mapping. Every reader of YAML that people or agents write goes through here.
import {
  Composer,
  type CST,
  type Document,
  type DocumentOptions,
  isAlias,
  isCollection,
  isPair,
  isScalar,
  Lexer,
  LineCounter,
  type ParseOptions,
  Parser,
  type SchemaOptions,
  YAMLParseError,
} from 'yaml';
import { INPUT_LIMITS, type InputLimitCode } from './input-limits.ts';
import { type NotPlain, readPlainBlockYaml } from './yaml-fast.ts';

/** A limit hit in YAML text, with the offset in the text where it was hit. */
export interface YamlLimitProblem {
  code: InputLimitCode;
  message: string;
  offset: number;
}

const L = INPUT_LIMITS;
const depthMessage = `YAML nests deeper than ${L.yamlDepth} levels (the limit); it was not parsed`;

/**
 * How many tokens the `yaml` parser may see in one text, and the kind of text for the message.
 * Parsing costs per token (input-limits.ts), so this bounds its time whatever the text.
 */
export interface YamlTokenBudget {
  tokens: number;
  /** `frontmatter`, `a config file`, `the hub manifest`. */
  what: string;
}

export const FRONTMATTER_BUDGET: YamlTokenBudget = { tokens: L.frontmatterYamlTokens, what: 'frontmatter' };
export const CONFIG_BUDGET: YamlTokenBudget = { tokens: L.configYamlTokens, what: 'a config file' };
export const MANIFEST_BUDGET: YamlTokenBudget = { tokens: L.manifestYamlTokens, what: 'the hub manifest' };

function tokensMessage(budget: YamlTokenBudget, notPlain?: NotPlain): string {
  const which = notPlain ? ` unless it is plain block YAML, and this line is not: ${notPlain.reason}` : '';
  return `YAML has more than ${budget.tokens} tokens (the limit for ${budget.what}${which}); it was not parsed`;
}

/** Thrown from inside the token stream to stop parsing at a limit. */
class Stop extends Error {
  readonly problem: YamlLimitProblem;
  constructor(problem: YamlLimitProblem) {
    super(problem.message);
    this.problem = problem;
  }
}

export interface CheckYamlDocumentOptions {
  /**
   * Report duplicate keys as the `yaml` package's `uniqueKeys` does ('Map keys must be unique', added
   * to doc.errors), for documents parsed with `uniqueKeys: false`: the package's own check compares
   * every key with every earlier one (20k keys took seconds); this one uses a set per mapping.
   */
  uniqueKeys?: boolean;
  /** The parsed text, for the line and column of added errors. */
  text?: string;
}

/**
 * `lineAndColumn` for many offsets in one text: the line starts are found once, each lookup is a
 * binary search (a file with thousands of duplicate keys made one scan per key cost seconds).
 */
function lineLocator(text: string): (offset: number) => { line: number; col: number } {
  let starts: number[] | null = null;
  return (offset) => {
    if (starts === null) {
      starts = [0];
      for (let i = text.indexOf('\n'); i !== -1; i = text.indexOf('\n', i + 1)) starts.push(i + 1);
    }
    let lo = 0;
    let hi = starts.length - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if (starts[mid]! <= offset) lo = mid;
      else hi = mid - 1;
    }
    return { line: lo + 1, col: offset - starts[lo]! + 1 };
  };
}

/** 1-based line and column of `offset` in `text`. */
export function lineAndColumn(text: string, offset: number): { line: number; col: number } {
  let line = 1;
  let last = -1;
  for (let i = text.indexOf('\n'); i !== -1 && i < offset; i = text.indexOf('\n', i + 1)) {
    line++;
    last = i;
  }
  return { line, col: offset - last };
}

/**
 * Checks a parsed document before anything converts it to values: at most `yamlAliases` aliases, at
 * most `yamlAliasExpansion` nodes added by expanding them (an alias to a node that contains it expands
 * forever), and collections nested at most `yamlDepth` deep with aliases expanded. Linear in the
 * document: each anchored node's expanded size is computed once. Null when the document is within the
 * limits. Unresolved aliases are left for toJS to report.
 */
export function checkYamlDocument(
  doc: Document.Parsed,
  opts: CheckYamlDocumentOptions = {},
): YamlLimitProblem | null {
  const anchors = new Map<string, unknown>();
  const sizes = new Map<unknown, { size: number; height: number }>();
  const locate = opts.text === undefined ? undefined : lineLocator(opts.text);
  let duplicates = 0;
  const open = new Set<unknown>();
  let aliases = 0;
  let expansion = 0;
  const stop = (code: InputLimitCode, message: string, node: unknown): never => {
    const offset = (node as { range?: [number, number, number] } | null)?.range?.[0] ?? 0;
    throw new Stop({ code, message, offset });
  };

  /** The node's expanded size (nodes) and height (collection levels), for a node at `level`. */
  const walk = (node: unknown, level: number): { size: number; height: number } => {
    if (isAlias(node)) {
      if (++aliases > L.yamlAliases) {
        stop(
          'limit-yaml-aliases',
          `YAML has more than ${L.yamlAliases} aliases (the limit); it was not read`,
          node,
        );
      }
      const target = anchors.get(node.source);
      if (target === undefined) return { size: 1, height: 0 };
      if (open.has(target)) {
        stop(
          'limit-yaml-expansion',
          `YAML alias *${node.source} is inside the node it names, so it expands forever; it was not read`,
          node,
        );
      }
      const t = sizes.get(target) ?? { size: 1, height: 0 };
      expansion += t.size;
      if (expansion > L.yamlAliasExpansion) {
        stop(
          'limit-yaml-expansion',
          `YAML aliases expand to more than ${L.yamlAliasExpansion} nodes (the limit; an alias bomb?); it was not read`,
          node,
        );
      }
      if (level - 1 + t.height > L.yamlDepth) stop('limit-yaml-depth', depthMessage, node);
      return t;
    }
    const anchor = (node as { anchor?: string } | null)?.anchor;
    if (!isCollection(node)) {
      const leaf = { size: 1, height: 0 };
      if (anchor) {
        anchors.set(anchor, node);
        sizes.set(node, leaf);
      }
      return leaf;
    }
    if (level > L.yamlDepth) stop('limit-yaml-depth', depthMessage, node);
    if (anchor) {
      anchors.set(anchor, node);
      open.add(node);
    }
    let size = 1;
    let height = 0;
    const keys = opts.uniqueKeys ? new Set<unknown>() : null;
    for (const item of node.items as unknown[]) {
      if (isPair(item)) {
        if (keys) {
          const k = isScalar(item.key) ? item.key.value : item.key;
          if (!keys.has(k)) keys.add(k);
          else if (++duplicates <= MAX_DUPLICATE_KEY_ERRORS) duplicateKey(doc, item.key, locate);
        }
        const key = walk(item.key, level + 1);
        const value = walk(item.value, level + 1);
        size += key.size + value.size;
        height = Math.max(height, key.height, value.height);
      } else {
        const child = walk(item, level + 1);
        size += child.size;
        height = Math.max(height, child.height);
      }
    }
    const result = { size, height: height + 1 };
    if (anchor) {
      open.delete(node);
      sizes.set(node, result);
    }
    return result;
  };

  try {
    walk(doc.contents, 1);
    return null;
  } catch (err) {
    if (err instanceof Stop) return err.problem;
    throw err;
  }
}

/** Duplicate keys reported per document: enough to fix a file, not a wall of text. */
const MAX_DUPLICATE_KEY_ERRORS = 20;

function duplicateKey(
  doc: Document.Parsed,
  key: unknown,
  locate: ((offset: number) => { line: number; col: number }) | undefined,
): void {
  const range = (key as { range?: [number, number, number] } | null)?.range ?? [0, 0, 0];
  const error = new YAMLParseError([range[0], range[1]], 'DUPLICATE_KEY', 'Map keys must be unique');
  if (locate) error.linePos = [locate(range[0])];
  doc.errors.push(error);
}

type YamlOptions = ParseOptions & DocumentOptions & SchemaOptions;

// The lexer's control tokens (document start, scalar, flow end) are not in the text.
const CONTROL_TOKENS = new Set(['\x02', '\x1f', '\x18']);
/** Parser stack entries beyond the nesting levels: the document and a token in progress or two. */
const PARSER_STACK_SLACK = 8;

/**
 * `yaml`'s parseDocument, with the tokens counted and the flow nesting checked as the text is lexed:
 * the lexer runs once, the parser never sees a token past the budget (`budget`, frontmatter's unless
 * given) nor a level past the limit (10k nested `[` cost the parser seconds and the composer its
 * stack), then checkYamlDocument before anything converts the document to values.
 * Duplicate keys are reported in linear time when `uniqueKeys` (see CheckYamlDocumentOptions); the
 * composer's own check is always off. Errors get `linePos` and yaml's ` at line L, column C` suffix
 * (not its context lines). `limit` is set (and `doc` null) when a limit was hit.
 */
export function parseDocumentWithinLimits(
  text: string,
  options: YamlOptions = {},
  opts: {
    uniqueKeys?: boolean;
    budget?: YamlTokenBudget;
    /** Sees each lexeme (control tokens included) with its offset, and each CST document, as parsed. */
    observer?: { lexeme(lexeme: string, offset: number): void; document(token: CST.Document): void };
  } = {},
): { doc: Document.Parsed; limit: null } | { doc: null; limit: YamlLimitProblem } {
  const observer = opts.observer;
  const budget = opts.budget ?? FRONTMATTER_BUDGET;
  const lineCounter = options.lineCounter ?? (options.prettyErrors === false ? undefined : new LineCounter());
  const parser = new Parser(lineCounter?.addNewLine);
  // logLevel 'error': yaml's warnings (a collection as a key, stringified) would reach the user's
  // terminal as a Node process warning; they are in doc.warnings for whoever wants them.
  const composer = new Composer({ logLevel: 'error', ...options, uniqueKeys: false });
  function* tokens() {
    lineCounter?.addNewLine(0);
    let depth = 0;
    let offset = 0;
    let count = 0;
    for (const lexeme of new Lexer().lex(text)) {
      if (++count > budget.tokens) {
        throw new Stop({ code: 'limit-yaml-tokens', message: tokensMessage(budget), offset });
      }
      if (lexeme === '[' || lexeme === '{') {
        if (++depth > L.yamlDepth)
          throw new Stop({ code: 'limit-yaml-depth', message: depthMessage, offset });
      } else if ((lexeme === ']' || lexeme === '}') && depth > 0) depth--;
      observer?.lexeme(lexeme, offset);
      if (!CONTROL_TOKENS.has(lexeme)) offset += lexeme.length;
      for (const token of parser.next(lexeme)) {
        if (observer && token.type === 'document') observer.document(token);
        yield token;
      }
      // Block nesting, as the parser sees it: past the limit it is broken text (lines the parser
      // takes as ever deeper, say), and the parser's own recursion would exhaust the stack.
      if (parser.stack.length > L.yamlDepth + PARSER_STACK_SLACK) {
        throw new Stop({ code: 'limit-yaml-depth', message: depthMessage, offset });
      }
    }
    for (const token of parser.end()) {
      if (observer && token.type === 'document') observer.document(token);
      yield token;
    }
  }
  let doc: Document.Parsed | null = null;
  try {
    for (const next of composer.compose(tokens(), true, text.length)) {
      if (!doc) doc = next;
      else {
        const message = 'Source contains multiple documents; please use YAML.parseAllDocuments()';
        doc.errors.push(new YAMLParseError([next.range[0], next.range[1]], 'MULTIPLE_DOCS', message));
        break;
      }
    }
  } catch (err) {
    if (err instanceof Stop) return { doc: null, limit: err.problem };
    throw err;
  }
  const parsed = doc as unknown as Document.Parsed;
  const limit = checkYamlDocument(parsed, { uniqueKeys: opts.uniqueKeys === true, text });
  if (limit) return { doc: null, limit };
  if (lineCounter) {
    for (const error of [...parsed.errors, ...parsed.warnings]) {
      if (error.pos[0] === -1 || error.linePos) continue;
      error.linePos = [lineCounter.linePos(error.pos[0]), lineCounter.linePos(error.pos[1])];
      error.message += ` at line ${error.linePos[0].line}, column ${error.linePos[0].col}`;
    }
  }
  return { doc: parsed, limit: null };
}

/** A problem with YAML text: a syntax error, or (with `code`) an input limit hit. */
export interface YamlTextProblem {
  message: string;
  /** 1-based. */
  line: number;
  col: number;
  code?: InputLimitCode;
}

/** Options under which yaml-fast.ts reads as `yaml` would: YAML 1.1, its default schema. */
const PLAIN_OPTION_KEYS = new Set(['version', 'logLevel', 'prettyErrors', 'uniqueKeys']);

/**
 * `yaml`'s parseDocument + toJS within the limits: the tokens counted and the flow nesting checked as
 * the text is lexed (`budget`: frontmatter's unless given), aliases, their expansion and the depth
 * after parsing and before toJS. Duplicate keys are errors unless `options.uniqueKeys` is false, found
 * in linear time (see CheckYamlDocumentOptions). Syntax errors come back as `yaml` words them (first
 * line, no position suffix). With YAML 1.1 and no other schema option (config files, the manifest),
 * plain block YAML is read by yaml-fast.ts instead, to the same value, and never counted against the
 * budget. The caller checks the text's size.
 */
export function parseYamlWithinLimits(
  text: string,
  options: YamlOptions = {},
  budget: YamlTokenBudget = FRONTMATTER_BUDGET,
): { value: unknown; problems: null } | { value: null; problems: YamlTextProblem[] } {
  let notPlain: NotPlain | null = null;
  if (options.version === '1.1' && Object.keys(options).every((key) => PLAIN_OPTION_KEYS.has(key))) {
    const plain = readPlainBlockYaml(text);
    if (plain.value) return { value: plain.value, problems: null };
    notPlain = plain.notPlain;
    // What was read before the line that is not plain is already over the budget: the parser would
    // stop before that line, so it is not run (a long file with a bad last line costs one reading).
    if (notPlain.tokens > budget.tokens) {
      const message = tokensMessage(budget, notPlain);
      return { value: null, problems: [{ message, code: 'limit-yaml-tokens', line: notPlain.line, col: 1 }] };
    }
  }
  const { doc, limit } = parseDocumentWithinLimits(text, options, {
    uniqueKeys: options.uniqueKeys !== false,
    budget,
  });
  if (limit?.code === 'limit-yaml-tokens' && notPlain) {
    // Plain block YAML of any size would have been read: say where this text is not.
    const message = tokensMessage(budget, notPlain);
    return { value: null, problems: [{ message, code: limit.code, line: notPlain.line, col: 1 }] };
  }
  if (limit) {
    return {
      value: null,
      problems: [{ message: limit.message, code: limit.code, ...lineAndColumn(text, limit.offset) }],
    };
  }
  if (doc.errors.length > 0) {
    const problems = doc.errors.map((error): YamlTextProblem => {
      const pos = error.linePos?.[0] ?? lineAndColumn(text, error.pos[0]);
      const message = (error.message.split('\n')[0] ?? '').replace(/ at line \d+, column \d+:?$/, '');
      return { message, line: pos.line, col: pos.col };
    });
    return { value: null, problems };
  }
  try {
    // Aliases and their expansion are bounded above, so yaml's per-anchor heuristic is off.
    return { value: doc.toJS({ maxAliasCount: -1 }), problems: null };
  } catch (err) {
    // An alias to an anchor not (yet) defined.
    const message = err instanceof Error ? err.message : String(err);
    return { value: null, problems: [{ message, line: 1, col: 1 }] };
  }
}
