// `car chat run` (the Telegram/Discord service, in the foreground) and `car chat status`.

import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { agentProcessPort } from '../../../agents/orphans.ts';
import { FlowControl } from '../../../control/flow-control.ts';
import { type CarConfig, ConfigError, loadConfig } from '../../../core/config/index.ts';
import { loadHubConfig } from '../../../core/hub/config.ts';
import { readManifest, repoDir } from '../../../core/hub/manifest.ts';
import { isHubRoot } from '../../../core/hub/paths.ts';
import { type Hub, openHub } from '../../../core/hub/registry.ts';
import { openChatStore } from '../../../core/notify/chat-store.ts';
import { redact } from '../../../core/notify/text.ts';
import { repoPaths, STATE_DIR } from '../../../core/paths.ts';
import { openRunStore } from '../../../core/store/run-store.ts';
import { type ChatRepo, type ChatRepoSource, ChatService } from '../../../integrations/chat/service.ts';
import { createRepoState } from '../../../integrations/git/index.ts';
import { createHubGit } from '../../../integrations/git/worktree.ts';
import { QueueReader } from '../../hub-queue-report.ts';
import { preferSmallHeap } from '../../lean-heap.ts';
import type { CliRunner } from '../../mcp/cli-runner.ts';
import { openPma } from '../../pma/open.ts';
import { workerLauncher } from '../../worker-spawn.ts';
import { type GlobalOptions, loadRepoConfig, repoSearchStart, resolveRepo } from '../context.ts';
import { CliError, EXIT } from '../errors.ts';
import { type CliIo, formatTable, printJson } from '../io.ts';
import { onStopSignals } from '../stop-signals.ts';

interface RunFlags {
  telegram?: boolean;
  discord?: boolean;
  pollMs?: number;
  /** Serve every repo of this hub (default: the hub whose root is the working directory). */
  hub?: string;
}

/** The env without the bot tokens: workers started from chat never see them. */
function workerEnv(env: NodeJS.ProcessEnv, tokenVars: readonly string[]): NodeJS.ProcessEnv {
  const out = { ...env };
  for (const name of tokenVars) delete out[name];
  return out;
}

/** The repos of the hub as a chat service serves them: re-read from the manifest, each opened once. */
function hubRepoSource(hub: Hub, env: NodeJS.ProcessEnv, log: (line: string) => void): ChatRepoSource {
  const open = new Map<string, { dir: string; repo: ChatRepo }>();
  const refused = new Set<string>();
  return {
    list() {
      let manifest: ReturnType<typeof readManifest>;
      try {
        manifest = readManifest(hub.paths.manifestFile);
      } catch (err) {
        log(`hub manifest: ${(err as Error).message}`);
        return [...open.values()].map((o) => o.repo);
      }
      const wanted = new Map<string, string>();
      for (const entry of manifest.repos) {
        const dir = repoDir(hub.root, entry);
        if (entry.enabled && existsSync(join(dir, STATE_DIR))) wanted.set(entry.id, dir);
      }
      for (const [id, o] of open) {
        if (wanted.get(id) !== o.dir) {
          o.repo.control.close();
          open.delete(id);
        }
      }
      for (const [id, dir] of wanted) {
        if (open.has(id)) continue;
        try {
          const { config } = loadConfig(dir, env);
          const control = new FlowControl(repoPaths(dir), config, createRepoState(dir), {
            agentProcesses: agentProcessPort,
            launcher: workerLauncher(env),
          });
          open.set(id, { dir, repo: { id, control } });
          refused.delete(id);
        } catch (err) {
          // a repo with a broken config is left out (said once) until it is fixed
          if (!refused.has(id)) log(`repo ${id} left out: ${(err as Error).message}`);
          refused.add(id);
        }
      }
      return [...open.values()].map((o) => o.repo);
    },
    close() {
      for (const o of open.values()) o.repo.control.close();
      open.clear();
    },
  };
}

interface Served {
  mode: 'repo' | 'hub';
  root: string;
  /** The hub served (hub mode). */
  hub?: Hub;
  chatDb: string;
  config: CarConfig;
  repos: (log: (line: string) => void, env: NodeJS.ProcessEnv) => ChatRepoSource;
}

/** In a hub's root (or with --hub): one bot for every repo of the hub; elsewhere the repo's own. */
async function whatToServe(io: CliIo, global: GlobalOptions, flags: { hub?: string }): Promise<Served> {
  const start = flags.hub !== undefined ? resolve(io.cwd, flags.hub) : repoSearchStart(io, global);
  if (flags.hub !== undefined || isHubRoot(start)) {
    if (!isHubRoot(start))
      throw new CliError(`--hub ${flags.hub}: not a hub (car init --mode hub)`, EXIT.usage);
    let loaded: ReturnType<typeof loadHubConfig>;
    try {
      loaded = loadHubConfig(start, io.env);
    } catch (err) {
      if (err instanceof ConfigError) throw new CliError(err.message, EXIT.invalidInput);
      throw err;
    }
    const hub = openHub(start, loaded.hub, createHubGit());
    return {
      mode: 'hub',
      root: hub.root,
      hub,
      chatDb: hub.paths.chatDb,
      config: loaded.config,
      repos: (log, env) => hubRepoSource(hub, env, log),
    };
  }
  const repo = resolveRepo(io, global);
  const { config } = await loadRepoConfig(io, repo.paths.root);
  return {
    mode: 'repo',
    root: repo.paths.root,
    chatDb: repo.paths.dbFile,
    config,
    repos: (_log, env) => {
      const control = new FlowControl(repo.paths, config, createRepoState(repo.paths.root), {
        agentProcesses: agentProcessPort,
        launcher: workerLauncher(env),
      });
      const one: ChatRepo = { id: null, control };
      return { list: () => [one], close: () => control.close() };
    },
  };
}

export async function chatRun(
  io: CliIo,
  global: GlobalOptions,
  flags: RunFlags,
  run: CliRunner,
): Promise<void> {
  preferSmallHeap();
  const served = await whatToServe(io, global, flags);
  const { config } = served;
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

  // /repos of a hub with a postgres queue also lists its jobs and the machine working each
  const queueHub = served.hub?.settings.queue.kind === 'postgres' ? served.hub : null;
  const queueReader = queueHub ? new QueueReader() : null;
  const service = new ChatService({
    ...(queueHub && queueReader ? { queue: () => queueReader.read(queueHub, io.env) } : {}),
    mode: served.mode,
    repos: served.repos(log, env),
    chatDb: served.chatDb,
    config,
    ...(telegramToken ? { telegram: { token: telegramToken, ...(chatId ? { chatId } : {}) } } : {}),
    ...(discordToken ? { discord: { token: discordToken } } : {}),
    log,
    ...(flags.pollMs !== undefined ? { pollMs: flags.pollMs } : {}),
    // the agent (and the car it runs over MCP) gets the workers' environment: no bot tokens
    pma: () => openPma({ scope: { kind: served.mode, root: served.root }, env, run }),
  });
  let stopped!: () => void;
  const done = new Promise<void>((resolve) => {
    stopped = resolve;
  });
  const signals = onStopSignals(io, 'car chat', () => {
    log('stopping');
    void service.stop().finally(stopped);
  });
  try {
    try {
      await service.start();
    } catch (err) {
      await service.stop().catch(() => {});
      if (signals.signalled) return;
      throw new CliError(
        `chat service failed to start: ${redact((err as Error).message, secrets)}`,
        EXIT.failed,
      );
    }
    const platforms = [useTelegram && 'telegram', useDiscord && 'discord'].filter(Boolean).join(', ');
    io.stdout(
      `car chat: serving ${served.mode === 'hub' ? `every repo of the hub ${served.root}` : served.root} (${platforms}); Ctrl-C stops\n`,
    );
    await done;
  } finally {
    signals.dispose();
    await queueReader?.close();
  }
}

export async function chatStatus(
  io: CliIo,
  global: GlobalOptions,
  flags: { json?: boolean; hub?: string },
): Promise<void> {
  const { config, chatDb } = await whatToServe(io, global, flags);
  // opening the run store migrates the file, so the chat tables exist
  openRunStore(chatDb).close();
  const chats = openChatStore(chatDb);
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
        bindings: bindings.map((b) => ({
          platform: b.platform,
          chat_id: b.chatId,
          bound_at: b.boundAt,
          repo: b.repo,
        })),
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
        ? `bound chats:\n${formatTable(bindings.map((b) => [`  ${b.platform}`, b.chatId, b.boundAt, b.repo ?? '']))}\n`
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
