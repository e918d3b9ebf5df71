import assert from 'node:assert/strict';
import { test } from 'node:test';
import { mergeLayer, Provenance } from './merge.ts';

test('mergeLayer merges mappings, replaces lists and scalars, and mutates nothing', () => {
  const base = { a: { x: 1, y: [1, 2] }, b: 'keep' };
  const layer = { a: { y: [3], z: { deep: true } }, c: null };
  const prov = new Provenance();
  const out = mergeLayer(base, layer, 'L1', prov);
  assert.deepEqual(out, { a: { x: 1, y: [3], z: { deep: true } }, b: 'keep', c: null });
  assert.deepEqual(base, { a: { x: 1, y: [1, 2] }, b: 'keep' });
  assert.equal(prov.sourceOf(['a', 'x']), undefined);
  assert.equal(prov.sourceOf(['a', 'y', 0]), 'L1');
  assert.equal(prov.sourceOf(['a', 'z', 'deep']), 'L1');
});

test('provenance forgets a subtree a later layer replaces, and keeps siblings', () => {
  const prov = new Provenance();
  let merged = mergeLayer({}, { s: { a: { deep: 1 }, b: 2 } }, 'low', prov);
  merged = mergeLayer(merged, { s: { a: 'flat' } }, 'high', prov);
  assert.equal(prov.sourceOf(['s', 'a']), 'high');
  assert.equal(prov.sourceOf(['s', 'a', 'deep']), 'high');
  assert.equal(prov.sourceOf(['s', 'b']), 'low');
  merged = mergeLayer(merged, { s: { a: { again: 1 } } }, 'top', prov);
  assert.deepEqual(merged, { s: { a: { again: 1 }, b: 2 } });
  assert.equal(prov.sourceOf(['s', 'a', 'again']), 'top');
});

test('a __proto__ key stays a plain own key', () => {
  const layer = JSON.parse('{"__proto__": {"polluted": true}}') as Record<string, unknown>;
  const out = mergeLayer({}, layer, 'L', new Provenance());
  assert.equal(Object.getPrototypeOf(out), Object.prototype);
  assert.deepEqual(Object.keys(out), ['__proto__']);
  assert.equal(({} as Record<string, unknown>).polluted, undefined);
});
