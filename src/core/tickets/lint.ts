// Ticket lint rules with CAR's message strings (`tickets/lint.py`, `tickets/portable_lint.py`).
import { type Document, isAlias, isMap, isSeq, type Node, type YAMLMap } from 'yaml';
import { lineAt } from './frontmatter.ts';
import type { LintIssue, Ticket, TicketContextEntry, TicketFields } from './types.ts';
import { findPair, isIntNode } from './yaml.ts';

/** The agents CAR's portable linter (`car tickets lint`) accepts. */
export const PORTABLE_AGENT_IDS: ReadonlySet<string> = new Set(['codex', 'hermes', 'opencode', 'user']);

export const TICKET_ID_RE = /^[A-Za-z0-9._-]{6,128}$/;
const KNOWN_KEYS = new Set([
  'ticket_id',
  'agent',
  'done',
  'title',
  'goal',
  'model',
  'reasoning',
  'profile',
  'context',
]);
const AGENT_REQUIRED = "frontmatter.agent is required (e.g. 'codex' or 'opencode').";
const DONE_REQUIRED = 'frontmatter.done is required and must be a boolean.';
export const INVALID_FILENAME =
  'Invalid ticket filename; expected TICKET-<number>[suffix].md (e.g. TICKET-001-foo.md)';

/** Python's `repr()` of a str, as CAR puts it in messages. */
export function pyRepr(s: string): string {
  const escaped = s.replaceAll('\\', '\\\\').replaceAll('\n', '\\n').replaceAll('\t', '\\t');
  if (s.includes("'") && !s.includes('"')) return `"${escaped}"`;
  return `'${escaped.replaceAll("'", "\\'")}'`;
}

export function sanitizeTicketId(raw: unknown): string | null {
  if (typeof raw !== 'string') return null;
  const value = raw.trim();
  return TICKET_ID_RE.test(value) ? value : null;
}

function optionalString(value: unknown): string | null {
  return typeof value === 'string' ? value.trim() || null : null;
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return (
    typeof value === 'object' && value !== null && !Array.isArray(value) && !(value instanceof Uint8Array)
  );
}

/** Where lint issues point: the file text, where its YAML starts, and the parsed document. */
export interface LintSource {
  file: string;
  text: string;
  yamlOffset: number;
  doc: Document.Parsed;
}

function deref(src: LintSource, node: unknown): unknown {
  return isAlias(node) ? node.resolve(src.doc) : node;
}

function nodeLine(src: LintSource, node: unknown): number {
  const range = (node as Node | null)?.range;
  return range ? lineAt(src.text, src.yamlOffset + range[0]) : 1;
}

/**
 * Lints a frontmatter mapping and extracts its known fields, in CAR's order. As in CAR, the agent is
 * only checked against `agents` when no other required field failed.
 */
export function lintFrontmatter(
  src: LintSource,
  map: YAMLMap,
  data: Record<string, unknown>,
  agents?: ReadonlySet<string>,
): { fields: TicketFields; issues: LintIssue[] } {
  const issues: LintIssue[] = [];
  const issue = (code: string, message: string, field: string, node?: unknown): void => {
    issues.push({ file: src.file, line: nodeLine(src, node), field, message, code, severity: 'error' });
  };
  const keyNode = (key: string): unknown => findPair(map, key)?.key;

  const rawId = data.ticket_id;
  const ticketId = sanitizeTicketId(rawId);
  if (rawId != null && ticketId === null) {
    issue(
      'ticket-id-invalid',
      'frontmatter.ticket_id must match [A-Za-z0-9._-]{6,128} when provided.',
      'ticket_id',
      keyNode('ticket_id'),
    );
  }

  const rawAgent = optionalString(data.agent);
  if (rawAgent === null) {
    const code = data.agent == null ? 'agent-missing' : 'agent-empty';
    issue(code, AGENT_REQUIRED, 'agent', keyNode('agent'));
  }

  const done = typeof data.done === 'boolean' ? data.done : null;
  if (done === null) {
    issue(data.done == null ? 'done-missing' : 'done-not-bool', DONE_REQUIRED, 'done', keyNode('done'));
  }

  let profile: string | null = null;
  if (data.profile != null) {
    profile = optionalString(data.profile);
    if (profile === null) {
      issue(
        'profile-empty',
        'frontmatter.profile must be a non-empty string when provided.',
        'profile',
        keyNode('profile'),
      );
    }
  }

  let agent = rawAgent?.toLowerCase() ?? null;
  if (agent !== null && agent !== 'user') {
    // CAR's syntactic Hermes alias: `hermes-m4` means agent `hermes` with profile `m4`.
    const alias = /^hermes[-_](.+)$/.exec(agent);
    if (alias?.[1]?.trim()) {
      agent = 'hermes';
      profile ??= alias[1].trim();
    }
    if (agents && issues.length === 0 && !agents.has(agent)) {
      issue(
        'agent-invalid',
        `frontmatter.agent is invalid: Unknown agent: ${pyRepr(rawAgent!)}`,
        'agent',
        keyNode('agent'),
      );
    }
  }

  const contextPair = findPair(map, 'context');
  const context = lintContext(src, data.context, deref(src, contextPair?.value), contextPair?.key, issues);

  const extra: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(data)) if (!KNOWN_KEYS.has(key)) extra[key] = value;

  const fields: TicketFields = {
    ticketId,
    agent,
    done,
    title: optionalString(data.title),
    goal: optionalString(data.goal),
    model: optionalString(data.model),
    reasoning: optionalString(data.reasoning),
    profile,
    context,
    extra,
  };
  return { fields, issues };
}

/** One error per bad entry, the first rule it breaks, as in CAR. */
function lintContext(
  src: LintSource,
  raw: unknown,
  node: unknown,
  keyNode: unknown,
  issues: LintIssue[],
): TicketContextEntry[] {
  const entries: TicketContextEntry[] = [];
  const issue = (code: string, message: string, field: string, at: unknown): void => {
    issues.push({ file: src.file, line: nodeLine(src, at), field, message, code, severity: 'error' });
  };
  if (raw == null) return entries;
  if (!Array.isArray(raw)) {
    issue('context-not-list', 'frontmatter.context must be a list when provided.', 'context', keyNode);
    return entries;
  }
  const itemNodes = isSeq(node) ? node.items : [];
  raw.forEach((item: unknown, i) => {
    const itemNode = deref(src, itemNodes[i]);
    const field = `context[${i}]`;
    const at = (key: string): unknown =>
      isMap(itemNode) ? (findPair(itemNode, key)?.key ?? itemNode) : itemNode;
    if (!isPlainObject(item)) {
      issue('context-entry-not-mapping', `frontmatter.${field} must be a mapping.`, field, itemNode);
      return;
    }
    const path = optionalString(item.path);
    const pathIssue = (code: string, what: string): void =>
      issue(code, `frontmatter.${field}.path ${what}`, `${field}.path`, at('path'));
    if (path === null) return pathIssue('context-path-missing', 'is required.');
    if (path.startsWith('/')) return pathIssue('context-path-absolute', 'must be repo-relative.');
    if (path.includes('\\')) return pathIssue('context-path-backslash', 'may not include backslashes.');
    if (path.split('/').includes('..'))
      return pathIssue('context-path-traversal', 'may not include parent traversal.');

    const maxBytesNode = isMap(itemNode) ? deref(src, findPair(itemNode, 'max_bytes')?.value) : undefined;
    let maxBytes: number | null = null;
    if (item.max_bytes != null) {
      // Python's bool is an int, so `max_bytes: true` passes CAR's check as 1.
      const isInt = item.max_bytes === true || isIntNode(maxBytesNode);
      const value = Number(item.max_bytes);
      if (!isInt || !(value > 0)) {
        issue(
          'context-max-bytes-invalid',
          `frontmatter.${field}.max_bytes must be a positive integer when provided.`,
          `${field}.max_bytes`,
          at('max_bytes'),
        );
        return;
      }
      maxBytes = value;
    }

    // A present-but-null `required` fails too: CAR reads it with `.get("required", False)`.
    const required = 'required' in item ? item.required : false;
    if (typeof required !== 'boolean') {
      issue(
        'context-required-not-bool',
        `frontmatter.${field}.required must be a boolean when provided.`,
        `${field}.required`,
        at('required'),
      );
      return;
    }
    entries.push({ path, maxBytes, required });
  });
  return entries;
}

function groupBy<T>(
  items: readonly T[],
  key: (item: T) => string | number | null,
): Map<string | number, T[]> {
  const groups = new Map<string | number, T[]>();
  for (const item of items) {
    const k = key(item);
    if (k === null) continue;
    const group = groups.get(k);
    if (group) group.push(item);
    else groups.set(k, [item]);
  }
  return groups;
}

const quoteNames = (tickets: Ticket[]): string =>
  tickets
    .map((t) => `'${t.name}'`)
    .sort()
    .join(', ');

/**
 * Directory rules: stray files (repo-relative paths) that are not ticket names, duplicate indices and
 * duplicate explicit ticket_ids. Each duplicate group is reported once, on its first file by name.
 */
export function lintTicketDirectory(tickets: readonly Ticket[], strayFiles: readonly string[]): LintIssue[] {
  const issues: LintIssue[] = strayFiles.map((file) => ({
    file,
    message: INVALID_FILENAME,
    code: 'filename-invalid',
    severity: 'error',
  }));
  const first = (group: Ticket[]): Ticket => [...group].sort((a, b) => (a.name < b.name ? -1 : 1))[0]!;
  for (const [index, group] of groupBy(tickets, (t) => t.index)) {
    if (group.length < 2) continue;
    issues.push({
      file: first(group).relPath,
      message:
        `Duplicate ticket index ${String(index).padStart(3, '0')}: multiple files share the same index ` +
        `(${quoteNames(group)}). Rename or remove duplicates to ensure deterministic ordering.`,
      code: 'duplicate-index',
      severity: 'error',
    });
  }
  for (const [id, group] of groupBy(tickets, (t) => (t.ticketIdIsAuto ? null : t.ticketId))) {
    if (group.length < 2) continue;
    issues.push({
      file: first(group).relPath,
      field: 'ticket_id',
      message:
        `Duplicate ticket_id ${pyRepr(String(id))}: multiple files share the same logical ticket identity ` +
        `(${quoteNames(group)}). Backfill or rewrite one of the ticket_ids so ticket-owned state remains unambiguous.`,
      code: 'duplicate-ticket-id',
      severity: 'error',
    });
  }
  return issues;
}
