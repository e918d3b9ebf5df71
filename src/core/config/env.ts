import { checkTextSize, INPUT_LIMITS } from '../input-limits.ts';
import { parseYamlWithinLimits } from '../yaml-limits.ts';
import { parseArgv } from './argv.ts';
import type { ConfigProblem } from './errors.ts';
import type { Mapping } from './merge.ts';

const VALUE_BUDGET = { tokens: INPUT_LIMITS.configYamlTokens, what: 'a config value' };

const GENERIC_PREFIX = 'CAR__';

/** CAR's named variables, lowest precedence first (a later one wins over an earlier one). */
const NAMED: readonly { name: string; path: readonly string[]; kind: 'argv' | 'string' }[] = [
  { name: 'CAR_APP_SERVER_COMMAND', path: ['app_server', 'command'], kind: 'argv' },
  { name: 'CAR_CODEX_APP_SERVER_COMMAND', path: ['app_server', 'command'], kind: 'argv' },
  { name: 'CODEX_BIN', path: ['agents', 'codex', 'binary'], kind: 'string' },
  { name: 'OPENCODE_BIN', path: ['agents', 'opencode', 'binary'], kind: 'string' },
  { name: 'CAR_OPENCODE_COMMAND', path: ['agents', 'opencode', 'command'], kind: 'argv' },
];

/** Environment variable names that configure car (names only; none holds a secret). */
export const ENV_KNOBS: readonly string[] = [
  ...NAMED.map((n) => n.name),
  `${GENERIC_PREFIX}<SECTION>__<KEY>`,
];

/** One environment variable turned into a config fragment. */
export interface EnvLayer {
  source: string;
  value: Mapping;
}

function nest(path: readonly string[], leaf: unknown): Mapping {
  let value = leaf;
  for (let i = path.length - 1; i >= 0; i--) value = { [path[i]!]: value };
  return value as Mapping;
}

/** `CAR__TICKET_FLOW__MAX_TOTAL_TURNS=80` → `{ticket_flow: {max_total_turns: 80}}`; value is YAML. */
function genericLayer(name: string, raw: string): EnvLayer | ConfigProblem {
  const path = name.slice(GENERIC_PREFIX.length).toLowerCase().split('__');
  if (path.some((key) => key === '')) {
    return {
      file: name,
      keyPath: '',
      message: `must be named ${GENERIC_PREFIX}<SECTION>__<KEY>[__<KEY>...]`,
    };
  }
  const keyPath = path.join('.');
  const tooBig = checkTextSize(raw, INPUT_LIMITS.configFileBytes, 'a config value');
  if (tooBig) return { file: name, keyPath, message: tooBig.message.replace(/^file/, 'value') };
  const parsed = parseYamlWithinLimits(raw, { version: '1.1' }, VALUE_BUDGET);
  const problem = parsed.problems?.[0];
  if (problem) {
    const message = problem.code ? problem.message : `is not a valid YAML value: ${problem.message}`;
    return { file: name, keyPath, message };
  }
  return { source: name, value: nest(path, parsed.value) };
}

/**
 * The environment layer as one fragment per variable, so validation errors name the variable.
 * Generic `CAR__...` variables come first (sorted), then CAR's named ones, which therefore win.
 * Empty named variables count as unset, as in CAR.
 */
export function envLayers(env: NodeJS.ProcessEnv): { layers: EnvLayer[]; problems: ConfigProblem[] } {
  const layers: EnvLayer[] = [];
  const problems: ConfigProblem[] = [];
  const generic = Object.keys(env)
    .filter((name) => name.startsWith(GENERIC_PREFIX))
    .sort();
  for (const name of generic) {
    const result = genericLayer(name, env[name] ?? '');
    if ('source' in result) layers.push(result);
    else problems.push(result);
  }
  for (const { name, path, kind } of NAMED) {
    const raw = env[name]?.trim();
    if (!raw) continue;
    if (kind === 'string') {
      layers.push({ source: name, value: nest(path, raw) });
      continue;
    }
    try {
      layers.push({ source: name, value: nest(path, parseArgv(raw)) });
    } catch (err) {
      problems.push({ file: name, keyPath: path.join('.'), message: (err as Error).message });
    }
  }
  return { layers, problems };
}
