export type Severity = 'error' | 'warning';

export interface LintIssue {
  /** Repo-relative posix path. */
  file: string;
  /** 1-based line in the file. */
  line?: number;
  /** Frontmatter field, e.g. `done` or `context[1].path`. */
  field?: string;
  /** CAR's message text where CAR has one. */
  message: string;
  /** Stable kebab-case id, e.g. `done-not-bool`. */
  code: string;
  severity: Severity;
}

/** One `depends_on` entry that passed the shape check (whether it names a ticket is dag.ts's question). */
export interface TicketDependency {
  /** As written: a number's decimal digits, a `TICKET-<n>` name, a file name or a ticket_id. */
  ref: string;
  /** 1-based line of the entry in the file. */
  line: number;
}

export interface TicketContextEntry {
  path: string;
  maxBytes: number | null;
  required: boolean;
}

/** Known frontmatter fields, normalised as CAR does (trimmed; empty strings read as null). */
export interface TicketFields {
  /** The valid `ticket_id` from the frontmatter, or null when absent or invalid. */
  ticketId: string | null;
  /** Lowercased; a Hermes alias (`hermes-foo`) becomes `hermes` with profile `foo`. */
  agent: string | null;
  done: boolean | null;
  title: string | null;
  goal: string | null;
  model: string | null;
  reasoning: string | null;
  profile: string | null;
  /** The entries that passed validation. */
  context: TicketContextEntry[];
  /** car's `depends_on` (CAR ignores the key, so it stays in `extra` too): the entries that passed lint. */
  dependsOn: TicketDependency[];
  /** Every other top-level key, verbatim. */
  extra: Record<string, unknown>;
}

export interface Ticket extends Omit<TicketFields, 'ticketId'> {
  /** Absolute path. */
  path: string;
  /** Repo-relative posix path, e.g. `.codex-autorunner/tickets/TICKET-001.md`. */
  relPath: string;
  /** File name. */
  name: string;
  /** The number in the file name; null when the name is not a ticket name. */
  index: number | null;
  raw: string;
  /** The frontmatter mapping as plain values, or null when there is none or it is not a mapping. */
  frontmatter: Record<string, unknown> | null;
  /** Text after the closing fence (the whole text when there is no frontmatter). */
  body: string;
  /** The frontmatter's id, or CAR's path-derived `tkt_auto_…` id when none is valid. */
  ticketId: string;
  ticketIdIsAuto: boolean;
  issues: LintIssue[];
  /** No error-severity issues. */
  valid: boolean;
  /** Frontmatter parses, lints without errors, and `done` is true: the only completion signal. */
  isDone: boolean;
}
