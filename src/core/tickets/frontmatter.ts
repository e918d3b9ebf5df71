// Splits a ticket's YAML frontmatter from its body the way CAR does (`tickets/frontmatter.py`), keeping
// exact offsets so lint lines and surgical edits map back onto the original bytes.
import { PY_BREAK, PY_INLINE_SPACE } from './python-str.ts';

// Fences are whole lines as CAR's `str.splitlines()` cuts them, with trailing Python whitespace (`\s`:
// no U+FEFF, but U+001F; python-str.ts). A lone CR ends a line too, as in Python's universal newlines.
const OPEN_RE = new RegExp(`^---[${PY_INLINE_SPACE}]*$`);
const EOL_RE = new RegExp(`\\r\\n|[${PY_BREAK}]`, 'g');
const FENCE = `(?:---|\\.\\.\\.)[${PY_INLINE_SPACE}]*(?=[${PY_BREAK}]|$)`;
// A closing fence line starting right at lastIndex (sticky), or after a line break.
const CLOSE_AT_RE = new RegExp(FENCE, 'y');
const CLOSE_LINE_RE = new RegExp(`(\\r\\n|[${PY_BREAK}])${FENCE}`, 'g');

export type FrontmatterAbsence = 'empty' | 'missing' | 'unclosed';

export interface FrontmatterSplit {
  /** The text starts with U+FEFF. CAR reads tickets as plain UTF-8, so it sees no frontmatter then. */
  bom: boolean;
  /** The first line break in the text (LF when there is none), used for inserted lines. */
  eol: '\n' | '\r\n';
  /** YAML between the fences, exactly as in the text (null when there is no frontmatter). */
  yaml: string | null;
  /** Why `yaml` is null. */
  absence: FrontmatterAbsence | null;
  /** Char offset of `yaml` in the text. */
  yamlOffset: number;
  /** 1-based line of the first YAML line in the text. */
  yamlLine: number;
  /** Char offset where the closing fence line starts (`yamlOffset + yaml.length`). */
  closeOffset: number;
  /** Text after the closing fence line (the whole text after the BOM when there is no frontmatter). */
  body: string;
}

export function splitFrontmatter(text: string): FrontmatterSplit {
  const bom = text.charCodeAt(0) === 0xfeff;
  const start = bom ? 1 : 0;
  const firstBreak = /\r\n|\n|\r/.exec(text);
  const eol = firstBreak?.[0] === '\r\n' ? '\r\n' : '\n';
  const none = (absence: FrontmatterAbsence): FrontmatterSplit => ({
    bom,
    eol,
    yaml: null,
    absence,
    yamlOffset: start,
    yamlLine: 1,
    closeOffset: start,
    body: text.slice(start),
  });
  if (text.length === start) return none('empty');

  EOL_RE.lastIndex = start;
  let match = EOL_RE.exec(text);
  if (!OPEN_RE.test(text.slice(start, match ? match.index : text.length)) || !match) {
    // A lone `---` line is an unclosed fence, not a missing one.
    return none(match || !OPEN_RE.test(text.slice(start)) ? 'missing' : 'unclosed');
  }
  const yamlOffset = match.index + match[0].length;
  // The first line after the opener that is a closing fence: one regex scan, not a loop over lines
  // (a 5 MB unclosed frontmatter is 250k lines).
  let lineStart = -1;
  let fenceEnd = -1;
  CLOSE_AT_RE.lastIndex = yamlOffset;
  const first = CLOSE_AT_RE.exec(text);
  if (first) {
    lineStart = yamlOffset;
    fenceEnd = yamlOffset + first[0].length;
  } else {
    CLOSE_LINE_RE.lastIndex = yamlOffset;
    const later = CLOSE_LINE_RE.exec(text);
    if (later) {
      lineStart = later.index + later[1]!.length;
      fenceEnd = later.index + later[0].length;
    }
  }
  if (lineStart !== -1) {
    EOL_RE.lastIndex = fenceEnd;
    match = EOL_RE.exec(text);
    return {
      bom,
      eol,
      yaml: text.slice(yamlOffset, lineStart),
      absence: null,
      yamlOffset,
      yamlLine: 2,
      closeOffset: lineStart,
      body: match ? text.slice(match.index + match[0].length) : '',
    };
  }
  return none('unclosed');
}
