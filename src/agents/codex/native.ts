// The npm package `@openai/codex` installs `codex` as a node script that finds the platform's native
// binary and, on Node < 22.15 (no `process.execve`), runs it as a child it stays beside. Started through
// it, every app-server costs a node start first (100–150 ms here, more under load) and keeps an idle node
// process alive for the whole run. When an app-server command names that script, car starts the native
// binary itself, with the two variables the script would have added to its environment.
import { readFileSync, realpathSync } from 'node:fs';
import { createRequire } from 'node:module';
import { basename, dirname, join } from 'node:path';
import { which } from '../../core/which.ts';

/** The script's own table: the Rust target each npm platform package ships. */
const TARGETS: Record<string, string> = {
  'linux-x64': 'x86_64-unknown-linux-musl',
  'linux-arm64': 'aarch64-unknown-linux-musl',
  'darwin-x64': 'x86_64-apple-darwin',
  'darwin-arm64': 'aarch64-apple-darwin',
};

export interface CodexLaunch {
  command: string[];
  env: NodeJS.ProcessEnv;
}

/**
 * `command` with the npm wrapper replaced by the native binary it would run, when `command[0]` resolves
 * (through PATH and symlinks) to `@openai/codex`'s `bin/codex.js` and that package's binary for this
 * platform is installed; otherwise `command` and `env` as they are.
 */
export function nativeCodexLaunch(
  command: readonly string[],
  env: NodeJS.ProcessEnv,
  platform: string = `${process.platform}-${process.arch}`,
): CodexLaunch {
  const unchanged = { command: [...command], env };
  const target = TARGETS[platform];
  const found = command[0] ? which(command[0], env) : null;
  if (!target || !found) return unchanged;
  let script: string;
  try {
    script = realpathSync(found);
  } catch {
    return unchanged;
  }
  if (basename(script) !== 'codex.js' || basename(dirname(script)) !== 'bin') return unchanged;
  const packageRoot = dirname(dirname(script));
  if (packageName(join(packageRoot, 'package.json')) !== '@openai/codex') return unchanged;
  const native = nativeBinary(packageRoot, `@openai/codex-${platform}`, target);
  if (!native) return unchanged;
  const launchEnv: NodeJS.ProcessEnv = { ...env, CODEX_MANAGED_PACKAGE_ROOT: packageRoot };
  for (const manager of ['NPM', 'BUN', 'PNPM', 'VITE_PLUS']) delete launchEnv[`CODEX_MANAGED_BY_${manager}`];
  // what codex's update notice says to run; the script says npm unless it recognises bun, pnpm or vite-plus
  launchEnv.CODEX_MANAGED_BY_NPM = '1';
  return { command: [native, ...command.slice(1)], env: launchEnv };
}

function packageName(file: string): string | null {
  try {
    const name = (JSON.parse(readFileSync(file, 'utf8')) as { name?: unknown }).name;
    return typeof name === 'string' ? name : null;
  } catch {
    return null;
  }
}

/** Where the script looks: the platform package resolved from the codex package, then its own vendor/. */
function nativeBinary(packageRoot: string, platformPackage: string, target: string): string | null {
  const roots: string[] = [];
  try {
    const manifest = createRequire(join(packageRoot, 'package.json')).resolve(
      `${platformPackage}/package.json`,
    );
    roots.push(join(dirname(manifest), 'vendor'));
  } catch {
    // not installed beside it: the binary may be in the package's own vendor/
  }
  roots.push(join(packageRoot, 'vendor'));
  for (const root of roots) {
    const binary = which(join(root, target, 'bin', 'codex'));
    if (binary) return binary;
  }
  return null;
}
