// What a repo registered in a hub inherits from the hub's config, as in CAR: the hub's `repo_defaults`
// and its shared sections (agents, app_server, the chat bots, ...), below the repo's own files. A repo is
// in a hub when the nearest hub above it (or $CAR_HUB_ROOT) lists it in its manifest.
import { dirname, join, relative } from 'node:path';
import { findByDir, ManifestError, readManifest } from '../hub/manifest.ts';
import { findHubRoot } from '../hub/paths.ts';
import type { ConfigProblem } from './errors.ts';
import { isMapping, type Mapping } from './merge.ts';

/** CAR's hub keys every repo shares (`core/config_builders.py`), those car knows. */
const SHARED_KEYS = ['agents', 'server', 'app_server', 'opencode', 'telegram_bot', 'discord_bot'];
const DEFAULT_MANIFEST = '.codex-autorunner/manifest.yml';

export type LayerRead =
  | { present: false }
  | { present: true; value: Mapping }
  | { present: true; problems: ConfigProblem[] };

export interface HubLayers {
  hubRoot: string;
  /** Set when the hub's manifest is over an input limit: membership is unknown, so loading stops. */
  problems?: ConfigProblem[];
  /** Each hub file reduced to what repos inherit, lowest precedence first, labelled for messages. */
  layers: { label: string; file: string; read: LayerRead }[];
}

/** The part of one hub config file a repo inherits: its `repo_defaults`, then its shared sections. */
function inherited(value: Mapping): Mapping {
  const out: Mapping = {};
  const defaults = value.repo_defaults;
  if (isMapping(defaults)) Object.assign(out, defaults);
  for (const key of SHARED_KEYS) if (key in value) out[key] = value[key];
  return out;
}

/**
 * The hub layers for the repo at `root`, or null when it is not a registered repo of a hub. `readLayer`
 * is the loader's own file reader (so a broken hub file is reported like any other); `fileLabels` are
 * the config files in precedence order, relative to a root.
 */
export function hubLayersFor(
  root: string,
  env: NodeJS.ProcessEnv,
  fileLabels: readonly string[],
  readLayer: (path: string, label: string) => LayerRead,
): HubLayers | null {
  const parent = dirname(root);
  if (parent === root) return null;
  const hubRoot = findHubRoot(parent, env);
  if (!hubRoot) return null;
  const reads = fileLabels.map((label) => {
    const file = join(hubRoot, label);
    // labels name the hub's file relative to the repo, so a message points at the right one
    const shown = relative(root, file) || file;
    return { label: shown, file, read: readLayer(file, shown) };
  });
  // the manifest's location is hub config too (hub.manifest)
  let manifestRel = DEFAULT_MANIFEST;
  for (const { read } of reads) {
    if ('value' in read && isMapping(read.value.hub) && typeof read.value.hub.manifest === 'string')
      manifestRel = read.value.hub.manifest;
  }
  let member = false;
  const manifestFile = join(hubRoot, manifestRel);
  try {
    member = findByDir(hubRoot, readManifest(manifestFile), root) !== undefined;
  } catch (err) {
    // A manifest over an input limit is hostile or broken beyond reading: say so rather than
    // silently dropping the hub's settings. Any other unreadable manifest registers nothing.
    if (err instanceof ManifestError && err.limit) {
      const file = relative(root, manifestFile) || manifestFile;
      const { message, line, col } = err.limit;
      const problem: ConfigProblem = { file, keyPath: '', message, ...(line ? { line, col } : {}) };
      return { hubRoot, layers: [], problems: [problem] };
    }
    member = false;
  }
  if (!member) return null;
  return {
    hubRoot,
    layers: reads.map(({ label, file, read }) =>
      'value' in read
        ? { label, file, read: { present: true, value: inherited(read.value) } }
        : { label, file, read },
    ),
  };
}
