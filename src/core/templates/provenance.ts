// What an applied template leaves in its ticket, with CAR's keys and values
// (`core/templates/provenance.py`): `template` (`<repo_id>:<path>@<ref>`), `template_commit`,
// `template_blob` (git's blob id of the template file), `template_trusted`, and `template_scan`
// (`skipped`: car runs no scan agent). Keys are added with the byte-preserving frontmatter edit, so
// the template's own lines stay as written; summaries follow CAR's indexer.
import { createHash } from 'node:crypto';
import { type ScalarValue, setFrontmatterField } from '../tickets/edit.ts';
import { splitFrontmatter } from '../tickets/frontmatter.ts';
import { newTicketId } from '../tickets/ticket.ts';
import { parseYaml } from '../tickets/yaml.ts';

export interface Provenance {
  /** `<source>:<path>@<ref>` for a git source, `<source>:<path>` for a folder. */
  template: string;
  commit: string | null;
  blob: string;
  trusted: boolean;
}

/** The id git gives these bytes as a blob (`git hash-object`). */
export function gitBlobId(bytes: Uint8Array): string {
  return createHash('sha1').update(`blob ${bytes.length}\0`).update(bytes).digest('hex');
}

/**
 * The ticket text of an applied template: a fresh ticket_id, `agent` (replaced when `agent` is given),
 * `done: false` when the template has no `done`, and the provenance keys. A template without
 * frontmatter gets one.
 */
export function withProvenance(
  text: string,
  p: Provenance,
  opts: { agent?: string | undefined; source: string },
): string {
  let out = splitFrontmatter(text).yaml === null ? `---\n---\n${text}` : text;
  const fm = frontmatterOf(out);
  const fields: [string, ScalarValue][] = [['ticket_id', newTicketId()]];
  if (opts.agent !== undefined) fields.push(['agent', opts.agent]);
  if (!('done' in fm)) fields.push(['done', false]);
  fields.push(
    ['template', p.template],
    ['template_commit', p.commit],
    ['template_blob', p.blob],
    ['template_trusted', p.trusted],
    ['template_scan', 'skipped'],
  );
  for (const [key, value] of fields) out = setFrontmatterField(out, key, value, opts.source);
  return out;
}

/** The frontmatter's top-level values (empty when it is not a mapping). */
export function frontmatterOf(text: string): Record<string, unknown> {
  const yaml = splitFrontmatter(text).yaml;
  if (yaml === null) return {};
  const { value } = parseYaml(yaml);
  return value !== null && typeof value === 'object' && !Array.isArray(value)
    ? (value as Record<string, unknown>)
    : {};
}

/** CAR's summary of a template: its frontmatter title, else its first heading, else its first line. */
export function templateSummary(text: string): string {
  const fm = frontmatterOf(text);
  if (typeof fm.title === 'string' && fm.title.trim()) return fm.title.trim();
  for (const raw of splitFrontmatter(text).body.split('\n')) {
    const line = raw.trim();
    if (line.startsWith('# ')) return line.slice(2).trim();
    if (line) return line.slice(0, 100);
  }
  return '';
}
