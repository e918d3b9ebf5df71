// The verify gate's record of why car closed a ticket: what ran, how it ended, a digest of what it
// printed, the commit the work is in and what the tamper checks saw. One JSON file per closed ticket
// under `runs/<run_id>/evidence/`, mirrored as an `evidence` artifact row in the run store.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { TamperAction } from '../config/schema.ts';
import type { RunPaths } from '../flow/run-paths.ts';
import { writeFileAtomic } from '../fs/atomic.ts';
import type { RunStore } from '../store/run-store.ts';
import type { TamperFinding } from './tamper.ts';

export const EVIDENCE_VERSION = 1;

export interface EvidenceCommand {
  command: string;
  /** `config` (verify.commands) or `ticket` (the ticket's `verify:`). */
  source: 'config' | 'ticket';
  exit_code: number | null;
  signal: string | null;
  timed_out: boolean;
  duration_ms: number;
  output_bytes: number;
  output_sha256: string;
  /** The kept tail of the output (not in the artifact metadata). */
  output_tail?: string;
}

export interface EvidenceFinding extends TamperFinding {
  action: TamperAction;
}

export interface EvidenceRecord {
  version: number;
  run_id: string;
  ticket: string;
  ticket_id: string;
  title: string | null;
  verified_at: string;
  /** HEAD when the ticket was closed (the commit that holds the work). */
  commit: string | null;
  /** HEAD when the ticket was selected: the diff the tamper checks looked at starts here. */
  base_commit: string | null;
  /** The tree still had uncommitted changes when the ticket closed (only when commits are not required). */
  dirty: boolean;
  commands: EvidenceCommand[];
  findings: EvidenceFinding[];
  /** Failed verifications on this ticket before this one passed. */
  failed_attempts: number;
  turns: number;
}

export function evidenceRelPath(paths: RunPaths, ticketId: string): string {
  return `${paths.rel.runDir}/evidence/${ticketId}.json`;
}

/** Writes the record atomically; returns the absolute path. */
export function writeEvidence(
  paths: RunPaths,
  record: EvidenceRecord,
  opts: { durable?: boolean } = {},
): string {
  const file = join(paths.runDir, 'evidence', `${record.ticket_id}.json`);
  writeFileAtomic(file, `${JSON.stringify(record, null, 2)}\n`, {
    createDirs: true,
    durable: opts.durable ?? true,
  });
  return file;
}

/** The record without command output: what goes into the artifact row's metadata. */
export function evidenceMetadata(record: EvidenceRecord): EvidenceRecord {
  return {
    ...record,
    commands: record.commands.map(({ output_tail: _tail, ...rest }) => rest),
  };
}

/** One closed ticket's evidence: the record plus where its file is and when it was stored. */
export interface EvidenceEntry extends EvidenceRecord {
  /** Repo-relative path of the evidence file. */
  path: string;
  recorded_at: string;
}

/**
 * The command output tails of an evidence file, by command index: only those, and only where the
 * file's command matches the row's. The row (car's own store) is the record; the file may have been
 * edited or damaged, and a wrong type there must not reach the renderers.
 */
function outputTails(file: string, commands: readonly EvidenceCommand[]): Map<number, string> {
  const tails = new Map<number, string>();
  let parsed: unknown;
  try {
    parsed = JSON.parse(readFileSync(file, 'utf8'));
  } catch {
    return tails;
  }
  const listed = (parsed as { commands?: unknown } | null)?.commands;
  if (!Array.isArray(listed)) return tails;
  commands.forEach((command, i) => {
    const entry = listed[i] as { command?: unknown; output_tail?: unknown } | null | undefined;
    if (entry?.command === command.command && typeof entry.output_tail === 'string') {
      tails.set(i, entry.output_tail);
    }
  });
  return tails;
}

/**
 * Every evidence record of a ticket across runs, newest first: the store's `evidence` artifacts,
 * completed with the output tails from the JSON files next to them (the row alone when the run folder
 * was removed or its file cannot be read as one).
 */
export function collectEvidence(store: RunStore, root: string, ticketId: string): EvidenceEntry[] {
  const out: EvidenceEntry[] = [];
  for (const run of store.listRuns({ limit: 100_000, includeLanes: true })) {
    for (const artifact of store.listArtifacts(run.id)) {
      if (artifact.kind !== 'evidence' || artifact.metadata.ticket_id !== ticketId) continue;
      const record = artifact.metadata as unknown as EvidenceRecord;
      const tails = outputTails(join(root, artifact.path), record.commands);
      const commands = record.commands.map((c, i) =>
        tails.has(i) ? { ...c, output_tail: tails.get(i)! } : c,
      );
      out.push({
        ...record,
        commands,
        ticket_id: ticketId,
        path: artifact.path,
        recorded_at: artifact.createdAt,
      });
    }
  }
  return out.sort((a, b) => (a.recorded_at < b.recorded_at ? 1 : a.recorded_at > b.recorded_at ? -1 : 0));
}
