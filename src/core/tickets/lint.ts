// Ticket lint rules with CAR's message strings (`tickets/lint.py`, `tickets/portable_lint.py`).
import type { Located } from './load.ts';
import { pyStrip } from './python-str.ts';
import type { LintIssue, Ticket, TicketContextEntry, TicketDependency, TicketFields } from './types.ts';

const TICKET_ID_RE = /^[A-Za-z0-9._-]{6,128}$/;
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
function pyRepr(s: string): string {
  const escaped = s.replaceAll('\\', '\\\\').replaceAll('\n', '\\n').replaceAll('\t', '\\t');
  if (s.includes("'") && !s.includes('"')) return `"${escaped}"`;
  return `'${escaped.replaceAll("'", "\\'")}'`;
}

export function sanitizeTicketId(raw: unknown): string | null {
  if (typeof raw !== 'string') return null;
  const value = pyStrip(raw);
  return TICKET_ID_RE.test(value) ? value : null;
}

/** CAR's `_as_optional_str`: a str, stripped, or null when empty or not a str. */
function optionalString(value: unknown): string | null {
  return typeof value === 'string' ? pyStrip(value) || null : null;
}

/** Stands for a value PyYAML reads as a date: car keeps a timestamp as its text, CAR gets no str. */
const TIMESTAMP = Symbol('timestamp');

/** `data[key]`, or TIMESTAMP when its node is a timestamp. */
function pyValue(data: Record<string, unknown>, node: Located | undefined, key: string): unknown {
  return node?.pairs?.get(key)?.value.isTimestamp ? TIMESTAMP : data[key];
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return (
    typeof value === 'object' && value !== null && !Array.isArray(value) && !(value instanceof Uint8Array)
  );
}

/**
 * Lints a frontmatter mapping and extracts its known fields, in CAR's order. `root` locates the
 * mapping's nodes in the file; a missing key points at the opening fence (line 1). As in CAR, the
 * agent is only checked against `agents` when no other required field failed.
 */
export function lintFrontmatter(
  file: string,
  root: Located,
  data: Record<string, unknown>,
  agents?: ReadonlySet<string>,
): { fields: TicketFields; issues: LintIssue[] } {
  const issues: LintIssue[] = [];
  const issue = (code: string, message: string, field: string): void => {
    const line = root.pairs?.get(field)?.keyLine ?? 1;
    issues.push({ file, line, field, message, code, severity: 'error' });
  };

  const value = (key: string): unknown => pyValue(data, root, key);
  const rawId = value('ticket_id');
  const ticketId = sanitizeTicketId(rawId);
  if (rawId != null && ticketId === null) {
    issue(
      'ticket-id-invalid',
      'frontmatter.ticket_id must match [A-Za-z0-9._-]{6,128} when provided.',
      'ticket_id',
    );
  }

  const rawAgent = optionalString(value('agent'));
  if (rawAgent === null) issue(data.agent == null ? 'agent-missing' : 'agent-empty', AGENT_REQUIRED, 'agent');

  const done = typeof data.done === 'boolean' ? data.done : null;
  if (done === null) issue(data.done == null ? 'done-missing' : 'done-not-bool', DONE_REQUIRED, 'done');

  let profile: string | null = null;
  if (data.profile != null) {
    profile = optionalString(value('profile'));
    if (profile === null) {
      issue('profile-empty', 'frontmatter.profile must be a non-empty string when provided.', 'profile');
    }
  }

  // As in CAR, only an agent of exactly `user` is the human step; any other is lowercased, and
  // `hermes-m4` means agent `hermes`, profile `m4`. Unlike CAR, a profile keeps its case: it may name
  // an ACP agent's mode, and mode ids are case-sensitive (`acceptEdits`).
  let agent = rawAgent;
  if (agent !== null && agent !== 'user') {
    agent = agent.toLowerCase();
    for (const prefix of ['hermes-', 'hermes_']) {
      if (!agent.startsWith(prefix)) continue;
      const suffix = pyStrip(agent.slice(prefix.length));
      if (suffix) {
        agent = 'hermes';
        profile ??= suffix;
      }
      break;
    }
    if (agents && issues.length === 0 && (agent === 'user' || !agents.has(agent))) {
      issue('agent-invalid', `frontmatter.agent is invalid: Unknown agent: ${pyRepr(rawAgent!)}`, 'agent');
    }
  }

  const context = lintContext(file, data.context, root.pairs?.get('context'), issues);
  const dependsOn = lintDependsOn(file, data.depends_on, root.pairs?.get('depends_on'), issues);

  const extra: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(data)) if (!KNOWN_KEYS.has(key)) extra[key] = value;

  const fields: TicketFields = {
    ticketId,
    agent,
    done,
    title: optionalString(value('title')),
    goal: optionalString(value('goal')),
    model: optionalString(value('model')),
    reasoning: optionalString(value('reasoning')),
    profile,
    context,
    dependsOn,
    extra,
  };
  return { fields, issues };
}

/** The first rule a context path breaks: [code, message tail]. */
function pathProblem(path: string | null): [string, string] | null {
  if (path === null) return ['context-path-missing', 'is required.'];
  if (path.startsWith('/')) return ['context-path-absolute', 'must be repo-relative.'];
  if (path.includes('\\')) return ['context-path-backslash', 'may not include backslashes.'];
  if (path.split('/').includes('..')) return ['context-path-traversal', 'may not include parent traversal.'];
  return null;
}

/** One error per bad entry, the first rule it breaks, as in CAR. */
function lintContext(
  file: string,
  raw: unknown,
  located: { keyLine: number; value: Located } | undefined,
  issues: LintIssue[],
): TicketContextEntry[] {
  const entries: TicketContextEntry[] = [];
  const issue = (code: string, message: string, field: string, line: number | undefined): void => {
    issues.push({ file, line: line ?? located?.keyLine ?? 1, field, message, code, severity: 'error' });
  };
  if (raw == null) return entries;
  if (!Array.isArray(raw)) {
    issue(
      'context-not-list',
      'frontmatter.context must be a list when provided.',
      'context',
      located?.keyLine,
    );
    return entries;
  }
  raw.forEach((item: unknown, i) => {
    const node = located?.value.items?.[i];
    const field = `context[${i}]`;
    const lineOf = (key: string): number | undefined => node?.pairs?.get(key)?.keyLine ?? node?.line;
    if (!isPlainObject(item)) {
      issue('context-entry-not-mapping', `frontmatter.${field} must be a mapping.`, field, node?.line);
      return;
    }
    const path = optionalString(pyValue(item, node, 'path'));
    const bad = pathProblem(path);
    if (bad) {
      const [code, what] = bad;
      issue(code, `frontmatter.${field}.path ${what}`, `${field}.path`, lineOf('path'));
      return;
    }

    let maxBytes: number | null = null;
    if (item.max_bytes != null) {
      // Python's bool is an int, so `max_bytes: true` passes CAR's check as 1.
      const isInt = item.max_bytes === true || node?.pairs?.get('max_bytes')?.value.isInt === true;
      const value = Number(item.max_bytes);
      if (!isInt || !(value > 0)) {
        issue(
          'context-max-bytes-invalid',
          `frontmatter.${field}.max_bytes must be a positive integer when provided.`,
          `${field}.max_bytes`,
          lineOf('max_bytes'),
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
        lineOf('required'),
      );
      return;
    }
    entries.push({ path: path!, maxBytes, required });
  });
  return entries;
}

const DEPENDENCY_SHAPE =
  'must be a ticket number (decimal digits), a ticket name (TICKET-010), a file name or a ticket_id';

/**
 * car's `depends_on` (CAR ignores the key): a list of tickets, or one. Each entry is a string or an int
 * written in decimal digits; whether it names a ticket needs the whole queue (dag.ts).
 */
function lintDependsOn(
  file: string,
  raw: unknown,
  located: { keyLine: number; value: Located } | undefined,
  issues: LintIssue[],
): TicketDependency[] {
  if (raw == null) return [];
  const keyLine = located?.keyLine ?? 1;
  const list = Array.isArray(raw) ? raw : [raw];
  const nodes = Array.isArray(raw) ? (located?.value.items ?? []) : [located?.value];
  const entries: TicketDependency[] = [];
  list.forEach((item: unknown, i) => {
    const node = nodes[i];
    const field = Array.isArray(raw) ? `depends_on[${i}]` : 'depends_on';
    const line = node?.line ?? keyLine;
    let ref: string | null = null;
    if (typeof item === 'string') ref = item.trim() || null;
    // the digits as written: PyYAML reads `010` as octal 8, but ticket numbers are decimal
    else if (node?.isInt && node.intText !== undefined && /^\d+$/.test(node.intText)) ref = node.intText;
    if (ref === null) {
      issues.push({
        file,
        line,
        field,
        message: `frontmatter.${field} ${DEPENDENCY_SHAPE}.`,
        code: 'depends-on-invalid',
        severity: 'error',
      });
      return;
    }
    entries.push({ ref, line });
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
