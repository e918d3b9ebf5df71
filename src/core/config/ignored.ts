// Keys car accepts so that CAR's config files load, but does not act on (yet). `car doctor` names each
// one a config layer sets to something other than its default, so nobody relies on it unknowingly.
import { isDeepStrictEqual } from 'node:util';
import { type Mapping, type Provenance, valueAt } from './merge.ts';
import { DEFAULT_CONFIG } from './schema.ts';

/** Key paths; `*` stands for every agent id. */
const IGNORED_KEYS: readonly (readonly string[])[] = [
  ['ticket_flow', 'auto_resume'],
  // the web UI and the API are served at the root only
  ['server', 'base_path'],
  // CAR's agent profiles; a ticket's `profile:` goes to the agent as is
  ['agents', '*', 'default_profile'],
  ['agents', '*', 'profiles'],
];

export interface IgnoredSetting {
  /** The key path, e.g. `ticket_flow.auto_resume`. */
  key: string;
  /** The layer that set it (a file name, or the environment variable). */
  source: string;
}

function expand(path: readonly string[], merged: Mapping): string[][] {
  const star = path.indexOf('*');
  if (star === -1) return [[...path]];
  const parent = valueAt(merged, path.slice(0, star));
  const keys = typeof parent === 'object' && parent !== null ? Object.keys(parent) : [];
  return keys.flatMap((key) => expand([...path.slice(0, star), key, ...path.slice(star + 1)], merged));
}

/** The ignored keys the layers set to something other than the built-in default. */
export function ignoredSettings(merged: Mapping, provenance: Provenance): IgnoredSetting[] {
  return IGNORED_KEYS.flatMap((pattern) => expand(pattern, merged)).flatMap((path) => {
    const value = valueAt(merged, path);
    const source = provenance.sourceOf(path);
    if (
      value === undefined ||
      source === undefined ||
      isDeepStrictEqual(value, valueAt(DEFAULT_CONFIG, path))
    )
      return [];
    return [{ key: path.join('.'), source }];
  });
}
