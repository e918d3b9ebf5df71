import * as z from 'zod';

// Every object is loose: CAR config files carry many sections (voice, pma, github, ...) and keys car
// does not implement yet, and they must load. The keys car does use are validated strictly, with
// messages phrased to follow the key path ("ticket_flow.max_total_turns must be ...").

const mapping = <T extends z.core.$ZodLooseShape>(shape: T) =>
  z.looseObject(shape, { error: 'must be a mapping' });

const bool = () => z.boolean({ error: 'must be boolean (true or false)' });
const str = () => z.string({ error: 'must be a string' });
const positiveInt = (error = 'must be a positive integer') => z.int({ error }).min(1, { error });
const nonNegativeInt = (error = 'must be a non-negative integer') => z.int({ error }).min(0, { error });
const positiveNumber = (error = 'must be a positive number') =>
  z.number({ error }).refine((n) => n > 0, { error });
/** Chat/user/guild ids: strings, or integers small enough to be exact (Discord snowflakes must be quoted). */
const idList = () =>
  z
    .array(
      z.union([
        z.string().regex(/^-?\d+$/, { error: 'must be a numeric id' }),
        z
          .int({ error: 'must be an id (an integer, or a quoted string)' })
          .refine((n) => Number.isSafeInteger(n), { error: 'is too large to be exact; quote it' }),
      ]),
      { error: 'must be a list of ids' },
    )
    .transform((ids) => ids.map(String))
    .default([]);
const envName = () => z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/, { error: 'must be an env var name' });
/** Run events that can become chat notices. */
export const NOTICE_EVENTS = [
  'paused',
  'failed',
  'completed',
  'stopped',
  'dispatch',
  'recovered',
  'waiting',
  'pull_request',
  'approval',
] as const;
/**
 * CAR's names in `notifications.events`: its webhook notifier's events (core/notifications.py), which
 * CAR's ticket flow no longer sends, and `all`. A CAR config must load: `all` means every notice, the
 * others are ignored (ignored.ts says so), and a list of only those keeps car's default notices.
 */
export const CAR_NOTIFICATION_EVENTS = [
  'run_finished',
  'run_error',
  'tui_idle',
  'tui_session_finished',
] as const;
type NoticeEvent = (typeof NOTICE_EVENTS)[number];
const isNotice = (e: string): e is NoticeEvent => (NOTICE_EVENTS as readonly string[]).includes(e);
const noticeEvents = () =>
  z
    .array(
      z.enum([...NOTICE_EVENTS, ...CAR_NOTIFICATION_EVENTS, 'all'], {
        error: `must be one of: ${NOTICE_EVENTS.join(', ')} (or CAR's ${CAR_NOTIFICATION_EVENTS.join(', ')}, all)`,
      }),
      { error: 'must be a list' },
    )
    .transform((events): NoticeEvent[] => {
      if (events.includes('all')) return [...NOTICE_EVENTS];
      const ours = events.filter(isNotice);
      return ours.length === 0 && events.length > 0 ? [...NOTICE_EVENTS] : ours;
    })
    .default([...NOTICE_EVENTS]);
const stringList = () => z.array(str(), { error: 'must be a list of strings' });
const argv = () =>
  z
    .array(z.string({ error: 'must be a string' }).min(1, { error: 'must not be empty' }), {
      error: 'must be a list of strings (argv), e.g. [codex, app-server]',
    })
    .min(1, { error: 'must not be empty' });

export const AGENT_ID_PATTERN = /^[a-z0-9][a-z0-9._-]*$/;
const agentId = z.string({ error: 'must be an agent id (a string)' }).regex(AGENT_ID_PATTERN, {
  error:
    'is not a valid agent id (lowercase letters, digits, ".", "_", "-"; starting with a letter or digit)',
});

export const AGENT_BACKENDS = ['codex', 'acp', 'command', 'opencode', 'demo'] as const;

const agentFields = {
  backend: z.enum(AGENT_BACKENDS, { error: `must be one of: ${AGENT_BACKENDS.join(', ')}` }).optional(),
  binary: str().min(1, { error: 'must not be empty' }).optional(),
  command: argv().optional(),
  args: stringList().optional(),
  env: z
    .record(z.string(), z.string({ error: 'must be a string (quote numbers and booleans)' }), {
      error: 'must be a mapping of NAME: value',
    })
    .optional(),
  model: str().nullable().optional(),
  reasoning: str().nullable().optional(),
};

/** car's key: `ask` routes the agent's approval requests to a person; `yolo`/`review` follow approval_mode's meaning. */
export const APPROVAL_POLICIES = ['ask', 'yolo', 'review'] as const;
const approvalPolicy = () =>
  z.enum(APPROVAL_POLICIES, { error: `must be one of: ${APPROVAL_POLICIES.join(', ')}` });

const agentSchema = mapping({
  ...agentFields,
  /** Overrides `ticket_flow.approval_mode` for this agent's tickets (a ticket's `approval_policy:` wins). */
  approval_policy: approvalPolicy().optional(),
  /** Another agent that takes over a ticket while this one's plan is used up (instead of waiting). */
  quota_fallback: str().min(1, { error: 'must be an agent id' }).optional(),
  default_profile: str().nullable().optional(),
  profiles: z.record(z.string(), mapping(agentFields), { error: 'must be a mapping' }).optional(),
});

const DEFAULT_AGENTS: Record<string, z.input<typeof agentSchema>> = {
  codex: { backend: 'codex', binary: 'codex' },
  opencode: { backend: 'acp', binary: 'opencode', command: ['opencode', 'acp'] },
  hermes: { backend: 'acp', binary: 'hermes' },
  omp: { backend: 'acp', binary: 'omp' },
  // car's bundled deterministic agent: no binary, no network.
  demo: { backend: 'demo' },
};

const APPROVAL_MODES = ['yolo', 'review', 'safe', 'ask'] as const;

const ticketFlow = mapping({
  /**
   * car's key (CAR has none): the agent new tickets get (`car ticket new`, the web board's form); null:
   * codex. `car init` sets it to the first agent it finds on PATH. Read it with `defaultAgentId`.
   */
  default_agent: agentId.nullable().default(null),
  /** null: the engine's built-in budget (50). */
  max_total_turns: positiveInt('must be a positive integer or null').nullable().default(null),
  // `safe` is CAR's alias of `review`; normalized here so the engine only ever sees yolo|review|ask.
  // `ask` (car's): every approval goes to a person (web inbox, chat, `car flow approve|deny`).
  approval_mode: z
    .enum(APPROVAL_MODES, {
      error: 'must be one of: yolo, review (safe is an alias of review), ask',
    })
    .overwrite((mode) => (mode === 'safe' ? 'review' : mode))
    .default('yolo'),
  default_approval_decision: str().default('accept'),
  include_previous_ticket_context: bool().default(false),
  auto_resume: bool().default(false),
  max_wallclock_seconds: positiveNumber('must be a positive number or null').nullable().default(null),
  loop_guard_turns: positiveInt().default(2),
  max_lint_retries: nonNegativeInt().default(3),
  max_commit_retries: nonNegativeInt().default(2),
  require_commit: bool().default(true),
  previous_output_max_chars: nonNegativeInt().default(4000),
  max_network_retries: nonNegativeInt().default(5),
  /** A turn the watchdog ended as stalled is retried this often in a new session on the same thread. */
  max_stall_retries: nonNegativeInt().default(2),
  /**
   * An agent whose plan is used up (with a known reset time) is waited for up to this long, then the run
   * goes on by itself; 0 (or an unknown or later reset) pauses with `quota_exhausted` instead.
   */
  max_quota_wait_seconds: nonNegativeInt().default(6 * 3600),
  /**
   * Token budgets (input + output tokens as the agent reports them; null: none). A turn that crosses one
   * is interrupted where the agent streams its usage (codex), else the next turn does not start; the run
   * pauses with `token_budget`, and resuming grants the same budget again.
   */
  max_tokens_per_ticket: positiveInt('must be a positive integer or null').nullable().default(null),
  max_tokens_per_run: positiveInt('must be a positive integer or null').nullable().default(null),
  /**
   * car's keys (CAR has none): tickets worked at once, each in a git worktree of its own
   * (`.codex-autorunner/lanes/`), merged one at a time into the integration branch (null: the branch
   * checked out when the run starts) by a merge commit or a rebase, re-verified on the merged tree.
   */
  lanes: positiveInt().max(32, { error: 'must be at most 32' }).default(1),
  integration_branch: str().min(1, { error: 'must not be empty' }).nullable().default(null),
  merge_mode: z.enum(['merge', 'rebase'], { error: 'must be one of: merge, rebase' }).default('merge'),
  /** Shell commands run in each worktree lanes make before it is used (CAR_REPO_ROOT names the repo). */
  lane_setup: z.array(str(), { error: 'must be a list of commands' }).default([]),
}).prefault({});

const timeout = () => positiveNumber('must be a positive number of seconds or null').nullable();

/** Tamper-finding kinds the verify gate knows; each has a policy (block | notify | ignore). */
export const TAMPER_KINDS = [
  'verify_edit',
  'other_ticket_edit',
  'test_deleted',
  'test_skipped',
  'assertion_weakened',
  'ci_edit',
  'verify_script_edit',
] as const;
export type TamperKind = (typeof TAMPER_KINDS)[number];
export const TAMPER_ACTIONS = ['block', 'notify', 'ignore'] as const;
export type TamperAction = (typeof TAMPER_ACTIONS)[number];

const tamperAction = (fallback: TamperAction) =>
  z.enum(TAMPER_ACTIONS, { error: 'must be one of: block, notify, ignore' }).default(fallback);

// car closes a ticket only after these pass (the agent's `done: true` is a claim, not the decision).
const verify = mapping({
  /** Shell commands (sh -c, repo root) run for every ticket, before the ticket's own `verify:`. */
  commands: z
    .array(str().min(1, { error: 'must not be empty' }), { error: 'must be a list of strings' })
    .default([]),
  timeout_seconds: positiveNumber('must be a positive number of seconds').default(600),
  /** Failed verifications (commands or blocking findings) on one ticket before the run pauses. */
  max_failures: positiveInt().default(3),
  /** Output kept per command (the tail); the full output's sha256 goes into the evidence. */
  max_output_bytes: positiveInt().default(8000),
  /** Check the agent's diff for tampering (deleted or skipped tests, edited verify commands, ...). */
  tamper_checks: bool().default(true),
  policy: mapping({
    verify_edit: tamperAction('block'),
    other_ticket_edit: tamperAction('block'),
    test_deleted: tamperAction('block'),
    test_skipped: tamperAction('block'),
    assertion_weakened: tamperAction('notify'),
    ci_edit: tamperAction('notify'),
    verify_script_edit: tamperAction('notify'),
  }).prefault({}),
}).prefault({});

export const CarConfigSchema = mapping({
  version: z.literal(2, { error: 'must be 2' }).default(2),
  mode: z.enum(['repo', 'hub'], { error: 'must be "repo" or "hub"' }).default('repo'),
  agents: z
    .record(agentId, agentSchema, { error: 'must be a mapping of agent id to settings' })
    .default(DEFAULT_AGENTS),
  ticket_flow: ticketFlow,
  verify,
  /**
   * CAR's legacy loop section. car acts on `stop_after_runs` only (the other keys are in ignored.ts).
   * CAR accepted any integer and checked it after each agent turn, so 0 or less still let one turn
   * run; car does the same rather than refuse a file CAR loads.
   */
  runner: mapping({
    stop_after_runs: z.int({ error: 'must be an integer or null' }).nullable().default(null),
  }).prefault({}),
  git: mapping({
    auto_commit: bool().default(false),
    // CAR's default; placeholders are {run_id}, {turn}, {ticket}.
    commit_message_template: str().default('[codex] run #{run_id}'),
  }).prefault({}),
  app_server: mapping({
    command: argv().default(['codex', 'app-server']),
    // null: no limit.
    turn_timeout_seconds: timeout().default(7200),
    // A codex turn with no progress for this long is ended as stalled (and retried). codex app-server
    // sends nothing while the model thinks (seen with 0.169), and codex itself ends a provider stream
    // that is silent for its stream_idle_timeout_ms (300 s) and retries: 600 s lets a long silent think
    // finish and lets codex's own retry work first (CAR starts stall recovery at 60 s, marks a run stale at 1800 s).
    turn_stall_timeout_seconds: timeout().default(600),
    startup_timeout_seconds: timeout().default(30),
  }).prefault({}),
  server: mapping({
    host: str().min(1, { error: 'must not be empty' }).default('127.0.0.1'),
    port: z
      .int({ error: 'must be an integer port (1-65535)' })
      .min(1, { error: 'must be an integer port (1-65535)' })
      .max(65535, { error: 'must be an integer port (1-65535)' })
      .default(4173),
    base_path: str().default(''),
    auth_token_env: str().default(''),
    /** The env var holding a read-only API token (GET and streams only), for dashboards and phones. */
    viewer_token_env: envName().default('CAR_WEB_VIEWER_TOKEN'),
    allowed_hosts: stringList().default([]),
    allowed_origins: stringList().default([]),
  }).prefault({}),
  notifications: mapping({
    enabled: z
      .union([z.boolean(), z.literal('auto')], { error: 'must be true, false or "auto"' })
      .default('auto'),
    /** Which run events become chat notices. */
    events: noticeEvents(),
    /** Seconds between looks at the run store for new events. */
    poll_seconds: positiveNumber().default(2),
    /** Least time between two messages to the same chat (platform flood limits). */
    min_interval_ms: nonNegativeInt().default(1000),
    /** Delivery attempts before a message is given up (failed). */
    max_attempts: positiveInt().default(8),
  }).prefault({}),
  telegram_bot: mapping({
    enabled: bool().default(false),
    /** The env var holding the bot token; the token itself never goes into config, logs or the store. */
    bot_token_env: envName().default('CAR_TELEGRAM_BOT_TOKEN'),
    /** The env var holding a chat id that gets notices without /bind (optional). */
    chat_id_env: envName().default('CAR_TELEGRAM_CHAT_ID'),
    /** Bot API root (tests point it at a local fake). */
    api_root: str().min(1, { error: 'must not be empty' }).default('https://api.telegram.org'),
    /** Both must match (CAR's rule): a private chat's id is the user's id. Empty: nobody is obeyed. */
    allowed_chat_ids: idList(),
    allowed_user_ids: idList(),
    /** getUpdates long-poll timeout. */
    poll_timeout_seconds: nonNegativeInt().default(30),
    /** `car chat run` fails (naming api_root) when getMe has no answer within this. */
    startup_timeout_seconds: positiveNumber().default(30),
  }).prefault({}),
  discord_bot: mapping({
    enabled: bool().default(false),
    bot_token_env: envName().default('CAR_DISCORD_BOT_TOKEN'),
    /** REST root (the gateway URL is discovered through it, GET /gateway/bot). */
    api_root: str().min(1, { error: 'must not be empty' }).default('https://discord.com/api'),
    /** `car chat run` fails (naming api_root) when the gateway is not ready within this. */
    startup_timeout_seconds: positiveNumber().default(30),
    /**
     * Register car's slash commands at start-up: in each of allowed_guild_ids (at once), else globally
     * (Discord may take up to an hour to show them). Needs the bot's applications.commands scope.
     */
    register_commands: bool().default(true),
    /** The user must be listed; non-empty guild/channel lists restrict further. Quote snowflakes. */
    allowed_user_ids: idList(),
    allowed_guild_ids: idList(),
    allowed_channel_ids: idList(),
    /** Gateway intents: GUILDS | GUILD_MESSAGES | MESSAGE_CONTENT (CAR's 33281) plus DIRECT_MESSAGES. */
    intents: nonNegativeInt().default(37377),
    max_message_length: z.int().min(100).max(2000).default(2000),
  }).prefault({}),
  /**
   * Pull requests on GitHub (`car pr open|watch`). CAR's keys: `enabled`, `pr_draft_default`; the rest are
   * car's. The token is read from the env var `token_env` names and is never written anywhere.
   */
  github: mapping({
    enabled: bool().default(true),
    pr_draft_default: bool().default(false),
    token_env: envName().default('GITHUB_TOKEN'),
    /** REST API root: GitHub Enterprise's `https://<host>/api/v3`, or a test's fake. */
    api_url: str().min(1, { error: 'must not be empty' }).default('https://api.github.com'),
    /** The git remote branches are pushed to. */
    remote: str().min(1, { error: 'must not be empty' }).default('origin'),
    /** `owner/name`; null: read from the remote's URL. */
    repo: str()
      .regex(/^[A-Za-z0-9_.-]+\/[A-Za-z0-9_.-]+$/, { error: 'must be owner/name' })
      .nullable()
      .default(null),
    /** The branch pull requests go into; null: the GitHub repo's default branch. */
    base_branch: str().min(1, { error: 'must not be empty' }).nullable().default(null),
    labels: stringList().default([]),
    /** A failed check run sends its ticket back (`reopen`) or adds a ticket to fix it (`follow_up`). */
    on_check_failure: z
      .enum(['reopen', 'follow_up'], { error: 'must be one of: reopen, follow_up' })
      .default('reopen'),
    /** Merge a pull request once every check passed, no review asks for changes and its evidence holds. */
    auto_merge: bool().default(false),
    merge_method: z
      .enum(['merge', 'squash', 'rebase'], { error: 'must be one of: merge, squash, rebase' })
      .default('merge'),
    /** `car hub run` and `car serve` follow open pull requests too (`car pr watch` always does). */
    watch: bool().default(false),
    poll_interval_seconds: positiveNumber().default(90),
    /** The env var holding the webhook secret `POST /api/scm/github/webhook` checks signatures with. */
    webhook_secret_env: envName().default('CAR_GITHUB_WEBHOOK_SECRET'),
  }).prefault({}),
  store: mapping({
    max_event_bytes: positiveInt().default(16384),
    max_events_per_type: positiveInt().default(10000),
  }).prefault({}),
  /**
   * CAR's key. Off: SQLite `synchronous=NORMAL` and run records (turn summaries, evidence) written
   * atomically without fsync: a killed or crashed car loses nothing, power loss may lose the last
   * moments. On: SQLite FULL and every record fsynced. Tickets car edits are always fsynced.
   */
  storage: mapping({ durable_writes: bool().default(false) }).prefault({}),
  /** The project manager agent (`car pma`, the web Chat page, chat bots): an agent given car's MCP server. */
  pma: mapping({
    /** The agent it runs: a configured codex or ACP agent (null: CAR's `default_agent`, else codex). */
    agent: str().min(1, { error: 'must be an agent id' }).nullable().default(null),
    /** CAR's key for the same. */
    default_agent: str().min(1, { error: 'must be an agent id' }).nullable().default(null),
    /** Transcript messages kept per conversation; older ones are dropped. */
    transcript_messages: positiveInt().default(200),
  }).prefault({}),
  /** car's section: approvals routed to a person (`approval_policy: ask`). CAR kept chat approvals 600 s. */
  approvals: mapping({
    /** How long a question waits for an answer (at most 7 days). */
    timeout_seconds: positiveInt().max(604_800, { error: 'must be at most 604800 (7 days)' }).default(600),
    /** What an approval nobody answered in time becomes. */
    on_timeout: z.enum(['decline', 'accept'], { error: 'must be decline or accept' }).default('decline'),
  }).prefault({}),
  security: mapping({
    /**
     * car's own secrets (chat bot tokens, API tokens: see `carSecretEnvNames`) are removed from the
     * environment of every agent and verify command; the names listed here are passed through.
     */
    pass_secret_env: z.array(envName(), { error: 'must be a list of env var names' }).default([]),
  }).prefault({}),
}).superRefine((config, ctx) => {
  const id = config.ticket_flow.default_agent;
  if (id !== null && id !== 'user' && !Object.hasOwn(config.agents, id)) {
    ctx.addIssue({
      code: 'custom',
      path: ['ticket_flow', 'default_agent'],
      message: `must be a configured agent (configured: ${Object.keys(config.agents).sort().join(', ')})`,
    });
  }
});

/** The effective, validated configuration. */
export type CarConfig = z.output<typeof CarConfigSchema>;
export type AgentConfig = CarConfig['agents'][string];

function deepFreeze<T>(value: T): T {
  if (typeof value === 'object' && value !== null) {
    for (const child of Object.values(value)) deepFreeze(child);
    Object.freeze(value);
  }
  return value;
}

/** Built-in defaults: the lowest layer, and what a repo with no config files gets. */
export const DEFAULT_CONFIG: CarConfig = deepFreeze(CarConfigSchema.parse({}, { jitless: true }));

/** JSON Schema of the config files (input side: every key optional, defaults shown). */
export function configJsonSchema(): Record<string, unknown> {
  return z.toJSONSchema(CarConfigSchema, { io: 'input' }) as Record<string, unknown>;
}
