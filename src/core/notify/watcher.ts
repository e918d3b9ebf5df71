// Turns new run events into outbox rows for every bound chat: reads each run's event log by seq from
// the chat's cursor, and enqueues + advances the cursor in one transaction (one notice per event).
import type { RunStore } from '../store/run-store.ts';
import type { Run, RunEvent } from '../store/types.ts';
import type { Binding, ChatStore, Platform } from './chat-store.ts';
import { type DispatchInfo, NOTICE_EVENT_TYPES, type Notice, noticeFor } from './notices.ts';
import { splitText } from './text.ts';

export interface WatchTarget {
  platform: Platform;
  /** Longest message the platform takes. */
  maxChars: number;
}

export interface CollectOptions {
  repo: string;
  targets: readonly WatchTarget[];
  /** Notice kinds to send (`notifications.events`). */
  kinds: ReadonlySet<string>;
  /** Runs looked at per pass, newest first. */
  runLimit?: number;
  /** The bindings that follow this repo (default: all of them). */
  follows?: (binding: Binding) => boolean;
}

const PAGE = 200;

/** Finds a run's archived dispatch by its number in the event log (read a page at a time). */
export function dispatchLookup(runs: RunStore) {
  return (runId: string, dispatchSeq: number): DispatchInfo | null => {
    let found: RunEvent | undefined;
    let after = 0;
    for (;;) {
      const page = runs.listEvents(runId, { types: ['dispatch'], afterSeq: after, limit: PAGE });
      for (const e of page) if (e.data.seq === dispatchSeq) found = e;
      if (page.length < PAGE) break;
      after = page.at(-1)!.seq;
    }
    if (!found) return null;
    const options = Array.isArray(found.data.options)
      ? found.data.options.filter((o): o is string => typeof o === 'string')
      : [];
    return {
      title: typeof found.data.title === 'string' ? found.data.title : null,
      body: typeof found.data.body === 'string' ? found.data.body : '',
      options,
    };
  };
}

/** `lane 2: TICKET-004` for a lane's run among `runs`, else null. */
function laneOf(runs: readonly Run[]): (runId: string) => string | null {
  return (runId) => {
    const meta = runs.find((r) => r.id === runId)?.metadata;
    if (typeof meta?.lane !== 'number' || typeof meta.ticket !== 'string') return null;
    return `lane ${meta.lane}: ${meta.ticket.split('/').pop()?.replace(/\.md$/i, '')}`;
  };
}

/** One pass over the bound chats; returns how many outbox rows were added. */
export function collectNotices(runs: RunStore, chats: ChatStore, opts: CollectOptions): number {
  let added = 0;
  // lanes' runs too: a lane's question reaches the person while the other lanes work on
  const recent = runs.listRuns({ limit: opts.runLimit ?? 20, includeLanes: true });
  const ctx = { repo: opts.repo, dispatch: dispatchLookup(runs), lane: laneOf(recent) };
  for (const target of opts.targets) {
    for (const binding of chats.bindings(target.platform)) {
      if (opts.follows && !opts.follows(binding)) continue;
      for (const run of recent) {
        const known = chats.cursor(target.platform, binding.chatId, run.id);
        if (known === null && run.createdAt < binding.boundAt) {
          // a run from before the binding (a repo added to the hub later, say): from now on, no history
          chats.setCursor(target.platform, binding.chatId, run.id, runs.lastEventSeq(run.id));
          continue;
        }
        const cursor = known ?? 0;
        if (run.lastEventSeq <= cursor) continue;
        // events up to `last` are committed (seq allocation and the counter bump share a transaction)
        const last = runs.lastEventSeq(run.id);
        const page = runs.listEvents(run.id, { afterSeq: cursor, types: NOTICE_EVENT_TYPES, limit: PAGE });
        const notices: Notice[] = [];
        for (const event of page) {
          const notice = noticeFor(event, ctx);
          if (notice && opts.kinds.has(notice.kind)) notices.push(notice);
        }
        const full = page.length === PAGE;
        const upTo = full ? page.at(-1)!.seq : Math.max(last, page.at(-1)?.seq ?? 0);
        chats.transaction(() => {
          for (const n of notices) {
            const parts = splitText(n.text, target.maxChars);
            parts.forEach((text, i) => {
              const id = chats.enqueue({
                platform: target.platform,
                chatId: binding.chatId,
                dedupeKey: `${target.platform}:${binding.chatId}:${n.runId}:${n.seq}:${i}`,
                text,
                // buttons ride on the last part, under the text they act on
                buttons: i === parts.length - 1 ? n.buttons : [],
                runId: n.runId,
              });
              if (id !== null) added++;
            });
          }
          chats.setCursor(target.platform, binding.chatId, run.id, upTo);
        });
      }
    }
  }
  return added;
}
