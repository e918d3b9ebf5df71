// SQLite row shapes of the run store and their mapping to the camelCase types callers see.
import type { Artifact, JsonObject, Run, RunEvent, RunStatus, Turn } from './types.ts';

export interface RunRow {
  id: string;
  status: RunStatus;
  created_at: string;
  started_at: string | null;
  finished_at: string | null;
  updated_at: string;
  reason_code: string | null;
  reason: string | null;
  reason_details: string | null;
  state: string;
  input: string;
  metadata: string;
  error: string | null;
  last_event_seq: number;
}

export interface TurnRow {
  id: number;
  run_id: string;
  seq: number;
  ticket_path: string | null;
  ticket_id: string | null;
  agent: string;
  kind: string;
  status: Turn['status'];
  started_at: string;
  finished_at: string | null;
  usage: string | null;
  error: string | null;
  output_excerpt: string | null;
}

export interface EventRow {
  run_id: string;
  seq: number;
  turn_id: number | null;
  type: string;
  at: string;
  data: string;
}

export interface ArtifactRow {
  id: string;
  run_id: string;
  kind: string;
  path: string;
  created_at: string;
  metadata: string;
}

const parseObject = (json: string): JsonObject => JSON.parse(json) as JsonObject;
const parseNullable = (json: string | null): JsonObject | null => (json === null ? null : parseObject(json));

export function toRun(r: RunRow): Run {
  return {
    id: r.id,
    status: r.status,
    createdAt: r.created_at,
    startedAt: r.started_at,
    finishedAt: r.finished_at,
    updatedAt: r.updated_at,
    reasonCode: r.reason_code,
    reason: r.reason,
    reasonDetails: parseNullable(r.reason_details),
    state: parseObject(r.state),
    input: parseObject(r.input),
    metadata: parseObject(r.metadata),
    error: r.error,
    lastEventSeq: r.last_event_seq,
  };
}

export function toTurn(r: TurnRow): Turn {
  return {
    id: r.id,
    runId: r.run_id,
    seq: r.seq,
    ticketPath: r.ticket_path,
    ticketId: r.ticket_id,
    agent: r.agent,
    kind: r.kind,
    status: r.status,
    startedAt: r.started_at,
    finishedAt: r.finished_at,
    usage: parseNullable(r.usage),
    error: r.error,
    outputExcerpt: r.output_excerpt,
  };
}

export function toEvent(r: EventRow): RunEvent {
  return {
    runId: r.run_id,
    seq: r.seq,
    turnId: r.turn_id,
    type: r.type,
    at: r.at,
    data: parseObject(r.data),
  };
}

export function toArtifact(r: ArtifactRow): Artifact {
  return {
    id: r.id,
    runId: r.run_id,
    kind: r.kind,
    path: r.path,
    createdAt: r.created_at,
    metadata: parseObject(r.metadata),
  };
}
