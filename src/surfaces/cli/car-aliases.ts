// CAR's command names and flags (CAR 2.2.3; car-spec.md Appendix A), so a CAR user's scripts, cron jobs
// and agents' habits run unchanged. One table maps each CAR command to the car command that does the
// same, and `carArgv` rewrites the arguments through it before commander parses them: an alias runs
// exactly the car command (its code, validation, help, output and exit codes), and nothing is copied.
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

export interface CarAlias {
  /** CAR's command path. */
  car: string;
  /** The car command path it runs. */
  runs: string;
  flags?: Readonly<Record<string, FlagRule>>;
  /** CAR's `--x/--no-x` flags that are on by default: `--x` is passed unless `--no-x` is given. */
  on?: readonly string[];
  /** Flags always passed to the car command (`telegram start` is `chat run --telegram`). */
  add?: readonly string[];
}

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

/** Every CAR command car has an equivalent for. Longer paths are matched first. */
export const CAR_ALIASES: readonly CarAlias[] = [
  { car: 'ticket-flow start', runs: 'flow start', flags: { ...REPO_HUB, '--force-new': { to: '--new' } } },
  { car: 'ticket-flow status', runs: 'flow status', flags: RUN_ID },
  { car: 'ticket-flow stop', runs: 'flow stop', flags: RUN_ID },
  // CAR has no CLI resume (it resumes from the web, chat or hub dispatch reply); car's is the natural name
  { car: 'ticket-flow resume', runs: 'flow resume', flags: RUN_ID },
  { car: 'ticket-flow preflight', runs: 'doctor', flags: REPO_HUB, on: ['--json'] },
  { car: 'ticket-flow', runs: 'flow' },
  { car: 'tickets lint', runs: 'ticket lint' },
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
];

const BY_LENGTH = [...CAR_ALIASES].sort((a, b) => b.car.split(' ').length - a.car.split(' ').length);

/** The `car --help` lines naming CAR's commands, grouped by their first words. */
export function carAliasHelp(): string {
  const groups = new Map<string, string[]>();
  for (const { car } of CAR_ALIASES) {
    if (CAR_ALIASES.some((a) => a.car.startsWith(`${car} `))) continue; // a group: its commands are listed
    const words = car.split(' ');
    const head = words.slice(0, -1).join(' ');
    groups.set(head, [...(groups.get(head) ?? []), words.at(-1)!]);
  }
  const names = [...groups].map(([head, last]) => (head ? `${head} ${last.join('|')}` : last.join(', ')));
  return `\nCAR's commands work too, with CAR's flags: ${names.join('; ')}.\n(car describe --json says what each runs: car_aliases)`;
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
  out.push(...(alias.add ?? []));
  if (repoId !== undefined) out.unshift('--repo', await hubRepoDir(repoId, hub));
  if (text.length > 0) out.push('--', ...text);
  return [...argv.slice(0, start), ...alias.runs.split(' '), ...out];
}
