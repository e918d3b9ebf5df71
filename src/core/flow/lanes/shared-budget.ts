// The run's budgets (`max_total_turns`, `max_tokens_per_run`) are the whole lanes run's, as they are a
// run's without lanes: every lane run's turns and tokens count against limits kept in the state of the run
// that drives the lanes, where `car flow resume` and recovery grant them again. A ticket's own budget
// (`max_tokens_per_ticket`) stays with the lane run that works the ticket.
import type { RunStore } from '../../store/run-store.ts';
import type { JsonObject } from '../../store/types.ts';
import type { FlowSettings } from '../settings.ts';
import { loadState, type RunUsage } from '../state.ts';

type Used = { turns: number; tokens: number };

export class LanesBudget {
  readonly #store: RunStore;
  readonly #runId: string;
  readonly #settings: Pick<FlowSettings, 'maxTotalTurns' | 'maxTokensPerRun'>;
  /** The lane runs still open (working, queued or waiting), read afresh each time. */
  readonly #open: () => readonly string[];
  /** Turns and tokens of the lane runs closed (merged) so far, counted once when each closes. */
  #closed: Used = { turns: 0, tokens: 0 };

  constructor(
    store: RunStore,
    runId: string,
    settings: Pick<FlowSettings, 'maxTotalTurns' | 'maxTokensPerRun'>,
    open: () => readonly string[],
  ) {
    this.#store = store;
    this.#runId = runId;
    this.#settings = settings;
    this.#open = open;
    const openIds = new Set(open());
    for (const run of store.laneRuns(runId)) if (!openIds.has(run.id)) this.#add(this.#closed, run.state);
  }

  /** A lane run is closed: what it used stays counted. */
  closed(laneRunId: string): void {
    const run = this.#store.getRun(laneRunId);
    if (run) this.#add(this.#closed, run.state);
  }

  /** Every lane run's turns and tokens so far, and the lanes run's limits. */
  read(): RunUsage {
    const used: Used = { ...this.#closed };
    for (const id of this.#open()) {
      const run = this.#store.getRun(id);
      if (run) this.#add(used, run.state);
    }
    const state = this.#drivingState();
    return {
      ...used,
      turnLimit: state.turnLimit,
      tokenLimit: state.tokenLimit ?? this.#settings.maxTokensPerRun,
    };
  }

  /** The run's turn or token budget granted again from what is used now (resuming a lane paused on it). */
  grant(what: 'turns' | 'tokens'): void {
    const now = this.read();
    const state = this.#drivingState();
    if (what === 'turns') state.turnLimit = now.turns + this.#settings.maxTotalTurns;
    else {
      const per = this.#settings.maxTokensPerRun;
      state.tokenLimit = per === null ? null : now.tokens + per;
    }
    this.#store.updateRun(this.#runId, { state: state as unknown as JsonObject });
  }

  #drivingState() {
    return loadState(this.#store.getRun(this.#runId)?.state ?? {}, this.#settings.maxTotalTurns);
  }

  #add(into: Used, raw: Record<string, unknown>): void {
    const state = loadState(raw, 0);
    into.turns += state.totalTurns;
    into.tokens += state.tokens;
  }
}
