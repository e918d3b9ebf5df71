import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseArgv, splitCommandLine } from './argv.ts';

test('splitCommandLine handles whitespace, quotes and escapes like a shell', () => {
  assert.deepEqual(splitCommandLine('  codex   app-server '), ['codex', 'app-server']);
  assert.deepEqual(splitCommandLine(`a 'b c' "d e" f\\ g`), ['a', 'b c', 'd e', 'f g']);
  assert.deepEqual(splitCommandLine(`'it''s' "say \\"hi\\"" '\\n'`), ['its', 'say "hi"', '\\n']);
  assert.deepEqual(splitCommandLine(`"" x ''`), ['', 'x', '']);
  assert.deepEqual(splitCommandLine(`pre"mid"post`), ['premidpost']);
  assert.deepEqual(splitCommandLine(''), []);
});

test('splitCommandLine rejects unterminated quotes and a trailing backslash', () => {
  assert.throws(() => splitCommandLine(`a 'b`), /unterminated ' quote/);
  assert.throws(() => splitCommandLine(`a "b`), /unterminated " quote/);
  assert.throws(() => splitCommandLine('a \\'), /lone backslash/);
});

test('parseArgv accepts a JSON array of strings, or a shell line', () => {
  assert.deepEqual(parseArgv(' ["codex", "app server"] '), ['codex', 'app server']);
  assert.deepEqual(parseArgv('codex app-server'), ['codex', 'app-server']);
  assert.throws(() => parseArgv('[codex'), /not a valid JSON array/);
  assert.throws(() => parseArgv('["a", 2]'), /JSON array of strings/);
});
