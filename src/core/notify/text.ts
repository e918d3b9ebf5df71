// Message text for chat platforms: split to a platform's length limit, and scrub secrets.

/** Telegram's sendMessage limit (UTF-16 code units after entity parsing; we send plain text). */
export const TELEGRAM_MAX_CHARS = 4096;
/** Discord's message content limit. */
export const DISCORD_MAX_CHARS = 2000;

function isHighSurrogate(code: number): boolean {
  return code >= 0xd800 && code <= 0xdbff;
}

/**
 * Splits `text` into parts of at most `limit` UTF-16 code units, preferring to break after a newline,
 * then after a space, and never inside a surrogate pair. Parts keep every character (joined they give
 * back the text); a text within the limit is one part. Empty text gives no parts.
 */
export function splitText(text: string, limit: number): string[] {
  if (limit < 2) throw new Error('limit must be at least 2');
  const parts: string[] = [];
  let rest = text;
  while (rest.length > limit) {
    let cut = rest.lastIndexOf('\n', limit - 1) + 1;
    if (cut < limit / 2) {
      const space = rest.lastIndexOf(' ', limit - 1) + 1;
      cut = space >= limit / 2 ? space : limit;
    }
    // a break between the halves of a surrogate pair would make two broken characters
    if (isHighSurrogate(rest.charCodeAt(cut - 1))) cut -= 1;
    parts.push(rest.slice(0, cut));
    rest = rest.slice(cut);
  }
  if (rest.length > 0) parts.push(rest);
  return parts;
}

/** Replaces every occurrence of each secret (bot tokens) with `[redacted]`. */
export function redact(text: string, secrets: readonly string[]): string {
  let out = text;
  for (const s of secrets) if (s.length >= 4) out = out.split(s).join('[redacted]');
  return out;
}
