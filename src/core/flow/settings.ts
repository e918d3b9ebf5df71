import { defaultAgentId } from '../config/agents.ts';
import type { CarConfig } from '../config/index.ts';
import type { TamperAction, TamperKind } from '../config/schema.ts';
import { secretEnvToRemove } from '../config/secrets.ts';
import type { MergeMode } from './ports.ts';

/** The verify gate: what car runs before it accepts a ticket's `done: true`. */
export interface VerifySettings {
  /** Repo-level commands (config `verify.commands`), run before the ticket's own. */
  commands: string[];
  timeoutMs: number;
  maxFailures: number;
  maxOutputBytes: number;
  tamperChecks: boolean;
  policy: Record<TamperKind, TamperAction>;
  /** car's secrets, removed from the commands' environment (all but `security.pass_secret_env`). */
  unsetEnv: string[];
}

/** How supervised sessions are chosen and how long a question waits (`approvals:` in config). */
export interface ApprovalSettings {
  /** Ask a person in every session (`ticket_flow.approval_mode: ask`). */
  all: boolean;
  /** Agents whose entry sets `approval_policy` (ask, yolo or review), which wins over `all`. */
  agents: Record<string, string>;
  timeoutMs: number;
  /** What an approval nobody answered in time becomes. */
  onTimeout: 'accept' | 'decline';
}

/** The stop rules and limits of one run, resolved from config and `car flow start` flags. */
export interface FlowSettings {
  maxTotalTurns: number;
  /**
   * Agent turns one worker runs before it pauses the run (`stop_after_runs`), counted from the worker's
   * start, as CAR's loop counted its runs: CAR's `runner.stop_after_runs`, or `car run --stop-after-runs`.
   */
  stopAfterRuns: number | null;
  maxWallclockSeconds: number | null;
  /** Consecutive no-change turns on one ticket before the run pauses. */
  loopGuardTurns: number;
  maxLintRetries: number;
  maxCommitRetries: number;
  /** A done ticket with a dirty tree holds the queue until the work is committed. */
  requireCommit: boolean;
  /** car commits itself (after each turn, and for a done ticket) instead of asking the agent. */
  autoCommit: boolean;
  commitMessageTemplate: string;
  maxNetworkRetries: number;
  maxStallRetries: number;
  /** Longest wait for an agent's used-up quota to reset before pausing instead. */
  maxQuotaWaitSeconds: number;
  /** Per agent id: the agent that takes over while its plan is used up (`agents.<id>.quota_fallback`). */
  quotaFallback: Record<string, string>;
  /** Token budgets (input + output); null: none. */
  maxTokensPerTicket: number | null;
  maxTokensPerRun: number | null;
  previousOutputMaxChars: number;
  includePreviousTicketContext: boolean;
  /** fsync run records (config `storage.durable_writes`); tickets are always fsynced. */
  durableWrites: boolean;
  verify: VerifySettings;
  /** The agent new tickets get (`ticket_flow.default_agent`), for the frontmatter car suggests. */
  defaultAgent: string;
  /** Tickets worked at once, each in its own worktree (1: in the repo itself, one after another). */
  lanes: number;
  /** The branch lanes merge into; null: the one checked out when the run starts. */
  integrationBranch: string | null;
  mergeMode: MergeMode;
  /** Commands run in each worktree lanes make (`ticket_flow.lane_setup`). */
  laneSetup: string[];
  /** Which sessions ask a person before the agent acts, and how long a question waits. */
  approvals: ApprovalSettings;
}

export const DEFAULT_MAX_TOTAL_TURNS = 50;

export function flowSettings(config: CarConfig, overrides: Partial<FlowSettings> = {}): FlowSettings {
  const tf = config.ticket_flow;
  return {
    maxTotalTurns: tf.max_total_turns ?? DEFAULT_MAX_TOTAL_TURNS,
    // CAR checked its count after each run, so a value below 1 still allowed one turn
    stopAfterRuns: config.runner.stop_after_runs === null ? null : Math.max(1, config.runner.stop_after_runs),
    maxWallclockSeconds: tf.max_wallclock_seconds,
    loopGuardTurns: tf.loop_guard_turns,
    maxLintRetries: tf.max_lint_retries,
    maxCommitRetries: tf.max_commit_retries,
    requireCommit: tf.require_commit,
    autoCommit: config.git.auto_commit,
    commitMessageTemplate: config.git.commit_message_template,
    maxNetworkRetries: tf.max_network_retries,
    maxStallRetries: tf.max_stall_retries,
    maxQuotaWaitSeconds: tf.max_quota_wait_seconds,
    quotaFallback: Object.fromEntries(
      Object.entries(config.agents).flatMap(([id, a]) => (a.quota_fallback ? [[id, a.quota_fallback]] : [])),
    ),
    maxTokensPerTicket: tf.max_tokens_per_ticket,
    maxTokensPerRun: tf.max_tokens_per_run,
    previousOutputMaxChars: tf.previous_output_max_chars,
    includePreviousTicketContext: tf.include_previous_ticket_context,
    durableWrites: config.storage.durable_writes,
    verify: verifySettings(config),
    defaultAgent: defaultAgentId(config),
    lanes: tf.lanes,
    integrationBranch: tf.integration_branch,
    mergeMode: tf.merge_mode,
    laneSetup: [...tf.lane_setup],
    approvals: approvalSettings(config),
    ...overrides,
  };
}

export function approvalSettings(config: CarConfig): ApprovalSettings {
  return {
    all: config.ticket_flow.approval_mode === 'ask',
    agents: Object.fromEntries(
      Object.entries(config.agents).flatMap(([id, a]) =>
        a.approval_policy ? [[id, a.approval_policy]] : [],
      ),
    ),
    timeoutMs: config.approvals.timeout_seconds * 1000,
    onTimeout: config.approvals.on_timeout,
  };
}

export function verifySettings(config: CarConfig): VerifySettings {
  const v = config.verify;
  return {
    commands: [...v.commands],
    timeoutMs: v.timeout_seconds * 1000,
    maxFailures: v.max_failures,
    maxOutputBytes: v.max_output_bytes,
    tamperChecks: v.tamper_checks,
    policy: {
      verify_edit: v.policy.verify_edit,
      other_ticket_edit: v.policy.other_ticket_edit,
      test_deleted: v.policy.test_deleted,
      test_skipped: v.policy.test_skipped,
      assertion_weakened: v.policy.assertion_weakened,
      ci_edit: v.policy.ci_edit,
      verify_script_edit: v.policy.verify_script_edit,
    },
    unsetEnv: secretEnvToRemove(config),
  };
}

/** The settings a run works under: the config's, with the turn budget and lanes `car flow start` may have set. */
export function runSettings(config: CarConfig, run: { input: Record<string, unknown> }): FlowSettings {
  const { max_total_turns: max, lanes } = run.input;
  return flowSettings(config, {
    ...(typeof max === 'number' ? { maxTotalTurns: max } : {}),
    ...(typeof lanes === 'number' ? { lanes } : {}),
  });
}
