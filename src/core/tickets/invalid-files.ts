// Files in tickets/ that look like tickets but cannot be worked, each with its fix: a name car does not
// read as a ticket (`TICKET-01.md`: fewer than three digits), which a run would silently skip, or a
// ticket whose frontmatter is missing or does not lint.
import { closeSync, openSync, readSync } from 'node:fs';
import { basename, join } from 'node:path';
import { type TicketQueue, ticketFileName } from './queue.ts';
import type { LintIssue } from './types.ts';

export interface InvalidTicketFile {
  /** Repo-relative path. */
  file: string;
  /** `name`: not read as a ticket at all; `frontmatter`: read, but not valid. */
  kind: 'name' | 'frontmatter';
  problem: string;
  fix: string;
}

/** The first bytes of a file (empty when it cannot be read). */
function head(path: string, bytes: number): string {
  let fd: number | undefined;
  try {
    fd = openSync(path, 'r');
    const buf = Buffer.alloc(bytes);
    return buf.subarray(0, readSync(fd, buf, 0, bytes, 0)).toString('utf8');
  } catch {
    return '';
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
}

/** A markdown file named like a ticket, or one that starts with frontmatter: meant as a ticket. */
function looksLikeTicket(name: string, path: string): boolean {
  if (!/\.md$/i.test(name)) return false;
  return /^ticket/i.test(name) || /^---\s*$/.test(head(path, 8).split('\n', 1)[0] ?? '');
}

/** A valid name for `name`: its number (or the next free one) padded to three digits, its words kept. */
function suggestName(name: string, taken: Set<number>): string {
  const m = /^(?:ticket)?[-_ ]*(\d+)?[-_ ]*(.*?)\.md$/i.exec(name);
  let index = m?.[1] === undefined ? 0 : Number.parseInt(m[1], 10);
  if (index === 0 || taken.has(index)) index = Math.max(0, ...taken) + 1;
  taken.add(index);
  const slug = (m?.[2] ?? '').replace(/[^A-Za-z0-9._-]+/g, '-').replace(/^-+|-+$/g, '');
  return ticketFileName(index, slug || undefined);
}

/** The fix for a ticket's lint error. */
export function frontmatterFix(issue: LintIssue, defaultAgent: string): string {
  switch (issue.code) {
    case 'empty-file':
    case 'frontmatter-missing':
    case 'frontmatter-empty':
    case 'frontmatter-not-mapping':
      return `start the file with a frontmatter block: a line "---", "agent: ${defaultAgent}", "done: false", then "---"`;
    case 'frontmatter-unclosed':
      return 'end the frontmatter with a line holding only "---"';
    case 'yaml-invalid':
      return `fix the YAML on line ${issue.line ?? 1}`;
    case 'agent-missing':
    case 'agent-empty':
      return `add "agent: ${defaultAgent}" (or another agent from car agents list)`;
    case 'agent-invalid':
      return 'name an agent from car agents list, or configure this one (docs/AGENTS.md)';
    case 'done-missing':
    case 'done-not-bool':
      return 'add "done: false" (true or false, not quoted)';
    default:
      return 'car ticket lint shows every problem with its line';
  }
}

/**
 * Every file in the queue's folder that looks like a ticket but is not a valid one, in name order.
 * `defaultAgent` goes into the suggested frontmatter.
 */
export function invalidTicketFiles(
  queue: TicketQueue,
  ticketsDir: string,
  defaultAgent: string,
): InvalidTicketFile[] {
  const taken = new Set(queue.tickets.map((t) => t.index ?? 0));
  const out: InvalidTicketFile[] = [];
  for (const issue of queue.issues) {
    if (issue.code !== 'filename-invalid') continue;
    const name = basename(issue.file);
    if (!looksLikeTicket(name, join(ticketsDir, name))) continue;
    out.push({
      file: issue.file,
      kind: 'name',
      problem: 'not a ticket name, so car skips it (TICKET-<number of at least 3 digits>[-slug].md)',
      fix: `rename it to ${suggestName(name, taken)}`,
    });
  }
  for (const ticket of queue.tickets) {
    const error = ticket.issues.find((i) => i.severity === 'error');
    if (!error) continue;
    const problem = `${error.line ? `line ${error.line}: ` : ''}${error.message}`;
    out.push({
      file: ticket.relPath,
      kind: 'frontmatter',
      problem,
      fix: frontmatterFix(error, defaultAgent),
    });
  }
  return out.sort((a, b) => (a.file < b.file ? -1 : a.file > b.file ? 1 : 0));
}

/** One line per file: `file: problem; fix: ...`, for pause details and status output. */
export function invalidFileLines(files: readonly InvalidTicketFile[]): string[] {
  return files.map((f) => `${f.file}: ${f.problem.replace(/\.$/, '')}; fix: ${f.fix}`);
}
