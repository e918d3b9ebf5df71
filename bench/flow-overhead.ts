// Orchestration overhead per ticket: N tickets through the real engine (real git repo, real SQLite store,
// real git adapter) with an instant in-process agent that only flips `done: true`. Wall time minus the
// agent's own time, divided by N, is what car adds around an agent. Run: node --import tsx bench/flow-overhead.ts [N]
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { Agent } from '../src/core/agent.ts';
import { DEFAULT_CONFIG, knownAgentIds } from '../src/core/config/index.ts';
import { FlowEngine } from '../src/core/flow/engine.ts';
import { flowSettings } from '../src/core/flow/settings.ts';
import { initialState } from '../src/core/flow/state.ts';
import { initRepo } from '../src/core/init.ts';
import { repoPaths } from '../src/core/paths.ts';
import { openRunStore } from '../src/core/store/run-store.ts';
import { newTicketId, renderNewTicket, setFrontmatterField } from '../src/core/tickets/index.ts';
import { createRepoState } from '../src/integrations/git/index.ts';

function git(dir: string, args: string[]): void {
  execFileSync('git', ['-c', 'user.name=bench', '-c', 'user.email=bench@car.invalid', ...args], {
    cwd: dir,
    stdio: 'ignore',
  });
}

/**
 * Flips done and returns at once; its own time is measured and subtracted. It writes the ticket the way
 * agents do (codex's apply_patch, an editor): a plain write, no fsync. An fsync here would make the
 * filesystem journal commit that car's next file creation then waits for, billing the agent's
 * durability to car.
 */
function instantAgent(root: string, agentMs: { total: number }): Agent {
  return {
    id: 'instant',
    startSession: async (options) => ({
      threadId: `instant-${options.ticketId}`,
      runTurn: async (request) => {
        const started = performance.now();
        const file = join(root, options.ticketPath);
        writeFileSync(file, setFrontmatterField(readFileSync(file, 'utf8'), 'done', true));
        request.onEvent({ type: 'message', text: `done ${options.ticketPath}` });
        agentMs.total += performance.now() - started;
        return { status: 'completed', finalText: `done ${options.ticketPath}` };
      },
      close: async () => {},
    }),
  };
}

export async function main(): Promise<void> {
  const n = Number(process.argv[2] ?? 200) || 200;
  const dir = mkdtempSync(join(tmpdir(), 'car-bench-flow-'));
  try {
    git(dir, ['init', '-q', '-b', 'main']);
    initRepo(dir);
    // As in CAR (and the CAR baseline): the state folder is ignored, so a done flip needs no commit.
    writeFileSync(join(dir, '.codex-autorunner', '.gitignore'), '*\n');
    writeFileSync(join(dir, 'README.md'), '# bench\n');
    const paths = repoPaths(dir);
    for (let i = 1; i <= n; i++) {
      const name = `TICKET-${String(i).padStart(3, '0')}.md`;
      const body = `## Tasks\n- step ${i}\n\n## Acceptance criteria\n- it holds\n`;
      writeFileSync(
        join(paths.ticketsDir, name),
        renderNewTicket(
          { ticket_id: newTicketId(), agent: 'codex', done: false, title: `ticket ${i}` },
          body,
        ),
      );
    }
    git(dir, ['add', '-A']);
    git(dir, ['commit', '-q', '-m', 'bench']);

    const store = openRunStore(paths.dbFile);
    const settings = flowSettings(DEFAULT_CONFIG, { maxTotalTurns: n + 10 });
    const run = store.createRun({
      state: initialState(settings.maxTotalTurns) as unknown as Record<string, unknown>,
    });
    const agentMs = { total: 0 };
    const agent = instantAgent(dir, agentMs);
    const engine = new FlowEngine({
      root: dir,
      store,
      repo: createRepoState(dir),
      resolveAgent: () => agent,
      settings,
      knownAgents: knownAgentIds(DEFAULT_CONFIG),
    });
    const started = performance.now();
    const outcome = await engine.run(run.id);
    const wall = performance.now() - started;
    const events = store.lastEventSeq(run.id);
    store.close();
    if (outcome.status !== 'completed')
      throw new Error(`bench run ended ${outcome.status}: ${outcome.reason}`);
    const perTicket = (wall - agentMs.total) / n;
    console.log(`machine: ${cpus().length} x ${cpus()[0]?.model ?? '?'}, node ${process.version}`);
    console.log(
      `flow overhead: ${perTicket.toFixed(1)} ms/ticket (${n} tickets, wall ${(wall / 1000).toFixed(2)} s, agent ${agentMs.total.toFixed(0)} ms, ${events} events)`,
    );
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) await main();
