// The fields of a ticket the CLI (`car ticket ... --json`) and the HTTP API report alike.
import { type Ticket, ticketState } from '../core/tickets/index.ts';

export function ticketFields(ticket: Ticket) {
  return {
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
