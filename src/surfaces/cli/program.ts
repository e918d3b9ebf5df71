import { Command, InvalidArgumentError, Option } from 'commander';
import { CAR_VERSION } from '../version.ts';
import { carAliasHelp } from './car-aliases.ts';
import { addAgentsCommand } from './commands/agents.ts';
import { addTemplatesCommand } from './commands/templates-command.ts';
import type { GlobalOptions } from './context.ts';
import type { CliIo } from './io.ts';

function positiveInt(value: string): number {
  if (!/^\d+$/.test(value) || Number(value) < 1)
    throw new InvalidArgumentError('expected a positive integer');
  return Number(value);
}

/** A repeatable option's values, in order. */
function collect(value: string, previous: string[]): string[] {
  return [...previous, value];
}

function port(value: string): number {
  if (!/^\d+$/.test(value) || Number(value) > 65535)
    throw new InvalidArgumentError('expected a port (0-65535)');
  return Number(value);
}

/**
 * The whole command tree. Definitions are eager (so `car describe` can walk them); each action imports
 * its module lazily so a command only pays for what it uses at start-up.
 */
export function buildProgram(io: CliIo): Command {
  const program = new Command('car')
    .description('car: works a queue of markdown tickets with coding agents, unattended')
    .version(CAR_VERSION, '-V, --version')
    .option('--repo <path>', 'repo or worktree to act on (default: the repo around the working directory)')
    .showSuggestionAfterError()
    .exitOverride()
    .configureOutput({ writeOut: io.stdout, writeErr: io.stderr });
  // subcommands inherit exitOverride/configureOutput via copyInheritedSettings in commander
  const global = (cmd: Command): GlobalOptions => cmd.optsWithGlobals() as GlobalOptions;
  // car's own commands, parsed afresh for each MCP tool call and the PMA's briefing: one implementation
  const runCommandLine = (argv: string[], subIo: CliIo) =>
    buildProgram(subIo)
      .parseAsync(argv, { from: 'user' })
      .then(() => undefined);

  program
    .command('init')
    .description('create .codex-autorunner/ (config, tickets/, contextspace/) in a git repo')
    .argument('[path]', 'repo folder', '.')
    .option('--force', "regenerate car's generated briefings (never touches your tickets or docs)")
    .option('--git-init', 'run `git init` first when the folder is not a git repo')
    .addOption(
      new Option('--mode <mode>', 'what to create (hub: a hub of many repos)')
        .choices(['auto', 'repo', 'hub'])
        .default('auto'),
    )
    .option(
      '--agent <id>',
      'default agent for new tickets (default: the first of codex, claude, opencode, gemini on PATH)',
    )
    .option('--json', 'machine-readable output')
    .action(async (path: string, opts, cmd: Command) =>
      (await import('./commands/init.ts')).initCommand(io, global(cmd), path, opts),
    );

  const ticket = program
    .command('ticket')
    .alias('tickets')
    .description('create, list, show, lint and edit tickets');
  ticket
    .command('new')
    .description('create the next ticket (number = highest + 1)')
    .argument('[title...]', 'ticket title')
    .option(
      '--agent <id>',
      'agent that works it (default: ticket_flow.default_agent; "user" for a human step)',
    )
    .option('--goal <text>', 'one-sentence intent')
    .option('--slug <slug>', 'filename suffix (default: from the title)')
    .option('--at <number>', 'use this ticket number instead of the next one', positiveInt)
    .option(
      '--depends-on <tickets>',
      'comma-separated tickets it waits for (numbers, file names or ticket_ids), written as depends_on',
    )
    .option('--body <markdown>', 'ticket body (default: a Tasks/Acceptance/Tests skeleton)')
    .option('--body-file <path>', 'read the ticket body from a file')
    .option('--json', 'machine-readable output')
    .action(async (title: string[], opts, cmd: Command) =>
      (await import('./commands/ticket.ts')).ticketNew(io, global(cmd), title.join(' '), opts),
    );
  ticket
    .command('list')
    .description('list tickets by number (blocked: waits for a depends_on ticket; * = runs next)')
    .option('--open', 'only tickets that are not done')
    .option('--done', 'only tickets that are done')
    .option('--json', 'machine-readable output')
    .action(async (opts, cmd: Command) =>
      (await import('./commands/ticket.ts')).ticketList(io, global(cmd), opts),
    );
  ticket
    .command('show')
    .description('print one ticket (by number, file name or ticket_id)')
    .argument('<ticket>', 'number (7), file name (TICKET-007.md) or ticket_id')
    .option('--json', 'machine-readable output')
    .action(async (ref: string, opts, cmd: Command) =>
      (await import('./commands/ticket.ts')).ticketShow(io, global(cmd), ref, opts),
    );
  ticket
    .command('lint')
    .description('check every ticket file name and frontmatter (exit 1 on errors)')
    .option('--fix-ticket-ids', 'write a generated ticket_id into tickets that lack one')
    .option('--json', 'machine-readable output')
    .action(async (opts, cmd: Command) =>
      (await import('./commands/ticket.ts')).ticketLint(io, global(cmd), opts),
    );
  ticket
    .command('done')
    .description('mark a ticket done (done: true)')
    .argument('<ticket>', 'number, file name or ticket_id')
    .option('--json', 'machine-readable output')
    .action(async (ref: string, opts, cmd: Command) =>
      (await import('./commands/ticket.ts')).ticketSetDone(io, global(cmd), ref, true, opts),
    );
  ticket
    .command('reopen')
    .description('mark a ticket not done (done: false)')
    .argument('<ticket>', 'number, file name or ticket_id')
    .option('--json', 'machine-readable output')
    .action(async (ref: string, opts, cmd: Command) =>
      (await import('./commands/ticket.ts')).ticketSetDone(io, global(cmd), ref, false, opts),
    );
  ticket
    .command('edit-field')
    .description('set one frontmatter field, keeping every other byte of the file')
    .argument('<ticket>', 'number, file name or ticket_id')
    .argument('<key>', 'frontmatter key, e.g. agent, title, done')
    .argument('<value>', 'new value, read as YAML (true, 42, null, text); use --string to keep it text')
    .option('--string', 'store the value as a string even if it looks like a bool or number')
    .option('--json', 'machine-readable output')
    .action(async (ref: string, key: string, value: string, opts, cmd: Command) =>
      (await import('./commands/ticket.ts')).ticketEditField(io, global(cmd), ref, key, value, opts),
    );

  ticket
    .command('import')
    .description(
      'append a pack of tickets (a folder or .zip of TICKET-<n>*.md) after the queue, renumbered with their depends_on; nothing written unless it lints',
    )
    .argument(
      '<pack>',
      'folder or .zip holding the TICKET-<number>*.md files (in a zip: at its top or in one folder)',
    )
    .option('--json', 'machine-readable output')
    .action(async (folder: string, opts, cmd: Command) =>
      (await import('./commands/ticket.ts')).ticketImport(io, global(cmd), folder, opts),
    );

  ticket
    .command('evidence')
    .description('why car closed a ticket: its verify commands, exit codes, output digests, commit, findings')
    .argument('<ticket>', 'number, file name or ticket_id')
    .option('--json', 'machine-readable output (every record, newest first)')
    .action(async (ref: string, opts, cmd: Command) =>
      (await import('./commands/evidence.ts')).ticketEvidence(io, global(cmd), ref, opts),
    );

  const pr = program
    .command('pr')
    .description(
      'pull requests on GitHub: open one with the evidence of its tickets, follow its checks and reviews',
    );
  pr.command('open')
    .description(
      'push the checked-out branch and open (or update) its pull request; the body lists the tickets closed on it with their verify evidence',
    )
    .option('--ticket <ticket>', 'the ticket the PR is for (an open_pr ticket): pr_url is written into it')
    .option('--draft', 'open it as a draft (default: github.pr_draft_default)')
    .option(
      '--branch <name>',
      "push this branch (a lane's car/lane/... branch, say) instead of the checked-out one",
    )
    .option('--json', 'machine-readable output')
    .action(async (opts, cmd: Command) => (await import('./commands/pr.ts')).prOpen(io, global(cmd), opts));
  pr.command('watch')
    .description(
      'follow the open pull requests car opened: a failed check or a review asking for changes sends the ticket back; merged or closed is recorded',
    )
    .option('--once', 'look once and exit (exit 1 when a PR could not be read)')
    .option(
      '--interval <seconds>',
      'seconds between looks (default: github.poll_interval_seconds)',
      positiveInt,
    )
    .option('--json', 'machine-readable output')
    .action(async (opts, cmd: Command) => (await import('./commands/pr.ts')).prWatch(io, global(cmd), opts));
  pr.command('status')
    .description('the pull requests car opened and their state as last seen')
    .option('--json', 'machine-readable output')
    .action(async (opts, cmd: Command) => (await import('./commands/pr.ts')).prStatus(io, global(cmd), opts));

  const startFlags = (cmd: Command) =>
    cmd
      .option('--new', 'start a new run even if one is paused (the paused run is superseded)')
      .option(
        '--max-total-turns <n>',
        'turn budget for this run (default: ticket_flow.max_total_turns or 50)',
        positiveInt,
      )
      .option('--force', 'resume a run paused on a blocking condition without a reply or repo change')
      .option(
        '--lanes <n>',
        'tickets worked at once, each in its own git worktree, merged one at a time (default: ticket_flow.lanes or 1; a new run only)',
        positiveInt,
      )
      .option(
        '--bootstrap',
        "when there is no ticket yet, first write CAR's bootstrap ticket (TICKET-001: plan the request into tickets)",
      );
  startFlags(
    program
      .command('run')
      .description(
        'work the ticket queue in the foreground until it pauses or finishes (exit 5 when paused)',
      ),
  )
    .option(
      '--stop-after-runs <n>',
      "pause after n agent turns of this invocation (default: runner.stop_after_runs, CAR's key)",
      positiveInt,
    )
    .action(async (opts, cmd: Command) => {
      // the agent's process boots while the rest of car loads (agent-prestart.ts)
      const early = await (await import('./agent-prestart.ts')).prestartAgent(io, global(cmd));
      return (await import('./commands/flow.ts')).runCommand(io, global(cmd), opts, early);
    });

  const flow = program.command('flow').description('start, watch and steer ticket-flow runs');
  startFlags(flow.command('start').description('start (or continue) a run in a background worker'))
    .option('--foreground', 'run here instead of in a background worker (same as car run)')
    .option('--json', 'machine-readable output')
    .action(async (opts, cmd: Command) =>
      (await import('./commands/flow.ts')).flowStart(io, global(cmd), opts),
    );
  flow
    .command('bootstrap')
    .description(
      'start from a spec: write it to contextspace/spec.md, add a planning ticket (split the work into tickets that lint) and run it',
    )
    .option('--new', 'start a new run even if one is paused (the paused run is superseded)')
    .option('--max-total-turns <n>', 'turn budget for this run', positiveInt)
    .requiredOption('--from <file>', 'the spec or issue text: a markdown file, or - for stdin')
    .option('--agent <id>', "the planning ticket's agent (default: ticket_flow.default_agent)")
    .option('--replace-spec', 'replace a contextspace spec.md that says something else')
    .option('--no-start', 'write the spec and the planning ticket only')
    .option('--foreground', 'run here instead of in a background worker (same as car run)')
    .option('--json', 'machine-readable output')
    .action(async (opts, cmd: Command) =>
      (await import('./commands/flow.ts')).flowBootstrap(io, global(cmd), opts),
    );
  flow
    .command('resume')
    .description('resume a paused run')
    .option('--run <id>', 'run id (default: the latest run)')
    .option('--force', 'resume a blocking pause without a reply or repo change')
    .option('--max-total-turns <n>', 'extra turn budget when resuming after max_turns', positiveInt)
    .option('--foreground', 'run here instead of in a background worker')
    .option('--json', 'machine-readable output')
    .action(async (opts, cmd: Command) =>
      (await import('./commands/flow.ts')).flowResume(io, global(cmd), opts),
    );
  flow
    .command('status')
    .description('the latest run (or --run): state, reason, worker, tickets and what to do next')
    .option('--run <id>', 'run id')
    .option('--json', 'machine-readable output')
    .action(async (opts, cmd: Command) =>
      (await import('./commands/flow.ts')).flowStatus(io, global(cmd), opts),
    );
  for (const what of ['pause', 'stop'] as const) {
    flow
      .command(what)
      .description(
        what === 'pause'
          ? 'pause the run after the turn in flight'
          : 'stop the run now (the turn in flight is cancelled)',
      )
      .option('--run <id>', 'run id (default: the latest run)')
      .option('--json', 'machine-readable output')
      .action(async (opts, cmd: Command) =>
        (await import('./commands/flow.ts')).flowRequest(io, global(cmd), what, opts),
      );
  }
  flow
    .command('reply')
    .description("answer the run's dispatch; the next turn gets the reply")
    .argument('[text...]', 'reply text')
    .option('--file <path>', 'read the reply from a file (- for stdin)')
    .option('--title <title>', 'reply title')
    .option('--run <id>', 'run id (default: the latest run)')
    .option('--resume', 'resume the run if it is paused')
    .option('--json', 'machine-readable output')
    .action(async (text: string[], opts, cmd: Command) =>
      (await import('./commands/flow.ts')).flowReply(io, global(cmd), text, opts),
    );
  flow
    .command('approvals')
    .description('approvals agents wait for (supervised runs: approval_policy: ask), newest first')
    .option('--all', 'also the answered, expired and cancelled ones')
    .option('--run <id>', 'only this run')
    .option('--json', 'machine-readable output')
    .action(async (opts, cmd: Command) =>
      (await import('./commands/flow.ts')).flowApprovals(io, global(cmd), opts),
    );
  for (const what of ['approve', 'deny'] as const) {
    const command = flow
      .command(what)
      .description(
        what === 'approve'
          ? 'allow what the agent asked (the waiting turn goes on)'
          : 'refuse what the agent asked (the agent goes on without it)',
      )
      .argument('<id>', 'approval id (car flow approvals)');
    if (what === 'approve') command.option('--session', 'allow it for the rest of the agent session too');
    command
      .option('--json', 'machine-readable output')
      .action(async (id: string, opts, cmd: Command) =>
        (await import('./commands/flow.ts')).flowAnswerApproval(io, global(cmd), id, what, opts),
      );
  }
  flow
    .command('runs')
    .description('list runs, newest first')
    .option('--limit <n>', 'how many', positiveInt, 20)
    .option('--json', 'machine-readable output')
    .action(async (opts, cmd: Command) =>
      (await import('./commands/flow.ts')).flowRuns(io, global(cmd), opts),
    );
  flow
    .command('show')
    .description('one run with its turns')
    .argument('<run>', 'run id')
    .option('--json', 'machine-readable output')
    .action(async (run: string, opts, cmd: Command) =>
      (await import('./commands/flow.ts')).flowShow(io, global(cmd), run, opts),
    );
  flow
    .command('events')
    .description("a run's events (default: the latest run), optionally following new ones")
    .argument('[run]', 'run id')
    .option('--after <seq>', 'only events after this sequence number', (v) => Number.parseInt(v, 10))
    .option('--type <type...>', 'only these event types')
    .option('--limit <n>', 'how many to print before following', positiveInt, 1000)
    .option('--tail <n>', 'print the last n instead (before following)', positiveInt)
    .option('--follow', 'keep printing new events until the run stops being active')
    .option('--json', 'one JSON object per line')
    .action(async (run: string | undefined, opts, cmd: Command) =>
      (await import('./commands/flow.ts')).flowEvents(io, global(cmd), run, opts),
    );
  flow
    .command('worker', { hidden: true })
    .description('internal: the background worker car flow start spawns')
    .requiredOption('--run <id>', 'run id')
    .action(async (opts, cmd: Command) => {
      const early = await (await import('./agent-prestart.ts')).prestartAgent(io, global(cmd));
      return (await import('./commands/flow.ts')).flowWorker(io, global(cmd), opts, early);
    });

  const hubCmd = program
    .command('hub')
    .description('many repos and worktrees: register, scan, status, and run their flows in parallel')
    .option('--hub <path>', 'hub root (default: the hub around the working directory, or $CAR_HUB_ROOT)');
  const hubOpts = (cmd: Command) => ({ ...cmd.optsWithGlobals(), ...cmd.opts() });
  hubCmd
    .command('add')
    .description('register a repo (or a worktree) in the hub manifest')
    .argument('<path>', 'repo folder, anywhere')
    .option('--id <id>', 'repo id (default: from the folder name)')
    .option('--json', 'machine-readable output')
    .action(async (path: string, _opts, cmd: Command) =>
      (await import('./commands/hub.ts')).hubAdd(io, path, hubOpts(cmd)),
    );
  hubCmd
    .command('create')
    .description('a new repo in the hub: folder, git init, car files, registered')
    .argument('<id>', 'repo id (letters, digits, . _ -)')
    .option('--repo-path <path>', 'folder relative to hub.repos_root (default: the id)')
    .option('--no-git-init', 'do not run git init (the folder must already be a git repo)')
    .option('--force', 'use an existing non-empty folder')
    .option('--json', 'machine-readable output')
    .action(async (id: string, _opts, cmd: Command) =>
      (await import('./commands/hub.ts')).hubCreate(io, id, hubOpts(cmd)),
    );
  hubCmd
    .command('clone')
    .description('clone a git repo into the hub and register it')
    .requiredOption('--git-url <url>', 'git URL or local path')
    .option('--id <id>', 'repo id (default: from the URL)')
    .option('--repo-path <path>', 'folder relative to hub.repos_root (default: the id)')
    .option('--force', 'clone into an existing folder (git still refuses a non-empty one)')
    .option('--json', 'machine-readable output')
    .action(async (_opts, cmd: Command) =>
      (await import('./commands/hub.ts')).hubClone(io, {
        ...hubOpts(cmd),
        gitUrl: String(cmd.opts().gitUrl),
      }),
    );
  hubCmd
    .command('remove')
    .description('drop a repo from the hub manifest (files untouched)')
    .argument('<id>', 'repo id')
    .option('--json', 'machine-readable output')
    .action(async (id: string, _opts, cmd: Command) =>
      (await import('./commands/hub.ts')).hubRemove(io, id, hubOpts(cmd)),
    );
  hubCmd
    .command('list')
    .description('registered repos and worktrees')
    .option('--json', 'machine-readable output')
    .action(async (_opts, cmd: Command) => (await import('./commands/hub.ts')).hubList(io, hubOpts(cmd)));
  hubCmd
    .command('scan')
    .description(
      'register repos under hub.repos_root/worktrees_root and every git worktree of a registered repo',
    )
    .option('--json', 'machine-readable output')
    .action(async (_opts, cmd: Command) => (await import('./commands/hub.ts')).hubScan(io, hubOpts(cmd)));
  hubCmd
    .command('status')
    .description("every repo's latest run, worker (alive/stale/none) and ticket progress")
    .option('--json', 'machine-readable output')
    .action(async (_opts, cmd: Command) => (await import('./commands/hub.ts')).hubStatus(io, hubOpts(cmd)));
  hubCmd
    .command('run')
    .description(
      'run the flows of every repo with open tickets, in parallel within caps, until none is runnable',
    )
    .option(
      '--max-parallel <n>',
      'flows at once across the hub (default: hub.max_parallel or 4)',
      positiveInt,
    )
    .option(
      '--per-repo <n>',
      'flows at once per base repo and its worktrees (default: hub.per_repo or 1)',
      positiveInt,
    )
    .option('--poll-seconds <s>', 'seconds between checks (default: hub.poll_seconds or 3)', Number)
    .option('--watch', 'keep supervising when nothing is runnable (new tickets start new runs)')
    .option('--recover', 'restart runs whose worker died (default: report them and leave them)')
    .option('--json', 'machine-readable output')
    .action(async (_opts, cmd: Command) => (await import('./commands/hub.ts')).hubRun(io, hubOpts(cmd)));
  hubCmd
    .command('queue')
    .description('the hub queue on PostgreSQL (hub.queue.kind: postgres)')
    .command('init')
    .description("create the queue's tables and grant worker roles what a worker needs (run as the owner)")
    .option('--grant-role <role>', 'a database role workers log in as (repeatable)', collect, [])
    .option('--json', 'machine-readable output')
    .action(async (_opts, cmd: Command) =>
      (await import('./commands/hub.ts')).hubQueueInitCommand(io, hubOpts(cmd)),
    );
  program
    .command('worker')
    .description(
      "work repo jobs from the hub's PostgreSQL queue on this machine (clone, run, push car/hub/<repo>); with lanes, the repo's ticket jobs too",
    )
    .option('--hub-queue', 'take jobs from the hub queue (the database URL from $CAR_PG_URL or --url-env)')
    .option('--checkouts <dir>', 'where checkouts live (default: ~/.codex-autorunner/worker-checkouts)')
    .option('--name <id>', 'this worker in the hub status (default: <host>-<pid>)')
    .option('--url-env <name>', 'the env var holding the database URL (default: CAR_PG_URL)')
    .option('--poll-seconds <s>', 'seconds between looks at an empty queue (default 0.5)', Number)
    .option('--once', 'leave after one job, or at once when none is waiting')
    .option(
      '--ticket-jobs <n>',
      'ticket jobs (repos with lanes) worked at once beside a repo job (default 1)',
      positiveInt,
    )
    .action(async (opts) => (await import('./commands/hub-queue.ts')).workerCommand(io, opts));

  const worktree = program
    .command('worktree')
    .description("git worktrees of a hub repo, registered in the hub (sharing the base's object store)")
    .option('--hub <path>', 'hub root (default: the hub around the working directory, or $CAR_HUB_ROOT)');
  worktree
    .command('new')
    .description('create a worktree under hub.worktrees_root on a new or existing branch')
    .argument('<repo-id>', 'base repo id')
    .argument('<branch>', 'branch to check out (created when missing)')
    .option('--start-point <ref>', "where a new branch starts (default: the base repo's HEAD)")
    .option('--json', 'machine-readable output')
    .action(async (repoId: string, branch: string, _opts, cmd: Command) =>
      (await import('./commands/hub.ts')).worktreeNew(io, repoId, branch, hubOpts(cmd)),
    );
  worktree
    .command('list')
    .description('registered worktrees')
    .option('--json', 'machine-readable output')
    .action(async (_opts, cmd: Command) =>
      (await import('./commands/hub.ts')).worktreeList(io, hubOpts(cmd)),
    );
  worktree
    .command('remove')
    .description('remove a worktree (its car state is archived in the hub) and drop it from the manifest')
    .argument('<id>', 'worktree id')
    .option('--delete-branch', 'also delete its branch (git branch -d; -D with --force)')
    .option('--force', 'remove even with uncommitted changes or a live worker')
    .option('--json', 'machine-readable output')
    .action(async (id: string, _opts, cmd: Command) =>
      (await import('./commands/hub.ts')).worktreeRemove(io, id, hubOpts(cmd)),
    );

  const chat = program
    .command('chat')
    .description('Telegram/Discord: run notices, replies and flow commands from chat');
  chat
    .command('run')
    .description('serve the chat bots in the foreground: notices, replies, /status /resume /stop ...')
    .option('--telegram', 'serve Telegram (default: telegram_bot.enabled)')
    .option('--discord', 'serve Discord (default: discord_bot.enabled)')
    .option('--hub <path>', "serve every repo of this hub with one bot (default in a hub's root)")
    .addOption(
      new Option('--poll-ms <ms>', 'run store poll interval in ms (tests)').argParser(positiveInt).hideHelp(),
    )
    .action(async (opts, cmd: Command) =>
      (await import('./commands/chat.ts')).chatRun(io, global(cmd), opts, runCommandLine),
    );
  chat
    .command('status')
    .description('bound chats, outbox delivery counts, waiting and failed messages')
    .option('--hub <path>', "the hub-wide chat service's state (default in a hub's root)")
    .option('--json', 'machine-readable output')
    .action(async (opts, cmd: Command) =>
      (await import('./commands/chat.ts')).chatStatus(io, global(cmd), opts),
    );

  program
    .command('serve')
    .alias('web')
    .description('serve the HTTP API for this repo (default 127.0.0.1:4173; other hosts need a token)')
    .option('--host <host>', 'address to bind (default: server.host or 127.0.0.1)')
    .option('--port <port>', 'port to listen on, 0 for any free one (default: server.port or 4173)', port)
    .option('--quiet', 'no access log lines')
    .action(async (opts, cmd: Command) =>
      (await import('./commands/serve.ts')).serveCommand(io, global(cmd), opts, runCommandLine),
    );

  program
    .command('mcp')
    .description(
      "serve car's tickets, runs, hub status and contextspace to an agent as MCP tools and resources (stdio)",
    )
    .option('--hub <path>', 'serve a hub: every repo, each tool naming its repo (default in a hub root)')
    .action(async (opts, cmd: Command) =>
      (await import('./commands/mcp.ts')).mcpCommand(io, global(cmd), opts, runCommandLine),
    );

  program
    .command('pma')
    .description(
      "talk to the project manager agent (pma.agent, given car's MCP server): plan tickets, start and steer runs",
    )
    .option('-m, --message <text>', 'send one message, print the answer and exit')
    .option('--reset', 'start a new conversation (forget the thread and transcript)')
    .option('--hub <path>', "the hub's PMA, which sees every repo (default in a hub root)")
    .option('--json', 'with -m: machine-readable output')
    .action(async (opts, cmd: Command) =>
      (await import('./commands/pma.ts')).pmaCommand(io, global(cmd), opts, runCommandLine),
    );

  program
    .command('demo')
    .description('make a throw-away repo with 3 tickets and run them with the offline demo agent')
    .option('--keep', 'keep the demo repo and print its path')
    .option('--fast', 'no pauses between demo agent steps')
    .action(async (opts) => (await import('./commands/demo.ts')).demoCommand(io, opts));

  program
    .command('describe')
    .description('describe car, this repo and every command (for agents: --json)')
    .option('--json', 'machine-readable output')
    .action(async (opts, cmd: Command) =>
      (await import('./commands/describe.ts')).describeCommand(io, global(cmd), program, opts),
    );

  addAgentsCommand(program, io);
  addTemplatesCommand(program, io);

  program
    .command('doctor')
    .description('check git, config, tickets, agents and enabled chat bots (exit 1 on errors)')
    .option('--json', 'machine-readable output')
    .action(async (opts, cmd: Command) =>
      (await import('./commands/doctor.ts')).doctorCommand(io, global(cmd), opts),
    );

  // CAR's command names: run-cli.ts rewrites them to these commands before parsing (car-aliases.ts)
  program.addHelpText('after', carAliasHelp());

  return program;
}
