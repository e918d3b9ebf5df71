// Short commands (git) started by a small shell car keeps beside it, instead of by car itself. Node forks
// its whole process for every child it starts, and nothing else in car runs meanwhile: 6–10 ms a child at
// car's 50–90 MB on the VMs car is measured on, where a run with lanes starts hundreds of gits. The shell
// (dash, ~2 MB) forks in a fraction of that, and car's event loop only writes a line to it.
// Each command is still what runInGroup makes of it: its own session and process group (setsid, as
// `detached` does), exactly the environment asked for (env -i), a timeout and an abort that kill the
// group. Its input and output go through files in a folder only this user can read, removed as they are
// read. Where the shell, setsid(1) or env(1) is missing, runInGroup starts the command itself.
import { type ChildProcess, spawn } from 'node:child_process';
import {
  closeSync,
  createReadStream,
  fstatSync,
  mkdtempSync,
  openSync,
  readdirSync,
  readSync,
  rmSync,
  unlinkSync,
  writeFileSync,
} from 'node:fs';
import { constants, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { which } from '../which.ts';
import { type GroupRunExit, type RunInGroupOptions, runInGroup } from './run.ts';

const READ_WHOLE_BYTES = 1 << 20;
const DIR_PREFIX = 'car-spawn-';

type Outcome = { status: number } | { noFolder: true } | { lost: true };

interface Job {
  pid: number | null;
  /** A kill asked for before the shell said which pid the command has. */
  pendingKill: boolean;
  settle: (outcome: Outcome) => void;
}

const IDENTIFIER = /^[A-Za-z_][A-Za-z0-9_]*$/;
/** Variables the shell sets itself (cd exports PWD and OLDPWD): always said outright. */
const SHELL_OWN = new Set(['PWD', 'OLDPWD']);

/** A word the shell reads back as exactly `s`. */
const quote = (s: string): string => `'${s.replaceAll("'", "'\\''")}'`;

class ShellSpawner {
  readonly #sh: ChildProcess;
  readonly #dir: string;
  readonly #setsid: string;
  readonly #envCommand: string;
  /** The environment the shell was started with: a command's own is this one changed (see #envFor). */
  readonly #base: Record<string, string>;
  readonly #jobs = new Map<number, Job>();
  #next = 0;
  #partial = '';
  #dead = false;

  constructor(setsid: string, envCommand: string) {
    this.#setsid = setsid;
    this.#envCommand = envCommand;
    this.#base = {};
    for (const [k, v] of Object.entries(process.env)) {
      if (v !== undefined && IDENTIFIER.test(k) && !SHELL_OWN.has(k)) this.#base[k] = v;
    }
    this.#dir = mkdtempSync(join(tmpdir(), `${DIR_PREFIX}${process.pid}-`));
    // a session of its own: a Ctrl-C meant for car does not kill the gits car is waiting for; it ends
    // when car does (its stdin closes)
    this.#sh = spawn('/bin/sh', ['-s'], {
      stdio: ['pipe', 'pipe', 'ignore'],
      detached: true,
      cwd: '/',
      env: this.#base,
    });
    this.#sh.on('error', () => this.#lost());
    this.#sh.on('exit', () => this.#lost());
    this.#sh.stdin?.on('error', () => this.#lost());
    this.#sh.stdout?.setEncoding('utf8');
    this.#sh.stdout?.on('data', (text: string) => this.#read(text));
    // idle, the shell holds nothing open (car may exit); while a command runs, its stdout does (see #hold)
    this.#sh.unref();
    this.#hold(false);
    process.once('exit', () => rmSync(this.#dir, { recursive: true, force: true }));
  }

  get usable(): boolean {
    return !this.#dead;
  }

  /**
   * Shell words that give the command exactly `env`: `unset`/`export` of what differs from the shell's
   * own (no process more), or env(1) with a whole new environment when a name is not a shell name.
   */
  #envFor(env: NodeJS.ProcessEnv): { setup: string; prefix: string } {
    const entries = Object.entries(env).filter((e): e is [string, string] => e[1] !== undefined);
    if (entries.some(([k]) => !IDENTIFIER.test(k))) {
      const words = entries
        .filter(([k]) => k !== '' && !k.includes('=') && !k.startsWith('-'))
        .map(([k, v]) => quote(`${k}=${v}`));
      return { setup: '', prefix: `${quote(this.#envCommand)} -i ${words.join(' ')} ` };
    }
    const unset = [...Object.keys(this.#base), ...SHELL_OWN].filter((k) => env[k] === undefined);
    const exports = entries.filter(([k, v]) => SHELL_OWN.has(k) || this.#base[k] !== v);
    let setup = '';
    if (unset.length > 0) setup += `unset ${unset.join(' ')}; `;
    if (exports.length > 0) setup += `export ${exports.map(([k, v]) => `${k}=${quote(v)}`).join(' ')}; `;
    return { setup, prefix: '' };
  }

  run(command: string, args: readonly string[], opts: RunInGroupOptions): Promise<GroupRunExit> {
    const id = this.#next++;
    const base = join(this.#dir, String(id));
    const files = { in: `${base}.in`, out: `${base}.out`, err: `${base}.err` };
    let stdin = '/dev/null';
    if (opts.input !== undefined && opts.input.length > 0) {
      try {
        writeFileSync(files.in, opts.input, { mode: 0o600 });
      } catch {
        rmQuietly(files.in);
        return runInGroup(command, args, opts); // the folder is full or gone: through pipes, as Node does
      }
      stdin = files.in;
    }
    const { setup, prefix } = this.#envFor(opts.env);
    const line = [
      `( cd ${quote(resolve(opts.cwd))} 2>/dev/null || { echo "N ${id}"; exit; }; ${setup}`,
      `${quote(this.#setsid)} ${prefix}${quote(command)} ${args.map(quote).join(' ')}`,
      ` <${quote(stdin)} >${quote(files.out)} 2>${quote(files.err)} & echo "P ${id} $!"; wait $!; echo "E ${id} $?" ) &`,
      // reaps the jobs that ended since the last line; dash keeps them (zombies) until asked
      ' jobs >/dev/null\n',
    ].join('');

    return new Promise<GroupRunExit>((done) => {
      let timedOut = false;
      let killed = false;
      const kill = (): void => {
        killed = true;
        const job = this.#jobs.get(id);
        if (!job) return;
        if (job.pid === null) job.pendingKill = true;
        else killGroup(job.pid);
      };
      const timer = setTimeout(() => {
        timedOut = true;
        kill();
      }, opts.timeoutMs);
      const onAbort = (): void => kill();
      opts.signal?.addEventListener('abort', onAbort, { once: true });

      const settle = (outcome: Outcome): void => {
        this.#jobs.delete(id);
        if (this.#jobs.size === 0) this.#hold(false);
        clearTimeout(timer);
        opts.signal?.removeEventListener('abort', onAbort);
        void finish(outcome).then(done, (err: Error) =>
          done({ exitCode: null, signal: null, timedOut, spawnError: err }),
        );
      };
      const finish = async (outcome: Outcome): Promise<GroupRunExit> => {
        try {
          if ('lost' in outcome) {
            return {
              exitCode: null,
              signal: null,
              timedOut,
              spawnError: new Error(`the shell that starts ${command} exited`),
            };
          }
          if ('noFolder' in outcome)
            return { exitCode: null, signal: null, timedOut, spawnError: enoent(command, args, opts.cwd) };
          await pour(files.err, opts.onStderr);
          await pour(files.out, opts.onStdout);
          return { ...exitOf(outcome.status, killed), timedOut };
        } finally {
          for (const f of Object.values(files)) rmQuietly(f);
        }
      };

      if (this.#jobs.size === 0) this.#hold(true);
      this.#jobs.set(id, { pid: null, pendingKill: false, settle });
      if (opts.signal?.aborted) onAbort();
      this.#sh.stdin?.write(line);
    });
  }

  /** Whether the shell's pipes keep car's event loop alive: exactly while a command is pending. */
  #hold(on: boolean): void {
    for (const stream of [this.#sh.stdin, this.#sh.stdout]) {
      const handle = stream as { ref?: () => void; unref?: () => void } | null;
      if (on) handle?.ref?.();
      else handle?.unref?.();
    }
  }

  #read(text: string): void {
    const lines = (this.#partial + text).split('\n');
    this.#partial = lines.pop() ?? '';
    for (const line of lines) {
      const [kind, idText, value] = line.split(' ');
      const job = this.#jobs.get(Number(idText));
      if (!job) continue;
      if (kind === 'P') {
        job.pid = Number(value);
        if (job.pendingKill) killGroup(job.pid);
      } else if (kind === 'E') job.settle({ status: Number(value) });
      else if (kind === 'N') job.settle({ noFolder: true });
    }
  }

  #lost(): void {
    if (this.#dead) return;
    this.#dead = true;
    for (const job of [...this.#jobs.values()]) job.settle({ lost: true });
  }
}

/** The command's whole group, or the command alone while it has not made its group yet. */
function killGroup(pid: number): void {
  try {
    process.kill(-pid, 'SIGKILL');
  } catch {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // gone already
    }
  }
}

/**
 * The shell reports 128 + n for a command killed by signal n. git itself exits 128 (fatal) and 129
 * (usage); from 130 up it is a signal, as it is for anything car killed.
 */
function exitOf(status: number, killed: boolean): Pick<GroupRunExit, 'exitCode' | 'signal'> {
  if (status > 128 && (killed || status >= 130)) {
    const name = Object.entries(constants.signals).find(([, n]) => n === status - 128)?.[0];
    if (name) return { exitCode: null, signal: name as NodeJS.Signals };
  }
  return { exitCode: status, signal: null };
}

/** What Node reports when a child's working folder does not exist. */
function enoent(command: string, args: readonly string[], cwd: string): Error {
  return Object.assign(new Error(`spawn ${command} ENOENT`), {
    errno: -constants.errno.ENOENT,
    code: 'ENOENT',
    syscall: `spawn ${command}`,
    path: command,
    spawnargs: [...args],
    cwd,
  });
}

/** Hands `file` to `into`: whole when small (no stream's round trips), in chunks when large. */
async function pour(file: string, into: (chunk: Buffer) => void): Promise<void> {
  let fd: number;
  try {
    fd = openSync(file, 'r');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return;
    throw err;
  }
  try {
    const size = fstatSync(fd).size;
    if (size > READ_WHOLE_BYTES) {
      for await (const chunk of createReadStream('', { fd, autoClose: false })) into(chunk as Buffer);
      return;
    }
    if (size === 0) return;
    const buf = Buffer.allocUnsafe(size);
    let got = 0;
    while (got < size) {
      const n = readSync(fd, buf, got, size - got, got);
      if (n === 0) break;
      got += n;
    }
    into(buf.subarray(0, got));
  } finally {
    closeSync(fd);
  }
}

function rmQuietly(file: string): void {
  try {
    unlinkSync(file);
  } catch {
    // never made, or gone
  }
}

let spawner: ShellSpawner | null | undefined;

function shellSpawner(): ShellSpawner | null {
  if (spawner === undefined || (spawner !== null && !spawner.usable)) {
    const setsid = process.platform === 'linux' ? which('setsid') : null;
    const env = setsid ? which('env') : null;
    try {
      spawner = setsid && env && which('/bin/sh') ? new ShellSpawner(setsid, env) : null;
      if (spawner) removeStaleFolders();
    } catch {
      spawner = null; // no folder for the files (temp dir full or read-only): Node starts the commands
    }
  }
  return spawner;
}

/** The folders of car processes killed before they could remove theirs (named after their pid). */
function removeStaleFolders(): void {
  const dir = tmpdir();
  for (const name of readdirSync(dir)) {
    if (!name.startsWith(DIR_PREFIX)) continue;
    const pid = Number(name.slice(DIR_PREFIX.length).split('-')[0]);
    if (!Number.isInteger(pid) || pid <= 0 || pid === process.pid || pidAlive(pid)) continue;
    rmSync(join(dir, name), { recursive: true, force: true });
  }
}

function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * runInGroup for a short command whose output is read once it ended (git): started through the shell
 * spawner where there is one. Commands that need a graceful stop or their leftovers killed start as
 * runInGroup starts them.
 */
export function runShortInGroup(
  command: string,
  args: readonly string[],
  opts: RunInGroupOptions,
): Promise<GroupRunExit> {
  const s = opts.killGraceMs > 0 || opts.killLeftovers ? null : shellSpawner();
  return s ? s.run(command, args, opts) : runInGroup(command, args, opts);
}
