import type { CarConfig } from '../config/index.ts';

/** The stop rules and limits of one run, resolved from config and `car flow start` flags. */
export interface FlowSettings {
  maxTotalTurns: number;
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
  previousOutputMaxChars: number;
  includePreviousTicketContext: boolean;
}

export const DEFAULT_MAX_TOTAL_TURNS = 50;

export function flowSettings(config: CarConfig, overrides: Partial<FlowSettings> = {}): FlowSettings {
  const tf = config.ticket_flow;
  return {
    maxTotalTurns: tf.max_total_turns ?? DEFAULT_MAX_TOTAL_TURNS,
    maxWallclockSeconds: tf.max_wallclock_seconds,
    loopGuardTurns: tf.loop_guard_turns,
    maxLintRetries: tf.max_lint_retries,
    maxCommitRetries: tf.max_commit_retries,
    requireCommit: tf.require_commit,
    autoCommit: config.git.auto_commit,
    commitMessageTemplate: config.git.commit_message_template,
    maxNetworkRetries: tf.max_network_retries,
    previousOutputMaxChars: tf.previous_output_max_chars,
    includePreviousTicketContext: tf.include_previous_ticket_context,
    ...overrides,
  };
}
