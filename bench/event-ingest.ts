// Event ingest throughput through the real run store: 100k agent-like events (~200-byte JSON
// payloads) appended in batches of 256 to a temp file. Target: >= 20k events/s.
// Run: node --import tsx bench/event-ingest.ts
import { mkdtempSync, rmSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { openRunStore } from '../src/core/store/run-store.ts';
import type { NewEvent } from '../src/core/store/types.ts';

export interface IngestResult {
  events: number;
  seconds: number;
  eventsPerSecond: number;
}

const TYPES = ['agent_delta', 'tool_call', 'command_output', 'token_usage'];

function makeEvent(i: number, turnId: number): NewEvent {
  const type = TYPES[i % TYPES.length]!;
  return {
    type,
    turnId,
    data: {
      item_id: `item_${Math.floor(i / 50)}`,
      delta: `chunk ${i}: the agent is editing src/core/store/run-store.ts and running the tests again`,
      thread_id: 'thr_0193f1c2a7b84e6d',
      turn_id: 'turn_0042',
    },
  };
}

export function ingest(total = 100_000, batchSize = 256): IngestResult {
  const dir = mkdtempSync(join(tmpdir(), 'car-bench-ingest-'));
  try {
    // Caps off: the bench measures writes, not drops.
    const store = openRunStore(join(dir, 'car.db'), { maxEventsPerType: total });
    store.createRun({ id: 'bench' });
    const turn = store.beginTurn({ runId: 'bench', agent: 'bench' });
    const start = process.hrtime.bigint();
    for (let i = 0; i < total; i += batchSize) {
      const n = Math.min(batchSize, total - i);
      store.appendEvents(
        'bench',
        Array.from({ length: n }, (_, k) => makeEvent(i + k, turn.id)),
      );
    }
    const seconds = Number(process.hrtime.bigint() - start) / 1e9;
    if (store.lastEventSeq('bench') !== total) throw new Error('not every event was stored');
    store.close();
    return { events: total, seconds, eventsPerSecond: Math.round(total / seconds) };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

export function main(): IngestResult {
  const cpu = cpus();
  console.log(`machine: ${cpu.length} x ${cpu[0]?.model ?? 'unknown cpu'}, node ${process.version}`);
  const result = ingest();
  console.log(
    `event ingest: ${result.eventsPerSecond} events/s (${result.events} events in ${result.seconds.toFixed(2)} s)`,
  );
  return result;
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) main();
