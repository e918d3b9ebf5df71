// Configuration: layered YAML files plus environment, validated with zod. The CLI imports this module
// lazily (it pulls in zod); `agents.ts` and `template.ts` are zod-free for callers that only need those.
export { defaultAgentId, knownAgentIds, pmaAgentId } from './agents.ts';
export { ENV_KNOBS } from './env.ts';
export { ConfigError, type ConfigProblem, formatProblem } from './errors.ts';
export type { IgnoredSetting } from './ignored.ts';
export { CONFIG_PRECEDENCE, type ConfigSource, type LoadedConfig, loadConfig } from './load.ts';
export {
  AGENT_BACKENDS,
  AGENT_ID_PATTERN,
  type AgentConfig,
  type CarConfig,
  CarConfigSchema,
  configJsonSchema,
  DEFAULT_CONFIG,
} from './schema.ts';
export { carSecretEnvNames, envWithout, secretEnvToRemove, WEB_TOKEN_ENV } from './secrets.ts';
export { type InitialAgent, initialRepoConfigYaml } from './template.ts';
