// Which ticket the next turn works. The queue is re-read from disk every step (a stat stamp lets
// unchanged files skip re-parsing); the ticket being worked stays pinned while it owes a commit or a
// frontmatter repair, otherwise the first ticket by number that is ready (not done, and every ticket
// its `depends_on` names done) is taken. Without any `depends_on` that is the first ticket not done.
import { join } from 'node:path';
import {
  type BlockedTicket,
  type DependencyGraph,
  invalidFileLines,
  invalidTicketFiles,
  type LintIssue,
  loadTicketQueue,
  readiness,
  type Ticket,
  ticketLabel,
} from '../tickets/index.ts';
import { planCommands } from '../verify/commands.ts';
import type { FlowOutcome } from './flow-types.ts';
import type { RunContext } from './run-context.ts';
import type { LikelyNext } from './sessions.ts';
import { newTicketProgress, newVerifyProgress } from './state.ts';

const DUPLICATE_CODES = new Set(['duplicate-index', 'duplicate-ticket-id']);

/**
 * The tickets on disk, or the pause a queue nobody can work asks for: duplicate numbers, files meant as
 * tickets whose names car does not read as tickets (they would be skipped silently), or no tickets.
 */
export async function readQueue(
  ctx: RunContext,
): Promise<{ tickets: Ticket[]; dependencies: DependencyGraph } | { outcome: FlowOutcome }> {
  const ticketsDir = join(ctx.root, '.codex-autorunner', 'tickets');
  const queue = loadTicketQueue(ticketsDir, {
    cache: ctx.ticketCache,
    repoRoot: ctx.root,
    agents: ctx.deps.knownAgents,
  });
  const duplicates = queue.issues.filter((i) => DUPLICATE_CODES.has(i.code));
  if (duplicates.length > 0) {
    return {
      outcome: await ctx.pause(
        'duplicate_tickets',
        'Duplicate ticket numbers or ids; rename one and resume.',
        {
          issues: issueLines(duplicates),
        },
      ),
    };
  }
  const invalid = invalidTicketFiles(queue, ticketsDir, ctx.settings.defaultAgent);
  const misnamed = invalid.filter((f) => f.kind === 'name');
  if (misnamed.length > 0) {
    // the ticket being repaired by lint-repair turns is the agent's to fix, not a reason to stop
    const repairing = ctx.state.ticket?.lintErrors ? ctx.state.ticket.path : null;
    const files = invalid.filter((f) => f.file !== repairing);
    const names = files.map((f) => `${f.file.split('/').pop()} (${f.fix})`);
    return {
      outcome: await ctx.pause(
        'ticket_invalid',
        `${files.length} file(s) in tickets/ look like tickets but are not valid: ${names.join('; ')}. Fix them and resume.`,
        { issues: invalidFileLines(files) },
      ),
    };
  }
  if (queue.tickets.length === 0) {
    return { outcome: await ctx.pause('no_tickets', 'No tickets yet. Add one (car ticket new) and resume.') };
  }
  return { tickets: queue.tickets, dependencies: queue.dependencies };
}

/**
 * The ticket the run is likely to work next, as the tickets on disk tell now: the run's ticket while it
 * is not done (its agent only: it has its session), else the first ready one, with the ticket when the
 * run has a ticket under way (its session can be opened ahead). `after`: the ticket whose turn is about
 * to run, taken as done, so the one after it is named while the turn runs. Only a hint, for getting the
 * agent ready ahead of the session (a verify failure or an edit may change the choice). Without `queue`,
 * the tickets are read here (parsed files are cached, so the step that follows reads them for free).
 */
export function likelyNext(
  ctx: RunContext,
  queue?: { tickets: readonly Ticket[]; dependencies: DependencyGraph },
  after?: Ticket,
): LikelyNext | null {
  try {
    const loaded =
      queue ??
      loadTicketQueue(join(ctx.root, '.codex-autorunner', 'tickets'), {
        cache: ctx.ticketCache,
        repoRoot: ctx.root,
        agents: ctx.deps.knownAgents,
      });
    const tickets = after
      ? loaded.tickets.map((t) => (t === after ? { ...t, isDone: true } : t))
      : loaded.tickets;
    const progress = ctx.state.ticket;
    if (progress && tickets.some((t) => t.relPath === progress.path && !t.isDone)) {
      return { agent: progress.agent };
    }
    const next = readiness(tickets, loaded.dependencies).ready[0];
    if (!next?.agent) return null;
    // Its session is opened ahead only once the run has a ticket under way (the time to win): a run that
    // pauses before its first turn calls no agent, and a ticket that does not lint pauses the run.
    if (!progress || !next.valid) return { agent: next.agent.toLowerCase() };
    return {
      agent: next.agent.toLowerCase(),
      ticket: {
        id: next.ticketId,
        path: next.relPath,
        profile: next.profile ?? null,
        approvalPolicy: ticketApprovalPolicy(next),
      },
    };
  } catch {
    return null;
  }
}

/**
 * The ticket to work next (`current` is the run's ticket as on disk, if still there), recorded as
 * selected when it changes; or the end: every ticket done, or every one not done waiting for another.
 */
export async function chooseTicket(
  ctx: RunContext,
  tickets: readonly Ticket[],
  dependencies: DependencyGraph,
  current: Ticket | undefined,
): Promise<{ ticket: Ticket } | { outcome: FlowOutcome }> {
  const progress = ctx.state.ticket;
  const lane = ctx.deps.lane;
  if (lane) return laneTicket(ctx, tickets, lane.ticket);
  const pinned = progress && (progress.commitPending || progress.lintErrors) ? current : undefined;
  const { ready, blocked } = readiness(tickets, dependencies);
  const ticket = pinned ?? ready[0];
  if (!ticket) {
    if (blocked.length === 0) {
      return { outcome: { status: 'completed', reasonCode: 'all_done', reason: 'All tickets done.' } };
    }
    return { outcome: await blockedPause(ctx, blocked, dependencies.issues) };
  }
  if (progress?.path !== ticket.relPath) await selectTicket(ctx, ticket);
  return { ticket };
}

/** A lane works its one ticket until it is done (settled, so verified and committed), then ends. */
async function laneTicket(
  ctx: RunContext,
  tickets: readonly Ticket[],
  path: string,
): Promise<{ ticket: Ticket } | { outcome: FlowOutcome }> {
  const ticket = tickets.find((t) => t.relPath === path);
  if (!ticket) {
    return {
      outcome: await ctx.pause(
        'ticket_invalid',
        `${path} is not in its lane's worktree: lanes work from commits; commit the ticket, then resume.`,
      ),
    };
  }
  if (ticket.isDone && !ctx.state.ticket) {
    return {
      outcome: { status: 'completed', reasonCode: 'all_done', reason: `${path} is done in its lane.` },
    };
  }
  if (ctx.state.ticket?.path !== ticket.relPath) await selectTicket(ctx, ticket);
  return { ticket };
}

/**
 * No ticket can be worked: each one not done waits for another that is not done (a cycle), or for a
 * target that does not exist. Marking a dependency done, or fixing `depends_on`, lets a resume go on.
 */
function blockedPause(
  ctx: RunContext,
  blocked: readonly BlockedTicket[],
  issues: readonly LintIssue[],
): Promise<FlowOutcome> {
  const waits = blocked.map(({ ticket, waitsFor, unknown }) => {
    const on = [...waitsFor.map(ticketLabel), ...unknown.map((ref) => `${ref} (no such ticket)`)];
    return `${ticketLabel(ticket)} waits for ${on.join(', ')}`;
  });
  return ctx.pause(
    'dependencies_blocked',
    `No ticket is ready: ${waits.join('; ')}. Mark a dependency done or fix depends_on, then resume.`,
    {
      blocked: blocked.map(({ ticket, waitsFor, unknown }) => ({
        ticket: ticket.relPath,
        waits_for: waitsFor.map((t) => t.relPath),
        unknown: [...unknown],
      })),
      issues: issueLines(issues),
    },
  );
}

async function selectTicket(ctx: RunContext, ticket: Ticket): Promise<void> {
  const previous = ctx.state.ticket;
  if (previous) void ctx.sessions.close(previous.id);
  const agent = (ticket.agent ?? '').toLowerCase();
  // The verify baseline is what was there before any turn on the ticket: HEAD and its verify commands.
  const verifyValue = ticket.frontmatter?.verify ?? null;
  const verify = newVerifyProgress(
    (await ctx.snapshot()).head,
    verifyValue,
    planCommands(ctx.settings.verify.commands, verifyValue),
  );
  ctx.state.ticket = newTicketProgress(
    ticket.relPath,
    ticket.ticketId,
    agent,
    ticket.profile ?? null,
    verify,
  );
  const approvalPolicy = ticketApprovalPolicy(ticket);
  if (approvalPolicy !== null) ctx.state.ticket.approvalPolicy = approvalPolicy;
  ctx.persist({}, [
    { type: 'ticket_selected', data: { ticket: ticket.relPath, ticket_id: ticket.ticketId, agent } },
  ]);
}

/** car's frontmatter key `approval_policy` (ask, yolo, review), or null when the ticket sets none. */
function ticketApprovalPolicy(ticket: Ticket): string | null {
  const value = ticket.extra.approval_policy;
  return typeof value === 'string' && value.trim() !== '' ? value.trim().toLowerCase() : null;
}

/** Lint errors as `file:line: field: message` lines, for pause details and repair prompts. */
export function issueLines(issues: readonly LintIssue[]): string[] {
  return issues
    .filter((i) => i.severity === 'error')
    .map((i) => `${i.file}${i.line ? `:${i.line}` : ''}: ${i.field ? `${i.field}: ` : ''}${i.message}`);
}
