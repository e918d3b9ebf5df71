// A ticket's model, reasoning and profile overrides, applied through what the ACP agent offers: its
// session config options (ACP's newer way) or, for a profile, its session modes.
import * as acp from '@agentclientprotocol/sdk';
import type { AgentEvent, TurnRequest } from '../../core/agent.ts';
import { requestFailure } from './errors.ts';

type ConfigOption = { id: string; category?: string | null; type?: string; options?: unknown };
type ModeState = { currentModeId?: string; availableModes?: { id: string; name?: string }[] } | null;

/** The config options and modes an agent offers for one session, as it last reported them. */
export class SessionConfig {
  #options: ConfigOption[] = [];
  #modes: ModeState = null;

  /** Takes what a `session/new` or `session/load` response offers. */
  remember(response: { configOptions?: unknown; modes?: unknown } | undefined): void {
    if (Array.isArray(response?.configOptions)) this.#options = response.configOptions as ConfigOption[];
    if (response?.modes && typeof response.modes === 'object') this.#modes = response.modes as ModeState;
  }

  /** Takes a `config_option_update` session update. */
  update(configOptions: unknown): void {
    if (Array.isArray(configOptions)) this.#options = configOptions as ConfigOption[];
  }

  /**
   * Sets the request's overrides on session `sessionId`; an override the agent does not offer, or that it
   * refuses, is reported and the agent's default used.
   */
  async apply(
    agent: acp.ClientConnection['agent'],
    sessionId: string,
    request: TurnRequest,
    emit: (e: AgentEvent) => void,
  ): Promise<void> {
    const wanted: [string, string, string][] = [];
    if (request.model) wanted.push(['model', request.model, 'model']);
    if (request.reasoning) wanted.push(['thought_level', request.reasoning, 'reasoning']);
    if (request.profile) wanted.push(['mode', request.profile, 'profile']);
    for (const [category, value, label] of wanted) {
      const option = this.#options.find((o) => o.category === category && o.type === 'select');
      const values = option ? selectValues(option.options) : [];
      const match =
        values.find((v) => v.value === value) ??
        values.find((v) => v.name?.toLowerCase() === value.toLowerCase());
      try {
        if (option && match) {
          await agent.request(acp.methods.agent.session.setConfigOption, {
            sessionId,
            configId: option.id,
            value: match.value,
          });
          continue;
        }
        const mode =
          category === 'mode' ? this.#modes?.availableModes?.find((m) => m.id === value) : undefined;
        if (mode) {
          await agent.request(acp.methods.agent.session.setMode, { sessionId, modeId: mode.id });
          continue;
        }
        emit({
          type: 'status',
          message: `${label} "${value}" is not offered by the agent; using its default`,
        });
      } catch (err) {
        emit({ type: 'error', message: requestFailure(err, `setting ${label} "${value}" failed`).message });
      }
    }
  }
}

function selectValues(options: unknown): { value: string; name?: string }[] {
  if (!Array.isArray(options)) return [];
  const out: { value: string; name?: string }[] = [];
  for (const entry of options as Record<string, unknown>[]) {
    if (Array.isArray(entry.options)) out.push(...selectValues(entry.options));
    else if (typeof entry.value === 'string') {
      out.push(
        typeof entry.name === 'string' ? { value: entry.value, name: entry.name } : { value: entry.value },
      );
    }
  }
  return out;
}
