import { lstatSync, readdirSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { defaultAgentId, knownAgentIds } from '../../../core/config/index.ts';
import { readZip, type ZipEntry, ZipError } from '../../../core/fs/zip.ts';
import { formatBytes, INPUT_LIMITS, InputLimitError, readFileBounded } from '../../../core/input-limits.ts';
import {
  addTicketPack,
  createTicket,
  editTicketField,
  type LintIssue,
  loadTicketQueue,
  MAX_PACK_TICKETS,
  newTicketId,
  parseYaml,
  readiness,
  setTicketFileField,
  type Ticket,
  TicketCreateError,
  TicketEditError,
  type TicketQueue,
  ticketIndexFromName,
  ticketResolver,
  ticketState,
} from '../../../core/tickets/index.ts';
import { queuedTicketFields, ticketFields } from '../../ticket-json.ts';
import { type GlobalOptions, loadRepoConfig, type RepoContext, resolveRepo } from '../context.ts';
import { CliError, EXIT } from '../errors.ts';
import { type CliIo, formatTable, painter, printJson } from '../io.ts';

interface JsonFlag {
  json?: boolean;
}

interface Queue extends TicketQueue {
  repo: RepoContext;
  agents: Set<string>;
  /** `ticket_flow.default_agent`: what `car ticket new` gives a ticket without --agent. */
  defaultAgent: string;
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
  return { repo, agents, defaultAgent: defaultAgentId(config), ...queue };
}

/** Finds a ticket by number (`7`, `TICKET-007`), file name (with or without .md) or ticket_id. */
export function findTicket(tickets: Ticket[], ref: string): Ticket {
  const matches = ticketResolver(tickets)(ref);
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
  const queue = await loadQueue(io, global);
  const { tickets, issues } = queue;
  const { ready, blocked } = readiness(tickets, queue.dependencies);
  // the ticket a run takes next: the first ready one
  const next = ready[0];
  // open tickets that wait for a dependency (an invalid one stays `invalid`)
  const waiting = new Set(blocked.map((b) => b.ticket).filter((t) => ticketState(t) === 'open'));
  const shown = tickets.filter((t) => (opts.open ? !t.isDone : true) && (opts.done ? t.isDone : true));
  const summary = {
    total: tickets.length,
    done: tickets.filter((t) => t.isDone).length,
    open: tickets.filter((t) => ticketState(t) === 'open').length,
    invalid: tickets.filter((t) => ticketState(t) === 'invalid').length,
  };
  if (opts.json) {
    const fields = queuedTicketFields(queue);
    printJson(io, { tickets: shown.map(fields), issues, summary, next: next?.relPath ?? null });
    return;
  }
  const paint = painter(io);
  if (shown.length === 0) io.stdout('no tickets\n');
  else {
    const rows = [['#', 'STATE', 'AGENT', 'TITLE', 'FILE']];
    for (const t of shown) {
      const state = waiting.has(t) ? 'blocked' : ticketState(t);
      rows.push([
        String(t.index).padStart(3, '0'),
        t === next ? `${state}*` : state,
        t.agent ?? '-',
        t.title ?? '',
        t.name,
      ]);
    }
    const [header, ...body] = formatTable(rows).split('\n');
    io.stdout(`${paint('bold', header ?? '')}\n${body.join('\n')}\n`);
  }
  for (const issue of issues) io.stdout(`${paint('yellow', formatIssue(issue))}\n`);
  io.stdout(
    `${summary.total} tickets: ${summary.done} done, ${summary.open} open, ${summary.invalid} invalid` +
      `${waiting.size > 0 ? `, ${waiting.size} blocked` : ''}` +
      `${next ? ` (* = next: ${next.name})` : ''}\n`,
  );
}

export async function ticketShow(
  io: CliIo,
  global: GlobalOptions,
  ref: string,
  opts: JsonFlag,
): Promise<void> {
  const queue = await loadQueue(io, global);
  const ticket = findTicket(queue.tickets, ref);
  if (opts.json) {
    printJson(io, { ...queuedTicketFields(queue)(ticket), frontmatter: ticket.frontmatter, raw: ticket.raw });
  } else io.stdout(ticket.raw.endsWith('\n') ? ticket.raw : `${ticket.raw}\n`);
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
      try {
        setTicketFileField(ticket.path, 'ticket_id', newTicketId(), ticket.relPath);
      } catch (err) {
        if (err instanceof TicketEditError) throw new CliError(err.message, EXIT.invalidInput);
        throw err;
      }
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

/** `editTicketField`, its refusals as the CLI's invalid-input exit. */
function editTicket(
  ticket: Ticket,
  agents: Set<string>,
  key: string,
  value: string | number | boolean | null,
): Ticket {
  try {
    return editTicketField(ticket, agents, key, value);
  } catch (err) {
    if (err instanceof TicketEditError) throw new CliError(err.message, EXIT.invalidInput);
    throw err;
  }
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
  if (opts.json) printJson(io, ticketFields(after));
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
  if (opts.json) printJson(io, ticketFields(after));
  else io.stdout(`${ticket.relPath}: ${key}: ${JSON.stringify(value)}\n`);
}

// A body that is not UTF-8 would make a ticket CAR cannot read; decoding it leniently would change its bytes.
const strictUtf8 = new TextDecoder('utf-8', { fatal: true });

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
    dependsOn?: string;
  },
): Promise<void> {
  const { repo, agents, defaultAgent } = await loadQueue(io, global);
  let body = opts.body;
  if (opts.bodyFile) {
    try {
      body = strictUtf8.decode(readFileSync(resolve(io.cwd, opts.bodyFile)));
    } catch (err) {
      const why =
        (err as NodeJS.ErrnoException).code === 'ERR_ENCODING_INVALID_ENCODED_DATA'
          ? 'it is not valid UTF-8'
          : (err as Error).message;
      throw new CliError(`cannot read --body-file ${opts.bodyFile}: ${why}`, EXIT.usage);
    }
  }
  let created: Ticket;
  try {
    created = createTicket(repo.paths, agents, {
      agent: opts.agent ?? defaultAgent,
      title,
      goal: opts.goal,
      slug: opts.slug,
      body,
      index: opts.at,
      dependsOn: opts.dependsOn?.split(','),
    });
  } catch (err) {
    if (!(err instanceof TicketCreateError)) throw err;
    throw new CliError(err.message, err.code === 'no_free_number' ? EXIT.conflict : EXIT.usage);
  }
  if (opts.json) printJson(io, ticketFields(created));
  else io.stdout(`created ${created.relPath}\n`);
}

type PackFile = { name: string; text: string; source: string; index: number };

/** Decodes a pack file, in number order later; a file that is not UTF-8 refuses the pack. */
function packFile(name: string, bytes: Buffer, source: string, index: number): PackFile {
  try {
    return { name, text: strictUtf8.decode(bytes), source, index };
  } catch {
    throw new CliError(`${source}: nothing written: not valid UTF-8`, EXIT.invalidInput);
  }
}

function refuseOthers(shown: string, others: string[]): void {
  if (others.length > 0)
    throw new CliError(
      `${shown}: nothing written: a pack holds only TICKET-<number>*.md files; found ${others.join(', ')}`,
      EXIT.invalidInput,
    );
}

/** The ticket files of a pack folder; links, sub-folders and other files are refused. */
function readPackFolder(dir: string, shown: string): PackFile[] {
  const files: PackFile[] = [];
  const others: string[] = [];
  for (const name of readdirSync(dir).sort()) {
    if (name.startsWith('.')) continue;
    const index = ticketIndexFromName(name);
    const st = lstatSync(join(dir, name));
    if (index === null || !st.isFile()) {
      others.push(
        `${name}${st.isSymbolicLink() ? ' (a symbolic link)' : st.isDirectory() ? ' (a folder)' : ''}`,
      );
      continue;
    }
    if (st.size > INPUT_LIMITS.ticketFileBytes)
      throw new CliError(
        `${shown}/${name}: nothing written: over ${formatBytes(INPUT_LIMITS.ticketFileBytes)}`,
        EXIT.invalidInput,
      );
    files.push(packFile(name, readFileSync(join(dir, name)), `${shown}/${name}`, index));
  }
  refuseOthers(shown, others);
  return files;
}

/**
 * The ticket files of a zip pack: at its top or in one folder (a zipped pack folder). Names that leave
 * the pack, links, other files and archives over the limits are refused.
 */
function readPackZip(file: string, shown: string): PackFile[] {
  let entries: ZipEntry[];
  try {
    const bytes = readFileBounded(file, MAX_PACK_TICKETS * INPUT_LIMITS.ticketFileBytes, 'a ticket pack');
    entries = readZip(bytes, {
      maxEntries: MAX_PACK_TICKETS * 4,
      maxEntryBytes: INPUT_LIMITS.ticketFileBytes,
      maxTotalBytes: 64 * 1024 * 1024,
    });
  } catch (err) {
    if (err instanceof ZipError || err instanceof InputLimitError)
      throw new CliError(`${shown}: nothing written: ${err.message}`, EXIT.invalidInput);
    throw err;
  }
  const files: PackFile[] = [];
  const others: string[] = [];
  const folders = new Set<string>();
  for (const e of entries) {
    const parts = e.name.replace(/\/$/, '').split('/');
    if (e.name.startsWith('/') || e.name.includes('\\') || parts.some((p) => p === '..' || p === '.'))
      throw new CliError(
        `${shown}: nothing written: ${JSON.stringify(e.name)} would leave the pack`,
        EXIT.invalidInput,
      );
    if (parts[0] === '__MACOSX' || parts.at(-1)!.startsWith('.') || (e.name.endsWith('/') && !e.link))
      continue;
    const name = parts.at(-1)!;
    const index = ticketIndexFromName(name);
    if (e.link || index === null || e.data === null || parts.length > 2) {
      others.push(`${e.name}${e.link ? ' (a symbolic link)' : ''}`);
      continue;
    }
    folders.add(parts.length === 2 ? parts[0]! : '');
    files.push(packFile(name, e.data, `${shown}:${e.name}`, index));
  }
  refuseOthers(shown, others);
  if (folders.size > 1)
    throw new CliError(
      `${shown}: nothing written: tickets in more than one folder (${[...folders].join(', ')})`,
      EXIT.invalidInput,
    );
  return files;
}

/** A pack folder or zip's tickets in number order. */
function readPack(path: string, shown: string): PackFile[] {
  let st: ReturnType<typeof lstatSync>;
  try {
    st = lstatSync(path);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new CliError(
      `${shown}: ${code === 'ENOENT' ? 'no such folder or zip' : (err as Error).message}`,
      EXIT.usage,
    );
  }
  if (st.isSymbolicLink()) throw new CliError(`${shown}: a symbolic link; give the pack itself`, EXIT.usage);
  let files: PackFile[];
  if (st.isDirectory()) files = readPackFolder(path, shown);
  else if (st.isFile() && /\.zip$/i.test(path)) files = readPackZip(path, shown);
  else throw new CliError(`${shown}: not a folder or a .zip`, EXIT.usage);
  if (files.length === 0) throw new CliError(`${shown}: no TICKET-<number>*.md files`, EXIT.usage);
  return files.sort((a, b) => a.index - b.index || (a.name < b.name ? -1 : 1));
}

export async function ticketImport(
  io: CliIo,
  global: GlobalOptions,
  pack: string,
  opts: JsonFlag,
): Promise<void> {
  const { repo, agents } = await loadQueue(io, global);
  const files = readPack(resolve(io.cwd, pack), pack.replace(/\/+$/, ''));
  let result: ReturnType<typeof addTicketPack>;
  try {
    result = addTicketPack(repo.paths, agents, files);
  } catch (err) {
    if (!(err instanceof TicketCreateError)) throw err;
    throw new CliError(err.message, err.code === 'no_free_number' ? EXIT.conflict : EXIT.invalidInput);
  }
  if (opts.json) printJson(io, { imported: result.renamed, tickets: result.tickets.map(ticketFields) });
  else for (const r of result.renamed) io.stdout(`${r.from} -> ${r.to}\n`);
}
