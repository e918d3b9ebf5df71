import assert from 'node:assert/strict';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { buildContextspaceBlock, CONTEXTSPACE_DOC_MAX_CHARS } from './contextspace.ts';

const tmp = await mkdtemp(join(tmpdir(), 'car-contextspace-'));
after(() => rm(tmp, { recursive: true, force: true }));
let n = 0;

async function repoWith(docs: Record<string, string>): Promise<string> {
  const root = join(tmp, `repo${++n}`);
  const dir = join(root, '.codex-autorunner', 'contextspace');
  await mkdir(dir, { recursive: true });
  for (const [file, text] of Object.entries(docs)) await writeFile(join(dir, file), text);
  return root;
}

test('docs in catalogue order with CAR labels, trimmed, empty ones left out', async () => {
  const root = await repoWith({
    'spec.md': '\n# Spec\nBuild it.\n\n',
    'decisions.md': '   \n',
    'active_context.md': 'Working on auth.\n',
  });
  assert.equal(
    await buildContextspaceBlock(root),
    'Active context [.codex-autorunner/contextspace/active_context.md]:\nWorking on auth.\n\n' +
      'Spec [.codex-autorunner/contextspace/spec.md]:\n# Spec\nBuild it.',
  );
});

test('all empty or absent gives empty string', async () => {
  assert.equal(await buildContextspaceBlock(await repoWith({ 'spec.md': '\n' })), '');
  assert.equal(await buildContextspaceBlock(join(tmp, 'no-such-repo')), '');
});

test('each doc is cut to its first 4000 characters without splitting a character', async () => {
  const long = `${'a'.repeat(CONTEXTSPACE_DOC_MAX_CHARS - 1)}😀tail`;
  const root = await repoWith({ 'decisions.md': long });
  const block = await buildContextspaceBlock(root);
  const text = block.slice(block.indexOf(':\n') + 2);
  assert.equal(text, `${'a'.repeat(CONTEXTSPACE_DOC_MAX_CHARS - 1)}😀`);
  assert.ok(block.startsWith('Decisions [.codex-autorunner/contextspace/decisions.md]:\n'));
});
