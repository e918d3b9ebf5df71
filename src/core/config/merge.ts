/** A parsed YAML/JSON mapping. */
export type Mapping = Record<string, unknown>;

export function isMapping(value: unknown): value is Mapping {
  return typeof value === 'object' && value !== null && !Array.isArray(value) && !(value instanceof Date);
}

export type KeyPath = readonly (string | number)[];

/** The value at `path` (own keys only), or undefined. */
export function valueAt(root: unknown, path: KeyPath): unknown {
  let value = root;
  for (const key of path) {
    if (typeof value !== 'object' || value === null || !Object.hasOwn(value, key)) return undefined;
    value = (value as Record<string | number, unknown>)[key];
  }
  return value;
}

// NUL cannot appear in a YAML key that matters to us, so it joins segments without ambiguity
// (agent ids may contain dots).
const keyOf = (path: KeyPath): string => path.join('\0');

/**
 * Which layer supplied the value at each key path. A layer that replaces a value (scalar, list, or a
 * mapping over a non-mapping) owns that whole subtree, so lookups fall back to the nearest recorded
 * ancestor. Paths never recorded come from the untracked base (the built-in defaults).
 */
export class Provenance {
  readonly #byPath = new Map<string, string>();
  /** Paths that may have entries below them (every proper ancestor of a recorded path). */
  readonly #parents = new Set<string>();

  set(path: KeyPath, source: string): void {
    this.#byPath.set(keyOf(path), source);
    for (let n = 1; n < path.length; n++) this.#parents.add(keyOf(path.slice(0, n)));
  }

  /** Forgets every entry strictly below `path`. */
  clearBelow(path: KeyPath): void {
    const at = keyOf(path);
    // Merging sets each key once, mostly in fresh subtrees: scanning every entry each time made a
    // config of n keys cost n² (100k keys: minutes).
    if (!this.#parents.has(at)) return;
    this.#parents.delete(at);
    const prefix = `${at}\0`;
    for (const key of this.#byPath.keys()) if (key.startsWith(prefix)) this.#byPath.delete(key);
  }

  /** The source of the value at `path`, or of its nearest recorded ancestor. */
  sourceOf(path: KeyPath): string | undefined {
    for (let n = path.length; n > 0; n--) {
      const source = this.#byPath.get(keyOf(path.slice(0, n)));
      if (source !== undefined) return source;
    }
    return undefined;
  }
}

// Plain assignment would turn a YAML key named `__proto__` into a prototype change.
function setOwn(target: Mapping, key: string, value: unknown): void {
  // Only `__proto__` is an accessor on a plain object; any other key an assignment makes own, and
  // defining every key cost ~20 µs each in a cold process (a 40 KiB config: ~20 ms).
  if (key === '__proto__') {
    Object.defineProperty(target, key, { value, enumerable: true, writable: true, configurable: true });
  } else target[key] = value;
}

/**
 * Deep-merges `layer` over `base` without mutating either: mappings merge recursively, anything else
 * (lists included) replaces. Records `source` in `provenance` for every key the layer sets.
 */
export function mergeLayer(
  base: Mapping,
  layer: Mapping,
  source: string,
  provenance: Provenance,
  path: KeyPath = [],
): Mapping {
  const out: Mapping = {};
  for (const [key, value] of Object.entries(base)) setOwn(out, key, value);
  for (const [key, value] of Object.entries(layer)) {
    const at = [...path, key];
    const current = Object.hasOwn(out, key) ? out[key] : undefined;
    if (isMapping(value) && isMapping(current)) {
      // Merging into an existing mapping: only the keys this layer sets become its own.
      setOwn(out, key, mergeLayer(current, value, source, provenance, at));
      continue;
    }
    provenance.clearBelow(at);
    provenance.set(at, source);
    setOwn(out, key, isMapping(value) ? mergeLayer({}, value, source, provenance, at) : value);
  }
  return out;
}
