import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { splitFrontmatter } from './frontmatter.ts';

describe('splitFrontmatter', () => {
  test('returns the YAML, its offset and first line, and the body', () => {
    const text = '---\nagent: codex\n---\n\nBody\n';
    const s = splitFrontmatter(text);
    assert.equal(s.yaml, 'agent: codex\n');
    assert.equal(s.yamlOffset, 4);
    assert.equal(s.yamlLine, 2);
    assert.equal(text.slice(s.closeOffset), '---\n\nBody\n');
    assert.equal(s.body, '\nBody\n');
    assert.equal(s.bom, false);
    assert.equal(s.eol, '\n');
  });

  test('CRLF is detected and kept in the slices', () => {
    const s = splitFrontmatter('---\r\na: 1\r\n---\r\nBody\r\n');
    assert.equal(s.eol, '\r\n');
    assert.equal(s.yaml, 'a: 1\r\n');
    assert.equal(s.body, 'Body\r\n');
  });

  test('a BOM is remembered and skipped', () => {
    const s = splitFrontmatter('\uFEFF---\na: 1\n---\n');
    assert.equal(s.bom, true);
    assert.equal(s.yaml, 'a: 1\n');
    assert.equal(s.yamlOffset, 5);
  });

  test('closes at the first --- or ... line, trailing whitespace allowed', () => {
    assert.equal(splitFrontmatter('--- \na: 1\n...\t\nb\n---\n').yaml, 'a: 1\n');
    assert.equal(splitFrontmatter('---\na: 1\n---\n---\n').body, '---\n');
    assert.equal(splitFrontmatter('---\n---').yaml, '');
  });

  test('fences must be exact lines', () => {
    assert.equal(splitFrontmatter('----\na: 1\n---\n').absence, 'missing');
    assert.equal(splitFrontmatter(' ---\na: 1\n---\n').absence, 'missing');
    assert.equal(splitFrontmatter('---\na: 1\n ---\n').absence, 'unclosed');
    assert.equal(splitFrontmatter('---\na: 1\n---x\n').absence, 'unclosed');
    assert.equal(splitFrontmatter('---\uFEFF\na: 1\n---\n').absence, 'missing');
  });

  test('absence reasons', () => {
    assert.equal(splitFrontmatter('').absence, 'empty');
    assert.equal(splitFrontmatter('\uFEFF').absence, 'empty');
    assert.equal(splitFrontmatter('# title\n').absence, 'missing');
    assert.equal(splitFrontmatter('---').absence, 'unclosed');
    assert.equal(splitFrontmatter('---\na: 1\n').absence, 'unclosed');
    const none = splitFrontmatter('# title\n');
    assert.equal(none.yaml, null);
    assert.equal(none.body, '# title\n');
  });

  test('lines end where Python’s splitlines() ends them; fences take Python’s trailing whitespace', () => {
    const s = splitFrontmatter('---\u2028a: 1\f---\x1f\x85body');
    assert.equal(s.yaml, 'a: 1\f');
    assert.equal(s.body, 'body');
    assert.equal(splitFrontmatter('---\x1f\na: 1\n--- \u3000\n').absence, null);
    assert.equal(splitFrontmatter('---\u200b\na: 1\n---\n').absence, 'missing');
  });

  test('a lone CR ends a line, as in Python universal newlines', () => {
    assert.equal(splitFrontmatter('---\ra: 1\r---\rbody').yaml, 'a: 1\r');
  });
});
