import assert from 'node:assert/strict';
import { test } from 'node:test';
import { renameDependsOn } from '../tickets/edit.ts';
import { parseTemplateRef } from './ref.ts';
import { parseAssignments, renderTemplates, templateVariables } from './render.ts';

test('template variables: required and defaulted, each once, a later default counts', () => {
  assert.deepEqual(templateVariables('{{a}} {{ b | two words }} {{ a }} {{c}} {{ c|3 }} {{ not a var }}'), [
    { name: 'a', default: null },
    { name: 'b', default: 'two words' },
    { name: 'c', default: '3' },
  ]);
});

test('renderTemplates fills every text, refuses missing, unknown and multi-line frontmatter values', () => {
  const texts = [
    { source: 's:1.md', text: '---\ntitle: "{{ t }}"\n---\n{{ body | none }}\n' },
    { source: 's:2.md', text: 'Also {{ t }}.\n' },
  ];
  assert.deepEqual(renderTemplates(texts, new Map([['t', 'X']])), [
    '---\ntitle: "X"\n---\nnone\n',
    'Also X.\n',
  ]);
  assert.deepEqual(
    renderTemplates(
      texts,
      new Map([
        ['t', 'X'],
        ['body', 'line 1\nline 2'],
      ]),
    )[0],
    '---\ntitle: "X"\n---\nline 1\nline 2\n',
  );
  assert.throws(() => renderTemplates(texts, new Map()), /missing template variable: t/);
  assert.throws(
    () =>
      renderTemplates(
        texts,
        new Map([
          ['t', 'x'],
          ['z', '1'],
        ]),
      ),
    /unknown template variable: z/,
  );
  assert.throws(
    () => renderTemplates(texts, new Map([['t', 'x\ndone: true']])),
    /s:1\.md: the value of t goes into frontmatter/,
  );
  assert.throws(() => parseAssignments(['novalue']), /expected name=value/);
  assert.deepEqual(
    [...parseAssignments(['a=1=2', 'b='])],
    [
      ['a', '1=2'],
      ['b', ''],
    ],
  );
});

test('template refs: CAR shape, no escaping the source, no git options', () => {
  assert.deepEqual(parseTemplateRef('blessed:reviews/review_single.md@main'), {
    source: 'blessed',
    path: 'reviews/review_single.md',
    ref: 'main',
  });
  assert.deepEqual(parseTemplateRef('local:packs/api/'), { source: 'local', path: 'packs/api', ref: null });
  for (const bad of [
    'nocolon',
    'x:a/../b',
    'x:./a',
    'x:/abs',
    'x:a\\b',
    'x:.hidden/a',
    'x:a@-evil',
    'local:a@main',
    ':a',
  ])
    assert.throws(() => parseTemplateRef(bad), bad);
});

test('renameDependsOn changes only the entries it renames, whatever their form', () => {
  // numbers arrive as their digits were written (`001`, not YAML 1.1's octal)
  const seen: string[] = [];
  const rename = (ref: string) => {
    seen.push(ref);
    return /^0*1$/.test(ref) ? 'TICKET-011' : ref === 'TICKET-002-x' ? 'TICKET-012' : null;
  };
  assert.equal(
    renameDependsOn(
      '---\r\nagent: a # c\r\ndepends_on: [1, "TICKET-002-x", tkt_other]\r\n---\r\nbody',
      rename,
    ),
    '---\r\nagent: a # c\r\ndepends_on: [TICKET-011, TICKET-012, tkt_other]\r\n---\r\nbody',
  );
  assert.equal(renameDependsOn('---\ndepends_on: 001\n---\n', rename), '---\ndepends_on: TICKET-011\n---\n');
  assert.equal(
    renameDependsOn('---\ndepends_on:\n  - 7  # keep\n---\n', rename),
    '---\ndepends_on:\n  - 7  # keep\n---\n',
  );
  assert.equal(renameDependsOn('---\nagent: a\n---\n', rename), '---\nagent: a\n---\n');
  assert.deepEqual(seen, ['1', 'TICKET-002-x', 'tkt_other', '001', '7']);
});
