/**
 * Exit codes, documented in the README and in `car describe --json`. Agents branch on them, so they
 * only ever gain meanings, never change.
 */
export const EXIT = {
  ok: 0,
  /** The command ran and found problems: lint errors, a failed doctor check, a refused operation. */
  failed: 1,
  /** Bad usage or setup: unknown command/flag, bad argument, not inside a repo, not initialized, no such ticket. */
  usage: 2,
  /** Input on disk is invalid (config or ticket) and blocks the command; nothing was changed. */
  invalidInput: 3,
  /** Another process owns what the command needs (the repo's flow lock) or the run is in the wrong state. */
  conflict: 4,
  /** A foreground run ended paused or stopped: it needs a person, hit a limit, or was stopped. */
  notFinished: 5,
  /** A write failed because the disk is full, over quota or read-only; no partial file was left. */
  disk: 6,
} as const;

export const EXIT_CODE_DOCS: Record<string, string> = {
  '0': 'success',
  '1': 'the command ran and found problems (lint errors, failed doctor check, refused operation)',
  '2': 'usage or setup error (unknown command or flag, bad argument, not in a repo, not initialized, no such ticket)',
  '3': 'invalid input on disk (config or ticket) blocks the command; nothing was changed',
  '4': 'conflict: the repo is locked by another process or the run is in the wrong state',
  '5': 'a run ended paused or stopped (needs a person, hit a limit, or was stopped); see car flow status',
  '6': 'the disk is full, over quota or read-only: a write failed (the message names the file); no partial file was left',
};

/** An error meant for the user: printed as `car: <message>` without a stack, exiting with `code`. */
export class CliError extends Error {
  readonly code: number;
  constructor(message: string, code: number) {
    super(message);
    this.name = 'CliError';
    this.code = code;
  }
}
