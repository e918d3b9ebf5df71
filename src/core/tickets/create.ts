// Creating a ticket, the one way `car ticket new` and `POST /api/tickets` both use: the next number (or
// a given one), CAR's frontmatter layout with a fresh ticket_id, written with an exclusive create.
import { closeSync, mkdirSync, openSync, readdirSync, unlinkSync } from 'node:fs';
import { basename, join, relative, sep } from 'node:path';
import { createFileExclusive } from '../fs/create-exclusive.ts';
import { isLimitCode } from '../input-limits.ts';
import type { RepoPaths } from '../paths.ts';
import { dependencyGraph, ticketNumberOf } from './dag.ts';
import { renderNewTicket } from './edit.ts';
import { loadTicketQueue, nextTicketIndex, ticketFileName } from './queue.ts';
import { newTicketId, parseTicket, ticketIndexFromName } from './ticket.ts';
import type { Ticket } from './types.ts';

const DEFAULT_TICKET_BODY = '## Tasks\n- \n\n## Acceptance criteria\n- \n\n## Tests\n- \n';

/** Numbers tried while other writers keep taking the next one first (each loss is another's ticket). */
const MAX_ATTEMPTS = 100;

export interface NewTicket {
  /** A configured agent id or `user` (case and surrounding blanks do not matter). */
  agent: string;
  title?: string | undefined;
  goal?: string | undefined;
  /** Markdown after the frontmatter; default: the Tasks / Acceptance criteria / Tests skeleton. */
  body?: string | undefined;
  /** The file name's suffix, slugified; default: from the title. */
  slug?: string | undefined;
  done?: boolean | undefined;
  /** This number, or nothing; default: one past the highest (taken meanwhile: the next one). */
  index?: number | undefined;
  /**
   * The tickets this one waits for (`depends_on`): numbers, file names or ticket_ids of tickets that
   * exist. A number is written as `TICKET-<nnn>`, anything else as given.
   */
  dependsOn?: readonly string[] | undefined;
}

export type TicketCreateErrorCode =
  | 'unknown_agent'
  | 'number_taken'
  | 'too_large'
  | 'no_free_number'
  | 'invalid_depends_on'
  | 'pack_invalid'
  | 'spec_exists';

/** The ticket was not created (nothing was written); `field` names the input at fault. */
export class TicketCreateError extends Error {
  readonly code: TicketCreateErrorCode;
  readonly field: string | null;
  constructor(code: TicketCreateErrorCode, message: string, field: string | null = null) {
    super(message);
    this.name = 'TicketCreateError';
    this.code = code;
    this.field = field;
  }
}

/** `Add per-IP rate limiting!` → `add-per-ip-rate-limiting` (at most 48 characters). */
function slugify(text: string): string {
  return text
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, '-')
    .replace(/^-+|-+$/g, '')
    .slice(0, 48)
    .replace(/-+$/, '');
}

type Paths = Pick<RepoPaths, 'root' | 'ticketsDir' | 'runsDir'>;

/** The ticket files' numbers, from their names (nothing is parsed). */
function numbersInUse(ticketsDir: string): { index: number; name: string }[] {
  return readdirSync(ticketsDir).flatMap((name) => {
    const index = name.startsWith('.') ? null : ticketIndexFromName(name);
    return index === null ? [] : [{ index, name }];
  });
}

/** The file that has ticket number `index`, if any. */
function holderOf(ticketsDir: string, index: number): string | undefined {
  return numbersInUse(ticketsDir).find((t) => t.index === index)?.name;
}

/**
 * Holds `index` while this writer creates its file. The exclusive create of the ticket guards only its
 * name: two writers with different slugs would both get the number. The claim is a runtime file
 * (`runs/ticket-<n>.claim`, never committed); one left by a crash only makes that number skipped.
 */
function claimNumber(paths: Paths, index: number): (() => void) | null {
  mkdirSync(paths.runsDir, { recursive: true });
  const file = join(paths.runsDir, `ticket-${index}.claim`);
  try {
    closeSync(openSync(file, 'wx'));
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EEXIST') return null;
    throw err;
  }
  return () => unlinkSync(file);
}

/**
 * Creates the file for ticket number `index` unless another writer has the number: null when created,
 * else why not (the number's file, or a claim another writer holds).
 */
function createNumbered(paths: Paths, index: number, path: string, text: string): string | null {
  const release = claimNumber(paths, index);
  if (!release) return 'is being created by another writer';
  try {
    // taken between the caller's listing and the claim, by a writer that has finished since
    const taken = holderOf(paths.ticketsDir, index);
    if (taken !== undefined) return `is taken by ${taken}`;
    return createFileExclusive(path, text) ? null : `is taken by ${basename(path)}`;
  } finally {
    release();
  }
}

/**
 * Refuses a new ticket whose `depends_on` names no ticket, or closes a cycle (an existing ticket that
 * named the new one's number before it existed). Tickets with its number are left out: they make it a
 * number_taken error instead.
 */
function refuseBadDependencies(ticket: Ticket, others: readonly Ticket[]): void {
  const queue = others.filter((t) => t.index !== ticket.index);
  const before = new Set(dependencyGraph(queue).issues.map((i) => `${i.file}\n${i.message}`));
  const problem =
    ticket.issues.find((i) => i.field?.startsWith('depends_on') && i.severity === 'error') ??
    dependencyGraph([...queue, ticket]).issues.find((i) => !before.has(`${i.file}\n${i.message}`));
  if (problem) {
    throw new TicketCreateError(
      'invalid_depends_on',
      `${ticket.name} not created: depends_on: ${problem.message}`,
      'depends_on',
    );
  }
}

/**
 * Creates the next ticket (or ticket number `spec.index`) and returns it as parsed back. Refuses,
 * writing nothing, an unknown agent, a given number already in use, a ticket over an input limit, and
 * a dependency on a ticket that does not exist or one that would close a cycle.
 */
export function createTicket(paths: Paths, agents: ReadonlySet<string>, spec: NewTicket): Ticket {
  const agent = spec.agent.trim().toLowerCase();
  if (!agents.has(agent)) {
    throw new TicketCreateError(
      'unknown_agent',
      `unknown agent "${spec.agent}" (configured: ${[...agents].sort().join(', ')})`,
      'agent',
    );
  }
  const fields: Parameters<typeof renderNewTicket>[0] = {
    ticket_id: newTicketId(),
    agent,
    done: spec.done ?? false,
  };
  if (spec.title?.trim()) fields.title = spec.title.trim();
  if (spec.goal?.trim()) fields.goal = spec.goal.trim();
  const dependsOn = (spec.dependsOn ?? []).map((ref) => ref.trim()).filter((ref) => ref !== '');
  if (dependsOn.length > 0) {
    fields.depends_on = dependsOn.map((ref) => {
      const number = ticketNumberOf(ref);
      return number === null ? ref : `TICKET-${String(number).padStart(3, '0')}`;
    });
  }
  const text = renderNewTicket(fields, spec.body ?? DEFAULT_TICKET_BODY);
  const others =
    dependsOn.length > 0 ? loadTicketQueue(paths.ticketsDir, { repoRoot: paths.root }).tickets : [];
  const slug = slugify(spec.slug ?? spec.title ?? '') || undefined;
  const relDir = relative(paths.root, paths.ticketsDir).split(sep).join('/');
  const numbered = (index: number): Ticket => {
    const name = ticketFileName(index, slug);
    const ticket = parseTicket(text, {
      path: join(paths.ticketsDir, name),
      relPath: `${relDir}/${name}`,
      agents,
    });
    // A ticket over an input limit could not be read back: refuse it before anything is written.
    const limit = ticket.issues.find((i) => isLimitCode(i.code));
    if (limit)
      throw new TicketCreateError('too_large', `${name} not created: ${limit.message}`, limit.field ?? null);
    if (dependsOn.length > 0) refuseBadDependencies(ticket, others);
    return ticket;
  };

  if (spec.index !== undefined) {
    const ticket = numbered(spec.index);
    const taken = holderOf(paths.ticketsDir, spec.index);
    const refused =
      taken !== undefined ? `is taken by ${taken}` : createNumbered(paths, spec.index, ticket.path, text);
    if (refused !== null)
      throw new TicketCreateError('number_taken', `ticket number ${spec.index} ${refused}`, 'index');
    return ticket;
  }
  let index = 0;
  for (let attempt = 0; attempt < MAX_ATTEMPTS; attempt++) {
    // one past the highest (gaps are never filled), and past every number tried already
    index = Math.max(index + 1, nextTicketIndex(numbersInUse(paths.ticketsDir)));
    const ticket = numbered(index);
    if (createNumbered(paths, index, ticket.path, text) === null) return ticket;
  }
  throw new TicketCreateError('no_free_number', 'could not claim a ticket number; try again');
}

/**
 * Creates several tickets under consecutive numbers after the highest, all or none: `build(start)`
 * gives the files for numbers `start`, `start + 1`, ... (it may throw to refuse them, before anything
 * is written). Every number is claimed before the first file is created; when another writer took one
 * meanwhile, the files made so far are removed and the set is built again further on.
 */
export function createTicketSet<T extends { index: number; path: string; text: string }>(
  paths: Paths,
  build: (start: number) => T[],
): T[] {
  mkdirSync(paths.ticketsDir, { recursive: true });
  let start = 0;
  for (let attempt = 0; attempt < MAX_ATTEMPTS; attempt++) {
    start = Math.max(start + 1, nextTicketIndex(numbersInUse(paths.ticketsDir)));
    const files = build(start);
    const releases: (() => void)[] = [];
    const created: string[] = [];
    try {
      const claimed = files.every((f) => {
        const release = claimNumber(paths, f.index);
        if (release) releases.push(release);
        return release !== null && holderOf(paths.ticketsDir, f.index) === undefined;
      });
      if (claimed && files.every((f) => createFileExclusive(f.path, f.text) && created.push(f.path)))
        return files;
      for (const path of created) unlinkSync(path);
    } catch (err) {
      for (const path of created) unlinkSync(path);
      throw err;
    } finally {
      for (const release of releases) release();
    }
  }
  throw new TicketCreateError('no_free_number', 'could not claim ticket numbers; try again');
}

/**
 * The ticket CAR's `ticket-flow bootstrap` seeds into an empty queue (`car flow start --bootstrap`):
 * CAR's title and goal; the body, in car's words, gives the agent CAR's instructions (turn the request in
 * `.codex-autorunner/ISSUE.md`, or the user's answer, into tickets).
 */
export const BOOTSTRAP_TICKET = {
  title: 'Bootstrap ticket plan',
  goal: 'Capture scope and seed follow-up tickets',
  body: `
This is the first ticket of a new run: turn the request into a plan of tickets.

- Read \`.codex-autorunner/ISSUE.md\`. If there is none, get the request first: with GitHub at hand, ask the
  user for the issue or PR (URL or number) and write \`.codex-autorunner/ISSUE.md\` from it; without it, write
  \`DISPATCH.md\` with \`mode: pause\` asking the user to describe the work (or to point at a document), and
  write \`.codex-autorunner/ISSUE.md\` from the reply.
- Where it helps, write the contextspace docs in \`.codex-autorunner/contextspace/\`: \`active_context.md\`
  (what is going on, with links), \`decisions.md\` (decisions and why), \`spec.md\` (requirements and
  constraints).
- Split the work into more tickets (\`TICKET-002.md\`, \`TICKET-003.md\`, ...), each with a clear goal and
  agent. Keep this ticket open until they exist.
- To message the user, write \`DISPATCH.md\`: \`mode: pause\` waits for their reply, \`mode: notify\` tells
  them and goes on.
`,
} as const;

/**
 * Writes the bootstrap ticket as TICKET-001.md for `agent` when the tickets folder holds no ticket file
 * yet, as CAR's bootstrap does; null (nothing written) when it holds one.
 */
export function seedBootstrapTicket(paths: Paths, agents: ReadonlySet<string>, agent: string): Ticket | null {
  mkdirSync(paths.ticketsDir, { recursive: true });
  if (numbersInUse(paths.ticketsDir).length > 0) return null;
  try {
    return createTicket(paths, agents, { agent, ...BOOTSTRAP_TICKET, slug: '', index: 1 });
  } catch (err) {
    // another writer created TICKET-001 meanwhile: the queue is no longer empty
    if (err instanceof TicketCreateError && err.code === 'number_taken') return null;
    throw err;
  }
}
