// A set of tickets added after the queue in one go (`car ticket import`, a template pack): renumbered
// from one past the highest number, in the pack's order, each `depends_on` entry that names another
// ticket of the pack renamed to that ticket's new number, and refused (nothing written) when the queue
// with the pack would not lint.
import { join, relative, sep } from 'node:path';
import { isLimitCode } from '../input-limits.ts';
import type { RepoPaths } from '../paths.ts';
import { createTicketSet, TicketCreateError } from './create.ts';
import { dependencyGraph, ticketNumberOf } from './dag.ts';
import { renameDependsOn, TicketEditError } from './edit.ts';
import { lintTicketDirectory } from './lint.ts';
import { loadTicketQueue, ticketFileName } from './queue.ts';
import { parseTicket, ticketIndexFromName } from './ticket.ts';
import type { LintIssue, Ticket } from './types.ts';

/** Tickets one pack may add. */
export const MAX_PACK_TICKETS = 200;

export interface PackTicket {
  /** Where it comes from, for messages (a file in the pack, a template ref). */
  source: string;
  /** Its name in the pack (`TICKET-002-api.md`): how the pack's `depends_on` entries name it. */
  name: string;
  text: string;
  /** The new file name's suffix; default: the suffix of `name`. */
  slug?: string | undefined;
}

export interface PackResult {
  /** The tickets as written, in the pack's order. */
  tickets: Ticket[];
  /** The pack's ticket names, each with the file it became. */
  renamed: { from: string; to: string }[];
}

type Paths = Pick<RepoPaths, 'root' | 'ticketsDir' | 'runsDir'>;

/** `TICKET-002-api.md` → `api`; a name without a suffix → undefined. */
function suffixOf(name: string): string | undefined {
  const m = /^TICKET-\d+-?(.*)\.md$/i.exec(name);
  const slug = m?.[1]?.replace(/[^A-Za-z0-9._-]+/g, '-').replace(/^[-.]+|-+$/g, '');
  return slug || undefined;
}

const label = (n: number) => `TICKET-${String(n).padStart(3, '0')}`;

function describe(issue: LintIssue): string {
  return `${issue.file}${issue.line ? `:${issue.line}` : ''}: ${issue.field ? `${issue.field}: ` : ''}${issue.message}`;
}

/**
 * Adds the pack's tickets after the queue. Throws TicketCreateError (`pack_invalid`, nothing written)
 * naming each lint error the pack's files would have, in the queue as it would be.
 */
export function addTicketPack(
  paths: Paths,
  agents: ReadonlySet<string>,
  pack: readonly PackTicket[],
): PackResult {
  if (pack.length === 0) throw new TicketCreateError('pack_invalid', 'the pack has no tickets');
  if (pack.length > MAX_PACK_TICKETS)
    throw new TicketCreateError(
      'pack_invalid',
      `the pack has ${pack.length} tickets (at most ${MAX_PACK_TICKETS})`,
    );
  const relDir = relative(paths.root, paths.ticketsDir).split(sep).join('/');
  let renamed: PackResult['renamed'] = [];
  let parsed: Ticket[] = [];
  const files = createTicketSet(paths, (start) => {
    // the pack's own names and numbers → the new numbers
    const byNumber = new Map<number, number>();
    const byName = new Map<string, number>();
    pack.forEach((t, i) => {
      const n = ticketIndexFromName(t.name);
      if (n !== null && !byNumber.has(n)) byNumber.set(n, start + i);
      byName.set(t.name.toLowerCase().replace(/\.md$/, ''), start + i);
    });
    const rename = (ref: string): string | null => {
      const n = ticketNumberOf(ref);
      const to = n !== null ? byNumber.get(n) : byName.get(ref.toLowerCase().replace(/\.md$/, ''));
      return to === undefined ? null : label(to);
    };
    const built = pack.map((t, i) => {
      const index = start + i;
      const name = ticketFileName(index, t.slug ?? suffixOf(t.name));
      let text: string;
      try {
        text = renameDependsOn(t.text, rename, t.source);
      } catch (err) {
        if (!(err instanceof TicketEditError)) throw err;
        text = t.text; // unreadable frontmatter: lint below names the problem
      }
      const path = join(paths.ticketsDir, name);
      const ticket = parseTicket(text, { path, relPath: `${relDir}/${name}`, agents });
      return { index, path, text, ticket, from: t.source };
    });
    refuseUnlinted(
      paths,
      agents,
      built.map((b) => b.ticket),
    );
    renamed = built.map((b) => ({ from: b.from, to: b.ticket.relPath }));
    parsed = built.map((b) => b.ticket);
    return built;
  });
  return { tickets: files.map((_, i) => parsed[i]!), renamed };
}

/** Throws when a pack ticket has a lint error, alone or in the queue it joins. */
function refuseUnlinted(paths: Paths, agents: ReadonlySet<string>, added: Ticket[]): void {
  const limit = added.flatMap((t) => t.issues).find((i) => isLimitCode(i.code));
  if (limit)
    throw new TicketCreateError('too_large', `not imported: ${describe(limit)}`, limit.field ?? null);
  const queue = loadTicketQueue(paths.ticketsDir, { repoRoot: paths.root, agents }).tickets;
  const all = [...queue, ...added];
  const mine = new Set(added.map((t) => t.relPath));
  const errors = [
    ...added.flatMap((t) => t.issues),
    ...lintTicketDirectory(all, []),
    ...dependencyGraph(all).issues,
  ].filter(
    (i) => i.severity === 'error' && (mine.has(i.file) || added.some((t) => i.message.includes(t.name))),
  );
  if (errors.length > 0) {
    throw new TicketCreateError(
      'pack_invalid',
      `nothing written: the pack would not lint:\n${errors.map((e) => `  ${describe(e)}`).join('\n')}`,
    );
  }
}
