// A RunContext for unit tests of one engine policy at a time: a real SQLite run store and real ticket
// files in a temp folder, but the git tree is a FakeRepoState the test sets by hand (no git at all).
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { AgentResolver } from '../../src/core/agent.ts';
import { DEFAULT_CONFIG, knownAgentIds } from '../../src/core/config/index.ts';
import type { FlowDeps } from '../../src/core/flow/flow-types.ts';
import type { DiffStat, FileChange, RepoSnapshot, RepoState } from '../../src/core/flow/ports.ts';
import { RunContext } from '../../src/core/flow/run-context.ts';
import { ensureRunDirs, runPaths } from '../../src/core/flow/run-paths.ts';
import { type FlowSettings, flowSettings } from '../../src/core/flow/settings.ts';
import { initialState } from '../../src/core/flow/state.ts';
import { openRunStore, type RunStore } from '../../src/core/store/run-store.ts';
import type { JsonObject, RunEvent } from '../../src/core/store/types.ts';
import { parseTicket, renderNewTicket, type Ticket } from '../../src/core/tickets/index.ts';

/** A working tree whose every answer the test sets. */
export class FakeRepoState implements RepoState {
  headSha: string | null = 'a'.repeat(40);
  fingerprintValue = 'fp-0';
  dirty = false;
  changes: FileChange[] = [];
  files = new Map<string, string>();
  status: string[] = [];
  commits: string[] = [];
  /** What a commit does to the tree (default: it becomes clean). */
  onCommit: () => void = () => {
    this.dirty = false;
  };

  async head() {
    return this.headSha;
  }
  async fingerprint() {
    return this.fingerprintValue;
  }
  async snapshot(): Promise<RepoSnapshot> {
    return { head: this.headSha, fingerprint: this.fingerprintValue, dirty: this.dirty };
  }
  async isDirty() {
    return this.dirty;
  }
  async statusLines() {
    return this.status;
  }
  async diffStat(): Promise<DiffStat> {
    return { filesChanged: this.changes.length, insertions: 0, deletions: 0 };
  }
  async diffFiles() {
    return this.changes;
  }
  async diffCommits() {
    return this.changes;
  }
  async fileAt(_sha: string, path: string) {
    return this.files.get(path) ?? null;
  }
  async commitAll(message: string) {
    this.commits.push(message);
    this.onCommit();
    this.headSha = 'c'.repeat(40);
    return this.headSha;
  }
  async removeStaleIndexLock() {
    return false;
  }
}

export interface PolicyContext {
  ctx: RunContext;
  repo: FakeRepoState;
  store: RunStore;
  root: string;
  /** Writes ticket n (frontmatter fields + body) and returns it parsed. */
  ticket(n: number, fields?: { agent?: string; done?: boolean; extra?: string }): Ticket;
  events(types?: readonly string[]): RunEvent[];
  cleanup(): void;
}

export function policyContext(
  opts: { settings?: Partial<FlowSettings>; deps?: Partial<FlowDeps>; resolveAgent?: AgentResolver } = {},
): PolicyContext {
  const root = mkdtempSync(join(tmpdir(), 'car-policy-'));
  mkdirSync(join(root, '.codex-autorunner', 'tickets'), { recursive: true });
  const store = openRunStore(join(root, '.codex-autorunner', 'car.db'));
  const repo = new FakeRepoState();
  const settings = flowSettings(DEFAULT_CONFIG, opts.settings);
  const run = store.createRun({
    input: { workspace_root: root },
    state: initialState(settings.maxTotalTurns) as unknown as JsonObject,
  });
  const deps: FlowDeps = {
    root,
    store,
    repo,
    resolveAgent:
      opts.resolveAgent ??
      (() => {
        throw new Error('no agent in a policy test');
      }),
    settings,
    knownAgents: knownAgentIds(DEFAULT_CONFIG),
    sleep: async () => {},
    ...opts.deps,
  };
  const paths = runPaths(root, run.id);
  ensureRunDirs(paths);
  const ctx = new RunContext(deps, {
    runId: run.id,
    state: initialState(settings.maxTotalTurns),
    paths,
    cache: new Map(),
  });
  return {
    ctx,
    repo,
    store,
    root,
    ticket(n, fields = {}) {
      const relPath = `.codex-autorunner/tickets/TICKET-${String(n).padStart(3, '0')}.md`;
      let text = renderNewTicket(
        { agent: fields.agent ?? 'codex', done: fields.done ?? false, title: `Ticket ${n}` },
        `## Tasks\n\nDo thing ${n}.`,
      );
      if (fields.extra) text = text.replace(/\n---\n/, `\n${fields.extra.trimEnd()}\n---\n`);
      writeFileSync(join(root, relPath), text);
      return parseTicket(text, { path: join(root, relPath), relPath, agents: deps.knownAgents });
    },
    events: (types) => store.listEvents(run.id, { limit: 10_000, ...(types ? { types } : {}) }),
    cleanup() {
      store.close();
      rmSync(root, { recursive: true, force: true });
    },
  };
}
