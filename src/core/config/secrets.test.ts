import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { ConfigError } from './errors.ts';
import { loadConfig } from './load.ts';
import { CarConfigSchema, DEFAULT_CONFIG } from './schema.ts';
import { carSecretEnvNames, envWithout, secretEnvToRemove } from './secrets.ts';

const base = mkdtempSync(join(tmpdir(), 'car-secrets-'));
after(() => rmSync(base, { recursive: true, force: true }));

test('car secrets by default: both bot tokens, both API tokens and the GitHub webhook secret; nothing is passed', () => {
  assert.deepEqual(carSecretEnvNames(DEFAULT_CONFIG), [
    'CAR_DISCORD_BOT_TOKEN',
    'CAR_GITHUB_WEBHOOK_SECRET',
    'CAR_TELEGRAM_BOT_TOKEN',
    'CAR_WEB_TOKEN',
    'CAR_WEB_VIEWER_TOKEN',
  ]);
  assert.deepEqual(DEFAULT_CONFIG.security.pass_secret_env, []);
  assert.deepEqual(secretEnvToRemove(DEFAULT_CONFIG), carSecretEnvNames(DEFAULT_CONFIG));
});

test('the names follow config, server.auth_token_env when set; pass_secret_env keeps one', () => {
  const config = CarConfigSchema.parse({
    telegram_bot: { bot_token_env: 'TG' },
    discord_bot: { bot_token_env: 'DC' },
    server: { auth_token_env: 'API', viewer_token_env: 'VIEW' },
    github: { webhook_secret_env: 'HOOK' },
    security: { pass_secret_env: ['DC', 'NOT_A_SECRET'] },
  });
  assert.deepEqual(carSecretEnvNames(config), ['API', 'CAR_WEB_TOKEN', 'DC', 'HOOK', 'TG', 'VIEW']);
  assert.deepEqual(secretEnvToRemove(config), ['API', 'CAR_WEB_TOKEN', 'HOOK', 'TG', 'VIEW']);
  const env = { TG: 'a', DC: 'b', API: 'c', GITHUB_TOKEN: 'gh', PATH: '/bin' };
  assert.deepEqual(envWithout(env, secretEnvToRemove(config)), { DC: 'b', GITHUB_TOKEN: 'gh', PATH: '/bin' });
  assert.equal(env.TG, 'a', 'the input is left alone');
});

test('security.pass_secret_env must be a list of env var names; the error names the key', () => {
  const root = join(base, 'repo');
  mkdirSync(join(root, '.codex-autorunner'), { recursive: true });
  const bad = (yaml: string, env: NodeJS.ProcessEnv = {}): string => {
    writeFileSync(join(root, '.codex-autorunner/config.yml'), yaml);
    try {
      loadConfig(root, env);
    } catch (err) {
      assert.ok(err instanceof ConfigError);
      return err.message;
    }
    return assert.fail('expected a ConfigError');
  };
  assert.equal(
    bad('security:\n  pass_secret_env: CAR_WEB_TOKEN\n'),
    '.codex-autorunner/config.yml: security.pass_secret_env must be a list of env var names (got "CAR_WEB_TOKEN")',
  );
  assert.equal(
    bad('security:\n  pass_secret_env: [CAR_WEB_TOKEN, "not a name"]\n'),
    '.codex-autorunner/config.yml: security.pass_secret_env[1] must be an env var name (got "not a name")',
  );
  writeFileSync(join(root, '.codex-autorunner/config.yml'), 'version: 2\n');
  const fromEnv = loadConfig(root, { CAR__SECURITY__PASS_SECRET_ENV: '[CAR_TELEGRAM_BOT_TOKEN]' });
  assert.deepEqual(fromEnv.config.security.pass_secret_env, ['CAR_TELEGRAM_BOT_TOKEN']);
});
