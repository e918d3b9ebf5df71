// The ticket queue as the API serves it, kept between requests and brought up to date by the files'
// stat stamps: a scan stats every ticket file and re-parses only the changed ones. A scan runs only when
// the tickets folder's watch reported a change since the last one (or the last is RESCAN_MS old: what a
// folder watch cannot see, such as a ticket that is a link to a file elsewhere or a network filesystem,
// shows within that); otherwise a request costs a stat of the folder, whatever the queue's size.
//
// No answer misses a change made before its request: the kernel queues a watch event while the write
// happens, and a request first lets the event loop pass a poll phase, where that event is handled. A
// request after a change waits for a scan that started after it; all the requests that arrive during
// one scan share the next. Scans run in slices on the StepRunner, and a scan that changed nothing keeps
// the previous generation, so answers built from it stay valid.
import { type FSWatcher, readFileSync, statSync, watch } from 'node:fs';
import type { RepoPaths } from '../../core/paths.ts';
import {
  parseTicketBytes,
  type Ticket,
  type TicketCache,
  type TicketQueue,
  ticketQueueSteps,
} from '../../core/tickets/index.ts';
import { confinedPath, sha256 } from './security.ts';
import type { StepRunner } from './step-runner.ts';

export interface TicketSnapshot {
  queue: TicketQueue;
  /** Changes (process-wide unique) whenever a ticket was added, removed or changed, or the agents did. */
  generation: number;
}

/** A ticket as listed: parsed from the bytes its hash is of; null when it is not shown (a link out). */
export type ShownTicket = { ticket: Ticket; hash: string } | null;

let generations = 0;

/** The longest a scan is trusted without a watch event (see above). */
const RESCAN_MS = 2000;

/** Resolves once the event loop went through a poll phase: file events queued before are handled. */
const afterPoll = () => new Promise<void>((resolve) => setImmediate(() => setImmediate(resolve)));

function sameQueue(a: TicketQueue, b: TicketQueue): boolean {
  if (a.tickets.length !== b.tickets.length) return false;
  // a ticket whose file kept its stamp is the very object the cache handed out last time
  for (let i = 0; i < a.tickets.length; i++) if (a.tickets[i] !== b.tickets[i]) return false;
  return JSON.stringify(a.issues) === JSON.stringify(b.issues);
}

export class TicketListing {
  readonly #paths: RepoPaths;
  readonly #steps: StepRunner;
  readonly #agents: () => ReadonlySet<string>;
  #agentsKey = '';
  #cache: TicketCache = new Map();
  #last: TicketSnapshot | null = null;
  #scannedAt = 0;
  /** A ticket file may have changed since the last scan started. */
  #dirty = true;
  #watcher: FSWatcher | null = null;
  #watchedIno: number | null = null;
  #running: Promise<TicketSnapshot> | null = null;
  #next: Promise<TicketSnapshot> | null = null;
  /** Per parsed ticket (a new object when its file changed): its bytes' hash, read when first listed. */
  #shown = new WeakMap<Ticket, ShownTicket>();

  constructor(paths: RepoPaths, steps: StepRunner, agents: () => ReadonlySet<string>) {
    this.#paths = paths;
    this.#steps = steps;
    this.#agents = agents;
  }

  /** The queue with every change made before this call. */
  async current(): Promise<TicketSnapshot> {
    await afterPoll();
    this.#watch();
    if (this.#dirty || !this.#last || Date.now() - this.#scannedAt >= RESCAN_MS) return this.#scanAfterNow();
    // a scan under way started after the last change
    return this.#running ?? this.#last;
  }

  /** Stops watching the folder. */
  close(): void {
    this.#watcher?.close();
    this.#watcher = null;
  }

  /** Watches the tickets folder, again when it was replaced; without a watch every request scans. */
  #watch(): void {
    const ino = statSync(this.#paths.ticketsDir, { throwIfNoEntry: false })?.ino ?? null;
    if (this.#watcher && ino === this.#watchedIno) return;
    this.close();
    this.#dirty = true;
    this.#watchedIno = ino;
    if (ino === null) return;
    try {
      const watcher = watch(this.#paths.ticketsDir, { persistent: false }, () => {
        this.#dirty = true;
      });
      watcher.on('error', () => {
        if (this.#watcher === watcher) this.close();
        this.#dirty = true;
      });
      this.#watcher = watcher;
    } catch {
      // no watch to be had (e.g. the system's limit of watches): scan for every request
    }
  }

  /** A scan that starts after this call, shared by every caller until it starts. */
  #scanAfterNow(): Promise<TicketSnapshot> {
    if (this.#next) return this.#next;
    if (!this.#running) return this.#start();
    const after = () => this.#start();
    this.#next = this.#running.then(after, after);
    return this.#next;
  }

  /** The listed form of `tickets`, reading and hashing (in slices) the files not listed since they changed. */
  async shown(tickets: readonly Ticket[]): Promise<ShownTicket[]> {
    const out: ShownTicket[] = [];
    let i = 0;
    await this.#steps.run(() => {
      if (i === tickets.length) return true;
      const t = tickets[i++]!;
      let entry = this.#shown.get(t);
      if (entry === undefined) {
        entry = this.#read(t);
        this.#shown.set(t, entry);
      }
      out.push(entry);
      return false;
    });
    return out;
  }

  #read(t: Ticket): ShownTicket {
    let bytes: Buffer;
    try {
      bytes = readFileSync(confinedPath(this.#paths.root, t.path));
    } catch {
      return null; // gone since the scan, or a link leading out of the repo: not shown
    }
    // changed since the scan: shown as it is now (the next scan sees the new stamp)
    const ticket =
      bytes.toString('utf8') === t.raw
        ? t
        : parseTicketBytes(bytes, { path: t.path, relPath: t.relPath, agents: this.#agents() });
    return { ticket, hash: sha256(bytes) };
  }

  #options() {
    const agents = this.#agents();
    const key = [...agents].sort().join(',');
    if (key !== this.#agentsKey) {
      this.#agentsKey = key;
      this.#cache = new Map();
    }
    return { repoRoot: this.#paths.root, agents, cache: this.#cache };
  }

  #start(): Promise<TicketSnapshot> {
    this.#next = null;
    // changes from now on are for the next scan
    this.#dirty = this.#watcher === null;
    this.#scannedAt = Date.now();
    const scan = this.#scan();
    this.#running = scan;
    const done = () => {
      if (this.#running === scan) this.#running = null;
    };
    scan.then(done, done);
    return scan;
  }

  async #scan(): Promise<TicketSnapshot> {
    const opts = this.#options();
    const queue = await this.#steps.drive(ticketQueueSteps(this.#paths.ticketsDir, opts));
    // forget deleted files
    if (opts.cache.size > queue.tickets.length) {
      const present = new Set(queue.tickets.map((t) => t.path));
      for (const path of opts.cache.keys()) if (!present.has(path)) opts.cache.delete(path);
    }
    const last = this.#last;
    this.#last = last && sameQueue(last.queue, queue) ? last : { queue, generation: ++generations };
    return this.#last;
  }
}
