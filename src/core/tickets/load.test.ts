import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { splitFrontmatter } from './frontmatter.ts';
import { loadFlat, loadFrontmatterYaml, loadFull } from './load.ts';

const CORPUS = join(import.meta.dirname, '../../../test/fixtures/tickets/corpus');

// Frontmatter the fast path must either decline or read exactly like the full parser.
const CASES = [
  'a: 1\nb: yes\nc: y\nd: 010\ne: 1e3\nf: 1.5\ng: ~\nh:\ni: 2026-01-02\n',
  'title: "quoted # not a comment" # comment\nagent: codex   # aligned\n',
  "title: 'it''s'\nurl: https://x.test/a#frag\nratio: 1:30\n",
  'a: - x\n',
  'a: -\n',
  'a: x: y\n',
  'a: x:\n',
  'a: "esc \\n"\n',
  'a: [1, 2]\n',
  'a: {b: 1}\n',
  'a: &x 1\nb: *x\n',
  'a: !!str 1\n',
  'a: |\n  text\n',
  'a: x\n  continued\n',
  'a:\tx\n',
  'yes: 1\n',
  'null: 1\n',
  'a: 1\na: 2\n',
  'a: =\n',
  'a: 2026-13-45\n',
  'context:\n  - path: a.md\n    max_bytes: 10\n    required: yes\n  - path: b.md\nnext: 1\n',
  'context:\n- path: a.md\n  max_bytes: 1.0\n- b.md\n# trailing\nnext: 1\n',
  'context: # note\n  - a\n\n  # c\n  - b\n',
  'context: null\n  - a\n',
  'context:\n  - path:\n      nested: 1\n',
  'context:\n  - path: a\n      deeper: 1\n',
  'context:\n  -   path: a\n',
  'context:\n  - - a\n',
  'context:\n  - \n',
  'context:\n  - a\n  b: c\n',
  'context:\n  - path: a\n  - path: b\n    path: c\n',
  '# only comments\n\n',
  '',
];

function corpusYaml(): string[] {
  return readdirSync(CORPUS)
    .map((name) => splitFrontmatter(readFileSync(join(CORPUS, name), 'utf8')).yaml)
    .filter((yaml): yaml is string => yaml !== null);
}

describe('loadFrontmatterYaml', () => {
  test('the fast path agrees with the full parser (values and lines) or declines', () => {
    let fast = 0;
    for (const yaml of [...CASES, ...corpusYaml()]) {
      const full = loadFull(yaml, 2);
      const flat = loadFlat(yaml, 2);
      if (flat === null) continue;
      fast++;
      assert.deepEqual(flat, full, JSON.stringify(yaml));
    }
    assert.ok(fast >= 30, `fast path used for ${fast} documents`);
  });

  test('the fast path takes the common shapes', () => {
    for (const i of [0, 1, 2, 20, 21, 22]) assert.notEqual(loadFlat(CASES[i]!, 2), null, CASES[i]);
  });

  test('problems carry the line in the file', () => {
    // an unclosed flow collection is reported on the line where it opens (file line 3), not where the
    // parser gave up
    const { problem } = loadFrontmatterYaml('a: 1\nb: [1, 2\n', 2);
    assert.equal(problem?.line, 3);
    assert.equal(loadFrontmatterYaml('a: 2026-13-45\n', 2).problem?.line, 2);
  });

  test('locates keys, sequence items and item keys', () => {
    const { root } = loadFrontmatterYaml('a: 1\ncontext:\n  - path: x\n    max_bytes: 3\n  - y\n', 2);
    const context = root?.pairs?.get('context');
    assert.equal(root?.pairs?.get('a')?.keyLine, 2);
    assert.equal(context?.keyLine, 3);
    assert.equal(context?.value.items?.[0]?.pairs?.get('max_bytes')?.keyLine, 5);
    assert.equal(context?.value.items?.[0]?.pairs?.get('max_bytes')?.value.isInt, true);
    assert.equal(context?.value.items?.[1]?.line, 6);
  });
});
