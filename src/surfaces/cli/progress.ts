import type { FlowOutcome, FlowProgress } from '../../control/flow-control.ts';
import { type CliIo, painter } from './io.ts';

/**
 * Live progress of a foreground run. On a terminal: one status line rewritten in place (ticket, turn,
 * elapsed, last agent line) above permanent lines for what matters. Piped: plain timestamped lines.
 */
export class ProgressPrinter {
  readonly #io: CliIo;
  readonly #paint: ReturnType<typeof painter>;
  readonly #started = Date.now();
  #ticket = '';
  #turn = '';
  #last = '';
  #statusShown = false;
  #timer: NodeJS.Timeout | undefined;

  constructor(io: CliIo) {
    this.#io = io;
    this.#paint = painter(io);
    if (io.isTTY) {
      this.#timer = setInterval(() => this.#drawStatus(), 1000);
      this.#timer.unref();
    }
  }

  #elapsed(): string {
    const s = Math.floor((Date.now() - this.#started) / 1000);
    return s < 60 ? `${s}s` : `${Math.floor(s / 60)}m${String(s % 60).padStart(2, '0')}s`;
  }

  #clearStatus(): void {
    if (this.#statusShown) this.#io.stdout('\r\x1b[2K');
    this.#statusShown = false;
  }

  #drawStatus(): void {
    if (!this.#io.isTTY || !this.#ticket) return;
    const width = process.stdout.columns ?? 100;
    const line = `${this.#paint('cyan', `[${this.#elapsed()}]`)} ${this.#ticket} ${this.#turn}${this.#last ? ` · ${this.#last}` : ''}`;
    this.#io.stdout(`\r\x1b[2K${line.slice(0, width + 20)}`);
    this.#statusShown = true;
  }

  #line(text: string): void {
    if (this.#io.isTTY) {
      this.#clearStatus();
      this.#io.stdout(`${text}\n`);
      this.#drawStatus();
    } else {
      this.#io.stdout(`[${this.#elapsed()}] ${text}\n`);
    }
  }

  readonly onProgress = (p: FlowProgress): void => {
    switch (p.type) {
      case 'ticket':
        this.#ticket = p.ticket.split('/').pop() ?? p.ticket;
        this.#turn = `turn ${p.turn} (${p.agent}, run turn ${p.totalTurns})`;
        this.#last = '';
        this.#line(
          `${this.#paint('bold', '▶')} ${this.#ticket}${p.title ? ` — ${p.title}` : ''}: ${this.#turn}`,
        );
        break;
      case 'agent': {
        const line =
          p.text
            .split('\n')
            .find((l) => l.trim() !== '')
            ?.trim() ?? '';
        this.#last = line.length > 100 ? `${line.slice(0, 97)}...` : line;
        if (this.#io.isTTY) this.#drawStatus();
        else this.#line(`  agent: ${this.#last}`);
        break;
      }
      case 'tool':
        if (!this.#io.isTTY) this.#line(`  tool: ${p.name}`);
        break;
      case 'turn_end':
        if (p.status !== 'completed') this.#line(this.#paint('yellow', `  turn ${p.status}`));
        break;
      case 'ticket_done':
        this.#line(`${this.#paint('green', '✔')} ${p.ticket.split('/').pop()} done`);
        break;
      case 'dispatch':
        this.#line(`${this.#paint('magenta', '✉')} dispatch (${p.mode})${p.title ? `: ${p.title}` : ''}`);
        break;
      case 'note':
        this.#line(p.text);
        break;
      case 'approval':
        this.#line(
          `${this.#paint('magenta', '?')} approval ${p.id}: ${p.title} (car flow approve ${p.id} | car flow deny ${p.id}; expires ${p.expiresAt})`,
        );
        break;
    }
  };

  finish(outcome: FlowOutcome): void {
    if (this.#timer) clearInterval(this.#timer);
    this.#clearStatus();
    const colour = outcome.status === 'completed' ? 'green' : outcome.status === 'failed' ? 'red' : 'yellow';
    this.#io.stdout(
      `${this.#paint(colour, `run ${outcome.status}`)} (${outcome.reasonCode}) after ${this.#elapsed()}: ${outcome.reason}\n`,
    );
    // what the pause is about, file by file (invalid or duplicate tickets)
    const issues = outcome.details?.issues;
    if (Array.isArray(issues)) for (const line of issues) this.#io.stdout(`  ${String(line)}\n`);
  }
}
