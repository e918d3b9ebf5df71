// Two processes writing one run store: seq allocation must stay unique and gap-free.
import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { createInterface } from 'node:readline';
import { after, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { openRunStore } from './run-store.ts';

const here = dirname(fileURLToPath(import.meta.url));
const repoRoot = join(here, '..', '..', '..');
const storeModule = join(here, 'run-store.ts');
const dir = mkdtempSync(join(tmpdir(), 'car-store-conc-'));
after(() => rmSync(dir, { recursive: true, force: true }));

function spawnTs(code: string, env: Record<string, string>): ChildProcess {
  return spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', code], {
    cwd: repoRoot,
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
}

/** Resolves with the child's stdout lines once it exits 0. */
function linesOf(child: ChildProcess, onLine?: (line: string) => void): Promise<string[]> {
  const lines: string[] = [];
  let stderr = '';
  child.stderr!.on('data', (d: Buffer) => {
    stderr += d.toString();
  });
  createInterface({ input: child.stdout! }).on('line', (line) => {
    lines.push(line);
    onLine?.(line);
  });
  return new Promise((resolve, reject) => {
    child.on('exit', (code) =>
      code === 0 ? resolve(lines) : reject(new Error(`child exited ${code}: ${stderr}`)),
    );
  });
}

// Appends for DURATION_MS, alternating batches and single events, tagging each with its writer.
const WRITER = `
const { openRunStore } = await import(process.env.STORE_MODULE);
const store = openRunStore(process.env.DB_FILE);
console.log('ready');
const end = Date.now() + Number(process.env.DURATION_MS);
let i = 0;
while (Date.now() < end) {
  if (i % 2 === 0) {
    store.appendEvents('r1', Array.from({ length: 7 }, () => ({ type: 'tick', data: { w: 'child', i: i++ } })));
  } else {
    store.appendEvent('r1', { type: 'tick', data: { w: 'child', i: i++ } });
  }
}
store.close();
console.log('count ' + i);
`;

test('a second process appending at the same time never duplicates or skips a seq', async () => {
  const file = join(dir, 'shared.db');
  const store = openRunStore(file);
  store.createRun({ id: 'r1' });
  const child = spawnTs(WRITER, { STORE_MODULE: storeModule, DB_FILE: file, DURATION_MS: '600' });
  let ready!: () => void;
  const readyP = new Promise<void>((r) => {
    ready = r;
  });
  const childLines = linesOf(child, (line) => line === 'ready' && ready());
  await readyP;

  const end = Date.now() + 600;
  let i = 0;
  while (Date.now() < end) {
    if (i % 2 === 0) {
      store.appendEvents(
        'r1',
        Array.from({ length: 5 }, () => ({ type: 'tick', data: { w: 'parent', i: i++ } })),
      );
    } else {
      store.appendEvent('r1', { type: 'tick', data: { w: 'parent', i: i++ } });
    }
  }
  const childCount = Number((await childLines).find((l) => l.startsWith('count '))?.slice(6));
  assert.ok(childCount > 0 && i > 0);

  const total = i + childCount;
  assert.equal(store.lastEventSeq('r1'), total);
  const events = store.listEvents('r1', { limit: total + 10 });
  assert.equal(events.length, total);
  events.forEach((e, k) => {
    assert.equal(e.seq, k + 1);
  });
  // Each writer's events keep its own order, and the two really interleaved.
  for (const w of ['parent', 'child']) {
    const mine = events.filter((e) => e.data.w === w).map((e) => e.data.i);
    assert.deepEqual(
      mine,
      mine.map((_, k) => k),
    );
  }
  const switches = events.filter((e, k) => k > 0 && e.data.w !== events[k - 1]!.data.w).length;
  assert.ok(switches > 2, `writers did not interleave (${switches} switches)`);
  store.close();
});

const OPENER = `
const { existsSync } = await import('node:fs');
const { openRunStore } = await import(process.env.STORE_MODULE);
console.log('ready');
while (!existsSync(process.env.GO_FILE)) {}
const store = openRunStore(process.env.DB_FILE);
store.createRun({ id: process.env.RUN_ID });
store.appendEvents(process.env.RUN_ID, [{ type: 'a' }, { type: 'b' }]);
store.close();
console.log('ok');
`;

test('several processes creating the same fresh database migrate it once', async () => {
  const file = join(dir, 'fresh.db');
  const goFile = join(dir, 'go');
  const children = Array.from({ length: 4 }, (_, k) =>
    spawnTs(OPENER, { STORE_MODULE: storeModule, DB_FILE: file, GO_FILE: goFile, RUN_ID: `run-${k}` }),
  );
  let readyCount = 0;
  let allReady!: () => void;
  const allReadyP = new Promise<void>((r) => {
    allReady = r;
  });
  const done = children.map((c) =>
    linesOf(c, (line) => {
      if (line === 'ready' && ++readyCount === children.length) allReady();
    }),
  );
  await allReadyP;
  writeFileSync(goFile, '');
  for (const lines of await Promise.all(done)) assert.deepEqual(lines, ['ready', 'ok']);

  const store = openRunStore(file);
  assert.equal(store.listRuns().length, 4);
  for (let k = 0; k < 4; k++) assert.equal(store.lastEventSeq(`run-${k}`), 2);
  store.close();
});
