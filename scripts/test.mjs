// Runs every *.test.ts under src/ and test/ with node:test (Node 20 cannot glob test files itself).
// End-to-end tests run the built CLI (dist/car.js), as users do: it is built first when older than
// the sources.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs';
import { availableParallelism, tmpdir } from 'node:os';
import { join } from 'node:path';

function collect(dir, out) {
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    if (entry.name === 'node_modules' || entry.name === 'fixtures' || entry.name.startsWith('.')) continue;
    const path = join(dir, entry.name);
    if (entry.isDirectory()) collect(path, out);
    else if (entry.name.endsWith('.test.ts')) out.push(path);
  }
  return out;
}

/** Newest mtime of the files under `dir` (node_modules and dot folders skipped). */
function newest(dir) {
  let latest = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    if (entry.name === 'node_modules' || entry.name.startsWith('.')) continue;
    const path = join(dir, entry.name);
    latest = Math.max(latest, entry.isDirectory() ? newest(path) : statSync(path).mtimeMs);
  }
  return latest;
}

function mtime(path) {
  try {
    return statSync(path).mtimeMs;
  } catch {
    return 0;
  }
}

const built = Math.min(mtime('dist/car.js'), mtime('dist/web/index.html'));
if (built === 0 || built < Math.max(newest('src'), mtime('scripts/build.mjs'))) {
  const build = spawnSync('npm', ['run', 'build', '--silent'], { stdio: 'inherit' });
  if (build.status !== 0) {
    console.error('test: npm run build failed');
    process.exit(1);
  }
}

const filter = process.argv.slice(2);
let files = ['src', 'test'].flatMap((d) => collect(d, [])).sort();
if (filter.length > 0) files = files.filter((f) => filter.some((p) => f.includes(p)));
if (files.length === 0) {
  console.error('no test files matched');
  process.exit(1);
}
const concurrency = Math.max(2, availableParallelism());
// car's global state (warm-start records, codex homes per workspace) goes to a folder of the suite's
// own: a test that runs car in process with the machine's HOME must not leave files in it.
const globalState = mkdtempSync(join(tmpdir(), 'car-test-global-'));
// A test that never settles fails after 10 minutes (the slowest take about one), and a file whose tests
// are done ends even if something it started is still running: neither can hold the suite open for good.
const result = spawnSync(
  process.execPath,
  [
    '--import',
    'tsx',
    '--test',
    `--test-concurrency=${concurrency}`,
    '--test-timeout=600000',
    '--test-force-exit',
    ...files,
  ],
  { stdio: 'inherit', env: { ...process.env, CAR_GLOBAL_STATE_ROOT: globalState } },
);
rmSync(globalState, { recursive: true, force: true });
process.exit(result.status ?? 1);
