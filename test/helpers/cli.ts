// Runs the car CLI in-process (runCli) against a temp repo and captures its output.
import { createHash } from 'node:crypto';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, relative } from 'node:path';
import { runCli } from '../../src/surfaces/cli/run-cli.ts';
import { type GitRepo, makeGitRepo } from './git-repo.ts';

export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

export interface RunOptions {
  cwd: string;
  /** Merged over a copy of process.env (so git and PATH work) unless `replaceEnv` is set. */
  env?: NodeJS.ProcessEnv;
  replaceEnv?: boolean;
}

/** One CLI invocation, as `car <argv>` typed in `cwd`. */
export async function car(argv: readonly string[], opts: RunOptions): Promise<CliResult> {
  let stdout = '';
  let stderr = '';
  const env = opts.replaceEnv ? { ...opts.env } : { ...process.env, NO_COLOR: '1', ...opts.env };
  const code = await runCli(argv, {
    cwd: opts.cwd,
    env,
    stdout: (text) => {
      stdout += text;
    },
    stderr: (text) => {
      stderr += text;
    },
    isTTY: false,
  });
  return { code, stdout, stderr };
}

/** Parses stdout as JSON (the same for an in-process run and a run of the built CLI). */
export { json } from './built-car.ts';

export const TICKETS_DIR = '.codex-autorunner/tickets';

export interface CarRepo extends GitRepo {
  run(argv: readonly string[], opts?: Partial<RunOptions>): Promise<CliResult>;
  /** Writes a ticket file under `.codex-autorunner/tickets/`. */
  ticket(name: string, content: string): void;
  read(relPath: string): string;
}

/** A real git repo with `car init` already run in it (codex as the default agent). */
export async function makeCarRepo(): Promise<CarRepo> {
  const repo = makeGitRepo();
  const run = (argv: readonly string[], opts: Partial<RunOptions> = {}) =>
    car(argv, { cwd: repo.dir, ...opts });
  // a fixed default agent: plain `car init` would pick whichever agent this machine has on PATH
  const init = await run(['init', '--agent', 'codex']);
  if (init.code !== 0) throw new Error(`car init failed: ${init.stderr}`);
  return {
    ...repo,
    run,
    ticket: (name, content) => repo.write(`${TICKETS_DIR}/${name}`, content),
    read: (relPath) => readFileSync(join(repo.dir, relPath), 'utf8'),
  };
}

/** A ticket file's text with the required fields. */
export function ticketText(
  fields: { id?: string | null; agent?: string; done?: boolean | string; title?: string } = {},
  body = '\n## Tasks\n- something\n',
): string {
  const lines = ['---'];
  const id = fields.id === undefined ? `tkt_${'0'.repeat(31)}1` : fields.id;
  if (id !== null) lines.push(`ticket_id: ${id}`);
  lines.push(`agent: ${fields.agent ?? 'codex'}`);
  lines.push(`done: ${String(fields.done ?? false)}`);
  if (fields.title !== undefined) lines.push(`title: ${fields.title}`);
  lines.push('---');
  return `${lines.join('\n')}\n${body}`;
}

/** A 32-hex ticket id made from a small number, so tests can tell tickets apart. */
export function tid(n: number): string {
  return `tkt_${n.toString(16).padStart(32, '0')}`;
}

/** sha256 of every file under `dir` (including .git), keyed by relative path. */
export function snapshot(dir: string): Map<string, string> {
  const out = new Map<string, string>();
  const walk = (d: string) => {
    for (const entry of readdirSync(d, { withFileTypes: true })) {
      const abs = join(d, entry.name);
      if (entry.isDirectory()) walk(abs);
      else if (entry.isFile()) {
        out.set(relative(dir, abs), createHash('sha256').update(readFileSync(abs)).digest('hex'));
      }
    }
  };
  walk(dir);
  return out;
}

/** A plain temp folder (not a git repo). */
export function makeTempDir(prefix = 'car-plain-'): { dir: string; cleanup: () => void } {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  return { dir, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

export function writeFile(path: string, content: string): void {
  mkdirSync(dirname(path), { recursive: true });
  writeFileSync(path, content);
}
