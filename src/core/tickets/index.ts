// The ticket engine's public surface.
export { createTicket, type NewTicket, seedBootstrapTicket, TicketCreateError } from './create.ts';
export {
  type BlockedTicket,
  type DependencyGraph,
  dependencyGraph,
  readiness,
  ticketLabel,
  ticketResolver,
  waitsFor,
} from './dag.ts';
export {
  renderNewTicket,
  type ScalarValue,
  setFrontmatterField,
  setFrontmatterFieldBytes,
  setTicketFileField,
  TicketEditError,
} from './edit.ts';
export { editTicketField } from './edit-field.ts';
export {
  frontmatterFix,
  type InvalidTicketFile,
  invalidFileLines,
  invalidTicketFiles,
} from './invalid-files.ts';
export {
  loadTicketQueue,
  nextTicketIndex,
  type TicketCache,
  type TicketQueue,
  ticketFileName,
  ticketQueueSteps,
} from './queue.ts';
export {
  newTicketId,
  parseTicket,
  parseTicketBytes,
  TICKET_NAME_RE,
  ticketIndexFromName,
  ticketState,
} from './ticket.ts';
export type { LintIssue, Ticket, TicketContextEntry, TicketDependency } from './types.ts';
export { parseYaml } from './yaml.ts';

/** The filename rule as a string, for `car describe --json`. */
export const TICKET_FILENAME_PATTERN = '^TICKET-(\\d{3,})(?:[^/]*)\\.md$ (case-insensitive)';
export { addTicketPack, MAX_PACK_TICKETS, type PackResult, type PackTicket } from './pack.ts';
export { MAX_SPEC_BYTES, type SeededPlan, seedPlan } from './plan.ts';
