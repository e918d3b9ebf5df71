// CAR's command names and flags (CAR 2.2.3; car-spec.md Appendix A), so a CAR user's scripts, cron jobs
// and agents' habits run unchanged. One table maps each CAR command to the car command that does the
// same, and `carArgv` rewrites the arguments through it before commander parses them: an alias runs
// exactly the car command (its code, validation, help, output and exit codes), and nothing is copied.
// A CAR command car has no counterpart for is in the table too, with what to use instead: it exits 2
// with that one line rather than "unknown command".
import type { Command, Option } from 'commander';
import { CliError, EXIT } from './errors.ts';

/** What becomes of one of CAR's flags. */
export type FlagRule =
  /** car's flag under another name; its value, if any, is kept. */
  | { to: string }
  /** Accepted and ignored, for the reason given (with its value, when it takes one). */
  | { ignore: string; value?: true }
  /** Refused (exit 2) for the reason given: ignoring it would do something else than CAR did. */
  | { refuse: string }
  /** Its value becomes the command's text argument (`hub dispatch reply --message`). */
  | { text: true }
  /** A hub repo id, run as `--repo <its folder>` (`hub dispatch reply --repo-id`). */
  | { hubRepo: true }
  /** The hub root the `hubRepo` flag is looked up in (default: the hub around the working directory). */
  | { hub: true };

/** A CAR command car runs as one of its own. */
export interface CarMapping {
  /** CAR's command path. */
  car: string;
  /** The car command path it runs. */
  runs: string;
  flags?: Readonly<Record<string, FlagRule>>;
  /** CAR's `--x/--no-x` flags that are on by default: `--x` is passed unless `--no-x` is given. */
  on?: readonly string[];
  /** Flags always passed to the car command (`telegram start` is `chat run --telegram`). */
  add?: readonly string[];
  /** CAR's defaults car's command lacks: the flag and value passed unless the CAR command gives the flag. */
  defaults?: Readonly<Record<string, string>>;
}

/** A CAR command (or a whole group) car has no counterpart for: exit 2 saying what to use instead. */
export interface CarRefusal {
  car: string;
  none: string;
}

export type CarAlias = CarMapping | CarRefusal;

const HUB_ROOT: Readonly<Record<string, FlagRule>> = { '--path': { to: '--hub' } };
const REPO_HUB: Readonly<Record<string, FlagRule>> = {
  '--path': { ignore: 'the hub root: car finds the hub of the repo itself', value: true },
};
const RUN_ID: Readonly<Record<string, FlagRule>> = { ...REPO_HUB, '--run-id': { to: '--run' } };
const ATTESTATION: FlagRule = { ignore: 'car asks for no attestation text', value: true };
const DELETE_REMOTE: FlagRule = { refuse: 'car deletes local branches only (--delete-branch)' };
const SERVE: Readonly<Record<string, FlagRule>> = {
  '--path': { to: '--repo' },
  '--base-path': { refuse: 'car serves the web UI and API at the root path only' },
};

const NO_SESSIONS = 'car keeps no terminal sessions';
const BOTS =
  "car doctor checks each enabled bot (token set, api_root reachable, token accepted); car chat status lists bound chats and the notices' delivery";
const WORKERS =
  "car flow status shows the run's worker (alive/stale/none); car doctor finds agents a gone worker left running and car flow stop stops them";
const CHAT_STATE = 'car chat status lists bound chats and the outbox of notices';

/**
 * Every CAR command: the ones car has an equivalent for, then the ones it has none for. Longer paths are
 * matched first, so a group's refusal leaves its mapped commands alone.
 */
export const CAR_ALIASES: readonly CarAlias[] = [
  {
    car: 'ticket-flow bootstrap',
    runs: 'flow start',
    flags: { ...REPO_HUB, '--force-new': { to: '--new' } },
    add: ['--bootstrap'],
  },
  { car: 'ticket-flow start', runs: 'flow start', flags: { ...REPO_HUB, '--force-new': { to: '--new' } } },
  { car: 'ticket-flow status', runs: 'flow status', flags: RUN_ID },
  { car: 'ticket-flow stop', runs: 'flow stop', flags: RUN_ID },
  // CAR has no CLI resume (it resumes from the web, chat or hub dispatch reply); car's is the natural name
  { car: 'ticket-flow resume', runs: 'flow resume', flags: RUN_ID },
  { car: 'ticket-flow preflight', runs: 'doctor', flags: REPO_HUB, on: ['--json'] },
  { car: 'ticket-flow', runs: 'flow' },
  { car: 'tickets lint', runs: 'ticket lint' },
  // CAR's runner commands: car's one runner is the ticket flow
  { car: 'status', runs: 'flow status', flags: REPO_HUB },
  {
    car: 'log',
    runs: 'flow events',
    flags: {
      ...REPO_HUB,
      '--run': {
        ignore:
          "CAR's numbered runner runs are not car runs: car shows the latest run's (car flow events <run>)",
        value: true,
      },
    },
    // CAR prints the last 200 lines unless --tail says otherwise
    defaults: { '--tail': '200' },
  },
  { car: 'kill', runs: 'flow stop', flags: REPO_HUB },
  {
    car: 'hub tickets doctor',
    runs: 'ticket lint',
    flags: {
      '--repo': { hubRepo: true },
      '--path': { hub: true },
      '--fix': {
        refuse:
          'car does not rewrite ticket frontmatter wholesale; car ticket lint --fix-ticket-ids adds missing ticket ids and car ticket edit-field sets one field',
      },
      '--default-agent': { ignore: 'CAR fills it in with --fix only, which car refuses', value: true },
    },
  },
  { car: 'hub repos', runs: 'hub status', flags: HUB_ROOT },
  { car: 'hub serve', runs: 'serve', flags: SERVE },
  {
    car: 'hub create',
    runs: 'hub create',
    flags: { ...HUB_ROOT, '--git-init': { ignore: 'car runs git init unless --no-git-init' } },
  },
  { car: 'hub clone', runs: 'hub clone', flags: HUB_ROOT },
  { car: 'hub scan', runs: 'hub scan', flags: HUB_ROOT },
  {
    car: 'hub worktree create',
    runs: 'worktree new',
    flags: {
      ...HUB_ROOT,
      '--force': { ignore: 'an existing folder is refused either way; car says so and changes nothing' },
    },
  },
  { car: 'hub worktree list', runs: 'worktree list', flags: HUB_ROOT },
  { car: 'hub worktree scan', runs: 'hub scan', flags: HUB_ROOT },
  {
    car: 'hub worktree delete',
    runs: 'worktree remove',
    flags: {
      ...HUB_ROOT,
      // CAR's --force is the consent to delete without archiving; car always archives the state, and its
      // own --force (remove with uncommitted changes) is not what a CAR script asked for
      '--force': { ignore: "car keeps the worktree's car state in the hub's archive either way" },
      '--force-attestation': ATTESTATION,
      '--delete-remote': DELETE_REMOTE,
    },
  },
  {
    car: 'hub worktree retire',
    runs: 'worktree remove',
    flags: {
      ...HUB_ROOT,
      '--force': { ignore: 'car has no chat threads bound to worktrees' },
      '--force-retire': { ignore: "car removes nothing when it cannot archive the worktree's state" },
      '--force-attestation': ATTESTATION,
      '--retire-note': { ignore: 'car keeps no retire notes', value: true },
      '--retire-profile': { ignore: "car archives the worktree's car state folder", value: true },
      '--delete-remote': DELETE_REMOTE,
    },
  },
  { car: 'hub worktree', runs: 'worktree', flags: HUB_ROOT },
  {
    car: 'hub dispatch reply',
    runs: 'flow reply',
    flags: {
      '--repo-id': { hubRepo: true },
      '--path': { hub: true },
      '--run-id': { to: '--run' },
      '--message': { text: true },
      '--message-file': { to: '--file' },
      '--idempotency-key': { ignore: 'car writes the reply file; a repeat overwrites it', value: true },
      '--base-path': { ignore: 'car writes the reply itself, not through a hub server', value: true },
      '--pretty': { ignore: 'car prints indented JSON' },
    },
    on: ['--json', '--resume'],
  },
  { car: 'telegram start', runs: 'chat run', flags: HUB_ROOT, add: ['--telegram'] },
  { car: 'discord start', runs: 'chat run', flags: HUB_ROOT, add: ['--discord'] },
  { car: 'serve', runs: 'serve', flags: SERVE },
  { car: 'doctor', runs: 'doctor', flags: { '--dev': { ignore: 'car has no developer checks' } } },
  // only car itself starts one; CAR's flag name for the run it works
  { car: 'flow worker', runs: 'flow worker', flags: { ...REPO_HUB, '--run-id': { to: '--run' } } },
  {
    car: 'describe',
    runs: 'describe',
    flags: {
      ...REPO_HUB,
      '--schema': {
        refuse: 'car has no separate schema file; car describe --json has the whole description',
      },
    },
  },

  // CAR commands car has no counterpart for
  {
    car: 'ticket-flow retire',
    none: 'car keeps every run in its history and never moves tickets to an archive; to start afresh: car flow stop, then car flow start --new',
  },
  { car: 'ticket-flow repair-visibility', none: 'car has no web hub chat records to repair' },
  { car: 'sessions', none: `${NO_SESSIONS}; car flow status shows the run and its worker` },
  { car: 'stop-session', none: `${NO_SESSIONS}; car flow stop stops the run` },
  {
    car: 'usage',
    none: "car reads no Codex/OpenCode session logs; car flow status shows the run's tokens against its budgets",
  },
  {
    car: 'edit',
    none: 'car opens no editor: edit .codex-autorunner/contextspace/active_context.md, decisions.md or spec.md directly',
  },
  { car: 'hub endpoint', none: 'car records no running server; car serve prints its URL when it starts' },
  {
    car: 'hub cleanup',
    none: 'car has no threads or run artifacts to retire; car worktree remove removes a worktree',
  },
  {
    car: 'hub snapshot',
    none: "car hub status --json has every repo's latest run, its reason and worker",
  },
  {
    car: 'hub subscription',
    none: 'car has no managed threads to subscribe to; car chat run sends run notices',
  },
  { car: 'hub destination', none: 'car runs every repo on this machine (no docker destinations)' },
  {
    car: 'hub orchestration',
    none: "car keeps each repo's runs in its own .codex-autorunner/car.db; car hub status and car flow runs show them",
  },
  {
    car: 'hub inbox',
    none: 'car has no hub inbox: car hub status shows the repos whose run waits, car flow reply answers one',
  },
  { car: 'hub runs', none: "car keeps every run's record; car flow runs lists a repo's runs" },
  {
    car: 'hub worktree setup',
    none: "set the repo's worktree_setup_commands in the hub's .codex-autorunner/manifest.yml; car worktree new runs them",
  },
  {
    car: 'hub tickets import',
    none: 'car ticket import <pack.zip or folder> --repo <repo folder> appends the pack after the queue, renumbered, refused unless it lints',
  },
  {
    car: 'hub tickets setup-pack',
    none: 'car ticket import <pack.zip or folder> --repo <repo folder>, then car flow start',
  },
  {
    car: 'hub tickets bulk-set',
    none: 'car sets one ticket at a time: car ticket edit-field <ticket> agent <id> --repo <repo folder>',
  },
  {
    car: 'hub tickets bulk-clear-model',
    none: 'car clears one ticket at a time: car ticket edit-field <ticket> model null (and reasoning) --repo <repo folder>',
  },
  {
    car: 'hub tickets fmt',
    none: 'car does not reformat tickets (its edits keep every other byte); car ticket lint checks them',
  },
  { car: 'telegram', none: BOTS },
  { car: 'discord', none: BOTS },
  { car: 'chat resolve', none: CHAT_STATE },
  { car: 'chat channels', none: CHAT_STATE },
  { car: 'chat queue', none: CHAT_STATE },
  { car: 'chat index', none: CHAT_STATE },
  { car: 'chat capsules', none: CHAT_STATE },
  { car: 'doctor versions', none: "car --version prints car's version; car doctor checks node and git" },
  { car: 'doctor processes', none: WORKERS },
  { car: 'doctor flow-workers', none: WORKERS },
  {
    car: 'doctor execution-history',
    none: 'car keeps no execution history apart from its runs: car flow runs and car flow events show them',
  },
  {
    car: 'doctor runtime-chain',
    none: "car agents list shows each agent's backend, command and the config layer that set it",
  },
  {
    car: 'flow housekeep',
    none: "car prunes finished runs' stream events by itself when a run starts; car flow events shows a run's events",
  },
  {
    car: 'flow telemetry',
    none: "car records no wire telemetry; car flow events --json prints a run's events",
  },
  {
    car: 'templates apply',
    runs: 'templates apply',
    flags: {
      ...REPO_HUB,
      '--set-agent': { to: '--agent' },
      '--next': { ignore: 'car always writes the next free number(s)' },
      '--no-next': { refuse: 'car writes templates after the queue only' },
      '--at': { refuse: 'car writes templates after the queue only (car ticket new --at for one ticket)' },
      '--provenance': { ignore: "car always writes CAR's provenance keys" },
      '--no-provenance': { refuse: "car always writes CAR's provenance keys" },
    },
  },
  { car: 'apps', none: 'car has no app bundles: car ticket new adds a ticket' },
  {
    car: 'artifacts',
    none: "car delivers no artifacts to chat: a run's files are under .codex-autorunner/runs/<run_id>/",
  },
  { car: 'render', none: 'car renders no markdown exports or screenshots' },
  { car: 'services', none: 'car runs no preview services' },
  {
    car: 'automation',
    none: 'car has no scheduled automations: schedule car run (or car hub run) with cron',
  },
  {
    car: 'cleanup',
    none: "car cleans up after itself when a run starts (killed writers' temp files, old stream events); car worktree remove removes a worktree",
  },
  {
    car: 'docs',
    none: "car's docs are its README.md and docs/; car describe --json describes every command",
  },
  { car: 'protocol', none: 'car vendors no agent protocol schemas to refresh' },
];

const BY_LENGTH = [...CAR_ALIASES].sort((a, b) => b.car.split(' ').length - a.car.split(' ').length);

const MAPPINGS = CAR_ALIASES.filter((a): a is CarMapping => 'runs' in a);

/** The `car --help` lines naming CAR's commands, grouped by their first words. */
export function carAliasHelp(): string {
  const groups = new Map<string, string[]>();
  for (const { car } of MAPPINGS) {
    if (MAPPINGS.some((a) => a.car.startsWith(`${car} `))) continue; // a group: its commands are listed
    const words = car.split(' ');
    const head = words.slice(0, -1).join(' ');
    groups.set(head, [...(groups.get(head) ?? []), words.at(-1)!]);
  }
  const names = [...groups].map(([head, last]) => (head ? `${head} ${last.join('|')}` : last.join(', ')));
  return `\nCAR's commands work too, with CAR's flags: ${names.join('; ')}.\nCAR's others (pma, apps, ...) exit 2 saying what to use instead.\n(car describe --json says what each runs: car_aliases)`;
}

function takesValue(option: Option): boolean {
  return option.required || option.optional;
}

/** The option `flag` names on `cmd` or a command above it (program options apply everywhere). */
function optionFor(cmd: Command | null, flag: string): Option | undefined {
  for (let c = cmd; c; c = c.parent) {
    const found = c.options.find((o) => o.long === flag || o.short === flag);
    if (found) return found;
  }
  return undefined;
}

function commandAt(program: Command, path: string): Command {
  let cmd = program;
  for (const name of path.split(' ')) {
    const next = cmd.commands.find((c) => c.name() === name || c.aliases().includes(name));
    if (!next) throw new Error(`car-aliases: no car command ${path}`);
    cmd = next;
  }
  return cmd;
}

/**
 * `argv` with a CAR command and its flags rewritten to the car command they map to (see CAR_ALIASES);
 * anything else is returned as it is. `hubRepoDir` finds a hub repo's folder by id.
 */
export async function carArgv(
  program: Command,
  argv: readonly string[],
  hubRepoDir: (id: string, hub: string | undefined) => Promise<string>,
): Promise<string[]> {
  // program options may come first: `car --repo x ticket-flow status`
  let start = 0;
  while (start < argv.length && argv[start]!.startsWith('-')) {
    const option = optionFor(program, argv[start]!);
    start += option && takesValue(option) && !argv[start]!.includes('=') ? 2 : 1;
  }
  const words = argv.slice(start);
  const alias = BY_LENGTH.find((a) => {
    const path = a.car.split(' ');
    return path.every((name, i) => words[i] === name);
  });
  if (!alias) return [...argv];
  if (!('runs' in alias)) throw new CliError(`car ${alias.car}: not supported: ${alias.none}`, EXIT.usage);
  const target = commandAt(program, alias.runs);
  const rest = words.slice(alias.car.split(' ').length);

  const out: string[] = [];
  /** Text arguments, passed after `--` so that none is read as a flag. */
  const text: string[] = [];
  const off = new Set<string>();
  let repoId: string | undefined;
  let hub: string | undefined;
  for (let i = 0; i < rest.length; i++) {
    const token = rest[i]!;
    if (token === '--') {
      text.push(...rest.slice(i + 1));
      break;
    }
    const eq = token.startsWith('--') ? token.indexOf('=') : -1;
    const flag = eq === -1 ? token : token.slice(0, eq);
    const inline = eq === -1 ? undefined : token.slice(eq + 1);
    const value = (): string => {
      if (inline !== undefined) return inline;
      const next = rest[i + 1];
      if (next === undefined) throw new CliError(`${flag} needs a value`, EXIT.usage);
      i += 1;
      return next;
    };
    const rule = alias.flags?.[flag];
    if (rule) {
      if ('to' in rule) {
        const option = optionFor(target, rule.to);
        if (option && takesValue(option)) out.push(rule.to, value());
        else out.push(rule.to);
      } else if ('ignore' in rule) {
        if (rule.value) value();
      } else if ('refuse' in rule) {
        throw new CliError(`car ${alias.car} ${flag}: not supported: ${rule.refuse}`, EXIT.usage);
      } else if ('text' in rule) text.push(value());
      else if ('hubRepo' in rule) repoId = value();
      else hub = value();
      continue;
    }
    const negated = alias.on?.find((f) => flag === `--no-${f.slice(2)}`);
    if (negated) {
      off.add(negated);
      continue;
    }
    out.push(token);
    const option = optionFor(target, flag);
    if (option && takesValue(option) && inline === undefined && i + 1 < rest.length) out.push(rest[++i]!);
  }
  for (const flag of alias.on ?? []) if (!off.has(flag) && !out.includes(flag)) out.push(flag);
  for (const [flag, value] of Object.entries(alias.defaults ?? {}))
    if (!out.some((t) => t === flag || t.startsWith(`${flag}=`))) out.push(flag, value);
  out.push(...(alias.add ?? []));
  if (repoId !== undefined) out.unshift('--repo', await hubRepoDir(repoId, hub));
  if (text.length > 0) out.push('--', ...text);
  return [...argv.slice(0, start), ...alias.runs.split(' '), ...out];
}
