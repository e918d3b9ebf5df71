// A warm start for `car run`. Codex's app-server takes ~0.4 s to boot and car ~0.25 s to load before it
// knows which agent to start; a run started where the previous one ran starts that one's agent process
// as its very first step instead, so the two overlap. The previous run left the launch (command, folder,
// what car changed in the environment) and stamps of the files the agent reads as it starts (its config
// and login) in car's global state folder, readable by the user alone; nothing is started when a stamp
// changed. The run adopts the process only if the launch it computes itself is exactly that one (command,
// folder, whole environment), else kills it. An agent nobody adopted is killed when car exits, and ends by
// itself if car is killed first (its stdin closes). Only node's own modules are imported here: this runs
// before the rest of car is loaded.
import type { ChildProcess } from 'node:child_process';
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdirSync, readFileSync, realpathSync, renameSync, statSync, writeFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join, resolve } from 'node:path';

export interface AgentLaunch {
  command: readonly string[];
  cwd: string;
  /** The process's whole environment. */
  env: NodeJS.ProcessEnv;
  /** Written to its stdin as soon as it starts (codex: initialize and the first thread/start). */
  prelude?: string;
}

interface WarmRecord {
  version: 1;
  command: string[];
  cwd: string;
  /** The environment as car's own, with these set and removed. */
  set: Record<string, string>;
  unset: string[];
  /** path → `mtime:size:inode`, or `missing`. */
  stamps: Record<string, string>;
  prelude?: string;
}

/** Where this invocation's record lives; null when this process is not a `car run`. */
let recordFile: string | null = null;
let remembered = false;
let warm: { child: ChildProcess; launch: AgentLaunch } | null = null;

function globalRoot(env: NodeJS.ProcessEnv): string {
  const fromEnv = env.CAR_GLOBAL_STATE_ROOT?.trim();
  return fromEnv ? resolve(fromEnv) : join(env.HOME ?? homedir(), '.codex-autorunner');
}

/** The record of `car <argv>` run in `cwd`. */
function recordPath(cwd: string, argv: readonly string[], env: NodeJS.ProcessEnv): string {
  const key = createHash('sha256')
    .update(JSON.stringify({ cwd: realpathSync(cwd), argv }))
    .digest('hex')
    .slice(0, 24);
  return join(globalRoot(env), 'warm', `${key}.json`);
}

function stampOf(path: string): string {
  try {
    const s = statSync(path);
    return `${s.mtimeMs}:${s.size}:${s.ino}`;
  } catch {
    return 'missing';
  }
}

function parseRecord(text: string): WarmRecord | null {
  const r = JSON.parse(text) as Partial<WarmRecord> | null;
  const strings = (v: unknown): v is string[] => Array.isArray(v) && v.every((x) => typeof x === 'string');
  const stringMap = (v: unknown): v is Record<string, string> =>
    typeof v === 'object' && v !== null && Object.values(v).every((x) => typeof x === 'string');
  if (r?.version !== 1 || !strings(r.command) || r.command.length === 0 || typeof r.cwd !== 'string')
    return null;
  if (!stringMap(r.set) || !strings(r.unset) || !stringMap(r.stamps)) return null;
  if (r.prelude !== undefined && typeof r.prelude !== 'string') return null;
  return r as WarmRecord;
}

/**
 * Called first thing with car's arguments: for `car run`, starts the agent the previous run here
 * started, when nothing it reads as it starts has changed since.
 */
export function warmStart(argv: readonly string[], env: NodeJS.ProcessEnv = process.env): void {
  if (argv[0] !== 'run' || argv.includes('--help') || argv.includes('-h')) return;
  try {
    recordFile = recordPath(process.cwd(), argv, env);
    const record = parseRecord(readFileSync(recordFile, 'utf8'));
    if (!record) return;
    if (Object.entries(record.stamps).some(([path, stamp]) => stampOf(path) !== stamp)) return;
    const launchEnv: NodeJS.ProcessEnv = { ...env, ...record.set };
    for (const name of record.unset) delete launchEnv[name];
    const [binary, ...args] = record.command as [string, ...string[]];
    // its own process group, as every agent (see process.ts)
    const child = spawn(binary, args, {
      cwd: record.cwd,
      env: launchEnv,
      stdio: ['pipe', 'pipe', 'pipe'],
      detached: true,
    });
    child.on('error', () => {}); // could not start: nothing to adopt (see takeWarm)
    child.stdin?.on('error', () => {});
    if (record.prelude) child.stdin?.write(record.prelude);
    // not adopted yet, it must not keep car alive: a run that never asks for it ends, and kills it
    holdOpen(child, false);
    const launch: AgentLaunch = { command: record.command, cwd: record.cwd, env: launchEnv };
    if (record.prelude) launch.prelude = record.prelude;
    warm = { child, launch };
    process.once('exit', () => discardWarm());
  } catch {
    // no record (the first run here), or one that cannot be read: an ordinary start
  }
}

function sameEnv(a: NodeJS.ProcessEnv, b: NodeJS.ProcessEnv): boolean {
  const keys = Object.keys(a).filter((k) => a[k] !== undefined);
  return (
    keys.length === Object.keys(b).filter((k) => b[k] !== undefined).length &&
    keys.every((k) => a[k] === b[k])
  );
}

/** Whether the process and its pipes keep this one's event loop alive. */
function holdOpen(child: ChildProcess, hold: boolean): void {
  for (const handle of [child, child.stdin, child.stdout, child.stderr]) {
    const h = handle as { ref?: () => void; unref?: () => void } | null;
    if (hold) h?.ref?.();
    else h?.unref?.();
  }
}

/**
 * The warm process, if it runs `launch` exactly (over pipes, as it was started, having been written the
 * same prelude) and is alive; taken
 * once. Any other launch asked for first means the guess was wrong: the warm process is killed.
 */
export function takeWarm(launch: AgentLaunch, piped: boolean): ChildProcess | null {
  const w = warm;
  if (!w) return null;
  warm = null;
  const { child } = w;
  const same =
    piped &&
    w.launch.command.length === launch.command.length &&
    w.launch.command.every((part, i) => part === launch.command[i]) &&
    resolve(w.launch.cwd) === resolve(launch.cwd) &&
    (w.launch.prelude ?? '') === (launch.prelude ?? '') &&
    sameEnv(w.launch.env, launch.env);
  if (same && child.pid !== undefined && child.exitCode === null && child.signalCode === null) {
    holdOpen(child, true);
    return child;
  }
  killWarm(child);
  return null;
}

function discardWarm(): void {
  if (warm) killWarm(warm.child);
  warm = null;
}

function killWarm(child: ChildProcess): void {
  if (child.pid === undefined) return;
  try {
    process.kill(-child.pid, 'SIGKILL');
  } catch {
    // gone already
  }
  child.stdin?.destroy();
  child.stdout?.destroy();
  child.stderr?.destroy();
}

/**
 * Keeps `launch` for the next `car run` started the same way here (only in a `car run`, the first
 * launch), with stamps of `startFiles`, the files the agent reads as it starts, as they are when car
 * exits (codex itself writes to its config during a run). Never the run's failure.
 */
export function rememberLaunch(launch: AgentLaunch, startFiles: readonly string[]): void {
  const file = recordFile;
  if (!file || remembered) return;
  remembered = true;
  const record = recordOf(launch);
  process.once('exit', () => writeRecord(file, record, startFiles));
}

/**
 * `car init`: the launch of the repo's default agent kept for the first `car run` in `root`, so that
 * one starts warm too. Never init's failure.
 */
export function prepareWarmStart(root: string, launch: AgentLaunch, startFiles: readonly string[]): void {
  try {
    writeRecord(recordPath(root, ['run'], process.env), recordOf(launch), startFiles);
  } catch {
    // the first run starts its agent the ordinary way
  }
}

/** `launch` as what it changes in car's own environment (which holds secrets a record need not). */
function recordOf(launch: AgentLaunch): Omit<WarmRecord, 'stamps'> {
  const set: Record<string, string> = {};
  for (const [k, v] of Object.entries(launch.env)) if (v !== undefined && process.env[k] !== v) set[k] = v;
  const unset = Object.keys(process.env).filter((k) => launch.env[k] === undefined);
  return {
    version: 1,
    command: [...launch.command],
    cwd: resolve(launch.cwd),
    set,
    unset,
    ...(launch.prelude ? { prelude: launch.prelude } : {}),
  };
}

/** Writes the record with the stamps of `startFiles` as they are now (never throws). */
function writeRecord(file: string, record: Omit<WarmRecord, 'stamps'>, startFiles: readonly string[]): void {
  const full: WarmRecord = { ...record, stamps: Object.fromEntries(startFiles.map((p) => [p, stampOf(p)])) };
  try {
    mkdirSync(join(file, '..'), { recursive: true, mode: 0o700 });
    const tmp = `${file}.${process.pid}.tmp`;
    writeFileSync(tmp, `${JSON.stringify(full)}\n`, { mode: 0o600 });
    renameSync(tmp, file);
  } catch {
    // the next run starts its agent the ordinary way
  }
}
