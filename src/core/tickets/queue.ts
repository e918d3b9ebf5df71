import { type Dirent, readdirSync, statSync } from 'node:fs';
import { join, relative, sep } from 'node:path';
import { INPUT_LIMITS, InputLimitError, readFileBounded } from '../input-limits.ts';
import { type DependencyGraph, dependencyGraph } from './dag.ts';
import { lintTicketDirectory } from './lint.ts';
import { parseTicketBytes, refusedTicket, ticketIndexFromName } from './ticket.ts';
import type { LintIssue, Ticket } from './types.ts';

/** Files CAR keeps in `tickets/` that are not tickets. */
const NON_TICKET_FILES = new Set(['AGENTS.md', 'ingest_state.json']);

export interface TicketQueue {
  /** Sorted by index, then name. */
  tickets: Ticket[];
  /**
   * Directory-level issues: stray files, duplicate indices, duplicate ticket_ids, `depends_on` targets
   * that name no ticket and dependency cycles.
   */
  issues: LintIssue[];
  /** The tickets' `depends_on`, resolved. */
  dependencies: DependencyGraph;
}

export interface LoadQueueOptions {
  repoRoot: string;
  /** Allowed agent ids (configured agents plus `user`); unchecked when absent. */
  agents?: ReadonlySet<string>;
  /**
   * Parsed tickets from earlier calls, reused while a file's stat stamp (mtime, ctime, size, inode) is
   * unchanged: a long run re-checks every file each step without re-parsing hundreds of them. One cache
   * per `agents` set.
   */
  cache?: TicketCache;
}

export type TicketCache = Map<string, { stamp: string; ticket: Ticket }>;

function statStamp(path: string): string {
  // Float milliseconds keep sub-microsecond precision for today's dates and cost less than BigInts.
  const st = statSync(path);
  return `${st.mtimeMs}:${st.ctimeMs}:${st.size}:${st.ino}`;
}

function isFile(dir: string, entry: Dirent): boolean {
  if (entry.isFile()) return true;
  if (!entry.isSymbolicLink()) return false;
  try {
    return statSync(join(dir, entry.name)).isFile();
  } catch {
    return false;
  }
}

function readTicket(path: string, relPath: string, opts: LoadQueueOptions): Ticket {
  let bytes: Buffer;
  try {
    // The size is checked before reading: a 50 MB ticket costs a stat, not a read.
    bytes = readFileBounded(path, INPUT_LIMITS.ticketFileBytes, 'a ticket file');
  } catch (err) {
    if (!(err instanceof InputLimitError)) throw err;
    return refusedTicket({ ...opts, path, relPath }, err.code, err.message);
  }
  return parseTicketBytes(bytes, { ...opts, path, relPath });
}

/**
 * Reads every ticket directly in `ticketsDir` (re-read from disk on each call: files are the truth).
 * A missing directory is an empty queue; callers that need it to exist check first.
 */
export function loadTicketQueue(ticketsDir: string, opts: LoadQueueOptions): TicketQueue {
  const steps = ticketQueueSteps(ticketsDir, opts);
  for (;;) {
    const step = steps.next();
    if (step.done) return step.value;
  }
}

/**
 * `loadTicketQueue` in steps: it yields after each ticket file it stat'ed or read, so a caller sharing
 * its thread with other work (the HTTP server) can run a large queue in slices.
 */
export function* ticketQueueSteps(ticketsDir: string, opts: LoadQueueOptions): Generator<void, TicketQueue> {
  let entries: Dirent[];
  try {
    entries = readdirSync(ticketsDir, { withFileTypes: true });
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') {
      return { tickets: [], issues: [], dependencies: dependencyGraph([]) };
    }
    throw error;
  }
  // Entries are direct children: resolve the folder once rather than normalising every path.
  const relDir = relative(opts.repoRoot, ticketsDir).split(sep).join('/');
  const toRel = (name: string): string => (relDir ? `${relDir}/${name}` : name);
  const dirPrefix = join(ticketsDir, sep);
  const tickets: Ticket[] = [];
  const stray: string[] = [];
  for (const entry of entries) {
    if (entry.name.startsWith('.') || NON_TICKET_FILES.has(entry.name) || !isFile(ticketsDir, entry))
      continue;
    const path = dirPrefix + entry.name;
    if (ticketIndexFromName(entry.name) === null) {
      stray.push(toRel(entry.name));
      continue;
    }
    if (!opts.cache) {
      tickets.push(readTicket(path, toRel(entry.name), opts));
    } else {
      const stamp = statStamp(path);
      const hit = opts.cache.get(path);
      if (hit && hit.stamp === stamp) tickets.push(hit.ticket);
      else {
        const ticket = readTicket(path, toRel(entry.name), opts);
        opts.cache.set(path, { stamp, ticket });
        tickets.push(ticket);
      }
    }
    yield;
  }
  tickets.sort((a, b) => a.index! - b.index! || (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  stray.sort();
  const dependencies = dependencyGraph(tickets);
  return { tickets, issues: [...lintTicketDirectory(tickets, stray), ...dependencies.issues], dependencies };
}

/** The index for a new ticket: one past the highest (gaps are never backfilled), 1 when empty. */
export function nextTicketIndex(tickets: readonly Pick<Ticket, 'index'>[]): number {
  let max = 0;
  for (const t of tickets) if (t.index !== null && t.index > max) max = t.index;
  return max + 1;
}

/** `TICKET-007.md` or `TICKET-007-fix-login.md`: the index zero-padded to at least 3 digits. */
export function ticketFileName(index: number, slug?: string): string {
  if (!Number.isSafeInteger(index) || index < 0) throw new RangeError(`invalid ticket index: ${index}`);
  if (slug !== undefined && /[/\\]/.test(slug)) throw new RangeError(`invalid ticket slug: ${slug}`);
  const suffix = slug ? `-${slug}` : '';
  return `TICKET-${String(index).padStart(3, '0')}${suffix}.md`;
}
