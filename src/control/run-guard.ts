// A worker must never end silently. While a run executes in this process, three things would otherwise
// end it without a word and leave the run `running` with a dead worker: the event loop emptying under
// an await nothing can settle any more (Node exits with status 13), an unhandled promise rejection, and
// an uncaught exception. The guard turns each into a recorded end: an `internal_error` event naming
// what the run was waiting on, the run marked failed with that reason, a message on stderr, exit 1.
import type { Awaiting } from '../core/flow/awaiting.ts';
import type { FlowEvent } from '../core/flow/events.ts';
import type { RunStore } from '../core/store/run-store.ts';

export interface GuardIo {
  stderr: (text: string) => void;
  /** Ends the process (process.exit); the guard calls it once, after recording the failure. */
  exit: (code: number) => void;
}

export type FatalCause = 'event_loop_drained' | 'unhandled_rejection' | 'uncaught_exception';

const ERROR_CHARS = 4000;

function describeError(err: unknown): string {
  const text = err instanceof Error ? (err.stack ?? `${err.name}: ${err.message}`) : String(err);
  return text.length > ERROR_CHARS ? `${text.slice(0, ERROR_CHARS)}…` : text;
}

/** Installs the process hooks for run `runId`; the returned function removes them (call it when the run ends). */
export function guardRun(store: RunStore, runId: string, awaiting: Awaiting, io: GuardIo): () => void {
  let done = false;
  const fatal = (cause: FatalCause, err?: unknown): void => {
    if (done) return;
    done = true;
    const waitingOn = awaiting.describe();
    const what =
      cause === 'event_loop_drained'
        ? `the event loop emptied while the run waited on: ${waitingOn}; nothing could end that wait`
        : `${cause === 'unhandled_rejection' ? 'an unhandled promise rejection' : 'an uncaught exception'} while the run waited on: ${waitingOn}`;
    const error = err === undefined ? null : describeError(err);
    const reason = `internal error: ${what}.`;
    let recorded = true;
    try {
      store.transaction(() => {
        store.interruptRunningTurns(runId, reason);
        store.updateRun(runId, {
          status: 'failed',
          reasonCode: 'internal_error',
          reason,
          reasonDetails: { cause, awaiting: awaiting.list().map((w) => w.label), error },
          finishedAt: new Date().toISOString(),
        });
        store.appendEvent(runId, {
          type: 'internal_error',
          data: { cause, awaiting: waitingOn, error },
        } satisfies FlowEvent);
      });
    } catch {
      recorded = false;
    }
    io.stderr(
      `car: ${reason}${error ? `\n${error}` : ''}\n` +
        (recorded
          ? `car: run ${runId} is marked failed (internal_error); \`car run\` goes on from the first open ticket. Please report this with \`car flow events ${runId}\`.\n`
          : `car: run ${runId} could not be marked failed; \`car run\` recovers it.\n`),
    );
    io.exit(1);
  };
  const onBeforeExit = () => fatal('event_loop_drained');
  const onRejection = (reason: unknown) => fatal('unhandled_rejection', reason);
  const onException = (err: unknown) => fatal('uncaught_exception', err);
  process.on('beforeExit', onBeforeExit);
  process.on('unhandledRejection', onRejection);
  process.on('uncaughtException', onException);
  return () => {
    process.off('beforeExit', onBeforeExit);
    process.off('unhandledRejection', onRejection);
    process.off('uncaughtException', onException);
  };
}
