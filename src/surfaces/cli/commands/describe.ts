import type { Command, Option } from 'commander';
import { BACKEND_CAPABILITIES } from '../../../agents/capabilities.ts';
import { reportAgents } from '../../../agents/report.ts';
import { CONFIG_PRECEDENCE, ENV_KNOBS, type LoadedConfig } from '../../../core/config/index.ts';
import { LANE_BRANCH_PREFIX, LANES_DIR } from '../../../core/flow/lanes/lane-state.ts';
import { CONTEXTSPACE_DOCS, findRepoRoot, repoPaths, STATE_DIR } from '../../../core/paths.ts';
import { TICKET_FILENAME_PATTERN } from '../../../core/tickets/index.ts';
import { ticketFrontmatterJsonSchema } from '../../../core/tickets/schema.ts';
import { templatesDescription } from '../../../integrations/templates/describe.ts';
import { CAR_VERSION } from '../../version.ts';
import { CAR_ALIASES } from '../car-aliases.ts';
import { type GlobalOptions, loadRepoConfig, repoSearchStart } from '../context.ts';
import { CliError, EXIT_CODE_DOCS } from '../errors.ts';
import { type CliIo, printJson } from '../io.ts';

interface CommandInfo {
  command: string;
  aliases: string[];
  description: string;
  arguments: { name: string; required: boolean; variadic: boolean; description: string; default?: unknown }[];
  options: {
    flags: string;
    name: string;
    description: string;
    takes_value: boolean;
    required: boolean;
    default?: unknown;
    choices?: readonly string[];
  }[];
}

function optionInfo(option: Option): CommandInfo['options'][number] {
  const info: CommandInfo['options'][number] = {
    flags: option.flags,
    name: option.attributeName(),
    description: option.description,
    takes_value: option.required || option.optional,
    required: option.mandatory,
  };
  if (option.defaultValue !== undefined) info.default = option.defaultValue;
  if (option.argChoices) info.choices = option.argChoices;
  return info;
}

/** Walks the real command tree, so the description can never drift from what the CLI accepts. */
export function walkCommands(cmd: Command, prefix: string[] = []): CommandInfo[] {
  const path = [...prefix, cmd.name()];
  const own: CommandInfo = {
    command: path.join(' '),
    aliases: cmd.aliases(),
    description: cmd.description(),
    arguments: cmd.registeredArguments.map((arg) => {
      const info: CommandInfo['arguments'][number] = {
        name: arg.name(),
        required: arg.required,
        variadic: arg.variadic,
        description: arg.description,
      };
      if (arg.defaultValue !== undefined) info.default = arg.defaultValue;
      return info;
    }),
    options: cmd.options.map(optionInfo),
  };
  return [own, ...cmd.commands.flatMap((sub) => walkCommands(sub, path))];
}

/** Every configured agent with its backend, command, PATH status, config layers and capabilities. */
function agentsInfo(loaded: LoadedConfig | null, env: NodeJS.ProcessEnv) {
  if (!loaded) return {};
  return Object.fromEntries(reportAgents(loaded, env).map(({ id, ...agent }) => [id, agent]));
}

export async function describeCommand(
  io: CliIo,
  global: GlobalOptions,
  program: Command,
  opts: { json?: boolean },
): Promise<void> {
  const found = findRepoRoot(repoSearchStart(io, global));
  // A broken config must not hide the description: report the error and describe the rest.
  let loaded: LoadedConfig | null = null;
  let configError: string | null = null;
  if (found?.initialized) {
    try {
      loaded = await loadRepoConfig(io, found.root);
    } catch (err) {
      if (!(err instanceof CliError)) throw err;
      configError = err.message;
    }
  }
  const paths = found ? repoPaths(found.root) : null;
  const rel = (abs: string) => (paths ? abs.slice(paths.root.length + 1) : abs);
  const description = {
    schema_version: '1',
    car_version: CAR_VERSION,
    node_version: process.version,
    repo_root: found?.root ?? null,
    initialized: found?.initialized ?? false,
    layout: {
      state_dir: STATE_DIR,
      tickets_dir: `${STATE_DIR}/tickets`,
      contextspace_docs: CONTEXTSPACE_DOCS.map((d) => `${STATE_DIR}/contextspace/${d.file}`),
      config_files: CONFIG_PRECEDENCE.filter((layer) => layer.endsWith('.yml')),
      run_store: paths ? rel(paths.dbFile) : `${STATE_DIR}/car.db`,
      lock_file: paths ? rel(paths.lockFile) : `${STATE_DIR}/flow.lock`,
      runs_dir: `${STATE_DIR}/runs/<run_id>`,
      dispatch_file: `${STATE_DIR}/runs/<run_id>/DISPATCH.md`,
      reply_file: `${STATE_DIR}/runs/<run_id>/USER_REPLY.md`,
    },
    tickets: {
      filename_pattern: TICKET_FILENAME_PATTERN,
      order:
        'ascending ticket number from the file name; the first ticket that is ready (not done, every ticket its depends_on names done) runs next',
      completion: 'frontmatter `done: true` (a YAML boolean) is the only completion signal',
      required_fields: ['agent', 'done'],
      ticket_id:
        'optional in the file: when absent it is derived from the path (tkt_auto_<sha256 prefix>), as CAR does',
      frontmatter_schema: ticketFrontmatterJsonSchema(),
    },
    pull_requests: {
      what: "car pr open pushes the checked-out branch to github.remote and opens (or updates) its pull request on GitHub; the body lists every ticket closed on the branch with its verify evidence (commands, exit codes, durations, output sha256, commit, tamper findings); with --ticket, pr_url is written into that ticket's frontmatter",
      open_pr_tickets:
        'a run that reaches a ticket with ticket_kind: open_pr opens the PR itself when a GitHub token is set (github.token_env), writes pr_url and done: true, commits and pushes that edit; it pauses pr_failed when it cannot; without a token an agent works the ticket',
      follow:
        'car pr watch (polling with ETags, rate limits waited out) or POST /api/scm/github/webhook (X-Hub-Signature-256 under github.webhook_secret_env, a delivery id taken once): a failed check run sends the ticket back (github.on_check_failure: reopen | follow_up) and a review asking for changes too, with <CAR_PR_FEEDBACK> in its next prompt; merged and closed are recorded; github.auto_merge merges once every check and the evidence pass',
      token: 'read from the env var github.token_env names (default GITHUB_TOKEN), never written anywhere',
      api: 'github.api_url (GitHub Enterprise: https://<host>/api/v3)',
      status: 'car pr status; PR news is a pull_request event on the latest run (chat tells of it)',
      events: ['pull_request'],
    },
    hub_queue: {
      what: "hub.queue.kind: postgres spreads a hub's runs over machines: car hub run enqueues one job per runnable repo (open tickets, a git remote origin) in PostgreSQL through pg-boss, at most one queued or running job per repo, and follows the jobs to their end; car worker --hub-queue on any machine takes one repo job at a time, and up to --ticket-jobs (default 1) ticket jobs beside it",
      config:
        'hub.queue: {kind: sqlite (default) | postgres, url_env: CAR_PG_URL, lease_seconds: 30, heartbeat_seconds: 5}',
      setup:
        "car hub queue init [--grant-role <role>...] (as the database's owner): pg-boss's schema, the queue, car's mirror tables (car_hub.runs, car_hub.events), and each worker role's grants (rows only)",
      worker:
        'clones or fetches the repo into --checkouts/<repo>, checks out car/hub/<repo> at its remote tip (else the base branch), runs the flow with the ordinary engine, pushes car/hub/<repo> (never forced) after every ticket done before the next turn starts, heartbeats every heartbeat_seconds, completes the job with the run outcome',
      lease:
        "a job's lease is pg-boss's expiry, extended to lease_seconds from now by every heartbeat; a worker that stops heartbeating (kill -9, machine gone) loses the job within lease_seconds + 1 s and another worker takes it over, resuming from what was pushed; a heartbeat, push or completion that finds the job gone stops the old worker without pushing",
      results: `pushed as branch car/hub/<repo id> of the repo's remote`,
      lanes:
        "a repo with ticket_flow.lanes > 1: its job makes the worker holding it the repo's coordinator: it queues one ticket job per ready ticket (not done, every depends_on done at the tip of car/hub/<repo>; at most lanes open at once; queue car-hub-ticket, one open job per repo and ticket, queued only by the coordinator job's lease holder) carrying repo id, remote URL, ticket path and id, ticket branch, base commit and the merge feedback; any worker works a ticket job on branch car/hub-tickets/<repo>/<coordinator job id prefix>/<ticket name> (the pushed branch when it exists, else the base commit) as a lane works its ticket, pushing it after every turn, heartbeating, and completes it with the run's outcome; the coordinator merges done tickets' branches through the merge queue (the verify gate re-run on the merged tree), pushes car/hub/<repo> (fast-forward only) and then deletes the merged tickets' branches on the remote, and sends a ticket that conflicts or fails the re-verify back as a new ticket job whose prompt carries why; it completes when every ticket is done and merged, and a coordinator taken over resumes from the remote's branches and the ticket jobs' rows; a ticket an earlier hub run left unmerged on a branch (paused for a person, failed, stopped) goes on from that branch",
      events: ['ticket_job_queued', 'ticket_job_waiting'],
      secrets:
        "the database URL only in the env var url_env (or car worker --url-env) names, removed from the worker's environment before agents start; job payloads hold repo id, remote URL, branches and the lease figures; a repo whose remote URL carries a password or token is not queued",
      status:
        "car hub status [--json], GET /api/hub/repos (the hub page's Queue card) and the hub chat's /repos list each repo's latest job with the worker, host, takeovers and mirrored run state, followed by the latest job of each ticket it queued (a repo with lanes): which machine works which ticket",
    },
    lanes: {
      what: 'ticket_flow.lanes (or car run|flow start --lanes N) > 1: up to N ready tickets are worked at once by one worker, each by a lane run (its own run id, events and run folder) in a git worktree of its own',
      worktrees: `${LANES_DIR}/lane-<n> (when a lane's ticket is queued for merging, its worktree goes on to the next lane; a ticket sent back gets one again)`,
      branches: `${LANE_BRANCH_PREFIX}<run id prefix>/<ticket file name>`,
      merge_queue:
        "lanes whose tickets are done (verified, committed) are merged onto the integration branch's tip in one pass (ticket_flow.merge_mode: merge | rebase), the verify gate runs once on the merged tree (with no verify command to run, on the merged commit itself, without a checkout), then the branch moves once by compare-and-swap (git's fast-forward where it is checked out, which refuses rather than overwrite the person's own changes); a pass of several lanes that fails is split and they are merged one by one",
      integration_branch: 'ticket_flow.integration_branch, or the branch checked out when the run starts',
      sent_back:
        "a conflict or a failing check on the merged tree: car merges the tip into the lane's branch (a conflict left for the agent), sets done: false, and the next prompt's <CAR_MERGE_FAILED> says why",
      tickets_read_from:
        'the integration tip: a ticket counts as done once its work is merged; uncommitted tickets pause the run (tickets_uncommitted)',
      status:
        'car flow status shows lanes.open (each lane: ticket, phase, run_id, status, reason) and lanes.merged',
      replies:
        'car flow reply reaches the one lane that asks; with several, --run <lane run id>; pause, stop and resume of a lane run steer the run that drives the lanes',
      budgets:
        "ticket_flow.max_total_turns and max_tokens_per_run count every lane's turns and tokens together (lanes that pass the check at the same moment may each take their turn); max_tokens_per_ticket stays per ticket; resuming grants the run's budget again",
      events: [
        'lanes_started',
        'lane_started',
        'lane_ended',
        'merge_started',
        'merge_conflict',
        'merge_verify_failed',
        'merge_blocked',
        'lane_merged',
        'lane_recovered',
        'lane_worktree_removed',
      ],
    },
    templates: templatesDescription(found?.initialized ? found.root : null, io.env),
    approvals: {
      what: "supervised sessions: the agent's approval requests (codex command and file-change approvals, ACP session/request_permission) go to a person; the turn waits (not counted as a stall)",
      when: "a ticket's `approval_policy: ask`, else its agent's `agents.<id>.approval_policy: ask`, else `ticket_flow.approval_mode: ask` (yolo, the default, never asks)",
      answer: [
        'car flow approvals',
        'car flow approve <id> [--session]',
        'car flow deny <id>',
        'the web inbox',
        'chat buttons',
      ],
      timeout: 'approvals.timeout_seconds (600); then approvals.on_timeout (decline) is the answer',
      events: ['approval_requested', 'approval_answered', 'approval_expired'],
      worker_died:
        'an approval whose worker died is expired (never answered), and the next run interrupts its turn',
    },
    config_precedence: CONFIG_PRECEDENCE,
    config_error: configError,
    env_knobs: [...ENV_KNOBS].sort(),
    agents: agentsInfo(loaded, io.env),
    /** What car can do with each backend (docs/AGENTS.md has the same table). */
    agent_backends: BACKEND_CAPABILITIES,
    commands: walkCommands(program),
    // CAR's command names: each runs the car command named, with CAR's flags mapped as listed; the ones
    // car has no counterpart for (`runs: null`) exit 2 with `not_supported`, what to use instead
    car_aliases: CAR_ALIASES.map((a) =>
      'runs' in a
        ? {
            car: `car ${a.car}`,
            runs: `car ${a.runs}`,
            flags: a.flags ?? {},
            on_by_default: a.on ?? [],
            adds: a.add ?? [],
            defaults: a.defaults ?? {},
          }
        : { car: `car ${a.car}`, runs: null, not_supported: a.none },
    ),
    exit_codes: EXIT_CODE_DOCS,
  };
  if (opts.json) {
    printJson(io, description);
    return;
  }
  io.stdout(`car_version=${CAR_VERSION}\n`);
  io.stdout(`repo=${description.repo_root ?? '(none)'} initialized=${description.initialized}\n`);
  io.stdout(`agents: ${Object.keys(description.agents).join(', ') || '(not initialized)'}\n`);
  io.stdout(`config: ${CONFIG_PRECEDENCE.join(' < ')}\n`);
  io.stdout(`commands:\n`);
  for (const c of description.commands.slice(1)) io.stdout(`  ${c.command.padEnd(24)} ${c.description}\n`);
  io.stdout(`CAR's commands:\n`);
  for (const a of description.car_aliases)
    io.stdout(`  ${a.car.slice(4).padEnd(24)} ${a.runs ? `runs ${a.runs}` : 'not supported (exit 2)'}\n`);
  io.stdout(`(car describe --json has every flag, the ticket schema, CAR's flags and exit codes)\n`);
}
