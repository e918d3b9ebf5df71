// car's own secrets: the env vars holding the tokens car itself uses (chat bots, the HTTP API). Agents
// and verify commands run other people's code, so these are removed from their environment unless
// config passes one (`security.pass_secret_env`), and the GitHub webhook secret. The GitHub API token
// (`github.token_env`) is the user's too: agents get it as they are (they push and use `gh` with it).
import type { CarConfig } from './schema.ts';

/** The API token `car serve` reads whatever `server.auth_token_env` names. */
export const WEB_TOKEN_ENV = 'CAR_WEB_TOKEN';

type SecretSettings = Pick<CarConfig, 'telegram_bot' | 'discord_bot' | 'server' | 'github'>;

/** The env var names holding car's secrets under this config, sorted. */
export function carSecretEnvNames(config: SecretSettings): string[] {
  const names = [
    config.telegram_bot.bot_token_env,
    config.discord_bot.bot_token_env,
    WEB_TOKEN_ENV,
    config.server.auth_token_env,
    config.server.viewer_token_env,
    config.github.webhook_secret_env,
  ];
  return [...new Set(names.map((name) => name.trim()).filter(Boolean))].sort();
}

/** The secrets removed from every agent's and verify command's environment: all but the passed ones. */
export function secretEnvToRemove(config: SecretSettings & Pick<CarConfig, 'security'>): string[] {
  const passed = new Set(config.security.pass_secret_env);
  return carSecretEnvNames(config).filter((name) => !passed.has(name));
}

/** A copy of `env` without `names`. */
export function envWithout(env: NodeJS.ProcessEnv, names: readonly string[]): NodeJS.ProcessEnv {
  const out = { ...env };
  for (const name of names) delete out[name];
  return out;
}
