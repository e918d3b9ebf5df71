// `car ticket evidence <ticket>`: why car closed a ticket, from the verify gate's evidence records
// (the run store's `evidence` artifacts, with the command output from the JSON files next to them).
import { existsSync } from 'node:fs';
import { knownAgentIds } from '../../../core/config/index.ts';
import { openRunStore } from '../../../core/store/run-store.ts';
import { loadTicketQueue, type Ticket } from '../../../core/tickets/index.ts';
import { collectEvidence, type EvidenceEntry } from '../../../core/verify/evidence.ts';
import { type GlobalOptions, loadRepoConfig, resolveRepo } from '../context.ts';
import { CliError, EXIT } from '../errors.ts';
import { type CliIo, painter, printJson } from '../io.ts';
import { findTicket } from './ticket.ts';

export async function ticketEvidence(
  io: CliIo,
  global: GlobalOptions,
  ref: string,
  opts: { json?: boolean },
): Promise<void> {
  const repo = resolveRepo(io, global);
  const { config } = await loadRepoConfig(io, repo.paths.root);
  let tickets: Ticket[];
  try {
    tickets = loadTicketQueue(repo.paths.ticketsDir, {
      repoRoot: repo.paths.root,
      agents: knownAgentIds(config),
    }).tickets;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT')
      throw new CliError(`no tickets folder: ${repo.paths.ticketsDir} (run \`car init\`)`, EXIT.usage);
    throw err;
  }
  const ticket = findTicket(tickets, ref);
  let records: EvidenceEntry[] = [];
  if (existsSync(repo.paths.dbFile)) {
    const store = openRunStore(repo.paths.dbFile);
    try {
      records = collectEvidence(store, repo.paths.root, ticket.ticketId);
    } finally {
      store.close();
    }
  }
  if (opts.json) {
    printJson(io, { ticket: ticket.relPath, ticket_id: ticket.ticketId, evidence: records });
    return;
  }
  const paint = painter(io);
  const latest = records[0];
  if (!latest) {
    io.stdout(`${ticket.name}: no evidence yet (car records it when its verify gate closes the ticket)\n`);
    return;
  }
  const lines = [
    `${paint('bold', ticket.name)}  ${ticket.ticketId}`,
    `closed in run ${latest.run_id} at ${latest.verified_at}`,
    `commit ${latest.commit ?? '(none)'}${latest.base_commit ? ` (work since ${latest.base_commit.slice(0, 12)})` : ''}${latest.dirty ? ', tree not clean' : ''}`,
    `failed checks before this pass: ${latest.failed_attempts}; turns: ${latest.turns}`,
    'commands:',
    ...(latest.commands.length === 0
      ? ['  (none configured: set verify: in the ticket or verify.commands in config)']
      : latest.commands.map(
          (c) =>
            `  ${c.exit_code === 0 && !c.timed_out ? paint('green', 'pass') : paint('red', 'FAIL')}  ${c.command}  ` +
            `[${c.source}] exit ${c.exit_code ?? c.signal ?? '?'}${c.timed_out ? ' (timed out)' : ''}, ` +
            `${(c.duration_ms / 1000).toFixed(1)} s, ${c.output_bytes} bytes, sha256 ${c.output_sha256.slice(0, 16)}…`,
        )),
    'findings:',
    ...(latest.findings.length === 0
      ? ['  none']
      : latest.findings.map((f) => `  ${f.action}  ${f.kind}  ${f.file}: ${f.detail}`)),
    `evidence: ${latest.path}`,
  ];
  if (records.length > 1) lines.push(`(${records.length - 1} earlier record(s); --json lists all)`);
  io.stdout(`${lines.join('\n')}\n`);
}
