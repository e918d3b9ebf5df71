// Work that grows with the repo (a ticket scan, an SSE replay, fanning a run's new events out) shares
// the event loop with cheap requests. It runs here in small synchronous steps for at most `budgetMs` per
// event-loop turn; between turns Node serves whatever requests arrived, so a cheap request waits about
// one budget behind any amount of such work, never for a whole scan or replay.
//
// Two lanes: `request` work is what a waiting request needs (a ticket scan) and goes first; `bulk` work
// (streams) fills the rest of each turn and always gets one quantum, so neither starves the other.
// Within a lane jobs take turns by time: each runs steps for up to one quantum, then the next one.

/**
 * One step of a job, a bounded piece of work: true when the job is finished, false to be called again,
 * or a promise to wait for first (a slow client's drain); the job is called again once it settles.
 */
export type Step = () => boolean | Promise<unknown>;

export type Lane = 'request' | 'bulk';

interface Job {
  step: Step;
  resolve(): void;
  reject(err: unknown): void;
}

const QUANTUM_MS = 0.5;

/** A request whose work was still waiting when the server closed. */
export class ServerClosingError extends Error {
  constructor() {
    super('the server is closing');
    this.name = 'ServerClosingError';
  }
}

export class StepRunner {
  readonly #budgetMs: number;
  readonly #lanes: Record<Lane, Job[]> = { request: [], bulk: [] };
  #scheduled = false;
  #closed = false;

  constructor(budgetMs = 2) {
    this.#budgetMs = budgetMs;
  }

  /** Runs `step` until it says it is finished (or throws). */
  run(step: Step, lane: Lane = 'request'): Promise<void> {
    if (this.#closed) return Promise.reject(new ServerClosingError());
    return new Promise((resolve, reject) => {
      this.#lanes[lane].push({ step, resolve, reject });
      this.#schedule();
    });
  }

  /** Runs a generator to its end, one `next()` per step; resolves with what it returns. */
  async drive<T>(steps: Generator<unknown, T>, lane: Lane = 'request'): Promise<T> {
    let result: IteratorResult<unknown, T> | undefined;
    await this.run(() => {
      result = steps.next();
      return result.done === true;
    }, lane);
    return (result as IteratorReturnResult<T>).value;
  }

  /** Stops taking work; the jobs not finished fail with ServerClosingError. */
  close(): void {
    this.#closed = true;
    for (const lane of [this.#lanes.request, this.#lanes.bulk]) {
      for (const job of lane.splice(0)) job.reject(new ServerClosingError());
    }
  }

  #schedule(): void {
    if (this.#scheduled || this.#closed) return;
    if (this.#lanes.request.length === 0 && this.#lanes.bulk.length === 0) return;
    this.#scheduled = true;
    setImmediate(this.#turn);
  }

  readonly #turn = (): void => {
    this.#scheduled = false;
    const end = performance.now() + this.#budgetMs;
    this.#runLane(this.#lanes.request, end);
    // bulk work gets at least one quantum per turn, even when requests took the whole budget
    this.#runLane(this.#lanes.bulk, Math.max(end, performance.now() + QUANTUM_MS));
    this.#schedule();
  };

  #runLane(lane: Job[], end: number): void {
    let now = performance.now();
    while (lane.length > 0 && now < end) {
      const job = lane.shift()!;
      const quantumEnd = Math.min(end, now + QUANTUM_MS);
      let result: boolean | Promise<unknown>;
      try {
        do {
          result = job.step();
          now = performance.now();
        } while (result === false && now < quantumEnd);
      } catch (err) {
        job.reject(err);
        now = performance.now();
        continue;
      }
      if (result === true) job.resolve();
      else if (result === false) lane.push(job);
      else {
        result.then(
          () => {
            if (this.#closed) return job.reject(new ServerClosingError());
            lane.push(job);
            this.#schedule();
          },
          (err: unknown) => job.reject(err),
        );
      }
    }
  }
}
