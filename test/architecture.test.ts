import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { findLayerViolations } from './layers.ts';

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
