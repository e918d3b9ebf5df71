// Ticket dependencies (car's `depends_on`; CAR ignores the key): which tickets each entry names, the
// lint errors the queue's dependencies make (unknown targets; cycles, with their chain), and which
// tickets are ready to work (not done, every dependency done). Pure functions over parsed tickets, so
// the engine's one lane and, later, parallel lanes (issue 16) ask the same questions the same way.
import type { LintIssue, Ticket } from './types.ts';

export interface DependencyGraph {
  /** By ticket relPath: the tickets its `depends_on` names (relPaths), each once, in the order written. */
  edges: ReadonlyMap<string, readonly string[]>;
  /** By ticket relPath: its entries that name no ticket, as written. */
  unknown: ReadonlyMap<string, readonly string[]>;
  /** Unknown targets and cycles, as lint errors on the file that has the entry. */
  issues: LintIssue[];
}

/** A ticket that is not done and waits: for these tickets (not done), or for targets that do not exist. */
export interface BlockedTicket {
  ticket: Ticket;
  waitsFor: Ticket[];
  unknown: readonly string[];
}

/** The number a reference names a ticket by (`10`, `010`, `TICKET-010`), or null for a name or an id. */
export function ticketNumberOf(ref: string): number | null {
  const digits = /^(?:TICKET-)?(\d+)$/i.exec(ref)?.[1];
  return digits === undefined ? null : Number.parseInt(digits, 10);
}

/**
 * Finds the tickets a reference names, as `car ticket` commands and `depends_on` take one: a number
 * (`10`, `010`, `TICKET-010`), a file name with or without `.md` (case-insensitive), a ticket_id or a
 * repo-relative path. Several only when the queue has duplicates (a lint error of its own).
 */
export function ticketResolver(tickets: readonly Ticket[]): (ref: string) => Ticket[] {
  const index = new Map<string, Ticket[]>();
  const add = (key: string, t: Ticket): void => {
    const list = index.get(key);
    if (!list) index.set(key, [t]);
    else if (!list.includes(t)) list.push(t);
  };
  for (const t of tickets) {
    if (t.index !== null) add(`#${t.index}`, t);
    add(`name:${t.name.toLowerCase().replace(/\.md$/, '')}`, t);
    add(`id:${t.ticketId}`, t);
    add(`id:${t.relPath}`, t);
  }
  return (ref) => {
    const number = ticketNumberOf(ref);
    if (number !== null) return index.get(`#${number}`) ?? [];
    const byName = index.get(`name:${ref.toLowerCase().replace(/\.md$/, '')}`) ?? [];
    const byId = index.get(`id:${ref}`) ?? [];
    return [...byName, ...byId.filter((t) => !byName.includes(t))];
  };
}

/** `TICKET-010`: how messages name a ticket (its number; the file name when it has none). */
export function ticketLabel(ticket: Pick<Ticket, 'index' | 'name'>): string {
  return ticket.index === null ? ticket.name : `TICKET-${String(ticket.index).padStart(3, '0')}`;
}

/** Resolves every ticket's `depends_on` against the queue and finds the unknown targets and cycles. */
export function dependencyGraph(tickets: readonly Ticket[]): DependencyGraph {
  const edges = new Map<string, string[]>();
  const unknown = new Map<string, string[]>();
  const issues: LintIssue[] = [];
  // built only when some ticket has dependencies: a queue without any costs one pass
  let resolve: ((ref: string) => Ticket[]) | undefined;
  for (const ticket of tickets) {
    if (ticket.dependsOn.length === 0) continue;
    resolve ??= ticketResolver(tickets);
    const on: string[] = [];
    const missing: string[] = [];
    for (const { ref, line } of ticket.dependsOn) {
      const targets = resolve(ref);
      if (targets.length === 0) {
        if (!missing.includes(ref)) missing.push(ref);
        issues.push({
          file: ticket.relPath,
          line,
          field: 'depends_on',
          message: `unknown ticket ${ref}: no ticket has that number, file name or ticket_id`,
          code: 'depends-on-unknown',
          severity: 'error',
        });
      }
      for (const t of targets) if (!on.includes(t.relPath)) on.push(t.relPath);
    }
    if (on.length > 0) edges.set(ticket.relPath, on);
    if (missing.length > 0) unknown.set(ticket.relPath, missing);
  }
  if (edges.size > 0) issues.push(...cycleIssues(tickets, edges));
  return { edges, unknown, issues };
}

/**
 * One error per cycle found, on its first ticket in queue order, with the chain from there back to it
 * (`cycle TICKET-010 -> TICKET-030 -> TICKET-010`). A depth-first walk finds a cycle at each edge back
 * to a ticket it is still inside (so never the same one twice), and at least one through every ticket
 * that is on one; a self-dependency is a cycle of one.
 */
function cycleIssues(tickets: readonly Ticket[], edges: ReadonlyMap<string, readonly string[]>): LintIssue[] {
  const byPath = new Map(tickets.map((t) => [t.relPath, t]));
  const order = new Map(tickets.map((t, i) => [t.relPath, i]));
  const state = new Map<string, 'open' | 'closed'>();
  const issues: LintIssue[] = [];

  const report = (cycle: string[]): void => {
    // the chain starts at the cycle's first ticket in queue order, wherever the walk entered it
    let start = 0;
    cycle.forEach((p, i) => {
      if (order.get(p)! < order.get(cycle[start]!)!) start = i;
    });
    const chain = [...cycle.slice(start), ...cycle.slice(0, start)];
    const first = byPath.get(chain[0]!)!;
    const next = byPath.get(chain[1] ?? chain[0]!)!;
    const entry = first.dependsOn.find((d) => ticketResolver([next])(d.ref).length > 0);
    const labels = [...chain, chain[0]!].map((p) => ticketLabel(byPath.get(p)!));
    issues.push({
      file: first.relPath,
      ...(entry ? { line: entry.line } : {}),
      field: 'depends_on',
      message: `cycle ${labels.join(' -> ')}`,
      code: 'depends-on-cycle',
      severity: 'error',
    });
  };

  // iterative, so a long chain of tickets cannot overflow the call stack
  for (const root of tickets) {
    if (state.has(root.relPath)) continue;
    const walk: { path: string; next: number }[] = [{ path: root.relPath, next: 0 }];
    state.set(root.relPath, 'open');
    while (walk.length > 0) {
      const top = walk.at(-1)!;
      const target = edges.get(top.path)?.[top.next++];
      if (target === undefined) {
        state.set(top.path, 'closed');
        walk.pop();
      } else if (state.get(target) === 'open') {
        const path = walk.map((w) => w.path);
        report(path.slice(path.lastIndexOf(target)));
      } else if (!state.has(target)) {
        state.set(target, 'open');
        walk.push({ path: target, next: 0 });
      }
    }
  }
  return issues;
}

/**
 * The tickets not done, in queue order, split into those ready to work (every dependency done) and
 * those that wait. A ticket whose frontmatter cannot be read has no known dependencies: it is ready, so
 * the run stops at it (ticket_invalid) instead of skipping it.
 */
export function readiness(
  tickets: readonly Ticket[],
  graph: DependencyGraph,
): { ready: Ticket[]; blocked: BlockedTicket[] } {
  const byPath = new Map(graph.edges.size > 0 ? tickets.map((t) => [t.relPath, t]) : []);
  const ready: Ticket[] = [];
  const blocked: BlockedTicket[] = [];
  for (const ticket of tickets) {
    if (ticket.isDone) continue;
    const waiting = waitsFor(ticket, graph, byPath);
    const unknown = graph.unknown.get(ticket.relPath) ?? [];
    if (waiting.length === 0 && unknown.length === 0) ready.push(ticket);
    else blocked.push({ ticket, waitsFor: waiting, unknown });
  }
  return { ready, blocked };
}

/** The ticket's dependencies that are not done (none for a ticket that is done itself). */
export function waitsFor(
  ticket: Ticket,
  graph: DependencyGraph,
  byPath: ReadonlyMap<string, Ticket>,
): Ticket[] {
  if (ticket.isDone) return [];
  return (graph.edges.get(ticket.relPath) ?? []).flatMap((p) => {
    const dep = byPath.get(p);
    return dep && !dep.isDone ? [dep] : [];
  });
}
