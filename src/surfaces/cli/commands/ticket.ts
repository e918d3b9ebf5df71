import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { defaultAgentId, knownAgentIds } from '../../../core/config/index.ts';
import { writeFileAtomic } from '../../../core/fs/atomic.ts';
import { createFileExclusive } from '../../../core/fs/create-exclusive.ts';
import { isLimitCode } from '../../../core/input-limits.ts';
import {
  type LintIssue,
  loadTicketQueue,
  newTicketId,
  nextTicketIndex,
  parseTicket,
  parseYaml,
  renderNewTicket,
  setFrontmatterField,
  type Ticket,
  TicketEditError,
  ticketFileName,
  ticketState,
} from '../../../core/tickets/index.ts';
import { ticketFields } from '../../ticket-json.ts';
import { type GlobalOptions, loadRepoConfig, type RepoContext, resolveRepo } from '../context.ts';
import { CliError, EXIT } from '../errors.ts';
import { type CliIo, formatTable, painter, printJson } from '../io.ts';

interface JsonFlag {
  json?: boolean;
}

interface Queue {
  repo: RepoContext;
  agents: Set<string>;
  /** `ticket_flow.default_agent`: what `car ticket new` gives a ticket without --agent. */
  defaultAgent: string;
  tickets: Ticket[];
  issues: LintIssue[];
}

async function loadQueue(io: CliIo, global: GlobalOptions): Promise<Queue> {
  const repo = resolveRepo(io, global);
  const { config } = await loadRepoConfig(io, repo.paths.root);
  const agents = knownAgentIds(config);
  let queue: ReturnType<typeof loadTicketQueue>;
  try {
    queue = loadTicketQueue(repo.paths.ticketsDir, { repoRoot: repo.paths.root, agents });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') {
      throw new CliError(`no tickets folder: ${repo.paths.ticketsDir} (run \`car init\`)`, EXIT.usage);
    }
    throw err;
  }
  return {
    repo,
    agents,
    defaultAgent: defaultAgentId(config),
    tickets: queue.tickets,
    issues: queue.issues,
  };
}

function ticketJson(ticket: Ticket) {
  return { file: ticket.name, ...ticketFields(ticket) };
}

/** Finds a ticket by number, file name (with or without .md) or ticket_id. */
export function findTicket(tickets: Ticket[], ref: string): Ticket {
  let matches: Ticket[];
  if (/^\d+$/.test(ref)) matches = tickets.filter((t) => t.index === Number(ref));
  else {
    const name = ref.toLowerCase().replace(/\.md$/, '');
    matches = tickets.filter(
      (t) => t.name.toLowerCase().replace(/\.md$/, '') === name || t.ticketId === ref || t.relPath === ref,
    );
  }
  if (matches.length === 0) throw new CliError(`no ticket matches "${ref}"`, EXIT.usage);
  if (matches.length > 1) {
    throw new CliError(
      `"${ref}" matches ${matches.length} tickets: ${matches.map((t) => t.name).join(', ')}`,
      EXIT.usage,
    );
  }
  return matches[0]!;
}

function formatIssue(issue: LintIssue): string {
  const where = issue.line === undefined ? issue.file : `${issue.file}:${issue.line}`;
  return `${where}: ${issue.severity}: ${issue.field ? `${issue.field}: ` : ''}${issue.message}`;
}

export async function ticketList(
  io: CliIo,
  global: GlobalOptions,
  opts: JsonFlag & { open?: boolean; done?: boolean },
): Promise<void> {
  const { tickets, issues } = await loadQueue(io, global);
  const next = tickets.find((t) => ticketState(t) !== 'done');
  const shown = tickets.filter((t) => (opts.open ? !t.isDone : true) && (opts.done ? t.isDone : true));
  const summary = {
    total: tickets.length,
    done: tickets.filter((t) => t.isDone).length,
    open: tickets.filter((t) => ticketState(t) === 'open').length,
    invalid: tickets.filter((t) => ticketState(t) === 'invalid').length,
  };
  if (opts.json) {
    printJson(io, { tickets: shown.map(ticketJson), issues, summary, next: next?.relPath ?? null });
    return;
  }
  const paint = painter(io);
  if (shown.length === 0) io.stdout('no tickets\n');
  else {
    const rows = [['#', 'STATE', 'AGENT', 'TITLE', 'FILE']];
    for (const t of shown) {
      const state = t === next ? `${ticketState(t)}*` : ticketState(t);
      rows.push([String(t.index).padStart(3, '0'), state, t.agent ?? '-', t.title ?? '', t.name]);
    }
    const [header, ...body] = formatTable(rows).split('\n');
    io.stdout(`${paint('bold', header ?? '')}\n${body.join('\n')}\n`);
  }
  for (const issue of issues) io.stdout(`${paint('yellow', formatIssue(issue))}\n`);
  io.stdout(
    `${summary.total} tickets: ${summary.done} done, ${summary.open} open, ${summary.invalid} invalid` +
      `${next ? ` (* = next: ${next.name})` : ''}\n`,
  );
}

export async function ticketShow(
  io: CliIo,
  global: GlobalOptions,
  ref: string,
  opts: JsonFlag,
): Promise<void> {
  const { tickets } = await loadQueue(io, global);
  const ticket = findTicket(tickets, ref);
  if (opts.json) printJson(io, { ...ticketJson(ticket), frontmatter: ticket.frontmatter, raw: ticket.raw });
  else io.stdout(ticket.raw.endsWith('\n') ? ticket.raw : `${ticket.raw}\n`);
}

export async function ticketLint(
  io: CliIo,
  global: GlobalOptions,
  opts: JsonFlag & { fixTicketIds?: boolean },
): Promise<void> {
  let queue = await loadQueue(io, global);
  const fixed: string[] = [];
  if (opts.fixTicketIds) {
    for (const ticket of queue.tickets) {
      if (ticket.frontmatter === null || ticket.frontmatter.ticket_id !== undefined) continue;
      writeFileAtomic(ticket.path, setFrontmatterField(ticket.raw, 'ticket_id', newTicketId()));
      fixed.push(ticket.relPath);
    }
    if (fixed.length > 0) queue = await loadQueue(io, global);
  }
  const all = [...queue.issues, ...queue.tickets.flatMap((t) => t.issues)];
  const errors = all.filter((i) => i.severity === 'error');
  if (opts.json) {
    printJson(io, { ok: errors.length === 0, tickets: queue.tickets.length, issues: all, fixed });
  } else {
    for (const file of fixed) io.stdout(`fixed: ${file}: added ticket_id\n`);
    for (const issue of all) io.stdout(`${formatIssue(issue)}\n`);
    if (errors.length === 0) io.stdout(`OK: ${queue.tickets.length} ticket(s) linted.\n`);
    else io.stdout(`${errors.length} error(s) in ${queue.tickets.length} ticket(s).\n`);
  }
  if (errors.length > 0) throw new CliError('', EXIT.failed);
}

/** Applies one field edit, refusing (and writing nothing) when it would leave that field invalid. */
function editTicket(
  ticket: Ticket,
  agents: Set<string>,
  key: string,
  value: string | number | boolean | null,
) {
  // A ticket over an input limit was not parsed: there is nothing safe to edit.
  const limit = ticket.issues.find((i) => isLimitCode(i.code));
  if (limit) {
    throw new CliError(
      `refusing to edit ${ticket.relPath}:${limit.line ?? 1}: ${limit.message}`,
      EXIT.invalidInput,
    );
  }
  let text: string;
  try {
    text = setFrontmatterField(ticket.raw, key, value);
  } catch (err) {
    if (err instanceof TicketEditError)
      throw new CliError(`${ticket.relPath}: ${err.message}`, EXIT.invalidInput);
    throw err;
  }
  const after = parseTicket(text, { path: ticket.path, relPath: ticket.relPath, agents });
  const fieldErrors = (issues: LintIssue[]) =>
    issues.filter((i) => i.severity === 'error' && (i.field === key || i.field?.startsWith(`${key}[`)));
  const introduced = fieldErrors(after.issues).filter(
    (i) => !fieldErrors(ticket.issues).some((b) => b.message === i.message),
  );
  if (introduced.length > 0) {
    throw new CliError(
      `refusing to write ${ticket.relPath}: ${introduced.map((i) => i.message).join('; ')}`,
      EXIT.invalidInput,
    );
  }
  writeFileAtomic(ticket.path, text);
  return after;
}

export async function ticketSetDone(
  io: CliIo,
  global: GlobalOptions,
  ref: string,
  done: boolean,
  opts: JsonFlag,
): Promise<void> {
  const { tickets, agents } = await loadQueue(io, global);
  const ticket = findTicket(tickets, ref);
  const after = editTicket(ticket, agents, 'done', done);
  if (opts.json) printJson(io, ticketJson(after));
  else io.stdout(`${ticket.relPath}: done: ${done}\n`);
}

export async function ticketEditField(
  io: CliIo,
  global: GlobalOptions,
  ref: string,
  key: string,
  raw: string,
  opts: JsonFlag & { string?: boolean },
): Promise<void> {
  if (!/^[A-Za-z_][A-Za-z0-9_-]*$/.test(key))
    throw new CliError(`invalid frontmatter key: "${key}"`, EXIT.usage);
  let value: string | number | boolean | null = raw;
  if (!opts.string) {
    const parsed = parseYaml(raw);
    const scalar = parsed.errors.length === 0 ? parsed.value : raw;
    if (scalar === null || ['string', 'number', 'boolean'].includes(typeof scalar)) {
      value = scalar as string | number | boolean | null;
    }
  }
  const { tickets, agents } = await loadQueue(io, global);
  const ticket = findTicket(tickets, ref);
  const after = editTicket(ticket, agents, key, value);
  if (opts.json) printJson(io, ticketJson(after));
  else io.stdout(`${ticket.relPath}: ${key}: ${JSON.stringify(value)}\n`);
}

const DEFAULT_BODY = `## Tasks
- 

## Acceptance criteria
- 

## Tests
- 
`;

function slugify(text: string): string {
  return text
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, '-')
    .replace(/^-+|-+$/g, '')
    .slice(0, 48)
    .replace(/-+$/, '');
}

export async function ticketNew(
  io: CliIo,
  global: GlobalOptions,
  title: string,
  opts: JsonFlag & {
    agent?: string;
    goal?: string;
    slug?: string;
    at?: number;
    body?: string;
    bodyFile?: string;
  },
): Promise<void> {
  const { repo, agents, tickets, defaultAgent } = await loadQueue(io, global);
  const agent = (opts.agent ?? defaultAgent).trim().toLowerCase();
  if (!agents.has(agent)) {
    throw new CliError(
      `unknown agent "${opts.agent ?? agent}" (configured: ${[...agents].sort().join(', ')})`,
      EXIT.usage,
    );
  }
  const index = opts.at ?? nextTicketIndex(tickets);
  const clash = tickets.find((t) => t.index === index);
  if (clash) throw new CliError(`ticket number ${index} is taken by ${clash.name}`, EXIT.usage);
  let body = opts.body ?? DEFAULT_BODY;
  if (opts.bodyFile) {
    try {
      body = readFileSync(resolve(io.cwd, opts.bodyFile), 'utf8');
    } catch (err) {
      throw new CliError(`cannot read --body-file ${opts.bodyFile}: ${(err as Error).message}`, EXIT.usage);
    }
  }
  const slug = opts.slug !== undefined ? slugify(opts.slug) : slugify(title);
  const name = ticketFileName(index, slug || undefined);
  const path = join(repo.paths.ticketsDir, name);
  const fields: Parameters<typeof renderNewTicket>[0] = { ticket_id: newTicketId(), agent, done: false };
  if (title.trim()) fields.title = title.trim();
  if (opts.goal?.trim()) fields.goal = opts.goal.trim();
  const text = renderNewTicket(fields, body);
  const created = parseTicket(text, {
    path,
    relPath: `${repo.paths.ticketsDir.slice(repo.paths.root.length + 1)}/${name}`,
    agents,
  });
  // A ticket over an input limit could not be read back: refuse it before anything is written.
  const limit = created.issues.find((i) => isLimitCode(i.code));
  if (limit) throw new CliError(`${name} not created: ${limit.message}`, EXIT.usage);
  if (!createFileExclusive(path, text)) throw new CliError(`${name} already exists`, EXIT.usage);
  if (opts.json) printJson(io, ticketJson(created));
  else io.stdout(`created ${created.relPath}\n`);
}
