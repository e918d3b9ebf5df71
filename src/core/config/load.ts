import { join } from 'node:path';
import type { z } from 'zod';
import { INPUT_LIMITS, InputLimitError, readFileBounded } from '../input-limits.ts';
import { CONFIG_BUDGET, parseYamlWithinLimits } from '../yaml-limits.ts';
import { envLayers } from './env.ts';
import { ConfigError, type ConfigProblem } from './errors.ts';
import { hubLayersFor, type LayerRead } from './hub-layers.ts';
import { type IgnoredSetting, ignoredSettings } from './ignored.ts';
import { isMapping, type KeyPath, type Mapping, mergeLayer, Provenance, valueAt } from './merge.ts';
import { type CarConfig, CarConfigSchema, DEFAULT_CONFIG } from './schema.ts';

/** Layer names, lowest precedence first (CAR's names, plus the repo override file). */
export const CONFIG_PRECEDENCE = [
  'built_in_defaults',
  // a repo registered in a hub: the hub's repo_defaults and shared sections (see hub-layers.ts)
  'hub_config',
  'codex-autorunner.yml',
  'codex-autorunner.override.yml',
  '.codex-autorunner/config.yml',
  '.codex-autorunner/repo.override.yml',
  'environment_variables',
] as const;

const FILE_LAYERS = CONFIG_PRECEDENCE.slice(2, -1);
/** The hub's own files, in CAR's order (a hub has no repo.override.yml). */
const HUB_FILES = FILE_LAYERS.slice(0, 3);
const REPO_OVERRIDE = '.codex-autorunner/repo.override.yml';
const DEFAULTS_SOURCE = 'built_in_defaults';

export interface ConfigSource {
  layer: string;
  /** Absolute path, for file layers. */
  file?: string;
  present: boolean;
  /** For the environment layer: the variables that contributed (names only). */
  variables?: string[];
  /** For the hub layer: the hub's config files that exist. */
  files?: string[];
}

export interface LoadedConfig {
  config: CarConfig;
  sources: ConfigSource[];
  /** Keys accepted for CAR compatibility but ignored, that a layer sets (see ignored.ts). */
  ignored: IgnoredSetting[];
  /**
   * The layer that set the value at a key path (a file's repo-relative name, an environment variable,
   * or `built_in_defaults`), e.g. `origin(['agents', 'codex', 'binary'])`.
   */
  origin(path: readonly (string | number)[]): string;
}

type FileRead = LayerRead;

/** Reads one layer file; `label` is its repo-relative name, used in messages. */
function readLayerFile(path: string, label: string): FileRead {
  let text: string;
  try {
    // The size is checked before reading (input-limits.ts): a 50 MB file costs a stat.
    text = readFileBounded(path, INPUT_LIMITS.configFileBytes, 'a config file').toString('utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') return { present: false };
    const message = err instanceof InputLimitError ? err.message : `cannot be read (${code ?? err})`;
    return { present: true, problems: [{ file: label, keyPath: '', message }] };
  }
  const parsed = parseYamlWithinLimits(text, { version: '1.1' }, CONFIG_BUDGET);
  if (parsed.problems) {
    const problems = parsed.problems.map(
      (p): ConfigProblem => ({
        file: label,
        keyPath: '',
        message: p.code ? p.message : `invalid YAML: ${p.message}`,
        line: p.line,
        col: p.col,
      }),
    );
    return { present: true, problems };
  }
  const value: unknown = parsed.value ?? {};
  if (!isMapping(value))
    return { present: true, problems: [{ file: label, keyPath: '', message: 'config must be a mapping' }] };
  if (label === REPO_OVERRIDE) {
    // As in CAR: mode and version belong to the hub-level config.
    const problems = ['mode', 'version']
      .filter((key) => key in value)
      .map((key) => ({
        file: label,
        keyPath: key,
        message: 'must not be set here; mode and version are hub-managed',
      }));
    if (problems.length > 0) return { present: true, problems };
  }
  return { present: true, value };
}

function formatKeyPath(path: KeyPath): string {
  return path.reduce<string>(
    (out, key) => (typeof key === 'number' ? `${out}[${key}]` : out ? `${out}.${key}` : key),
    '',
  );
}

function preview(value: unknown): string {
  const text = value instanceof Date ? value.toISOString() : JSON.stringify(value);
  return text.length > 60 ? `${text.slice(0, 57)}...` : text;
}

function issueToProblem(issue: z.core.$ZodIssue, merged: Mapping, provenance: Provenance): ConfigProblem {
  const path = issue.path.filter((key): key is string | number => typeof key !== 'symbol');
  // A bad record key: zod reports "Invalid key in record"; the useful message is the nested one.
  const keyIssue = issue.code === 'invalid_key' ? issue.issues[0] : undefined;
  const got = keyIssue ? path.at(-1) : valueAt(merged, path);
  const message = keyIssue?.message ?? issue.message;
  return {
    file: provenance.sourceOf(path) ?? DEFAULTS_SOURCE,
    keyPath: formatKeyPath(path),
    message: got === undefined ? message : `${message} (got ${preview(got)})`,
  };
}

/**
 * Loads the layered config for the repo at `root` (see CONFIG_PRECEDENCE). Missing files are skipped;
 * nothing is written. Throws ConfigError listing every problem, each naming the file or environment
 * variable that supplied the bad value and its key path.
 */
export function loadConfig(root: string, env: NodeJS.ProcessEnv = process.env): LoadedConfig {
  const provenance = new Provenance();
  const problems: ConfigProblem[] = [];
  const sources: ConfigSource[] = [{ layer: DEFAULTS_SOURCE, present: true }];
  const layers: { source: string; value: Mapping }[] = [];

  const hub = hubLayersFor(root, env, HUB_FILES, readLayerFile);
  sources.push({
    layer: 'hub_config',
    present: hub !== null,
    ...(hub ? { file: hub.hubRoot, files: hub.layers.filter((l) => l.read.present).map((l) => l.file) } : {}),
  });
  if (hub?.problems) problems.push(...hub.problems);
  for (const l of hub?.layers ?? []) {
    if ('problems' in l.read) problems.push(...l.read.problems);
    else if ('value' in l.read) layers.push({ source: l.label, value: l.read.value });
  }
  for (const label of FILE_LAYERS) {
    const file = join(root, label);
    const read = readLayerFile(file, label);
    sources.push({ layer: label, file, present: read.present });
    if ('problems' in read) problems.push(...read.problems);
    else if ('value' in read) layers.push({ source: label, value: read.value });
  }
  const fromEnv = envLayers(env);
  problems.push(...fromEnv.problems);
  layers.push(...fromEnv.layers);
  const variables = fromEnv.layers.map((layer) => layer.source);
  sources.push({ layer: 'environment_variables', present: variables.length > 0, variables });
  // Unreadable layers would leave the merged view misleading, so stop before validating it.
  if (problems.length > 0) throw new ConfigError(problems);

  let merged: Mapping = DEFAULT_CONFIG;
  for (const layer of layers) merged = mergeLayer(merged, layer.value, layer.source, provenance);
  const result = CarConfigSchema.safeParse(merged, { jitless: true });
  if (!result.success) {
    throw new ConfigError(result.error.issues.map((issue) => issueToProblem(issue, merged, provenance)));
  }
  return {
    config: result.data,
    sources,
    ignored: ignoredSettings(merged, provenance),
    origin: (path) => provenance.sourceOf(path) ?? DEFAULTS_SOURCE,
  };
}
