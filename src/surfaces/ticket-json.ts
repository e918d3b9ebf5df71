// The fields of a ticket the CLI (`car ticket ... --json`) and the HTTP API report alike.
import { type Ticket, type TicketQueue, ticketState, waitsFor } from '../core/tickets/index.ts';

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

/**
 * ticketFields plus the ticket's place in its queue: `depends_on` (the tickets its `depends_on` names,
 * as repo-relative paths) and `blocked_by` (those of them not done).
 */
export function queuedTicketFields(queue: Pick<TicketQueue, 'tickets' | 'dependencies'>) {
  const byPath = new Map(queue.tickets.map((t) => [t.relPath, t]));
  return (ticket: Ticket) => ({
    ...ticketFields(ticket),
    depends_on: [...(queue.dependencies.edges.get(ticket.relPath) ?? [])],
    blocked_by: waitsFor(ticket, queue.dependencies, byPath).map((t) => t.relPath),
  });
}
