// The one JSON shape of a run, as `car flow status|runs|show --json`, the HTTP API, `car hub status`
// and the web app show it. Types only and no imports: the web app imports this file as it is.

export interface RunJson {
  run_id: string;
  /** Always `ticket_flow`: CAR's field, for scripts that check it. */
  flow_type: 'ticket_flow';
  status: string;
  /** Why it paused, stopped, failed or completed (core/flow/reasons.ts); null while it works. */
  reason_code: string | null;
  reason: string | null;
  /** CAR's field: `reason` cut to 120 characters. */
  reason_summary: string | null;
  reason_details: { [key: string]: unknown } | null;
  /** CAR's field: why a failed run failed. */
  error_message: string | null;
  created_at: string;
  started_at: string | null;
  finished_at: string | null;
  updated_at: string;
  /** When a paused run paused (null unless paused): nothing else writes a paused run's row. */
  paused_at: string | null;
  /** CAR's field: seconds from start to finish (to now while the run is not over); null before it starts. */
  duration_seconds: number | null;
  total_turns: number;
  turn_limit: number;
  current_ticket: string | null;
  /** Input + output tokens used, and the budgets (null: none). */
  tokens: { run: number; run_limit: number | null; ticket: number | null; ticket_limit: number | null };
  /** An agent's used-up plan the run is waiting out (it goes on by itself at `until`). */
  quota_wait: { agent: string; until: string } | null;
  last_event_seq: number;
  /** A person asked the run's worker to pause after the turn in flight, or to stop; null: neither. */
  requested: 'pause' | 'stop' | null;
  /** A lane run (one ticket of a run with lanes): the run that drives it, its lane and ticket; else null. */
  lane: { parent_run_id: string; lane: number | null; ticket: string | null } | null;
}
