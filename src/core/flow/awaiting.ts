// What a run is waiting on right now. Every wait of the engine on something outside it (an agent, git,
// a verify command, a timer) is named here while it lasts, so that if a wait can never end (the event
// loop empties under it) the report says which one it was.

export interface OpenWait {
  label: string;
  /** Epoch ms when the wait began. */
  since: number;
}

export class Awaiting {
  readonly #open = new Map<number, OpenWait>();
  #next = 0;
  readonly #now: () => number;

  constructor(now: () => number = Date.now) {
    this.#now = now;
  }

  /** Awaits `work`, listed under `label` until it settles. */
  async on<T>(label: string, work: Promise<T>): Promise<T> {
    const id = this.#next++;
    this.#open.set(id, { label, since: this.#now() });
    try {
      return await work;
    } finally {
      this.#open.delete(id);
    }
  }

  /** The open waits, outermost first. */
  list(): OpenWait[] {
    return [...this.#open.values()];
  }

  /** One line: `a (12.0 s) > b (0.3 s)`, or 'nothing' when no wait is open. */
  describe(): string {
    const now = this.#now();
    const open = this.list();
    if (open.length === 0) return 'nothing';
    return open.map((w) => `${w.label} (${((now - w.since) / 1000).toFixed(1)} s)`).join(' > ');
  }
}
