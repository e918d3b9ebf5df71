// Cutting text to a byte or character budget without splitting a character, with a visible marker,
// for prompt sections, context files and output excerpts.
export const TRUNCATION_MARKER = '\n\n[... TRUNCATED ...]\n\n';

export function utf8Bytes(text: string): number {
  return Buffer.byteLength(text, 'utf8');
}

/** Longest prefix within `maxBytes` UTF-8 bytes; never splits a character. */
function utf8Prefix(text: string, maxBytes: number): string {
  const buf = Buffer.from(text, 'utf8');
  if (buf.length <= maxBytes) return text;
  let end = Math.max(0, maxBytes);
  // buf[end] is the first byte left out; if it continues a character, that character must go too.
  while (end > 0 && ((buf[end] ?? 0) & 0xc0) === 0x80) end--;
  return buf.subarray(0, end).toString('utf8');
}

/** Longest suffix within `maxBytes` UTF-8 bytes; never splits a character. */
function utf8Suffix(text: string, maxBytes: number): string {
  const buf = Buffer.from(text, 'utf8');
  if (buf.length <= maxBytes) return text;
  let start = buf.length - Math.max(0, maxBytes);
  while (start < buf.length && ((buf[start] ?? 0) & 0xc0) === 0x80) start++;
  return buf.subarray(start).toString('utf8');
}

/**
 * Cuts `text` to at most `maxBytes` UTF-8 bytes, the marker included. Below the marker's own size
 * the bare prefix is returned.
 */
export function truncateUtf8(text: string, maxBytes: number): string {
  if (utf8Bytes(text) <= maxBytes) return text;
  const room = maxBytes - utf8Bytes(TRUNCATION_MARKER);
  if (room <= 0) return utf8Prefix(text, maxBytes);
  return utf8Prefix(text, room) + TRUNCATION_MARKER;
}

/** Like truncateUtf8 but keeps the end: for output, where the latest lines matter most. */
export function truncateUtf8Start(text: string, maxBytes: number): string {
  if (utf8Bytes(text) <= maxBytes) return text;
  const room = maxBytes - utf8Bytes(TRUNCATION_MARKER);
  if (room <= 0) return utf8Suffix(text, maxBytes);
  return TRUNCATION_MARKER.trimStart() + utf8Suffix(text, room);
}

/**
 * The last `maxChars` characters of an agent's output, starting on a line boundary when one is
 * near (within the first half of the excerpt).
 */
export function tailExcerpt(
  text: string,
  maxChars: number,
): { text: string; cut: boolean; totalChars: number } {
  const full = text.trim();
  if (full.length <= maxChars) return { text: full, cut: false, totalChars: full.length };
  let start = full.length - Math.max(0, maxChars);
  const code = full.charCodeAt(start);
  if (code >= 0xdc00 && code <= 0xdfff) start++; // do not start on the second half of a surrogate pair
  let excerpt = full.slice(start);
  const newline = excerpt.indexOf('\n');
  if (newline !== -1 && newline < excerpt.length / 2) excerpt = excerpt.slice(newline + 1);
  return { text: excerpt, cut: true, totalChars: full.length };
}
