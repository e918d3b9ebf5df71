// Who the chat bots obey. Everyone else is ignored (and logged, without what they wrote).
import type { CarConfig } from '../../core/config/index.ts';

export interface Sender {
  userId: string;
  chatId: string;
  /** Discord only: the guild of the channel; null in a DM. */
  guildId?: string | null;
}

export type AccessDecision = { allowed: true } | { allowed: false; why: string };

/** Telegram, CAR's rule: the chat and the user must both be listed (empty lists obey nobody). */
export function telegramAccess(config: CarConfig['telegram_bot'], s: Sender): AccessDecision {
  if (!config.allowed_user_ids.includes(s.userId))
    return { allowed: false, why: 'user not in allowed_user_ids' };
  if (!config.allowed_chat_ids.includes(s.chatId))
    return { allowed: false, why: 'chat not in allowed_chat_ids' };
  return { allowed: true };
}

/**
 * Discord: the user must be listed; a non-empty guild list restricts guild channels (DMs have no guild
 * and pass only when the guild list is empty), a non-empty channel list restricts channels.
 */
export function discordAccess(config: CarConfig['discord_bot'], s: Sender): AccessDecision {
  if (!config.allowed_user_ids.includes(s.userId))
    return { allowed: false, why: 'user not in allowed_user_ids' };
  if (config.allowed_guild_ids.length > 0 && !(s.guildId && config.allowed_guild_ids.includes(s.guildId))) {
    return { allowed: false, why: 'guild not in allowed_guild_ids' };
  }
  if (config.allowed_channel_ids.length > 0 && !config.allowed_channel_ids.includes(s.chatId)) {
    return { allowed: false, why: 'channel not in allowed_channel_ids' };
  }
  return { allowed: true };
}
