// Chat messages for the project manager agent: a plain message in a bound chat that answers no waiting
// run. The agent's turn can take minutes, so it runs beside the bot (which goes on answering commands);
// its answer goes out through the outbox like every other message. Each user in each chat is one
// conversation with its own agent thread.
import type { Pma } from '../../control/pma.ts';
import type { Platform } from '../../core/notify/chat-store.ts';
import type { Answer, Inbound, PmaPort } from './commands.ts';

export interface PmaRouteDeps {
  /** Opens the PMA on first use; throws (with a message for the person) when it cannot be. */
  open: () => Pma;
  /** Queues an answer to a chat under a dedupe key (split to the platform's limit) and sends it soon. */
  answer: (platform: Platform, chatId: string, key: string, answer: Answer) => void;
  log: (line: string) => void;
}

export class PmaRoute implements PmaPort {
  readonly #d: PmaRouteDeps;
  #pma: Pma | null = null;
  readonly #turns = new Set<Promise<void>>();

  constructor(deps: PmaRouteDeps) {
    this.#d = deps;
  }

  /** Starts the agent's turn for the message; what to say at once (only when the PMA cannot start). */
  handle(msg: Inbound): Answer | null {
    try {
      this.#pma ??= this.#d.open();
    } catch (err) {
      return { text: `The project manager agent cannot start: ${(err as Error).message}` };
    }
    const conversation = `${msg.platform}:${msg.chatId}:${msg.userId}`;
    const turn = this.#pma
      .ask(conversation, msg.text)
      .then((answer) => {
        const text =
          answer.error === null
            ? answer.text || '(the agent answered nothing)'
            : `The project manager agent failed: ${answer.error}`;
        this.#d.answer(msg.platform, msg.chatId, `pma:${answer.message.id}`, { text });
      })
      .catch((err: unknown) => this.#d.log(`pma: ${(err as Error).message}`));
    this.#turns.add(turn);
    void turn.finally(() => this.#turns.delete(turn));
    return null;
  }

  /** Stops the agent (a turn in flight ends with it) and waits for the turns to settle. */
  async close(): Promise<void> {
    const pma = this.#pma;
    this.#pma = null;
    await pma?.close();
    await Promise.allSettled([...this.#turns]);
  }
}
