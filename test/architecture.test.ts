import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import {
  findImportCycles,
  findLayerViolations,
  findRankViolations,
  type ImportEdge,
  importGraph,
} from './layers.ts';

const srcRoot = join(dirname(fileURLToPath(import.meta.url)), '..', 'src');

test('src/ imports point one way: surfaces → adapters → control plane → engine', () => {
  const violations = findLayerViolations(srcRoot);
  assert.deepEqual(
    violations.map((v) => `${v.file}:${v.line} ${v.specifier}: ${v.message}`),
    [],
  );
});

test('the layer check catches a core module importing an adapter or a surface', () => {
  const root = mkdtempSync(join(tmpdir(), 'car-layers-'));
  try {
    const write = (path: string, text: string) => {
      mkdirSync(dirname(join(root, path)), { recursive: true });
      writeFileSync(join(root, path), text);
    };
    write('core/ok.ts', "import { x } from './other.ts';\n");
    write('core/other.ts', 'export const x = 1;\n');
    write(
      'core/bad.ts',
      "import { y } from '../agents/demo.ts';\nconst z = await import('../surfaces/cli/main.ts');\n",
    );
    write(
      'agents/demo.ts',
      "import { x } from '../core/other.ts';\nimport { g } from '../integrations/git/index.ts';\n",
    );
    write('integrations/git/index.ts', 'export const g = 1;\n');
    write('surfaces/cli/main.ts', "import { y } from '../../agents/demo.ts';\n");
    const found = findLayerViolations(root).map(
      (v) => `${v.file.slice(root.length + 1)}:${v.line} ${v.message}`,
    );
    assert.deepEqual(found.sort(), [
      'agents/demo.ts:2 agents must not import integrations',
      'core/bad.ts:1 core must not import agents',
      'core/bad.ts:2 core must not import surfaces',
    ]);
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});

/** `a.ts:3 → b.ts:1 → a.ts`: each file with the line of the import that leads on. */
function formatCycle(cycle: ImportEdge[]): string {
  return `import cycle: ${cycle.map((e) => `${e.file}:${e.line}`).join(' → ')} → ${cycle.at(-1)!.target}`;
}

/** Writes `files` under a fresh temp src root; returns the root and its remover. */
function tree(files: Record<string, string>): { root: string; remove: () => void } {
  const root = mkdtempSync(join(tmpdir(), 'car-graph-'));
  for (const [path, text] of Object.entries(files)) {
    mkdirSync(dirname(join(root, path)), { recursive: true });
    writeFileSync(join(root, path), text);
  }
  return { root, remove: () => rmSync(root, { recursive: true, force: true }) };
}

test('src/ has no import cycles (type-only and dynamic imports count)', () => {
  assert.deepEqual(findImportCycles(importGraph(srcRoot)).map(formatCycle), []);
});

test('inside src/core, imports point down the ranking of CORE_RANKS', () => {
  assert.deepEqual(
    findRankViolations(importGraph(srcRoot)).map(
      (v) => `src/${v.file}:${v.line} ${v.specifier}: ${v.message}`,
    ),
    [],
  );
});

test('the cycle check names every cycle by the imports that close it', () => {
  const t = tree({
    'core/a.ts': "import { b } from './b.ts';\nexport const a = 1;\n",
    'core/b.ts': "import type { C } from './sub/c.ts';\nexport const b = 1;\n",
    'core/sub/c.ts': "export type C = number;\nconst a = await import('../a.ts');\n",
    'core/self.ts': "export { x } from './self.ts';\n",
    'core/leaf.ts': "import { a } from './a.ts';\n",
  });
  try {
    assert.deepEqual(findImportCycles(importGraph(t.root)).map(formatCycle), [
      'import cycle: core/a.ts:1 → core/b.ts:1 → core/sub/c.ts:2 → core/a.ts',
      'import cycle: core/self.ts:1 → core/self.ts',
    ]);
  } finally {
    t.remove();
  }
});

test('the rank check names the import that points up, and core files no rank places', () => {
  const t = tree({
    'core/fs/io.ts': "import { q } from '../tickets/queue.ts';\n",
    'core/tickets/queue.ts': "import { io } from '../fs/io.ts';\nimport { l } from '../hub/layout.ts';\n",
    'core/hub/layout.ts': 'export const l = 1;\n',
    'core/hub/registry.ts': "import { q } from '../tickets/queue.ts';\n",
    'core/stray.ts': 'export const s = 1;\n',
    'control/x.ts': "import { r } from '../core/hub/registry.ts';\n",
  });
  const ranks = [['fs'], ['tickets', 'hub/layout.ts'], ['hub']];
  try {
    const found = findRankViolations(importGraph(t.root), ranks).map(
      (v) => `${v.file}:${v.line} ${v.message}`,
    );
    assert.deepEqual(found.sort(), [
      'core/fs/io.ts:1 fs (rank 0) must not import tickets (rank 1)',
      'core/stray.ts:1 core/stray.ts is in no rank of CORE_RANKS',
    ]);
  } finally {
    t.remove();
  }
});
