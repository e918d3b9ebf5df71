// The hub's queue across machines: `car hub run` with `hub.queue.kind: postgres` enqueues one job per
// runnable repo instead of starting local workers, and `car worker --hub-queue` processes on any machine
// take jobs under a lease they extend by heartbeating. A job whose worker stops heartbeating (killed,
// machine gone) is handed to another worker once its lease runs out. The adapter is
// `integrations/pg-queue/`; this is the port the control plane and the surfaces speak.
//
// A repo with lanes (`ticket_flow.lanes` > 1) spreads further: its job becomes the repo's coordinator,
// which puts one ticket job per ready ticket on a second queue (up to `lanes` open at once), merges the
// ticket branches the workers pushed through the merge queue, and sends a ticket that does not merge back
// as a new ticket job carrying why (surfaces/hub-coordinator.ts).
import type { MergeFeedback } from '../core/flow/state.ts';

/** What a job carries: where the repo is, never a secret (the database URL stays in each process's env). */
export interface HubJobPayload {
  repo_id: string;
  /** The repo's git remote, as the hub's checkout names it (`origin`). */
  remote_url: string;
  /** The branch the work starts from when no result branch exists yet. */
  base_branch: string;
  /** Where results are pushed after each ticket done: `car/hub/<repo_id>`. */
  result_branch: string;
  lease_seconds: number;
  heartbeat_seconds: number;
}

/** One ticket of a repo with lanes, worked on any machine: what its job carries (never a secret). */
export interface HubTicketPayload {
  repo_id: string;
  remote_url: string;
  /** The ticket file, repo-relative, and its id. */
  ticket: string;
  ticket_id: string;
  /** The coordinator's (repo) job that queued it: a takeover of that job finds its ticket jobs by it. */
  coordinator_job: string;
  /** Where the ticket's work is pushed after each commit: `car/hub-tickets/<repo>/<job>/<ticket name>`. */
  ticket_branch: string;
  /** The integration commit the work starts from when the ticket branch does not exist yet. */
  base_sha: string;
  /** The merge queue sent the ticket back this often; `feedback` says why the last time (for the prompt). */
  merge_attempt: number;
  feedback: MergeFeedback | null;
  lease_seconds: number;
  heartbeat_seconds: number;
}

/** A job as a worker holds it: `attempt` fences it (a takeover makes a new attempt). */
export interface TakenJob {
  id: string;
  attempt: number;
  payload: HubJobPayload;
}

/** A ticket job as a worker holds it (fenced the same way). */
export interface TakenTicketJob {
  id: string;
  attempt: number;
  payload: HubTicketPayload;
}

export type AnyTakenJob = TakenJob | TakenTicketJob;

export function isTicketJob(job: AnyTakenJob): job is TakenTicketJob {
  return 'ticket' in job.payload;
}

/** A ticket's latest job as its coordinator sees it. */
export interface TicketJobView {
  job_id: string;
  ticket: string;
  state: HubJobState;
  merge_attempt: number;
  ticket_branch: string;
  base_sha: string;
  /** The run's end as the ticket's worker reported it (completed jobs only). */
  status: string | null;
  reason_code: string | null;
  message: string | null;
  worker: string | null;
}

/** How a job ended, as the worker reports it (the hub's outcome for the repo). */
export interface HubJobOutcome {
  run_id: string | null;
  status: string;
  reason_code: string | null;
  message: string | null;
}

export type HubJobState = 'queued' | 'running' | 'completed' | 'failed' | 'cancelled';

/** One job as the hub lists it, with the worker (and machine) working it. */
export interface HubJobView {
  job_id: string;
  repo_id: string;
  /** A ticket job's ticket (repo-relative); null for the repo's own job. */
  ticket: string | null;
  state: HubJobState;
  /** Takeovers so far (0: the first worker to take it still has it, or nobody took it yet). */
  attempt: number;
  worker: string | null;
  host: string | null;
  heartbeat_at: string | null;
  run_id: string | null;
  run_status: string | null;
  reason_code: string | null;
  tickets_done: number | null;
  tickets_total: number | null;
  created_at: string;
}

/** The run as a worker last mirrored it to the hub. */
export interface RunMirror {
  run_id: string;
  status: string;
  reason_code: string | null;
  tickets_done: number;
  tickets_total: number;
}

/** A run event mirrored for the hub (same shape as the local store's). */
export interface MirroredEvent {
  seq: number;
  type: string;
  at: string;
  data: unknown;
}

export interface WorkerIdentity {
  name: string;
  host: string;
  pid: number;
}

/** The hub's side of the queue. */
export interface HubQueue {
  /** Adds a job for the repo unless one is queued or running; null when one already is. */
  enqueue(payload: HubJobPayload): Promise<string | null>;
  /**
   * Jobs of the given ids, or each repo's latest job (newest first), each followed by the latest job of
   * every ticket that job queued.
   */
  jobs(ids?: readonly string[]): Promise<HubJobView[]>;
  close(): Promise<void>;
}

/** A worker's side of the queue. */
export interface HubQueueWorker {
  /** Takes the next job under a lease, or null when none is waiting. */
  take(): Promise<TakenJob | null>;
  /** Takes the next ticket job under a lease, or null when none is waiting. */
  takeTicket(): Promise<TakenTicketJob | null>;
  /**
   * Extends the lease and mirrors the run. False: the lease was lost (it ran out and another worker may
   * hold the job now); the worker must stop working the job and must not push.
   */
  heartbeat(job: AnyTakenJob, run: RunMirror | null, events: readonly MirroredEvent[]): Promise<boolean>;
  /** Ends the job with the run's outcome (only while the lease is held; false when it was lost). */
  complete(job: AnyTakenJob, outcome: HubJobOutcome): Promise<boolean>;
  /** Gives the job back for another worker (or this one) to take at once, e.g. on SIGTERM. */
  release(job: AnyTakenJob, message: string): Promise<void>;
  /**
   * Queues a ticket job for the coordinator `coordinator` holds, unless the ticket has one queued or
   * running: its id, null when one is open, false when the coordinator's lease was lost (nothing queued).
   */
  enqueueTicket(coordinator: TakenJob, payload: HubTicketPayload): Promise<string | null | false>;
  /** The latest job of each ticket the coordinator's job queued. */
  ticketJobs(coordinator: TakenJob): Promise<TicketJobView[]>;
  close(): Promise<void>;
}
