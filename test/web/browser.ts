// Browser tests' plumbing: Debian's chromium driven by playwright-core, and a real `car serve` (the
// built dist/car.js, which serves the built dist/web) over a temp repo.
import { type ChildProcess, execSync, spawn, spawnSync } from 'node:child_process';
import {
  closeSync,
  mkdirSync,
  mkdtempSync,
  openSync,
  readdirSync,
  rmSync,
  statSync,
  unlinkSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before } from 'node:test';
import { fileURLToPath } from 'node:url';
import { type BrowserContext, chromium } from 'playwright-core';

export const ROOT = fileURLToPath(new URL('../..', import.meta.url));
export const ARTIFACTS = join(ROOT, 'test-artifacts');
const BUNDLE = join(ROOT, 'dist/car.js');
const WEB_INDEX = join(ROOT, 'dist/web/index.html');

/** Debian's chromium, or null (the browser tests then skip with this reason). */
export function chromiumPath(): string | null {
  try {
    return execSync('command -v chromium', { shell: '/bin/sh', encoding: 'utf8' }).trim() || null;
  } catch {
    return null;
  }
}

export const NO_CHROMIUM = 'no chromium on PATH (apt-get install chromium); the browser tests need it';

function newest(dir: string): number {
  let max = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    if (entry.name === 'node_modules') continue;
    const path = join(dir, entry.name);
    max = Math.max(max, entry.isDirectory() ? newest(path) : statSync(path).mtimeMs);
  }
  return max;
}

function mtime(path: string): number {
  try {
    return statSync(path).mtimeMs;
  } catch {
    return 0;
  }
}

/** Builds dist/ when it is missing or older than the sources; one test file at a time builds. */
export async function ensureBuilt(): Promise<void> {
  const fresh = () =>
    mtime(BUNDLE) > newest(join(ROOT, 'src')) &&
    mtime(WEB_INDEX) > newest(join(ROOT, 'src/surfaces/web')) &&
    mtime(WEB_INDEX) > 0;
  if (fresh()) return;
  mkdirSync(join(ROOT, 'dist'), { recursive: true });
  const lock = join(ROOT, 'dist/.test-build.lock');
  for (;;) {
    try {
      closeSync(openSync(lock, 'wx'));
      break;
    } catch {
      // a lock left by a killed run is taken over after two minutes
      if (Date.now() - mtime(lock) > 120_000) rmSync(lock, { force: true });
      await new Promise((r) => setTimeout(r, 200));
    }
  }
  try {
    if (fresh()) return;
    const res = spawnSync('npm', ['run', 'build', '--silent'], { cwd: ROOT, stdio: 'inherit' });
    if (res.status !== 0) throw new Error('npm run build failed');
  } finally {
    unlinkSync(lock);
  }
}

export interface Browser {
  context: BrowserContext;
  /** Uncaught page errors and console errors (CSP violations among them), except failed loads. */
  errors: string[];
  close(): Promise<void>;
}

/** A headless chromium with a fresh profile directory, removed on close. */
export async function launch(executablePath: string): Promise<Browser> {
  const profile = mkdtempSync(join(tmpdir(), 'car-chromium-'));
  const context = await chromium.launchPersistentContext(profile, {
    executablePath,
    headless: true,
    viewport: { width: 1280, height: 860 },
    args: [
      '--no-sandbox',
      '--disable-gpu',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
      '--no-first-run',
    ],
  });
  const errors: string[] = [];
  context.on('page', (page) => {
    page.on('pageerror', (err) => errors.push(`pageerror: ${err.message}`));
    page.on('console', (msg) => {
      // a 401 before the token is entered, or a 409 on a stale save, is the UI working as meant
      if (msg.type() === 'error' && !msg.text().startsWith('Failed to load resource'))
        errors.push(msg.text());
    });
  });
  return {
    context,
    errors,
    close: async () => {
      await context.close();
      rmSync(profile, { recursive: true, force: true });
    },
  };
}

export interface Served {
  url: string;
  child: ChildProcess;
  output(): string;
  stop(): Promise<void>;
}

/** `node dist/car.js serve --port 0` in `root`; resolves with its URL once it listens. */
export async function serve(root: string, env: NodeJS.ProcessEnv = {}): Promise<Served> {
  const child = spawn(process.execPath, [BUNDLE, '--repo', root, 'serve', '--port', '0', '--quiet'], {
    cwd: root,
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  child.stdout!.on('data', (c: Buffer) => (out += c.toString('utf8')));
  child.stderr!.on('data', (c: Buffer) => (out += c.toString('utf8')));
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => {
      // a server that never said where it listens must not keep the test process alive
      child.kill('SIGKILL');
      reject(new Error(`car serve did not start:\n${out}`));
    }, 20_000);
    const check = () => {
      const m = /web UI at (http:\/\/\S+?)\/?\n/.exec(out);
      if (m) {
        clearTimeout(timer);
        resolve(m[1]!);
      }
    };
    child.stdout!.on('data', check);
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`car serve exited ${code}:\n${out}`));
    });
  });
  return {
    url,
    child,
    output: () => out,
    stop: () =>
      new Promise<void>((resolve) => {
        if (child.exitCode !== null) return resolve();
        child.once('exit', () => resolve());
        child.kill('SIGTERM');
      }),
  };
}

export function shot(name: string): string {
  mkdirSync(ARTIFACTS, { recursive: true });
  return join(ARTIFACTS, name);
}

export type Cleanup = () => void | Promise<void>;

export interface BrowserSuite {
  /** Why the file's tests cannot run here (no chromium), else false: pass it as each test's `skip`. */
  skip: string | false;
  browser(): Browser;
  server(): Served;
}

/**
 * One `car serve` and one browser for a test file. `setup` runs before the tests, once dist/ is built:
 * it makes the repo (or hub), pushes its own cleanups, and says where to serve; everything is stopped
 * and removed after the tests.
 */
export function browserSuite(
  setup: (cleanups: Cleanup[]) => Promise<{ root: string; env?: NodeJS.ProcessEnv }>,
): BrowserSuite {
  const executable = chromiumPath();
  const cleanups: Cleanup[] = [];
  let browser: Browser | null = null;
  let server: Served | null = null;
  before(async () => {
    if (!executable) return;
    await ensureBuilt();
    const { root, env } = await setup(cleanups);
    const served = await serve(root, env);
    server = served;
    cleanups.push(() => served.stop());
    const launched = await launch(executable);
    browser = launched;
    cleanups.push(() => launched.close());
  });
  after(async () => {
    for (const c of cleanups.reverse()) await c();
  });
  const need = <T>(value: T | null, what: string): T => {
    if (value === null) throw new Error(`the browser suite's ${what} is not running`);
    return value;
  };
  return {
    skip: executable ? false : NO_CHROMIUM,
    browser: () => need(browser, 'browser'),
    server: () => need(server, 'server'),
  };
}
