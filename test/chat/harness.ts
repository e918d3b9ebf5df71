// Shared set-up for the chat tests: a real car repo with demo-agent tickets, chat config in
// repo.override.yml, store helpers, and `startService` for tests that run the chat service in-process
// (the end-to-end round trips run the built CLI instead: built-chat.ts).
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { FlowControl } from '../../src/control/flow-control.ts';
import { loadConfig } from '../../src/core/config/index.ts';
import { repoPaths } from '../../src/core/paths.ts';
import { openRunStore, type RunStore } from '../../src/core/store/run-store.ts';
import { type ChatRepo, ChatService, type ChatServiceOptions } from '../../src/integrations/chat/service.ts';
import { createRepoState } from '../../src/integrations/git/index.ts';
import { workerLauncher } from '../../src/surfaces/worker-spawn.ts';
import { type CarRepo, makeCarRepo, ticketText, tid } from '../helpers/cli.ts';

export const script = (lines: string[]) => `\n\`\`\`car-demo\n${lines.join('\n')}\n\`\`\`\n`;

/**
 * A repo whose only ticket asks a question (`ask` is the demo agent's step, with ` | answer` options),
 * then writes answer.txt, marks itself done and commits.
 */
export async function askingRepo(
  chatYaml: string,
  ask = 'Which colour should the button be?',
): Promise<CarRepo> {
  const r = await makeCarRepo();
  r.ticket(
    'TICKET-010.md',
    ticketText(
      { id: tid(1), agent: 'demo', title: 'ask' },
      script([`ask ${ask}`, 'write answer.txt answered', 'done', 'commit answer']),
    ),
  );
  r.write('.codex-autorunner/repo.override.yml', chatYaml);
  r.commitAll('plan');
  return r;
}

export function workerEnvWithout(...names: string[]): NodeJS.ProcessEnv {
  const env = { ...process.env };
  for (const n of names) delete env[n];
  return env;
}

export interface InProcess {
  service: ChatService;
  logs: string[];
  stop(): Promise<void>;
}

export async function startService(
  root: string,
  opts: Pick<ChatServiceOptions, 'telegram' | 'discord'> & { backoffBaseMs?: number },
): Promise<InProcess> {
  const { config } = loadConfig(root, {});
  const logs: string[] = [];
  const control = new FlowControl(repoPaths(root), config, createRepoState(root), {
    launcher: workerLauncher(workerEnvWithout()),
  });
  const repo: ChatRepo = { id: null, control };
  const service = new ChatService({
    mode: 'repo',
    repos: { list: () => [repo], close: () => control.close() },
    chatDb: repoPaths(root).dbFile,
    config,
    ...opts,
    log: (line) => logs.push(line),
    pollMs: 100,
  });
  await service.start();
  return { service, logs, stop: () => service.stop() };
}

export function openStore(root: string): RunStore {
  return openRunStore(repoPaths(root).dbFile);
}

export async function waitUntil<T>(
  check: () => T | undefined | null | false,
  what: string,
  timeoutMs = 30_000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = check();
    if (v !== undefined && v !== null && v !== false) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

/** Every file under `.codex-autorunner/` (db, WAL, logs, run folders), for secret greps. */
export function stateFiles(root: string): string[] {
  const out: string[] = [];
  const walk = (d: string) => {
    for (const name of readdirSync(d)) {
      const abs = join(d, name);
      if (statSync(abs).isDirectory()) walk(abs);
      else out.push(abs);
    }
  };
  walk(join(root, '.codex-autorunner'));
  return out;
}

/** The files under `.codex-autorunner/` whose bytes contain `secret`. */
export function filesContaining(root: string, secret: string): string[] {
  return stateFiles(root).filter((f) => readFileSync(f).includes(Buffer.from(secret)));
}
