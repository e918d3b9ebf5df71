// What happens across a hub, for its web UI: the inbox (every paused run of every repo and what it waits
// for: a dispatch's question with its ready answers, a failed verify, a user ticket...; and every pending
// approval a supervised agent waits for; newest first) and the live view (every active run with its
// current ticket and the agent's last line).
//
// Per repo it reads the repo's own run store (the context of its mounted API, repo-mounts.ts) and keeps
// what it read against the store's change stamp (two pragmas) and its flow lock's holder (one small
// file), so an unchanged repo costs no query, and an unchanged hub costs one cached answer. An approval
// also ends by time with nothing written (its worker may be gone), so a repo is read again once the
// earliest of its listed approvals expires. Repos are read one per step (StepRunner), so a large hub does
// not hold up other requests.
import { existsSync } from 'node:fs';
import { Hono } from 'hono';
import type { RunJson } from '../../core/flow/run-json.ts';
import type { ManifestRepo } from '../../core/hub/manifest.ts';
import { repoDir } from '../../core/hub/manifest.ts';
import { readLock } from '../../core/lock.ts';
import { repoPaths } from '../../core/paths.ts';
import type { RunEvent } from '../../core/store/types.ts';
import { approvalJson } from '../approval-json.ts';
import { runJson } from '../flow-report.ts';
import { type Answer, AnswerCache, jsonAnswer, sendAnswer } from './answer.ts';
import type { ApiContext } from './context.ts';
import type { StepRunner } from './step-runner.ts';

/** The dispatch that paused a run, as `GET /api/runs/:id/events?types=dispatch` gives its data. */
export interface InboxQuestion {
  seq: number;
  mode: string;
  title: string | null;
  body: string;
  options?: string[];
  event_seq: number;
}

/** `run_paused`: a run waits for a person (its `run.reason_code` says why). */
export interface PausedRunItem {
  kind: 'run_paused';
  repo_id: string;
  /** When it started waiting (ISO); the inbox is newest first by it. */
  at: string;
  run: RunJson;
  /** For a `dispatch` pause: the question, with its ready answers. */
  question: InboxQuestion | null;
}

/** `approval`: a supervised agent waits for a person's answer (approval_policy: ask), not expired yet. */
export interface ApprovalItem {
  kind: 'approval';
  repo_id: string;
  /** When the agent asked (ISO). */
  at: string;
  /** As `GET /api/approvals` gives it (approval-json.ts); answered by `POST /repos/<id>/api/approvals/<id>`. */
  approval: Record<string, unknown>;
}

export type InboxItem = PausedRunItem | ApprovalItem;

export interface LiveRun {
  repo_id: string;
  run: RunJson;
  /** The repo's worker: `stale` when it died with the run still marked active (car flow start recovers it). */
  worker: 'alive' | 'stale' | 'none';
  /** The agent's last line: its last message's last line, else (nothing said yet) the tool it called or its status. */
  last_line: { at: string; text: string } | null;
}

interface RepoActivity {
  /** What it was read against: the store's change stamp and the worker's state. */
  read: string;
  /** `read` and how many pending approvals it left out as past their time (that set only grows). */
  stamp: string;
  /** When the first of its listed approvals expires (ms): then it is read again. */
  until: number;
  inbox: InboxItem[];
  live: LiveRun[];
  /** Why the repo's runs could not be read. */
  error?: string;
}

const ACTIVE = ['pending', 'running', 'stopping'] as const;
/** What the agent said last; before it said anything, what it did. */
const SAID = ['agent_message'];
const DID = ['tool_call', 'agent_status'];
const MAX_LINE = 300;

function lineOf(event: RunEvent): string {
  const data = event.data as Record<string, unknown>;
  if (event.type === 'tool_call') return `→ ${String(data.name ?? 'tool')}`;
  const text = String(data.text ?? data.message ?? '');
  const lines = text.split('\n').filter((l) => l.trim() !== '');
  const last = (lines.at(-1) ?? '').trim();
  return last.length > MAX_LINE ? `${last.slice(0, MAX_LINE)}…` : last;
}

type Worker = LiveRun['worker'];

/** The repo's flow lock: whether a live worker holds it (a worker can die without writing the store). */
function workerOf(ctx: ApiContext): Worker {
  const lock = readLock(ctx.paths.lockFile);
  return !lock?.holder ? 'none' : lock.stale ? 'stale' : 'alive';
}

/** At most this many pending approvals of one repo are listed. */
const MAX_APPROVALS = 100;

function readRepo(
  id: string,
  ctx: ApiContext,
  worker: Worker,
  now: number,
): Pick<RepoActivity, 'inbox' | 'live' | 'until'> & { late: number } {
  const control = ctx.control();
  const store = control.store;
  const inbox: InboxItem[] = [];
  let until = Number.POSITIVE_INFINITY;
  let late = 0;
  for (const approval of control.approvals({ limit: MAX_APPROVALS })) {
    const expires = Date.parse(approval.expiresAt);
    // past its time it cannot be answered any more, whether or not car has marked it expired yet
    if (!(expires > now)) {
      late++;
      continue;
    }
    until = Math.min(until, expires);
    inbox.push({ kind: 'approval', repo_id: id, at: approval.createdAt, approval: approvalJson(approval) });
  }
  for (const run of store.listRuns({ status: 'paused', includeLanes: true, limit: 100 })) {
    let question: InboxQuestion | null = null;
    if (run.reasonCode === 'dispatch') {
      const all = store
        .listEvents(run.id, { types: ['dispatch'], limit: 50, fromEnd: true })
        .map((e) => ({ ...(e.data as Omit<InboxQuestion, 'event_seq'>), event_seq: e.seq }));
      question = all.findLast((d) => d.mode === 'pause') ?? all.at(-1) ?? null;
    }
    const json = runJson(run, control);
    inbox.push({
      kind: 'run_paused',
      repo_id: id,
      at: json.paused_at ?? json.updated_at,
      run: json,
      question,
    });
  }
  const live: LiveRun[] = [];
  for (const run of store.listRuns({ status: ACTIVE, includeLanes: true, limit: 50 })) {
    const last =
      store.listEvents(run.id, { types: SAID, limit: 1, fromEnd: true })[0] ??
      store.listEvents(run.id, { types: DID, limit: 1, fromEnd: true })[0];
    live.push({
      repo_id: id,
      run: runJson(run, control),
      worker,
      last_line: last ? { at: last.at, text: lineOf(last) } : null,
    });
  }
  return { inbox, live, until, late };
}

export interface HubActivitySnapshot {
  inbox: Answer;
  live: Answer;
  /** Inbox items (the badge). */
  count: number;
}

export class HubActivity {
  readonly #repos = new Map<string, RepoActivity>();
  readonly #answers = new AnswerCache(8);
  readonly #hubRoot: () => string;
  readonly #manifest: () => readonly ManifestRepo[];
  readonly #context: (id: string) => ApiContext;
  readonly #steps: StepRunner;

  constructor(opts: {
    hubRoot: () => string;
    manifest: () => readonly ManifestRepo[];
    context: (id: string) => ApiContext;
    steps: StepRunner;
  }) {
    this.#hubRoot = opts.hubRoot;
    this.#manifest = opts.manifest;
    this.#context = opts.context;
    this.#steps = opts.steps;
  }

  /** The inbox and live answers of this moment (rebuilt only for repos whose store changed). */
  async snapshot(): Promise<HubActivitySnapshot> {
    const root = this.#hubRoot();
    const repos = this.#manifest().filter((r) => !r.archived);
    const seen = new Set<string>();
    const stamps: string[] = [];
    const self = this;
    await this.#steps.drive(
      (function* () {
        for (const entry of repos) {
          // a repo with no store has no runs (and nothing is created for it)
          if (!existsSync(repoPaths(repoDir(root, entry)).dbFile)) continue;
          seen.add(entry.id);
          stamps.push(`${entry.id}:${self.#refresh(entry.id)}`);
          yield;
        }
      })(),
    );
    for (const id of [...this.#repos.keys()]) if (!seen.has(id)) this.#repos.delete(id);
    const key = stamps.join('|');
    const inbox = await this.#answers.get(`inbox ${key}`, () => {
      const items = [...this.#repos.values()].flatMap((r) => r.inbox);
      items.sort((a, b) => (a.at < b.at ? 1 : a.at > b.at ? -1 : 0));
      const errors = [...this.#repos.entries()]
        .filter(([, r]) => r.error !== undefined)
        .map(([repo_id, r]) => ({ repo_id, message: r.error }));
      return jsonAnswer({ items, count: items.length, errors });
    });
    const live = await this.#answers.get(`live ${key}`, () => {
      const runs = [...this.#repos.values()].flatMap((r) => r.live);
      runs.sort((a, b) => a.repo_id.localeCompare(b.repo_id));
      return jsonAnswer({ runs });
    });
    let count = 0;
    for (const r of this.#repos.values()) count += r.inbox.length;
    return { inbox, live, count };
  }

  /**
   * Re-reads one repo when its store changed or one of its approvals ran out of time; returns its stamp
   * (a failure is a stamp of its own).
   */
  #refresh(id: string): string {
    let read = 'unreadable';
    try {
      const ctx = this.#context(id);
      const worker = workerOf(ctx);
      read = `${ctx.control().store.changeStamp()}:${worker}`;
      const now = Date.now();
      const kept = this.#repos.get(id);
      if (kept?.read === read && now < kept.until) return kept.stamp;
      // the same store read again because time passed lists less: its stamp differs (answers are keyed by it)
      const { late, ...activity } = readRepo(id, ctx, worker, now);
      const stamp = `${read}~${late}`;
      this.#repos.set(id, { read, stamp, ...activity });
      return stamp;
    } catch (err) {
      // a repo that cannot be read now (broken config, a store being replaced) says so until it can
      const error = err instanceof Error ? err.message : String(err);
      const stamp = `${read}:${error}`;
      this.#repos.set(id, {
        read: stamp,
        stamp,
        until: Number.POSITIVE_INFINITY,
        inbox: [],
        live: [],
        error,
      });
      return stamp;
    }
  }

  readonly #listeners = new Set<(s: HubActivitySnapshot) => void>();
  #timer: NodeJS.Timeout | null = null;
  #ticking = false;

  /**
   * Calls `listener` with a snapshot now and after every tick (`pollMs`) while it is registered: one
   * reader for every open stream, started by the first and stopped with the last. Returns the removal.
   */
  watch(listener: (s: HubActivitySnapshot) => void, pollMs: number): () => void {
    this.#listeners.add(listener);
    void this.snapshot().then(
      (s) => this.#listeners.has(listener) && listener(s),
      () => {},
    );
    if (!this.#timer) {
      this.#timer = setInterval(() => {
        if (this.#ticking) return;
        this.#ticking = true;
        this.snapshot()
          .then((s) => {
            for (const l of this.#listeners) l(s);
          })
          .catch(() => {})
          .finally(() => (this.#ticking = false));
      }, pollMs);
    }
    return () => {
      this.#listeners.delete(listener);
      if (this.#listeners.size === 0 && this.#timer) {
        clearInterval(this.#timer);
        this.#timer = null;
      }
    };
  }

  close(): void {
    this.#listeners.clear();
    if (this.#timer) clearInterval(this.#timer);
    this.#timer = null;
  }
}

/**
 *   GET /api/hub/inbox    `{items, count, errors}`: every paused run and pending approval across the hub,
 *                         newest first
 *   GET /api/hub/live     `{runs}`: every active run across the hub with the agent's last line
 *   GET /api/hub/stream   SSE: `event: inbox` `{count, etag}` when the inbox changed (the badge; GET the
 *                         inbox with that ETag), `event: live` with the live answer when it changed
 */
export function hubActivityRoutes(
  activity: () => HubActivity,
  opts: { pollMs?: number; keepAliveMs?: number } = {},
): Hono {
  const pollMs = opts.pollMs ?? 1000;
  const keepAliveMs = opts.keepAliveMs ?? 15_000;
  const routes = new Hono();
  routes.get('/inbox', async (c) => sendAnswer(c, (await activity().snapshot()).inbox));
  routes.get('/live', async (c) => sendAnswer(c, (await activity().snapshot()).live));
  routes.get('/stream', (c) => {
    const hub = activity();
    const decoder = new TextDecoder();
    let stop = () => {};
    const stream = new ReadableStream<string>({
      start(controller) {
        let inboxTag = '';
        let liveTag = '';
        let quietSince = Date.now();
        const send = (text: string) => {
          // a client that reads nothing is not buffered for without bound: its stream ends
          if ((controller.desiredSize ?? 0) < -MAX_UNREAD_CHARS) {
            stop();
            controller.close();
            return;
          }
          controller.enqueue(text);
          quietSince = Date.now();
        };
        const unwatch = hub.watch((s) => {
          if (s.inbox.etag !== inboxTag) {
            inboxTag = s.inbox.etag;
            send(`event: inbox\ndata: ${JSON.stringify({ count: s.count, etag: s.inbox.etag })}\n\n`);
          }
          if (s.live.etag !== liveTag) {
            liveTag = s.live.etag;
            send(`event: live\ndata: ${decoder.decode(s.live.body)}\n\n`);
          }
          if (Date.now() - quietSince >= keepAliveMs) send(': keep-alive\n\n');
        }, pollMs);
        stop = () => {
          unwatch();
          stop = () => {};
        };
        c.req.raw.signal.addEventListener('abort', () => stop());
      },
      cancel: () => stop(),
    });
    return new Response(stream.pipeThrough(new TextEncoderStream()), {
      headers: {
        'Content-Type': 'text/event-stream',
        'Cache-Control': 'no-store',
        'X-Content-Type-Options': 'nosniff',
        Connection: 'keep-alive',
      },
    });
  });
  return routes;
}

/** Characters a stream may leave unread before it is ended. */
const MAX_UNREAD_CHARS = 256 * 1024;
