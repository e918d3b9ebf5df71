// The chat service `car chat run` runs: watches the run store for events worth a notice, drains the
// outbox, and serves commands from Telegram and/or Discord. One loop does both watching and delivery,
// so a row is never sent by two senders of this process; the outbox claim guards against another one.
import { basename } from 'node:path';
import type { FlowControl } from '../../control/flow-control.ts';
import type { Pma } from '../../control/pma.ts';
import type { CarConfig } from '../../core/config/index.ts';
import { type Binding, type ChatStore, openChatStore, type Platform } from '../../core/notify/chat-store.ts';
import { type ChatTransport, Deliverer } from '../../core/notify/deliver.ts';
import { DISCORD_MAX_CHARS, redact, splitText, TELEGRAM_MAX_CHARS } from '../../core/notify/text.ts';
import { collectNotices, type WatchTarget } from '../../core/notify/watcher.ts';
import { abortableSleep } from '../../core/sleep.ts';
import { openRunStore } from '../../core/store/run-store.ts';
import { type Answer, ChatCommands, type CommandHandler, SLASH_COMMANDS } from './commands.ts';
import { DiscordAdapter } from './discord.ts';
import {
  HUB_SLASH_COMMANDS,
  HubChatCommands,
  type HubChatRepo,
  type HubCommandDeps,
} from './hub-commands.ts';
import { PmaRoute } from './pma-route.ts';
import { TelegramAdapter } from './telegram.ts';

/** A repo the service serves: its control plane, given a launcher of detached workers. */
export interface ChatRepo {
  /** The hub's id for the repo; null for a service of one repo. */
  id: string | null;
  control: FlowControl;
}

/** The repos served, read again every pass (a hub's manifest changes); `close` releases them. */
export interface ChatRepoSource {
  list(): ChatRepo[];
  close(): void;
}

export interface ChatServiceOptions {
  /**
   * One repo (its commands and notices), or every repo of a hub (one bot; chats follow one repo or all,
   * see hub-commands.ts).
   */
  mode: 'repo' | 'hub';
  repos: ChatRepoSource;
  /** Bindings, cursors and the outbox: the repo's car.db, or the hub's chat.db. */
  chatDb: string;
  /** The chat settings (telegram_bot, discord_bot, notifications): the repo's config, or the hub's. */
  config: CarConfig;
  telegram?: { token: string; chatId?: string };
  discord?: { token: string };
  /** One line, no newline; already scrubbed of the tokens. */
  log: (line: string) => void;
  /** Overrides notifications.poll_seconds (tests). */
  pollMs?: number;
  /** Overrides the delivery backoff base (tests). */
  backoffBaseMs?: number;
  /** Opens the project manager agent (the repo's, or the hub's) for plain messages no run waits for. */
  pma?: () => Pma;
  /** A hub's postgres queue, for /repos (HubCommandDeps.queue). */
  queue?: HubCommandDeps['queue'];
}

export class ChatService {
  readonly chats: ChatStore;
  readonly telegram: TelegramAdapter | null = null;
  readonly discord: DiscordAdapter | null = null;
  readonly #opts: ChatServiceOptions;
  readonly #deliverer: Deliverer;
  readonly #targets: WatchTarget[] = [];
  readonly #abort = new AbortController();
  /** Each repo's commands, kept while its control plane is the same. */
  readonly #commands = new WeakMap<FlowControl, ChatCommands>();
  readonly #pma: PmaRoute | null;
  #wake: AbortController = new AbortController();
  #loop: Promise<void> | null = null;
  #stopped: Promise<void> | null = null;

  constructor(opts: ChatServiceOptions) {
    const secrets = [opts.telegram?.token, opts.discord?.token].filter((t): t is string => Boolean(t));
    const log = (line: string) => opts.log(redact(line, secrets));
    this.#opts = { ...opts, log };
    // the chat store is a second connection to a database the run store has migrated
    openRunStore(opts.chatDb).close();
    this.chats = openChatStore(opts.chatDb);
    this.#pma = opts.pma
      ? new PmaRoute({ open: opts.pma, answer: (p, chatId, key, a) => this.#answer(p, chatId, key, a), log })
      : null;
    const pma = this.#pma ? { pma: this.#pma } : {};
    const commands: CommandHandler =
      opts.mode === 'hub'
        ? new HubChatCommands({
            chats: this.chats,
            repos: () => this.#hubRepos(),
            ...pma,
            ...(opts.queue ? { queue: opts.queue } : {}),
          })
        : {
            message: (msg) => this.#repoCommands(this.#single()).message(msg),
            action: (press) => this.#repoCommands(this.#single()).action(press),
          };
    const transports: ChatTransport[] = [];
    if (opts.telegram) {
      this.telegram = new TelegramAdapter({
        token: opts.telegram.token,
        config: opts.config.telegram_bot,
        commands,
        answer: (chatId, key, a) => this.#answer('telegram', chatId, key, a),
        log,
      });
      transports.push(this.telegram);
      this.#targets.push({ platform: 'telegram', maxChars: TELEGRAM_MAX_CHARS });
    }
    if (opts.discord) {
      this.discord = new DiscordAdapter({
        token: opts.discord.token,
        config: opts.config.discord_bot,
        commands,
        slashCommands: opts.mode === 'hub' ? HUB_SLASH_COMMANDS : SLASH_COMMANDS,
        answer: (chatId, key, a) => this.#answer('discord', chatId, key, a),
        log,
      });
      transports.push(this.discord);
      this.#targets.push({
        platform: 'discord',
        maxChars: Math.min(DISCORD_MAX_CHARS, opts.config.discord_bot.max_message_length),
      });
    }
    const n = opts.config.notifications;
    this.#deliverer = new Deliverer(this.chats, transports, {
      minIntervalMs: n.min_interval_ms,
      maxAttempts: n.max_attempts,
      ...(opts.backoffBaseMs !== undefined ? { backoffBaseMs: opts.backoffBaseMs } : {}),
      log,
    });
  }

  #maxChars(platform: Platform): number {
    return this.#targets.find((t) => t.platform === platform)?.maxChars ?? DISCORD_MAX_CHARS;
  }

  /** Queues a command's answer (split to the platform's limit) and wakes the loop to send it. */
  #answer(platform: Platform, chatId: string, key: string, a: Answer): void {
    const parts = splitText(a.text, this.#maxChars(platform));
    this.chats.transaction(() => {
      parts.forEach((text, i) => {
        this.chats.enqueue({
          platform,
          chatId,
          dedupeKey: `${platform}:${chatId}:${key}:${i}`,
          text,
          buttons: i === parts.length - 1 ? (a.buttons ?? []) : [],
        });
      });
    });
    this.#wake.abort();
  }

  #single(): ChatRepo {
    const repo = this.#opts.repos.list()[0];
    if (!repo) throw new Error('chat service: no repo to serve');
    return repo;
  }

  #repoCommands(repo: ChatRepo): ChatCommands {
    let commands = this.#commands.get(repo.control);
    if (!commands) {
      commands = new ChatCommands({
        control: repo.control,
        chats: this.chats,
        log: this.#opts.log,
        // in a hub the hub's commands hand plain messages to the hub's PMA
        ...(this.#pma && this.#opts.mode === 'repo' ? { pma: this.#pma } : {}),
      });
      this.#commands.set(repo.control, commands);
    }
    return commands;
  }

  #hubRepos(): HubChatRepo[] {
    return this.#opts.repos.list().map((repo) => {
      const store = repo.control.store;
      return {
        id: repo.id ?? basename(repo.control.paths.root),
        commands: this.#repoCommands(repo),
        latestRun: () => store.latestRun(),
        hasRun: (runId) => store.getRun(runId) !== null,
        runCursors: () =>
          store.listRuns({ includeLanes: true }).map((r) => ({ id: r.id, lastEventSeq: r.lastEventSeq })),
      };
    });
  }

  /** Connects the platforms and starts the watch/deliver loop. */
  async start(): Promise<void> {
    const { log } = this.#opts;
    const resent = this.chats.recoverInterrupted();
    if (resent > 0) log(`outbox: ${resent} message(s) interrupted mid-send by a crash will be sent again`);
    if (this.telegram) {
      const me = await this.telegram.start(this.#abort.signal);
      log(`telegram: polling as @${me.username}`);
      const chatId = this.#opts.telegram?.chatId;
      if (chatId) {
        // the chat named by the environment follows the repo (a hub's: every repo)
        const runs = this.#opts.repos
          .list()
          .flatMap((r) =>
            r.control.store
              .listRuns({ includeLanes: true })
              .map((run) => ({ id: run.id, lastEventSeq: run.lastEventSeq })),
          );
        if (!this.chats.isBound('telegram', chatId) && this.chats.bind('telegram', chatId, 'config', runs))
          log(`telegram: bound chat ${chatId} from env`);
      }
    }
    if (this.discord) {
      const me = await this.discord.start(this.#abort.signal);
      log(`discord: connected to the gateway as ${me.username}`);
    }
    this.#loop = this.#run();
  }

  /** One watch + deliver pass (also what the loop does each tick). */
  async tick(): Promise<void> {
    const n = this.#opts.config.notifications;
    if (n.enabled !== false) {
      for (const repo of this.#opts.repos.list()) {
        const follows =
          this.#opts.mode === 'hub' ? (b: Binding) => b.repo === null || b.repo === repo.id : undefined;
        collectNotices(repo.control.store, this.chats, {
          repo: repo.id ?? basename(repo.control.paths.root),
          targets: this.#targets,
          kinds: new Set(n.events),
          ...(follows ? { follows } : {}),
        });
      }
    }
    await this.#deliverer.drain({ signal: this.#abort.signal });
  }

  async #run(): Promise<void> {
    const pollMs = this.#opts.pollMs ?? this.#opts.config.notifications.poll_seconds * 1000;
    while (!this.#abort.signal.aborted) {
      try {
        await this.tick();
      } catch (err) {
        this.#opts.log(`chat loop: ${err instanceof Error ? err.message : String(err)}`);
      }
      this.#wake = new AbortController();
      await abortableSleep(pollMs, AbortSignal.any([this.#abort.signal, this.#wake.signal])).catch(() => {});
    }
  }

  /** Stops everything, a start-up in progress included; idempotent. */
  stop(): Promise<void> {
    this.#stopped ??= (async () => {
      this.#abort.abort();
      await this.#loop;
      await Promise.allSettled([this.telegram?.stop(), this.discord?.stop(), this.#pma?.close()]);
      this.chats.close();
      this.#opts.repos.close();
    })();
    return this.#stopped;
  }
}
