// Keys car accepts so that CAR's config files load, but does not act on, each with the reason. `car
// doctor` names every one a config layer sets (to something that would matter to CAR), so nobody relies
// on a CAR feature car does not have without knowing it. CAR's keys and defaults: car-spec.md 5.2-5.3.
import { isDeepStrictEqual } from 'node:util';
import { isMapping, type Mapping, type Provenance, valueAt } from './merge.ts';
import { CAR_NOTIFICATION_EVENTS, DEFAULT_CONFIG } from './schema.ts';

interface IgnoredKey {
  /** Dotted key path; `*` stands for every key at that level (agent ids). */
  key: string;
  /** Why car does not act on it: what car does instead. */
  why: string;
  /**
   * True for a value that asks for nothing car leaves undone (a feature switched off, CAR's own
   * default): no warning. Without it: the value is car's own default (for keys car's schema has).
   */
  quiet?: (value: unknown) => boolean;
}

const off = (value: unknown) => isMapping(value) && value.enabled === false;
const is = (carDefault: unknown) => (value: unknown) => isDeepStrictEqual(value, carDefault);

const CAR_DOCS: Mapping = {
  active_context: '.codex-autorunner/contextspace/active_context.md',
  decisions: '.codex-autorunner/contextspace/decisions.md',
  spec: '.codex-autorunner/contextspace/spec.md',
};
const LEGACY_LOOP = "CAR's legacy autorunner loop (CAR's ticket flow ignores it too)";
const RESTART =
  'car restarts no dead worker by itself: the next car run, car flow start or car hub run --recover continues the run';
const APP_SERVER = 'car starts one codex app-server per run, in the repo, and stops it with the run';
const NOTIFIER =
  "CAR's webhook notifier: car sends notices through its chat bots (telegram_bot, discord_bot)";

const IGNORED_KEYS: readonly IgnoredKey[] = [
  {
    key: 'ticket_flow.auto_resume',
    why: "car's chat bots resume a run whenever a reply answers its dispatch",
  },
  { key: 'server.base_path', why: 'car serves the web UI and API at the root path only' },
  { key: 'agents.*.default_profile', why: "a ticket's profile: goes to the agent as it is" },
  { key: 'agents.*.profiles', why: "a ticket's profile: goes to the agent as it is" },
  {
    key: 'agents.*.serve_command',
    why: 'car starts agents itself and talks to them over stdio (app-server, ACP)',
  },
  {
    key: 'agents.*.base_url',
    why: 'car starts agents itself and talks to them over stdio (app-server, ACP)',
  },
  { key: 'agents.*.subagent_models', why: 'car gives an agent no subagent models' },
  {
    key: 'docs',
    why: 'car reads the contextspace docs from .codex-autorunner/contextspace/ only',
    quiet: (value) => isMapping(value) && Object.entries(value).every(([k, v]) => CAR_DOCS[k] === v),
  },
  {
    key: 'review',
    why: "car has no review flow; its verify gate checks each ticket's work (verify.commands, a ticket's verify:)",
    quiet: off,
  },
  {
    key: 'codex',
    why: "CAR's settings for codex exec and its terminal: car runs codex app-server (app_server.command) with the model of agents.codex.model or the ticket",
  },
  {
    key: 'prompt',
    why: `${LEGACY_LOOP}; car builds the ticket-flow prompt (ticket_flow.previous_output_max_chars)`,
  },
  { key: 'ui', why: 'car has no car edit' },
  { key: 'runner.sleep_seconds', why: `${LEGACY_LOOP}; car starts the next turn at once`, quiet: is(5) },
  {
    key: 'runner.max_wallclock_seconds',
    why: `${LEGACY_LOOP}; car's wall-clock budget is ticket_flow.max_wallclock_seconds`,
    quiet: is(null),
  },
  {
    key: 'runner.no_progress_threshold',
    why: `${LEGACY_LOOP}; car's loop guard is ticket_flow.loop_guard_turns`,
    quiet: is(3),
  },
  { key: 'runner.review', why: `${LEGACY_LOOP}; car has no review step`, quiet: off },
  {
    key: 'autorunner',
    why: `${LEGACY_LOOP}; car keeps one agent thread per ticket`,
    quiet: is({ reuse_session: false }),
  },
  { key: 'ticket_flow.restart_recoverable_failures', why: RESTART, quiet: is(true) },
  { key: 'ticket_flow.restart_max_attempts', why: RESTART, quiet: is(2) },
  { key: 'ticket_flow.restart_backoff_seconds', why: RESTART, quiet: is(0) },
  {
    key: 'ticket_flow.stale_alive_threshold_seconds',
    why: "car's watchdog ends a stalled turn instead (app_server.turn_stall_timeout_seconds)",
    quiet: is(1800),
  },
  { key: 'app_server.server_scope', why: APP_SERVER, quiet: is('global') },
  {
    key: 'app_server.state_root',
    why: "car keeps codex's home per workspace under $CAR_GLOBAL_STATE_ROOT/workspaces (default ~/.codex-autorunner)",
    quiet: is('~/.codex-autorunner/workspaces'),
  },
  { key: 'app_server.auto_restart', why: APP_SERVER, quiet: is(true) },
  { key: 'app_server.max_handles', why: APP_SERVER, quiet: is(1) },
  { key: 'app_server.idle_ttl_seconds', why: APP_SERVER, quiet: is(3600) },
  { key: 'app_server.terminate_grace_seconds', why: APP_SERVER, quiet: is(2) },
  { key: 'app_server.terminate_kill_seconds', why: APP_SERVER, quiet: is(3) },
  {
    key: 'app_server.turn_stall_max_recovery_attempts',
    why: 'car retries a stalled turn ticket_flow.max_stall_retries times in a fresh app-server',
    quiet: is(8),
  },
  { key: 'app_server.request_timeout', why: APP_SERVER, quiet: is(null) },
  { key: 'app_server.client', why: APP_SERVER },
  {
    key: 'app_server.prompts',
    why: "CAR's prompt budgets for its doc chat and legacy loop; car has neither",
  },
  {
    key: 'opencode',
    why: "car runs opencode over ACP (agents.opencode.command); CAR's opencode server settings do not apply",
  },
  {
    key: 'github.sync_commit_mode',
    why: 'car has no sync agent step; car pr open pushes the branch as committed',
    quiet: is('auto'),
  },
  { key: 'github.sync_agent_timeout_seconds', why: 'car has no sync agent step', quiet: is(1800) },
  {
    key: 'github.automation',
    why: "car follows pull requests with car pr watch (github.watch, github.on_check_failure, github.auto_merge) and POST /api/scm/github/webhook; CAR's reaction policy table does not apply",
    quiet: off,
  },
  { key: 'update', why: 'car does not update itself' },
  { key: 'usage', why: 'car records token usage per turn (car flow show); it keeps no usage cache' },
  {
    key: 'notifications.events',
    why: `CAR's webhook notifier events (${CAR_NOTIFICATION_EVENTS.join(', ')}), which CAR's ticket flow no longer sends; car's chat notices are named paused, failed, completed, stopped, dispatch, recovered, waiting, pull_request, approval`,
    quiet: (value) =>
      !Array.isArray(value) ||
      !value.some((e) => (CAR_NOTIFICATION_EVENTS as readonly unknown[]).includes(e)),
  },
  { key: 'notifications.discord', why: NOTIFIER },
  { key: 'notifications.telegram', why: NOTIFIER },
  { key: 'notifications.tui_idle_seconds', why: `${NOTIFIER}; car has no terminal UI` },
  { key: 'notifications.timeout_seconds', why: NOTIFIER },
  { key: 'telegram_bot.shell', why: "car's chat bots run no shell commands", quiet: off },
  { key: 'telegram_bot.media', why: "car's chat bots take text only", quiet: off },
  { key: 'discord_bot.shell', why: "car's chat bots run no shell commands", quiet: off },
  { key: 'discord_bot.media', why: "car's chat bots take text only", quiet: off },
  { key: 'terminal', why: 'car has no web terminal' },
  { key: 'voice', why: 'car has no voice input', quiet: off },
  { key: 'log', why: 'car keeps run records in car.db and a worker log in runs/<run_id>/worker.log' },
  { key: 'server_log', why: 'car keeps run records in car.db and a worker log in runs/<run_id>/worker.log' },
  { key: 'static_assets', why: 'car serves its own built web UI' },
  { key: 'housekeeping', why: "car prunes only finished runs' stream events, after 7 days", quiet: off },
  {
    key: 'flow_retention',
    why: "car keeps finished runs' stream events 7 days (fixed)",
    quiet: is({ retention_days: 7, sweep_interval_seconds: 86400 }),
  },
  { key: 'apps', why: 'car has no CAR apps', quiet: off },
  {
    key: 'pma.enabled',
    why: "car's project manager agent is always there to ask (car pma, the web Chat page, chat bots)",
    quiet: is(true),
  },
  { key: 'preview_services', why: 'car has no preview services', quiet: off },
  { key: 'browser_auth', why: "car's web UI uses a bearer token (CAR_WEB_TOKEN)" },
  { key: 'state_roots', why: 'car keeps its state in the repo (and the hub) only' },
];

export interface IgnoredSetting {
  /** The key path, e.g. `ticket_flow.auto_resume`. */
  key: string;
  /** The layer that set it (a file name, or the environment variable). */
  source: string;
  /** Why car does not act on it. */
  why: string;
}

function expand(path: readonly string[], merged: Mapping): string[][] {
  const star = path.indexOf('*');
  if (star === -1) return [[...path]];
  const parent = valueAt(merged, path.slice(0, star));
  const keys = typeof parent === 'object' && parent !== null ? Object.keys(parent) : [];
  return keys.flatMap((key) => expand([...path.slice(0, star), key, ...path.slice(star + 1)], merged));
}

/** The ignored keys the layers set to a value that asks for something car does not do. */
export function ignoredSettings(merged: Mapping, provenance: Provenance): IgnoredSetting[] {
  return IGNORED_KEYS.flatMap(({ key, why, quiet }) =>
    expand(key.split('.'), merged).flatMap((path) => {
      const value = valueAt(merged, path);
      const source = provenance.sourceOf(path);
      if (value === undefined || source === undefined) return [];
      if (quiet ? quiet(value) : isDeepStrictEqual(value, valueAt(DEFAULT_CONFIG, path))) return [];
      return [{ key: path.join('.'), source, why }];
    }),
  );
}
