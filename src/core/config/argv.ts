/**
 * Splits a command line the way a POSIX shell does for simple quoting: whitespace separates words,
 * '...' is literal, "..." allows \" \\ \$ \` escapes, and a backslash outside quotes escapes the next
 * character. No expansion of any kind. Throws on an unterminated quote or a trailing backslash.
 */
export function splitCommandLine(text: string): string[] {
  const words: string[] = [];
  let word = '';
  // Distinguishes an empty quoted word ('') from no word at all.
  let inWord = false;
  let quote: "'" | '"' | null = null;
  for (let i = 0; i < text.length; i++) {
    const ch = text[i]!;
    const next = text[i + 1];
    if (quote === "'") {
      if (ch === "'") quote = null;
      else word += ch;
    } else if (quote === '"') {
      if (ch === '"') quote = null;
      else if (ch === '\\' && next !== undefined && '"\\$`\n'.includes(next)) {
        word += next;
        i++;
      } else word += ch;
    } else if (/\s/.test(ch)) {
      if (inWord) words.push(word);
      word = '';
      inWord = false;
    } else {
      inWord = true;
      if (ch === "'" || ch === '"') quote = ch;
      else if (ch !== '\\') word += ch;
      else if (next === undefined) throw new Error('ends with a lone backslash');
      else {
        word += next;
        i++;
      }
    }
  }
  if (quote !== null) throw new Error(`has an unterminated ${quote} quote`);
  if (inWord) words.push(word);
  return words;
}

/** An argv from an env value: a JSON array of strings when it starts with `[`, else a shell-style line. */
export function parseArgv(text: string): string[] {
  const trimmed = text.trim();
  if (!trimmed.startsWith('[')) return splitCommandLine(trimmed);
  let parsed: unknown;
  try {
    parsed = JSON.parse(trimmed);
  } catch {
    throw new Error('starts with "[" but is not a valid JSON array');
  }
  if (!Array.isArray(parsed) || !parsed.every((part) => typeof part === 'string')) {
    throw new Error('must be a JSON array of strings');
  }
  return parsed;
}
