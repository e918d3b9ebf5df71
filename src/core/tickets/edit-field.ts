// One frontmatter field of a ticket file set as a person asks for it (`car ticket done|reopen|edit-field`,
// and a user ticket marked done from the web app through the control plane): the file's bytes are
// spliced (every other byte kept, invalid UTF-8 included), and nothing is written when the edit would
// leave that field invalid or the file is over an input limit.
import { writeFileAtomic } from '../fs/atomic.ts';
import { INPUT_LIMITS, InputLimitError, isLimitCode, readFileBounded } from '../input-limits.ts';
import { type ScalarValue, setFrontmatterFieldBytes, TicketEditError } from './edit.ts';
import { parseTicketBytes } from './ticket.ts';
import type { LintIssue, Ticket } from './types.ts';

/** Writes `key: value` into the ticket's file; returns the ticket as written. Throws TicketEditError. */
export function editTicketField(
  ticket: Ticket,
  agents: Set<string>,
  key: string,
  value: ScalarValue,
): Ticket {
  // A ticket over an input limit was not parsed: there is nothing safe to edit.
  const limit = ticket.issues.find((i) => isLimitCode(i.code));
  if (limit) {
    throw new TicketEditError(`refusing to edit ${ticket.relPath}:${limit.line ?? 1}: ${limit.message}`);
  }
  const bytes = setFrontmatterFieldBytes(readTicketBytes(ticket), key, value, ticket.relPath);
  const after = parseTicketBytes(bytes, { path: ticket.path, relPath: ticket.relPath, agents });
  const fieldErrors = (issues: LintIssue[]) =>
    issues.filter((i) => i.severity === 'error' && (i.field === key || i.field?.startsWith(`${key}[`)));
  const introduced = fieldErrors(after.issues).filter(
    (i) => !fieldErrors(ticket.issues).some((b) => b.message === i.message),
  );
  if (introduced.length > 0) {
    throw new TicketEditError(
      `refusing to write ${ticket.relPath}: ${introduced.map((i) => i.message).join('; ')}`,
    );
  }
  writeFileAtomic(ticket.path, bytes);
  return after;
}

/** The ticket's bytes as they are now, within the ticket size limit. */
function readTicketBytes(ticket: Ticket): Buffer {
  try {
    return readFileBounded(ticket.path, INPUT_LIMITS.ticketFileBytes, 'a ticket file');
  } catch (err) {
    if (err instanceof InputLimitError) throw new TicketEditError(`${ticket.relPath}: ${err.message}`);
    throw err;
  }
}
