// Discord through @discordjs/core: the Gateway (found via REST GET /gateway/bot) for messages and button
// clicks, REST create-message for the outbox with a fixed `nonce` + `enforce_nonce` per outbox row, so a
// resend after a crash returns the message Discord already has instead of posting it twice.
import {
  API,
  type APIInteraction,
  type APIMessageTopLevelComponent,
  ApplicationCommandOptionType,
  ButtonStyle,
  Client,
  ComponentType,
  GatewayDispatchEvents,
  InteractionType,
  MessageFlags,
} from '@discordjs/core';
import {
  DiscordAPIError,
  HTTPError,
  type InternalRequest,
  RateLimitError,
  REST,
  type RESTOptions,
} from '@discordjs/rest';
import { WebSocketManager } from '@discordjs/ws';
import type { CarConfig } from '../../core/config/index.ts';
import type { OutboxMessage } from '../../core/notify/chat-store.ts';
import { type ChatTransport, SendError } from '../../core/notify/deliver.ts';
import { buttonRows } from '../../core/notify/notices.ts';
import { discordAccess } from './access.ts';
import type { Answer, CommandHandler, SlashCommand } from './commands.ts';
import { buttonData, parseButtonData } from './telegram.ts';

export interface DiscordOptions {
  token: string;
  config: CarConfig['discord_bot'];
  commands: CommandHandler;
  /** Registered as slash commands at start-up (discord_bot.register_commands). */
  slashCommands: readonly SlashCommand[];
  answer: (chatId: string, key: string, answer: Answer) => void;
  log: (line: string) => void;
}

export function discordSendError(err: unknown): SendError {
  if (err instanceof RateLimitError)
    return new SendError('rate_limited', `rate limited on ${err.route}`, err.retryAfter);
  if (err instanceof DiscordAPIError) {
    const msg = `Discord API error ${err.status} (${err.code}): ${err.message}`;
    return new SendError(err.status >= 500 ? 'transient' : 'permanent', msg);
  }
  if (err instanceof HTTPError)
    return new SendError(err.status >= 500 ? 'transient' : 'permanent', err.message);
  return new SendError('transient', err instanceof Error ? err.message : String(err));
}

/**
 * REST whose every call is cancelled once `signal` aborts. Without it a start-up that failed or was
 * stopped left GET /gateway/bot in flight (15 s timeout, 3 retries) holding the process for a minute.
 */
class CancellableRest extends REST {
  readonly #signal: AbortSignal;
  constructor(options: Partial<RESTOptions>, signal: AbortSignal) {
    super(options);
    this.#signal = signal;
  }
  override request(options: InternalRequest): Promise<unknown> {
    return super.request({ ...options, signal: options.signal ?? this.#signal });
  }
}

export class DiscordAdapter implements ChatTransport {
  readonly platform = 'discord' as const;
  readonly rest: REST;
  readonly api: API;
  readonly gateway: WebSocketManager;
  readonly client: Client;
  readonly #opts: DiscordOptions;
  #username = '';
  #markReady!: () => void;
  /** Resolves on the gateway's first READY. */
  readonly #ready = new Promise<void>((resolve) => {
    this.#markReady = resolve;
  });
  #applicationId = '';
  /** Aborted by stop(): cancels the REST calls in flight (the gateway's and the outbox's). */
  readonly #stopping = new AbortController();

  constructor(opts: DiscordOptions) {
    this.#opts = opts;
    // 429s come back to the outbox (rejectOnRateLimit), which persists the wait and honours retry_after
    this.rest = new CancellableRest(
      { version: '10', api: opts.config.api_root, rejectOnRateLimit: () => true },
      this.#stopping.signal,
    ).setToken(opts.token);
    this.api = new API(this.rest);
    this.gateway = new WebSocketManager({ token: opts.token, intents: opts.config.intents, rest: this.rest });
    this.client = new Client({ rest: this.rest, gateway: this.gateway });
    this.#wire();
  }

  async send(msg: OutboxMessage): Promise<{ messageId: string }> {
    const components: APIMessageTopLevelComponent[] = buttonRows(msg.buttons, 5).map((row) => ({
      type: ComponentType.ActionRow,
      components: row.map((b) => ({
        type: ComponentType.Button,
        style:
          b.action === 'stop' || b.action === 'deny'
            ? ButtonStyle.Danger
            : b.action === 'answer'
              ? ButtonStyle.Secondary
              : ButtonStyle.Primary,
        // Discord caps labels at 80 characters, as car caps options
        label: b.label,
        custom_id: buttonData(b),
      })),
    }));
    try {
      const sent = await this.api.channels.createMessage(msg.chatId, {
        content: msg.text,
        nonce: msg.nonce,
        enforce_nonce: true,
        allowed_mentions: { parse: [] },
        ...(components.length ? { components } : {}),
      });
      return { messageId: sent.id };
    } catch (err) {
      throw discordSendError(err);
    }
  }

  #allowed(userId: string, chatId: string, guildId: string | null): boolean {
    const decision = discordAccess(this.#opts.config, { userId, chatId, guildId });
    if (!decision.allowed) {
      this.#opts.log(`discord: ignored an event from user ${userId} in channel ${chatId} (${decision.why})`);
    }
    return decision.allowed;
  }

  #wire(): void {
    this.client.on(GatewayDispatchEvents.Ready, ({ data }) => {
      this.#applicationId = data.application.id;
      this.#username = data.user.username;
      this.#markReady();
    });
    this.client.on(GatewayDispatchEvents.MessageCreate, async ({ data }) => {
      // our own notices come back through the gateway too
      if (data.author.bot) return;
      const guildId = data.guild_id ?? null;
      if (!this.#allowed(data.author.id, data.channel_id, guildId)) return;
      try {
        const repliedTo = data.message_reference?.message_id;
        const answer = await this.#opts.commands.message({
          platform: 'discord',
          chatId: data.channel_id,
          userId: data.author.id,
          text: data.content,
          ...(repliedTo === undefined ? {} : { replyTo: repliedTo }),
        });
        if (answer) this.#opts.answer(data.channel_id, `msg:${data.id}`, answer);
      } catch (err) {
        this.#opts.log(`discord: message handler failed: ${(err as Error).message}`);
      }
    });
    this.client.on(GatewayDispatchEvents.InteractionCreate, async ({ data }) => {
      try {
        await this.#interaction(data);
      } catch (err) {
        this.#opts.log(`discord: interaction failed: ${(err as Error).message}`);
      }
    });
  }

  async #interaction(i: APIInteraction): Promise<void> {
    const user = i.member?.user ?? i.user;
    const channelId = i.channel?.id ?? (i as { channel_id?: string }).channel_id;
    if (!user || !channelId) return;
    if (!this.#allowed(user.id, channelId, i.guild_id ?? null)) return;
    if (i.type === InteractionType.MessageComponent) {
      const parsed = parseButtonData(i.data.custom_id);
      // Discord wants an answer within 3 s; the action's outcome follows as a channel message
      await this.api.interactions.reply(i.id, i.token, {
        content: parsed ? `${parsed.action}…` : 'Unknown button.',
        flags: MessageFlags.Ephemeral,
      });
      if (!parsed) return;
      const text = await this.#opts.commands.action({
        ...parsed,
        from: { platform: 'discord', chatId: channelId, userId: user.id },
      });
      this.#opts.answer(channelId, `interaction:${i.id}`, { text });
      return;
    }
    if (i.type === InteractionType.ApplicationCommand) {
      const data = i.data as { name: string; options?: { name: string; type: number; value?: unknown }[] };
      const arg = data.options?.find((o) => o.type === ApplicationCommandOptionType.String)?.value;
      await this.api.interactions.reply(i.id, i.token, {
        content: `/${data.name}…`,
        flags: MessageFlags.Ephemeral,
      });
      const answer = await this.#opts.commands.message({
        platform: 'discord',
        chatId: channelId,
        userId: user.id,
        text: `/${data.name}${typeof arg === 'string' ? ` ${arg}` : ''}`,
      });
      if (answer) this.#opts.answer(channelId, `interaction:${i.id}`, answer);
    }
  }

  /**
   * Connects to the gateway (found through REST at api_root) and waits for READY, at most
   * `startup_timeout_seconds`, or until `signal` aborts (the service is stopping).
   */
  async start(signal: AbortSignal): Promise<{ username: string }> {
    const { api_root: root, startup_timeout_seconds: seconds } = this.#opts.config;
    let timer: NodeJS.Timeout | undefined;
    let onAbort: (() => void) | undefined;
    const ended = new Promise<never>((_, reject) => {
      timer = setTimeout(
        () => reject(new Error(`discord: the gateway (via ${root}) was not ready within ${seconds} s`)),
        seconds * 1000,
      );
      onAbort = () => reject(new Error('discord: stopped during start-up'));
      signal.addEventListener('abort', onAbort, { once: true });
    });
    try {
      await Promise.race([this.gateway.connect(), ended]);
      await Promise.race([this.#ready, ended]);
    } catch (err) {
      const message = err instanceof Error ? err.message : String(err);
      throw new Error(
        message.startsWith('discord:') ? message : `discord: cannot connect via ${root}: ${message}`,
      );
    } finally {
      clearTimeout(timer);
      if (onAbort) signal.removeEventListener('abort', onAbort);
    }
    if (this.#opts.config.register_commands) await this.#registerCommands();
    return { username: this.#username };
  }

  /**
   * Bulk-overwrites the application's commands with car's: per allowed guild (shown at once), else
   * global. A failure (no applications.commands scope) is logged; text commands and buttons still work.
   */
  async #registerCommands(): Promise<void> {
    const body = this.#opts.slashCommands.map((c) => ({
      name: c.name,
      description: c.description,
      options: [
        {
          type: ApplicationCommandOptionType.String as const,
          name: 'args',
          description: 'What follows the command: a repo of the hub and/or text',
          required: false,
        },
      ],
    }));
    const guilds = this.#opts.config.allowed_guild_ids;
    try {
      if (guilds.length === 0) {
        await this.api.applicationCommands.bulkOverwriteGlobalCommands(this.#applicationId, body);
        this.#opts.log(`discord: registered ${body.length} slash commands globally`);
        return;
      }
      for (const guild of guilds) {
        await this.api.applicationCommands.bulkOverwriteGuildCommands(this.#applicationId, guild, body);
      }
      this.#opts.log(`discord: registered ${body.length} slash commands in ${guilds.length} guild(s)`);
    } catch (err) {
      this.#opts.log(
        `discord: slash commands not registered (${discordSendError(err).message}); text commands and buttons still work`,
      );
    }
  }

  async stop(): Promise<void> {
    this.#stopping.abort();
    await this.gateway.destroy();
  }
}
