// The `<CAR_CONTEXTSPACE_DOCS>` content: the durable docs agents share across turns, bounded per doc.
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { CONTEXTSPACE_DOCS, STATE_DIR } from '../paths.ts';

export const CONTEXTSPACE_DOC_MAX_CHARS = 4000;

// Prompt labels (CAR's), distinct from the catalogue descriptions in paths.ts.
const LABELS: Record<(typeof CONTEXTSPACE_DOCS)[number]['kind'], string> = {
  active_context: 'Active context',
  decisions: 'Decisions',
  spec: 'Spec',
};

/** First `max` characters, counted in code points so a surrogate pair is never split. */
function firstChars(text: string, max: number): string {
  if (text.length <= max) return text;
  return Array.from(text).slice(0, max).join('');
}

/**
 * `"<Label> [<relpath>]:\n<text>"` per non-empty doc, in catalogue order, joined by blank lines;
 * '' when every doc is empty or absent. An unreadable doc is skipped: context is a help, not a gate.
 */
export async function buildContextspaceBlock(root: string): Promise<string> {
  const parts: string[] = [];
  for (const doc of CONTEXTSPACE_DOCS) {
    const rel = `${STATE_DIR}/contextspace/${doc.file}`;
    let text: string;
    try {
      text = (await readFile(join(root, STATE_DIR, 'contextspace', doc.file), 'utf8')).trim();
    } catch {
      continue;
    }
    if (text) parts.push(`${LABELS[doc.kind]} [${rel}]:\n${firstChars(text, CONTEXTSPACE_DOC_MAX_CHARS)}`);
  }
  return parts.join('\n\n');
}
