// Row shapes the run store returns: camelCase, JSON columns parsed, absent values as null.
import type { RUN_STATUSES, TURN_STATUSES } from './schema.ts';

export type JsonObject = { [key: string]: unknown };
export type RunStatus = (typeof RUN_STATUSES)[number];
export type TurnStatus = (typeof TURN_STATUSES)[number];

export interface Run {
  id: string;
  status: RunStatus;
  createdAt: string;
  startedAt: string | null;
  finishedAt: string | null;
  updatedAt: string;
  /** Machine-readable reason for the last pause/stop/failure, e.g. `dispatch_pause`. */
  reasonCode: string | null;
  reason: string | null;
  reasonDetails: JsonObject | null;
  state: JsonObject;
  input: JsonObject;
  metadata: JsonObject;
  error: string | null;
  /** Highest event sequence number handed out for this run (0 before the first event). */
  lastEventSeq: number;
}

export interface NewRun {
  /** Defaults to a random UUID. */
  id?: string;
  input?: JsonObject;
  state?: JsonObject;
  metadata?: JsonObject;
}

/** Fields `updateRun` may change; `null` clears a nullable field. `updatedAt` is always set. */
export interface RunPatch {
  status?: RunStatus;
  startedAt?: string | null;
  finishedAt?: string | null;
  reasonCode?: string | null;
  reason?: string | null;
  reasonDetails?: JsonObject | null;
  state?: JsonObject;
  metadata?: JsonObject;
  error?: string | null;
}

export interface ListRunsOptions {
  /** Also the runs of lanes (by default only the runs people start). */
  includeLanes?: boolean;
  limit?: number;
  offset?: number;
  status?: RunStatus | readonly RunStatus[];
}

export interface Turn {
  id: number;
  runId: string;
  /** 1, 2, … within the run. */
  seq: number;
  ticketPath: string | null;
  ticketId: string | null;
  agent: string;
  /** Free text: `agent`, `human_wait`, … */
  kind: string;
  status: TurnStatus;
  startedAt: string;
  finishedAt: string | null;
  usage: JsonObject | null;
  error: string | null;
  outputExcerpt: string | null;
}

export interface NewTurn {
  runId: string;
  agent: string;
  ticketPath?: string | null;
  ticketId?: string | null;
  /** Defaults to `agent`. */
  kind?: string;
}

export interface TurnOutcome {
  status: Exclude<TurnStatus, 'running'>;
  usage?: JsonObject;
  error?: string;
  /** Stored bounded: only the tail is kept (see MAX_OUTPUT_EXCERPT_CHARS). */
  outputExcerpt?: string;
}

export interface RunEvent {
  runId: string;
  seq: number;
  turnId: number | null;
  type: string;
  at: string;
  data: JsonObject;
}

/**
 * An event as JSON text, built by SQLite around the stored payload (never parsed): the object
 * `{run_id, seq, type, at, turn_id, data}`, for readers that send events on (the HTTP API).
 */
export interface EventJson {
  seq: number;
  type: string;
  json: string;
}

/** What a run's followers poll: its status and its highest event sequence number. */
export interface RunProgress {
  status: RunStatus;
  lastEventSeq: number;
}

export interface NewEvent {
  type: string;
  data?: JsonObject;
  turnId?: number | null;
  /** ISO time; defaults to now. */
  at?: string;
}

export interface ListEventsOptions {
  /** Only events with seq > afterSeq (SSE `Last-Event-ID` resume). */
  afterSeq?: number;
  /** Defaults to 1000. */
  limit?: number;
  types?: readonly string[];
  /** Skip this many matching events first (random access into a filtered log). */
  offset?: number;
  /** The last `limit` matching events (`offset` counted from the end), still in ascending seq order. */
  fromEnd?: boolean;
}

/** Per event type: rows stored, not stored (over the cap), stored truncated, deleted by retention. */
export interface EventTypeStats {
  type: string;
  kept: number;
  dropped: number;
  truncated: number;
  pruned: number;
}

export interface Artifact {
  id: string;
  runId: string;
  kind: string;
  path: string;
  createdAt: string;
  metadata: JsonObject;
}

export interface NewArtifact {
  runId: string;
  kind: string;
  path: string;
  metadata?: JsonObject;
  /** Defaults to a random UUID. */
  id?: string;
}
