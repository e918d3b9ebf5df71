// The fields of a ticket the CLI (`car ticket ... --json`) and the HTTP API report alike.
import { type Ticket, ticketState } from '../core/tickets/index.ts';

export function ticketFields(ticket: Ticket) {
  return {
    /** The file name, as `/api/tickets/:name` takes it; `file` is the same, kept for `car ticket` readers. */
    name: ticket.name,
    file: ticket.name,
    index: ticket.index,
    path: ticket.relPath,
    ticket_id: ticket.ticketId,
    agent: ticket.agent ?? null,
    done: ticket.isDone,
    state: ticketState(ticket),
    title: ticket.title ?? null,
    goal: ticket.goal ?? null,
    issues: ticket.issues,
  };
}
