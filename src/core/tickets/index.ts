// The ticket engine's public surface.
export { renderNewTicket, type ScalarValue, setFrontmatterField, TicketEditError } from './edit.ts';
export {
  loadTicketQueue,
  nextTicketIndex,
  type TicketCache,
  type TicketQueue,
  ticketFileName,
  ticketQueueSteps,
} from './queue.ts';
export { newTicketId, parseTicket, TICKET_NAME_RE, ticketState } from './ticket.ts';
export type { LintIssue, Ticket, TicketContextEntry } from './types.ts';
export { parseYaml } from './yaml.ts';

/** The filename rule as a string, for `car describe --json`. */
export const TICKET_FILENAME_PATTERN = '^TICKET-(\\d{3,})(?:[^/]*)\\.md$ (case-insensitive)';
