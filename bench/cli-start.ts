// Cold starts of the built CLI beside CAR's figures (../shared/spec/car-baseline.md, same machine kind):
// each command a fresh process in a repo of 500 tickets, median of several runs, wall time.
// Run: node --import tsx bench/cli-start.ts
import { rmSync } from 'node:fs';
import { cpus } from 'node:os';
import { pathToFileURL } from 'node:url';
import { BUNDLE, ensureBundle, makeBenchRepo, percentile, timeRun } from './ticket-list.ts';

/** The commands CAR's baseline timed, with its medians (ms). */
const COMMANDS: { args: string[]; car: string; carMs: number }[] = [
  { args: ['--version'], car: 'car --version', carMs: 2336 },
  { args: ['--help'], car: 'car --help', carMs: 2105 },
  { args: ['describe', '--json'], car: 'car describe --json', carMs: 2331 },
  { args: ['ticket', 'lint'], car: 'car tickets lint', carMs: 2451 },
  { args: ['flow', 'status', '--json'], car: 'car ticket-flow status --json', carMs: 2207 },
];

export function main(runs = 9): void {
  ensureBundle();
  console.log(`machine: ${cpus().length} x ${cpus()[0]?.model ?? '?'}, node ${process.version}`);
  const dir = makeBenchRepo(500);
  try {
    for (const c of COMMANDS) {
      timeRun([BUNDLE, ...c.args], dir); // warm the page cache
      const times = Array.from({ length: runs }, () => timeRun([BUNDLE, ...c.args], dir).ms).sort(
        (a, b) => a - b,
      );
      console.log(
        `car ${c.args.join(' ')} (500 tickets, cold): median ${percentile(times, 0.5).toFixed(0)} ms (CAR ${c.car}: ${c.carMs} ms)`,
      );
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) main();
