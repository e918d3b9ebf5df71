// Cold start of the built CLI on a realistic queue: `node dist/car.js ticket list --json` over 500
// tickets (frontmatter + 1-3 KB bodies, mixed done/open), each run a fresh process, wall time.
// Builds dist/car.js first when it is missing or older than the sources.
// Run: node --import tsx bench/ticket-list.ts
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
export const BUNDLE = join(ROOT, 'dist', 'car.js');

export interface TicketListResult {
  tickets: number;
  runs: number;
  medianMs: number;
  p90Ms: number;
  baselineMedianMs: number;
}

/** Small deterministic PRNG (mulberry32) so every run benches the same queue. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const AGENTS = ['codex', 'codex', 'codex', 'opencode', 'demo', 'user'];
const AREAS = ['auth', 'billing', 'search', 'api', 'web', 'cli', 'store', 'sync', 'export', 'admin'];
const VERBS = ['Add', 'Fix', 'Refactor', 'Document', 'Speed up', 'Test', 'Harden', 'Remove'];
const SENTENCES = [
  'Keep the public API unchanged; callers in src/server and src/cli must not need edits.',
  'Measure before and after with the existing benchmark and record the figures in the PR.',
  'The migration must be reversible and must not lock the table for more than a second.',
  'Log one structured line per request with the route, status and duration in milliseconds.',
  'Cover the empty, single-item and 10k-item cases; the last one must finish under 200 ms.',
  'Use the retry helper in src/lib/retry.ts rather than adding another backoff loop.',
  'Error messages name the file and the field so a person can fix the input without reading code.',
  'Do not touch generated files under gen/; regenerate them with `npm run codegen` instead.',
];

function paragraph(rand: () => number, n: number): string {
  return Array.from({ length: n }, () => SENTENCES[Math.floor(rand() * SENTENCES.length)]).join(' ');
}

function ticketFile(i: number, rand: () => number): { name: string; text: string } {
  const index = (i + 1) * 10;
  const area = AREAS[i % AREAS.length]!;
  const verb = VERBS[Math.floor(rand() * VERBS.length)]!;
  const title = `${verb} ${area} handling for case ${i}`;
  const slug = title.toLowerCase().replace(/[^a-z0-9]+/g, '-');
  const done = i < 300 ? rand() < 0.9 : rand() < 0.15;
  const id = Array.from({ length: 32 }, () => Math.floor(rand() * 16).toString(16)).join('');
  const fm = [
    '---',
    `ticket_id: tkt_${id}`,
    `agent: ${AGENTS[Math.floor(rand() * AGENTS.length)]}`,
    `done: ${done}`,
    `title: "${title}"`,
    `goal: ${paragraph(rand, 1)}`,
  ];
  if (rand() < 0.3) fm.push('model: gpt-5.5', `reasoning: ${rand() < 0.5 ? 'high' : 'medium'}`);
  if (rand() < 0.25) {
    fm.push('context:', `  - path: docs/${area}.md`, '    max_bytes: 6000', `  - path: src/${area}/index.ts`);
  }
  fm.push('---');
  const sections = [
    `## Tasks\n${Array.from({ length: 2 + Math.floor(rand() * 4) }, () => `- ${paragraph(rand, 1)}`).join('\n')}`,
    `## Acceptance criteria\n${Array.from({ length: 2 + Math.floor(rand() * 3) }, () => `- ${paragraph(rand, 1)}`).join('\n')}`,
    `## Notes\n${paragraph(rand, 2 + Math.floor(rand() * 6))}`,
    `## Tests\n- \`npm test -- ${area}\`\n- ${paragraph(rand, 1)}`,
  ];
  if (done) sections.push(`## Progress\n- ${paragraph(rand, 1)}\n- committed in ${id.slice(0, 7)}`);
  return {
    name: `TICKET-${String(index).padStart(4, '0')}-${slug}.md`,
    text: `${fm.join('\n')}\n\n${sections.join('\n\n')}\n`,
  };
}

/** A temp git repo with car initialized and `count` tickets; returns its path. */
export function makeBenchRepo(count = 500): string {
  const dir = mkdtempSync(join(tmpdir(), 'car-bench-list-'));
  execFileSync('git', ['init', '-q', dir]);
  const init = spawnSync(process.execPath, [BUNDLE, 'init'], { cwd: dir, encoding: 'utf8' });
  if (init.status !== 0) throw new Error(`car init failed: ${init.stderr}`);
  const tickets = join(dir, '.codex-autorunner', 'tickets');
  mkdirSync(tickets, { recursive: true });
  const rand = prng(20_260_101);
  for (let i = 0; i < count; i++) {
    const { name, text } = ticketFile(i, rand);
    writeFileSync(join(tickets, name), text);
  }
  return dir;
}

function newestMtime(dir: string): number {
  let newest = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) newest = Math.max(newest, newestMtime(path));
    else if (!entry.name.endsWith('.test.ts')) newest = Math.max(newest, statSync(path).mtimeMs);
  }
  return newest;
}

/** Builds dist/car.js unless it exists and is newer than every source file. */
export function ensureBundle(): void {
  let built = 0;
  try {
    built = statSync(BUNDLE).mtimeMs;
  } catch {
    // missing
  }
  if (built > newestMtime(join(ROOT, 'src'))) return;
  console.log('building dist/car.js ...');
  const npm = process.platform === 'win32' ? 'npm.cmd' : 'npm';
  const res = spawnSync(npm, ['run', 'build', '--silent'], { cwd: ROOT, stdio: 'inherit' });
  if (res.status !== 0) throw new Error('npm run build failed');
}

export function timeRun(args: string[], cwd: string): { ms: number; stdout: string } {
  const start = process.hrtime.bigint();
  const res = spawnSync(process.execPath, args, { cwd, encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 });
  const ms = Number(process.hrtime.bigint() - start) / 1e6;
  if (res.status !== 0) throw new Error(`node ${args.join(' ')} exited ${res.status}: ${res.stderr}`);
  return { ms, stdout: res.stdout };
}

export function percentile(sorted: number[], p: number): number {
  const i = Math.min(sorted.length - 1, Math.max(0, Math.ceil(p * sorted.length) - 1));
  return sorted[i] ?? Number.NaN;
}

export function benchTicketList(count = 500, runs = 15): TicketListResult {
  ensureBundle();
  const dir = makeBenchRepo(count);
  try {
    // one untimed run warms the page cache, then check what the timed runs will print
    const first = JSON.parse(timeRun([BUNDLE, 'ticket', 'list', '--json'], dir).stdout) as {
      tickets: unknown[];
      summary: { total: number; invalid: number };
    };
    if (first.summary.total !== count || first.tickets.length !== count) {
      throw new Error(`expected ${count} tickets, car listed ${first.summary.total}`);
    }
    if (first.summary.invalid !== 0) throw new Error(`${first.summary.invalid} bench tickets do not lint`);
    const times: number[] = [];
    for (let i = 0; i < runs; i++) times.push(timeRun([BUNDLE, 'ticket', 'list', '--json'], dir).ms);
    const baseline: number[] = [];
    for (let i = 0; i < runs; i++) baseline.push(timeRun(['-e', '0'], dir).ms);
    times.sort((a, b) => a - b);
    baseline.sort((a, b) => a - b);
    return {
      tickets: count,
      runs,
      medianMs: percentile(times, 0.5),
      p90Ms: percentile(times, 0.9),
      baselineMedianMs: percentile(baseline, 0.5),
    };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

export function main(): TicketListResult {
  const cpu = cpus();
  console.log(`machine: ${cpu.length} x ${cpu[0]?.model ?? 'unknown cpu'}, node ${process.version}`);
  const r = benchTicketList();
  console.log(
    `ticket list --json (${r.tickets} tickets): median ${r.medianMs.toFixed(1)} ms, p90 ${r.p90Ms.toFixed(1)} ms` +
      ` (${r.runs} cold runs; node -e 0 baseline median ${r.baselineMedianMs.toFixed(1)} ms)`,
  );
  return r;
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) main();
