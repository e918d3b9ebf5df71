// `car chat run` (the Telegram/Discord service, in the foreground) and `car chat status`.
import { agentProcessPort } from '../../../agents/orphans.ts';
import { openChatStore } from '../../../core/notify/chat-store.ts';
import { redact } from '../../../core/notify/text.ts';
import { openRunStore } from '../../../core/store/run-store.ts';
import { ChatService } from '../../../integrations/chat/service.ts';
import { createRepoState } from '../../../integrations/git/index.ts';
import { spawnWorker } from '../../worker-spawn.ts';
import { type GlobalOptions, loadRepoConfig, resolveRepo } from '../context.ts';
import { CliError, EXIT } from '../errors.ts';
import { type CliIo, formatTable, printJson } from '../io.ts';

interface RunFlags {
  telegram?: boolean;
  discord?: boolean;
  pollMs?: number;
}

/** The env without the bot tokens: workers started from chat never see them. */
function workerEnv(env: NodeJS.ProcessEnv, tokenVars: readonly string[]): NodeJS.ProcessEnv {
  const out = { ...env };
  for (const name of tokenVars) delete out[name];
  return out;
}

export async function chatRun(io: CliIo, global: GlobalOptions, flags: RunFlags): Promise<void> {
  const repo = resolveRepo(io, global);
  const { config } = await loadRepoConfig(io, repo.paths.root);
  const explicit = flags.telegram || flags.discord;
  const useTelegram = explicit ? Boolean(flags.telegram) : config.telegram_bot.enabled;
  const useDiscord = explicit ? Boolean(flags.discord) : config.discord_bot.enabled;
  if (!useTelegram && !useDiscord) {
    throw new CliError(
      'no chat platform: pass --telegram and/or --discord, or set telegram_bot.enabled / discord_bot.enabled',
      EXIT.usage,
    );
  }
  const token = (envName: string, what: string): string => {
    const value = io.env[envName]?.trim();
    if (!value)
      throw new CliError(
        `${what} needs a bot token in $${envName} (set by ${what}.bot_token_env)`,
        EXIT.usage,
      );
    return value;
  };
  const telegramToken = useTelegram ? token(config.telegram_bot.bot_token_env, 'telegram_bot') : undefined;
  const discordToken = useDiscord ? token(config.discord_bot.bot_token_env, 'discord_bot') : undefined;
  const secrets = [telegramToken, discordToken].filter((t): t is string => Boolean(t));
  const log = (line: string) => io.stderr(`${new Date().toISOString()} chat: ${redact(line, secrets)}\n`);
  const env = workerEnv(io.env, [config.telegram_bot.bot_token_env, config.discord_bot.bot_token_env]);
  const chatId = io.env[config.telegram_bot.chat_id_env]?.trim();

  const service = new ChatService({
    paths: repo.paths,
    config,
    repo: createRepoState(repo.paths.root),
    agentProcesses: agentProcessPort,
    ...(telegramToken ? { telegram: { token: telegramToken, ...(chatId ? { chatId } : {}) } } : {}),
    ...(discordToken ? { discord: { token: discordToken } } : {}),
    startWorker: (runId) => spawnWorker({ root: repo.paths.root, runId, env }),
    log,
    ...(flags.pollMs !== undefined ? { pollMs: flags.pollMs } : {}),
  });
  let stopping = false;
  const done = new Promise<void>((resolve) => {
    const stop = () => {
      if (stopping) return;
      stopping = true;
      log('stopping');
      void service.stop().finally(resolve);
    };
    process.once('SIGINT', stop);
    process.once('SIGTERM', stop);
  });
  try {
    await service.start();
  } catch (err) {
    await service.stop().catch(() => {});
    throw new CliError(
      `chat service failed to start: ${redact((err as Error).message, secrets)}`,
      EXIT.failed,
    );
  }
  io.stdout(
    `car chat: serving ${repo.paths.root} (${[useTelegram && 'telegram', useDiscord && 'discord'].filter(Boolean).join(', ')}); Ctrl-C stops\n`,
  );
  await done;
}

export async function chatStatus(io: CliIo, global: GlobalOptions, flags: { json?: boolean }): Promise<void> {
  const repo = resolveRepo(io, global);
  const { config } = await loadRepoConfig(io, repo.paths.root);
  // opening the run store migrates the file, so the chat tables exist
  openRunStore(repo.paths.dbFile).close();
  const chats = openChatStore(repo.paths.dbFile);
  try {
    const platforms = {
      telegram: {
        enabled: config.telegram_bot.enabled,
        token_env: config.telegram_bot.bot_token_env,
        token_set: Boolean(io.env[config.telegram_bot.bot_token_env]),
      },
      discord: {
        enabled: config.discord_bot.enabled,
        token_env: config.discord_bot.bot_token_env,
        token_set: Boolean(io.env[config.discord_bot.bot_token_env]),
      },
    };
    const bindings = chats.bindings();
    const counts = chats.counts();
    const waiting = [...chats.list({ status: 'pending' }), ...chats.list({ status: 'sending' })];
    const failed = chats.list({ status: 'failed' });
    const row = (m: (typeof waiting)[number]) => ({
      id: m.id,
      platform: m.platform,
      chat_id: m.chatId,
      status: m.status,
      attempts: m.attempts,
      crash_resends: m.crashResends,
      next_attempt_at: new Date(m.nextAttemptAt).toISOString(),
      last_error: m.lastError,
      created_at: m.createdAt,
    });
    if (flags.json) {
      printJson(io, {
        platforms,
        bindings: bindings.map((b) => ({ platform: b.platform, chat_id: b.chatId, bound_at: b.boundAt })),
        outbox: counts,
        waiting: waiting.map(row),
        failed: failed.map(row),
      });
      return;
    }
    for (const [name, p] of Object.entries(platforms)) {
      io.stdout(
        `${name}: ${p.enabled ? 'enabled' : 'disabled'}, token $${p.token_env} ${p.token_set ? 'set' : 'not set'}\n`,
      );
    }
    io.stdout(
      bindings.length
        ? `bound chats:\n${formatTable(bindings.map((b) => [`  ${b.platform}`, b.chatId, b.boundAt]))}\n`
        : 'bound chats: none (/bind in a chat)\n',
    );
    io.stdout(
      counts.length
        ? `outbox:\n${formatTable(counts.map((c) => [`  ${c.platform}`, c.status, String(c.count)]))}\n`
        : 'outbox: empty\n',
    );
    for (const m of failed.slice(-5))
      io.stdout(`failed #${m.id} ${m.platform}:${m.chatId} after ${m.attempts}: ${m.lastError ?? ''}\n`);
  } finally {
    chats.close();
  }
}
