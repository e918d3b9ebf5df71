// `car pr open|watch|status`: the pull-request lifecycle on GitHub (core/scm over integrations/github).
import { defaultAgentId, knownAgentIds, secretEnvToRemove } from '../../../core/config/index.ts';
import type { CarConfig } from '../../../core/config/schema.ts';
import type { FollowDeps, PrNotice } from '../../../core/scm/follow.ts';
import { openPullRequest } from '../../../core/scm/open-pr.ts';
import { ScmError } from '../../../core/scm/ports.ts';
import { pollOpenPrs, watchOpenPrs } from '../../../core/scm/watch.ts';
import type { PrStore } from '../../../core/store/pr-store.ts';
import { openRunStore, type RunStore } from '../../../core/store/run-store.ts';
import { loadTicketQueue, type Ticket, TicketEditError } from '../../../core/tickets/index.ts';
import { githubPorts } from '../../../integrations/github/index.ts';
import { prJson } from '../../pr-json.ts';
import { CAR_VERSION } from '../../version.ts';
import { type GlobalOptions, loadRepoConfig, type RepoContext, resolveRepo } from '../context.ts';
import { CliError, EXIT } from '../errors.ts';
import { type CliIo, formatTable, printJson } from '../io.ts';
import { onStopSignals } from '../stop-signals.ts';
import { findTicket } from './ticket.ts';

interface Opened {
  repo: RepoContext;
  config: CarConfig;
  store: RunStore;
  prs: PrStore;
  agents: Set<string>;
  close(): void;
}

async function open(io: CliIo, global: GlobalOptions): Promise<Opened> {
  const repo = resolveRepo(io, global);
  const { config } = await loadRepoConfig(io, repo.paths.root);
  const store = openRunStore(repo.paths.dbFile);
  const prs = store.prs();
  return {
    repo,
    config,
    store,
    prs,
    agents: knownAgentIds(config),
    close() {
      store.close();
    },
  };
}

function tickets(o: Opened): Ticket[] {
  try {
    return loadTicketQueue(o.repo.paths.ticketsDir, { repoRoot: o.repo.paths.root, agents: o.agents })
      .tickets;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT')
      throw new CliError(`no tickets folder: ${o.repo.paths.ticketsDir} (run \`car init\`)`, EXIT.usage);
    throw err;
  }
}

/** An ScmError as the CLI reports it: setup problems are usage errors, the host refusing is a failure. */
function scmFailure(err: unknown): never {
  if (err instanceof ScmError) {
    const code =
      err.kind === 'usage' || err.kind === 'auth' || err.kind === 'not_found' ? EXIT.usage : EXIT.failed;
    throw new CliError(err.message, code);
  }
  if (err instanceof TicketEditError) throw new CliError(err.message, EXIT.invalidInput);
  throw err;
}

async function ports(io: CliIo, o: Opened) {
  try {
    return await githubPorts(o.repo.paths.root, o.config, io.env, {
      userAgent: `car/${CAR_VERSION}`,
      unsetEnv: secretEnvToRemove(o.config),
    });
  } catch (err) {
    scmFailure(err);
  }
}

export async function prOpen(
  io: CliIo,
  global: GlobalOptions,
  opts: { ticket?: string; draft?: boolean; branch?: string; json?: boolean },
): Promise<void> {
  const o = await open(io, global);
  try {
    const queue = tickets(o);
    const ticket = opts.ticket === undefined ? null : findTicket(queue, opts.ticket);
    const { host, git } = await ports(io, o);
    const result = await openPullRequest({
      cwd: o.repo.paths.root,
      root: o.repo.paths.root,
      settings: o.config.github,
      host,
      git,
      store: o.store,
      prs: o.prs,
      tickets: queue,
      ticket,
      knownAgents: o.agents,
      draft: opts.draft ?? o.config.github.pr_draft_default,
      branch: opts.branch,
    }).catch(scmFailure);
    if (opts.json) {
      printJson(io, {
        pr: prJson(result.record),
        created: result.created,
        branch: result.branch,
        base: result.base,
        tickets: result.closed.map((c) => ({
          ticket: c.name,
          ticket_id: c.ticketId,
          commit: c.evidence.commit,
        })),
        ticket_updated: result.ticketUpdated,
      });
      return;
    }
    io.stdout(
      `${result.created ? 'opened' : 'updated'} pull request #${result.record.number}: ${result.record.url}\n` +
        `${result.branch} → ${result.base}; ${result.closed.length} closed ticket(s) with evidence in the body` +
        `${result.ticketUpdated && ticket ? `; pr_url written to ${ticket.name}` : ''}\n`,
    );
  } finally {
    o.close();
  }
}

function followDeps(o: Opened, host: FollowDeps['host']): FollowDeps {
  return {
    paths: o.repo.paths,
    settings: o.config.github,
    host,
    prs: o.prs,
    store: o.store,
    knownAgents: o.agents,
    defaultAgent: defaultAgentId(o.config),
  };
}

function noticeLine(n: PrNotice): string {
  return `${n.kind}: ${n.text}\n`;
}

export async function prWatch(
  io: CliIo,
  global: GlobalOptions,
  opts: { once?: boolean; interval?: number; json?: boolean },
): Promise<void> {
  const o = await open(io, global);
  try {
    const { host } = await ports(io, o);
    const deps = followDeps(o, host);
    if (opts.once) {
      const round = await pollOpenPrs(deps);
      if (opts.json) {
        printJson(io, {
          looked: round.looked,
          notices: round.notices,
          errors: round.errors,
          retry_at: round.retryAt === null ? null : new Date(round.retryAt).toISOString(),
          prs: o.prs.list().map(prJson),
        });
      } else {
        for (const n of round.notices) io.stdout(noticeLine(n));
        for (const e of round.errors) io.stderr(`car: ${e}\n`);
        io.stdout(`looked at ${round.looked} open pull request(s)\n`);
      }
      if (round.errors.length > 0)
        throw new CliError(`${round.errors.length} pull request(s) could not be read`, EXIT.failed);
      return;
    }
    const stop = new AbortController();
    const signals = onStopSignals(io, 'car pr watch', () => stop.abort());
    try {
      io.stdout(
        `following ${host.slug}'s open pull requests every ${opts.interval ?? o.config.github.poll_interval_seconds} s\n`,
      );
      await watchOpenPrs(deps, {
        intervalMs: (opts.interval ?? o.config.github.poll_interval_seconds) * 1000,
        signal: stop.signal,
        onRound: (round) => {
          for (const n of round.notices) io.stdout(opts.json ? `${JSON.stringify(n)}\n` : noticeLine(n));
          for (const e of round.errors) io.stderr(`car: ${e}\n`);
        },
      });
    } finally {
      signals.dispose();
    }
  } finally {
    o.close();
  }
}

export async function prStatus(io: CliIo, global: GlobalOptions, opts: { json?: boolean }): Promise<void> {
  const o = await open(io, global);
  try {
    const list = o.prs.list();
    if (opts.json) {
      printJson(io, { prs: list.map(prJson) });
      return;
    }
    if (list.length === 0) {
      io.stdout('no pull requests yet (car pr open opens one)\n');
      return;
    }
    io.stdout(
      `${formatTable([
        ['PR', 'STATE', 'CHECKS', 'REVIEW', 'BRANCH', 'URL'],
        ...list.map((p) => [
          `#${p.number}`,
          p.state,
          p.checks,
          p.review ?? '-',
          `${p.headBranch} → ${p.baseBranch}`,
          p.url,
        ]),
      ])}\n`,
    );
  } finally {
    o.close();
  }
}
