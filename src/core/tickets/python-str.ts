// Python's str semantics that CAR's rules rely on, where JavaScript's differ: `str.strip()` and the
// regex `\s` (JavaScript's `\s` has U+FEFF but not U+001C-U+001F or U+0085), `str.splitlines()` (it
// also breaks lines at \v, \f, U+001C-U+001E, U+0085, U+2028 and U+2029), and `\d` (any Unicode decimal
// digit, which int() reads).

/** The line breaks of `str.splitlines()` as a character class body (\r\n counts as one break). */
export const PY_BREAK = '\\n\\v\\f\\r\\x1c-\\x1e\\x85\\u2028\\u2029';
/** Python's whitespace that is not a line break, as a character class body. */
export const PY_INLINE_SPACE = '\\t\\x1f \\xa0\\u1680\\u2000-\\u200a\\u202f\\u205f\\u3000';
/** Python's whitespace (`str.isspace()`, the regex `\s`). */
const SPACE_RE = new RegExp(`[${PY_BREAK}${PY_INLINE_SPACE}]`);
const LINE_BREAK_RE = new RegExp(`\\r\\n|[${PY_BREAK}]`, 'g');

/** Python's `s.strip()`. A loop, not a regex: a long run of spaces must not cost quadratic time. */
export function pyStrip(s: string): string {
  let start = 0;
  let end = s.length;
  while (start < end && SPACE_RE.test(s[start]!)) start++;
  while (end > start && SPACE_RE.test(s[end - 1]!)) end--;
  return start === 0 && end === s.length ? s : s.slice(start, end);
}

/**
 * `"\n".join(text.splitlines())`: every Python line break becomes \n and a final one is dropped.
 * CAR hands frontmatter to PyYAML in this form, so it is what car parses too (same line count).
 */
export function pyJoinLines(text: string): string {
  return text.replace(LINE_BREAK_RE, '\n').replace(/\n$/, '');
}

const DIGIT_RE = /^\p{Nd}$/u;

/** The value of a run of Unicode decimal digits (`\p{Nd}`), as Python's int() reads it. */
export function pyDigitsValue(digits: string): number {
  let text = '';
  for (const ch of digits) {
    // Unicode encodes each script's digits as contiguous runs of 0-9, some runs back to back
    // (U+1D7CE-U+1D7FF holds five): a digit's value is its distance from the block's start, mod 10.
    const code = ch.codePointAt(0)!;
    let start = code;
    while (DIGIT_RE.test(String.fromCodePoint(start - 1))) start--;
    text += String((code - start) % 10);
  }
  return Number.parseInt(text, 10);
}
