// A full or read-only disk under a run is an expected condition, not a crash. The run pauses with the
// reason (`disk_full`, `disk_read_only`) and the file it could not write, as far as the disk lets that be
// recorded. A read-only disk needs a person (remount, then `car flow resume`); a full one is waited out:
// the worker looks for room every few seconds and goes on by itself once there is some (the engine then
// reloads the run as last recorded, as a restarted worker would). `car flow stop` ends the wait.
import { existsSync, unlinkSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { type DiskError, diskErrorOf } from '../fs/disk-error.ts';
import { type FlowOutcome, stopped } from './flow-types.ts';
import type { RunContext } from './run-context.ts';

/** How often a full disk is looked at again. */
const DISK_POLL_MS = 5_000;
/** Room a probe write must find before the run goes on (a turn summary or a store page fits in it). */
const PROBE_BYTES = 64 * 1024;

/**
 * Pauses the run on `disk` and, for a full disk, waits for room. Returns null when the run can go on,
 * or the outcome it ends with (the read-only pause, a stop, an abort), not yet recorded.
 */
export async function waitForDisk(ctx: RunContext, disk: DiskError): Promise<FlowOutcome | null> {
  const readOnly = disk.code === 'EROFS';
  // Not ctx.pause: its look at the tree runs git, which a sick disk may fail too; no resume gating
  // depends on this pause.
  const paused: FlowOutcome = {
    status: 'paused',
    reasonCode: readOnly ? 'disk_read_only' : 'disk_full',
    reason: readOnly
      ? `${disk.message}. Make it writable, then car flow resume.`
      : `${disk.message}. Waiting for free space; the run goes on by itself (car flow stop ends it).`,
    details: { path: disk.path, code: disk.code },
  };
  ctx.progress({ type: 'note', text: paused.reason });
  if (readOnly) return paused;
  recordIfRoom(ctx, paused);
  for (;;) {
    await ctx.wait('free disk space', ctx.sleep(DISK_POLL_MS, ctx.deps.signal));
    const aborted = ctx.abortOutcome();
    if (aborted) return aborted;
    if (ctx.requested() === 'stop') return stopped();
    if (hasRoom(disk.path, ctx.paths.runDir)) {
      ctx.progress({ type: 'note', text: 'disk space is back; the run goes on' });
      return null;
    }
  }
}

/** Records the pause while waiting, when the disk lets the store write it. */
function recordIfRoom(ctx: RunContext, paused: FlowOutcome): void {
  try {
    ctx.finish(paused);
  } catch (err) {
    if (!diskErrorOf(err)) throw err;
  }
}

/** Whether a small file can be written next to the one that failed (or in the run folder). */
function hasRoom(failedPath: string, runDir: string): boolean {
  const dir = existsSync(dirname(failedPath)) ? dirname(failedPath) : runDir;
  const probe = join(dir, `.car-disk-probe-${process.pid}`);
  try {
    writeFileSync(probe, Buffer.alloc(PROBE_BYTES));
    return true;
  } catch {
    return false;
  } finally {
    try {
      unlinkSync(probe);
    } catch {
      // not written
    }
  }
}
