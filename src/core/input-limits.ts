// Hard limits on what car reads from disk, in one place. Tickets, DISPATCH.md, USER_REPLY.md, config
// files and the hub manifest are written by people and agents, so a broken or hostile one must cost
// milliseconds and megabytes, never a hang, gigabytes or an internal stack trace. Every reader checks
// these BEFORE the expensive step: the file's size before reading it, the frontmatter's size before
// parsing it, the tokens and the flow nesting as the YAML parser is fed (its cost is per token, and
// it recurses per level: 10k nested `[` took seconds and could abort node), and aliases and nesting
// on the parsed document before anything converts it to values (an alias is one node in the document
// but a whole copy for anything that walks the value: a deep merge, a JSON dump, a lint).
//
// The numbers are far above what CAR and car write (car-spec §2's ticket example: ~1 KB with ~400 bytes
// of frontmatter; CAR's whole default config is 18 KB with its comments; a manifest entry is ~150
// bytes) and low enough that reading one file at the limit stays around 100 ms and well under 100 MB
// (bench/hostile-input.ts prints the worst case of each kind of file). The `yaml` package parses at
// ~25 µs a token in a cold process, so what it parses is bounded in tokens; config files and the
// manifest in plain block YAML, what CAR and people write, are read without it (yaml-fast.ts) and are
// bounded by their size alone.
import { closeSync, constants, fstatSync, openSync, readSync } from 'node:fs';

const KiB = 1024;
const MiB = 1024 * KiB;

export const INPUT_LIMITS = {
  /**
   * A ticket file. Above the prompt budget (5 MiB, which halves a long ticket body to fit), so any
   * ticket an agent could be given is read; only the frontmatter is parsed, so a big body costs a read.
   */
  ticketFileBytes: 8 * MiB,
  /**
   * YAML frontmatter of a ticket, DISPATCH.md or USER_REPLY.md: a real one is under 2 KB (a long goal,
   * a dozen context entries). Dense YAML parses at ~0.4 MB/s, so this bounds a parse to ~100 ms.
   */
  frontmatterBytes: 32 * KiB,
  /** DISPATCH.md: a question for a person (a page is ~3 KB); logs belong in attachments. */
  dispatchFileBytes: 1 * MiB,
  /** USER_REPLY.md: a person's answer; longer text belongs in an attachment. */
  replyFileBytes: 1 * MiB,
  /**
   * One config layer file (or one CAR__ environment value): ~2x CAR's whole default config, every
   * documented key with its comments (18.7 KB; car's own defaults are 2.3 KB; real files are a few
   * dozen lines). What sets it is the reading: a config at the limit in the shape that costs most
   * (dense one-line flow collections: ~1,000 keys with ~10 values each, read, merged and validated)
   * takes ~70 ms in a cold process.
   */
  configFileBytes: 40 * KiB,
  /**
   * The hub manifest: ~800 repo and worktree entries as CAR writes them (~170 bytes each; car's are
   * ~90), so a hub of 500 repos fits with room. What sets it is the reading: plain block YAML is read
   * by yaml-fast.ts at ~2-4 MB/s in a cold process, and a manifest at the limit in the shape that costs
   * it most (dense one-line flow collections) takes ~60 ms. car refuses to write a manifest over it
   * (nor could it read it back).
   */
  manifestFileBytes: 128 * KiB,
  /** Alias nodes (`*name`) in one YAML document. Real files use a handful (`<<: *defaults`). */
  yamlAliases: 100,
  /** Nodes all aliases together may add when expanded: a "billion laughs" document stops here. */
  yamlAliasExpansion: 10_000,
  /** Nesting of collections, aliases expanded. Real files nest 2-6 levels. */
  yamlDepth: 64,
  /**
   * Tokens the `yaml` parser may see in one frontmatter (a ticket's, DISPATCH.md's, USER_REPLY.md's):
   * what its lexer emits (scalars, indicators, spaces, line breaks, comments), counted as it lexes.
   * Parsing costs per token whatever the bytes (a long block scalar is one token, `{a: [1]}` ten),
   * ~25-35 µs each in a cold process, so this bounds a parse to ~35 ms, and the worst case, a
   * frontmatter parsed twice (a quoted value PyYAML continues on lines the `yaml` package ends it
   * at, yaml.ts), to ~70 ms. Real frontmatter is far below: a CAR ticket's ~36 tokens, a long goal
   * with a dozen context entries and a verify list ~360 (test/helpers/realistic.ts).
   */
  frontmatterYamlTokens: 1_000,
  /**
   * The same for one config layer file, CAR__ value or hub config file (~70 ms). Plain block YAML,
   * what people and CAR write, is read by yaml-fast.ts and not counted, whatever its size: CAR's whole
   * default config, every documented key with its comments (539 lines, 3,130 tokens), is. What meets
   * the budget is a config with anchors, tags, folded scalars or multi-line flow collections, which
   * real ones use in a few lines (an anchor for shared agent settings); one of 2,000 tokens is ~330
   * lines, and the error names the line that is not plain block YAML.
   */
  configYamlTokens: 2_000,
  /**
   * The same for the hub manifest. What CAR and car write is plain block YAML (~57 tokens a repo,
   * 500 repos ~28,600), read by yaml-fast.ts whatever its size; the budget is for a hand-edited one.
   */
  manifestYamlTokens: 2_000,
} as const;

export type InputLimitCode =
  | 'limit-file-size'
  | 'limit-not-a-file'
  | 'limit-frontmatter-size'
  | 'limit-yaml-aliases'
  | 'limit-yaml-expansion'
  | 'limit-yaml-depth'
  | 'limit-yaml-tokens';

/** A limit was hit. `message` says what and the limit, without the file (callers add it). */
export class InputLimitError extends Error {
  override name = 'InputLimitError';
  readonly code: InputLimitCode;
  constructor(code: InputLimitCode, message: string) {
    super(message);
    this.code = code;
  }
}

export function isLimitCode(code: string): code is InputLimitCode {
  return code.startsWith('limit-');
}

/** `812 bytes`, `64 KiB`, `5.0 MiB`. */
export function formatBytes(bytes: number): string {
  if (bytes < KiB) return `${bytes} bytes`;
  if (bytes < MiB) return bytes % KiB === 0 ? `${bytes / KiB} KiB` : `${(bytes / KiB).toFixed(1)} KiB`;
  return bytes % MiB === 0 ? `${bytes / MiB} MiB` : `${(bytes / MiB).toFixed(1)} MiB`;
}

function tooLarge(bytes: number, limit: number, what: string): InputLimitError {
  return new InputLimitError(
    'limit-file-size',
    `file is ${formatBytes(bytes)}, over the ${formatBytes(limit)} limit for ${what}; it was not read`,
  );
}

/**
 * Reads a whole file of at most `maxBytes`. Throws InputLimitError when it is bigger (checked before
 * reading, and again while reading, in case it grows) or not a regular file (a FIFO or /dev/zero
 * would never end); other errors (ENOENT, EACCES) are thrown as they are. `what` names the kind of
 * file in the message (`a ticket file`).
 */
export function readFileBounded(path: string, maxBytes: number, what: string): Buffer {
  // Non-blocking, so opening a FIFO returns at once (and is then refused) instead of waiting for a writer.
  const fd = openSync(path, constants.O_RDONLY | (constants.O_NONBLOCK ?? 0));
  try {
    const st = fstatSync(fd);
    if (!st.isFile()) {
      throw new InputLimitError('limit-not-a-file', `is not a regular file; car reads ${what} only from one`);
    }
    if (st.size > maxBytes) throw tooLarge(st.size, maxBytes, what);
    let buf = Buffer.allocUnsafe(st.size + 1);
    let total = 0;
    for (;;) {
      if (total === buf.length) {
        // It grew since the stat: read on, but no further than just past the limit.
        if (total > maxBytes) throw tooLarge(total, maxBytes, what);
        const next = Buffer.allocUnsafe(Math.min(buf.length * 2, maxBytes + 1));
        buf.copy(next, 0, 0, total);
        buf = next;
      }
      const n = readSync(fd, buf, total, buf.length - total, null);
      if (n === 0) break;
      total += n;
    }
    if (total > maxBytes) throw tooLarge(total, maxBytes, what);
    return buf.subarray(0, total);
  } finally {
    closeSync(fd);
  }
}

/**
 * An InputLimitError when `text` is over `maxBytes` of UTF-8. `what` is `frontmatter` or the kind of
 * file (`a ticket file`). Cheap: short text is decided by its length alone.
 */
export function checkTextSize(text: string, maxBytes: number, what: string): InputLimitError | null {
  // A UTF-16 unit is at most 3 bytes of UTF-8, so short text needs no counting.
  if (text.length * 3 <= maxBytes) return null;
  const bytes = Buffer.byteLength(text, 'utf8');
  if (bytes <= maxBytes) return null;
  if (what === 'frontmatter') {
    return new InputLimitError(
      'limit-frontmatter-size',
      `frontmatter is ${formatBytes(bytes)}, over the ${formatBytes(maxBytes)} limit; it was not parsed`,
    );
  }
  return new InputLimitError(
    'limit-file-size',
    `file is ${formatBytes(bytes)}, over the ${formatBytes(maxBytes)} limit for ${what}; it was not parsed`,
  );
}
