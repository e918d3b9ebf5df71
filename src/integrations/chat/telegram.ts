// Telegram through grammY: long polling for messages and button presses, sendMessage for the outbox.
// grammY keeps the token out of its error messages (the URL holds it); car's log is scrubbed as well.
import { Bot, GrammyError, HttpError } from 'grammy';
import type { CarConfig } from '../../core/config/index.ts';
import type { OutboxMessage } from '../../core/notify/chat-store.ts';
import { type ChatTransport, SendError } from '../../core/notify/deliver.ts';
import {
  APPROVAL_ACTIONS,
  type ApprovalAction,
  buttonRows,
  type NoticeAction,
  type NoticeButton,
} from '../../core/notify/notices.ts';
import { telegramAccess } from './access.ts';
import type { Answer, CommandHandler } from './commands.ts';

export interface TelegramOptions {
  token: string;
  config: CarConfig['telegram_bot'];
  commands: CommandHandler;
  /** Queues an answer in the outbox (so it gets the same retries and limits as notices). */
  answer: (chatId: string, key: string, answer: Answer) => void;
  log: (line: string) => void;
}

const ACTIONS: readonly NoticeAction[] = ['resume', 'stop', 'status', 'answer'];

/**
 * `car:<action>:<run id>[:<choice>]`, for approvals `car:<action>:<run id>:<approval id>` (Telegram allows
 * 64 bytes of callback data; a run id is 36).
 */
export function buttonData(b: NoticeButton): string {
  if (b.approvalId !== undefined) return `car:${b.action}:${b.runId}:${b.approvalId}`;
  return `car:${b.action}:${b.runId}${b.choice === undefined ? '' : `:${b.choice}`}`;
}

export function parseButtonData(
  data: string,
): { action: NoticeAction; runId: string; choice?: number; approvalId?: string } | null {
  const approval = /^car:([a-z]+):([A-Za-z0-9-]+):([0-9a-f]{8})$/.exec(data);
  if (approval && APPROVAL_ACTIONS.includes(approval[1] as ApprovalAction)) {
    return { action: approval[1] as ApprovalAction, runId: approval[2]!, approvalId: approval[3]! };
  }
  const m = /^car:([a-z]+):([A-Za-z0-9-]+)(?::(\d{1,2}))?$/.exec(data);
  if (!m || !ACTIONS.includes(m[1] as NoticeAction)) return null;
  return {
    action: m[1] as NoticeAction,
    runId: m[2]!,
    ...(m[3] === undefined ? {} : { choice: Number(m[3]) }),
  };
}

/** A grammY error in a line: the cause of a network failure (grammY's own message hides it). */
function describeTelegramError(err: unknown): string {
  if (err instanceof HttpError && err.error instanceof Error) return err.error.message;
  return err instanceof Error ? err.message : String(err);
}

/** Maps grammY errors to the outbox's retry classes. */
export function telegramSendError(err: unknown): SendError {
  if (err instanceof GrammyError) {
    if (err.error_code === 429) {
      const s = err.parameters.retry_after ?? 1;
      return new SendError('rate_limited', err.message, s * 1000);
    }
    if (err.error_code >= 500) return new SendError('transient', err.message);
    return new SendError('permanent', err.message);
  }
  if (err instanceof HttpError) return new SendError('transient', err.message);
  return new SendError('transient', err instanceof Error ? err.message : String(err));
}

export class TelegramAdapter implements ChatTransport {
  readonly platform = 'telegram' as const;
  readonly bot: Bot;
  readonly #opts: TelegramOptions;
  #polling: Promise<void> | null = null;
  #lastStartupError = '';

  constructor(opts: TelegramOptions) {
    this.#opts = opts;
    this.bot = new Bot(opts.token, { client: { apiRoot: opts.config.api_root } });
    this.#wire();
  }

  async send(msg: OutboxMessage): Promise<{ messageId: string }> {
    try {
      const keyboard = msg.buttons.length
        ? {
            reply_markup: {
              inline_keyboard: buttonRows(msg.buttons, 1).map((row) =>
                row.map((b) => ({ text: b.label, callback_data: buttonData(b) })),
              ),
            },
          }
        : {};
      const sent = await this.bot.api.sendMessage(msg.chatId, msg.text, {
        link_preview_options: { is_disabled: true },
        ...keyboard,
      });
      return { messageId: String(sent.message_id) };
    } catch (err) {
      throw telegramSendError(err);
    }
  }

  #allowed(userId: string, chatId: string): boolean {
    const decision = telegramAccess(this.#opts.config, { userId, chatId });
    if (!decision.allowed)
      this.#opts.log(`telegram: ignored an update from user ${userId} in chat ${chatId} (${decision.why})`);
    return decision.allowed;
  }

  #wire(): void {
    const { bot } = this;
    // what went wrong while grammY retried getMe, for the start-up error
    bot.api.config.use(async (prev, method, payload, signal) => {
      try {
        return await prev(method, payload, signal);
      } catch (err) {
        if (method === 'getMe') this.#lastStartupError = describeTelegramError(err);
        throw err;
      }
    });
    bot.on('message:text', async (ctx) => {
      const chatId = String(ctx.chat.id);
      const userId = String(ctx.from.id);
      if (!this.#allowed(userId, chatId)) return;
      const repliedTo = ctx.message.reply_to_message?.message_id;
      const answer = await this.#opts.commands.message({
        platform: 'telegram',
        chatId,
        userId,
        text: ctx.message.text,
        ...(repliedTo === undefined ? {} : { replyTo: String(repliedTo) }),
      });
      if (answer) this.#opts.answer(chatId, `update:${ctx.update.update_id}`, answer);
    });
    bot.on('callback_query:data', async (ctx) => {
      const userId = String(ctx.from.id);
      const chatId = String(ctx.chat?.id ?? ctx.from.id);
      if (!this.#allowed(userId, chatId)) return;
      const parsed = parseButtonData(ctx.callbackQuery.data);
      if (!parsed) {
        await ctx.answerCallbackQuery({ text: 'Unknown button.' });
        return;
      }
      // answered at once: Telegram shows a spinner until then
      await ctx.answerCallbackQuery({ text: `${parsed.action}…` });
      const text = await this.#opts.commands.action({
        ...parsed,
        from: { platform: 'telegram', chatId, userId },
      });
      this.#opts.answer(chatId, `update:${ctx.update.update_id}`, { text });
    });
    bot.catch((err) => {
      this.#opts.log(
        `telegram: handler error: ${err.error instanceof Error ? err.error.message : String(err.error)}`,
      );
    });
  }

  /**
   * getMe, then long polling in the background; resolves once polling has started. grammY retries a
   * network failure forever, so the start-up is bounded (`startup_timeout_seconds`) and ends at once when
   * `signal` aborts (the service is stopping).
   */
  async start(signal: AbortSignal): Promise<{ username: string }> {
    const { api_root: root, startup_timeout_seconds: seconds } = this.#opts.config;
    const startup = new AbortController();
    const onAbort = () => startup.abort();
    signal.addEventListener('abort', onAbort, { once: true });
    const timer = setTimeout(() => startup.abort(), seconds * 1000);
    try {
      // grammY types its signals as abort-controller's; it only listens for 'abort', which a native one has
      await this.bot.init(startup.signal as Parameters<Bot['init']>[0]);
    } catch (err) {
      if (signal.aborted) throw new Error('telegram: stopped during start-up');
      if (startup.signal.aborted) {
        const why = this.#lastStartupError ? `; last error: ${this.#lastStartupError}` : '';
        throw new Error(
          `telegram: cannot reach the Bot API at ${root} (no answer to getMe within ${seconds} s${why})`,
        );
      }
      throw new Error(`telegram: getMe at ${root} failed: ${describeTelegramError(err)}`);
    } finally {
      clearTimeout(timer);
      signal.removeEventListener('abort', onAbort);
    }
    if (signal.aborted) throw new Error('telegram: stopped during start-up');
    await new Promise<void>((resolve, reject) => {
      this.#polling = this.bot
        .start({
          allowed_updates: ['message', 'edited_message', 'callback_query'],
          timeout: this.#opts.config.poll_timeout_seconds,
          onStart: () => resolve(),
        })
        // stopped before polling began: onStart never comes
        .then(() => reject(new Error('telegram: stopped during start-up')))
        .catch((err: unknown) => {
          this.#opts.log(`telegram: polling stopped: ${err instanceof Error ? err.message : String(err)}`);
          reject(err);
        });
    });
    return { username: this.bot.botInfo.username };
  }

  async stop(): Promise<void> {
    if (this.bot.isRunning()) {
      try {
        await this.bot.stop();
      } catch {
        // best effort: the offset is confirmed again on the next start
      }
    }
    await this.#polling?.catch(() => {});
  }
}
