// Keeps one event's stored payload under a byte budget while leaving it a valid JSON object.
import type { JsonObject } from './types.ts';

export interface BoundedJson {
  json: string;
  truncated: boolean;
}

/**
 * Serializes `data`; when it is longer than `maxBytes` (UTF-8), stores instead
 * `{truncated: true, bytes: <original size>, preview: <start of the original JSON>}`, shrunk until it fits.
 */
export function boundEventData(data: JsonObject, maxBytes: number): BoundedJson {
  const json = JSON.stringify(data);
  // A UTF-16 unit is at most 3 UTF-8 bytes, so short strings skip the byte count.
  if (json.length * 3 <= maxBytes) return { json, truncated: false };
  const bytes = Buffer.byteLength(json);
  if (bytes <= maxBytes) return { json, truncated: false };
  let preview = json.slice(0, maxBytes);
  for (;;) {
    const out = JSON.stringify({ truncated: true, bytes, preview });
    if (Buffer.byteLength(out) <= maxBytes || preview.length === 0) return { json: out, truncated: true };
    preview = preview.slice(0, Math.floor(preview.length * 0.75));
  }
}
