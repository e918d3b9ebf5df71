// The chat commands of one bot serving every repo of a hub. A chat follows one repo (`/bind app`) or all
// of them (`/bind`); a repo command goes to the repo named first (`/status app`), else to the repo the
// chat follows (or the hub's only repo); a button goes to the repo whose run it names. The repo's own
// ChatCommands does the work, so a command behaves the same in a repo's service and in a hub's.
import type { HubJobView } from '../../control/hub-queue.ts';
import type { ChatStore } from '../../core/notify/chat-store.ts';
import type {
  Answer,
  ButtonPress,
  ChatCommands,
  CommandHandler,
  Inbound,
  PmaPort,
  SlashCommand,
} from './commands.ts';
import { parseCommand, SLASH_COMMANDS } from './commands.ts';

/** A hub's commands: the repo's, which take a repo name first, and /repos. */
export const HUB_SLASH_COMMANDS: readonly SlashCommand[] = [
  { name: 'repos', description: 'The repos of the hub, their latest runs and the hub queue' },
  ...SLASH_COMMANDS,
];

/** A repo of the hub as the chat commands see it. */
export interface HubChatRepo {
  id: string;
  commands: ChatCommands;
  latestRun(): { id: string; status: string } | null;
  hasRun(runId: string): boolean;
  /** Every run with its last event, where a new binding's cursors start. */
  runCursors(): { id: string; lastEventSeq: number }[];
}

export interface HubCommandDeps {
  chats: ChatStore;
  /** The hub's repos now (the manifest is read again as it changes). */
  repos: () => HubChatRepo[];
  /** The hub's project manager agent (it sees every repo): plain messages no run waits for go to it. */
  pma?: PmaPort;
  /** With a postgres hub queue: each repo's latest job and the worker and machine working it. */
  queue?: () => Promise<{ jobs: HubJobView[] } | { error: string } | null>;
}

const HELP = [
  'car commands (one bot for the whole hub):',
  '/repos - the repos and their latest runs (and, with a postgres hub queue, which machine works each)',
  '/bind <repo> - this chat follows one repo: its notices, and commands without a repo name',
  '/bind - this chat gets the notices of every repo',
  '/unbind - no more notices here',
  '/status [repo] /runs [repo] /start [repo] /pause [repo] /resume [repo] /stop [repo]',
  '/reply [repo] <text> - answer the agent (and resume)',
  'While a run waits for you, a plain message is the reply; with several waiting, reply to its notice or name the repo (/reply <repo> <text>). With none waiting, a plain message in a bound chat goes to the project manager agent.',
].join('\n');

const WAITING = new Set(['paused']);

export class HubChatCommands implements CommandHandler {
  readonly #d: HubCommandDeps;

  constructor(deps: HubCommandDeps) {
    this.#d = deps;
  }

  async message(msg: Inbound): Promise<Answer | null> {
    const repos = this.#d.repos();
    const cmd = parseCommand(msg.text);
    const followed = this.#d.chats.binding(msg.platform, msg.chatId)?.repo ?? null;
    const byId = (id: string | null | undefined) => repos.find((r) => r.id === id);
    if (!cmd) return this.#plainText(msg, repos, byId(followed));
    switch (cmd.name) {
      case 'help':
        return { text: HELP };
      case 'repos':
        return { text: `${this.#repos(repos, followed)}${await this.#queue()}` };
      case 'bind': {
        const id = cmd.args.split(/\s+/)[0] ?? '';
        const repo = id ? byId(id) : undefined;
        if (id && !repo) return { text: `No repo "${id}" in this hub. /repos lists them.` };
        const runs = (repo ? [repo] : repos).flatMap((r) => r.runCursors());
        const changed = this.#d.chats.bind(msg.platform, msg.chatId, msg.userId, runs, repo?.id ?? null);
        const what = repo ? `${repo.id}` : 'every repo of the hub';
        return { text: changed ? `This chat now follows ${what}.` : `This chat already follows ${what}.` };
      }
      case 'unbind':
        return {
          text: this.#d.chats.unbind(msg.platform, msg.chatId)
            ? 'This chat no longer gets run notices.'
            : 'This chat was not bound.',
        };
      default: {
        const [first = '', ...rest] = cmd.args.split(/\s+/);
        const named = byId(first);
        const repo = named ?? byId(followed) ?? (repos.length === 1 ? repos[0] : undefined);
        if (!repo) {
          return {
            text: `Which repo? /${cmd.name} <repo>${cmd.name === 'reply' ? ' <text>' : ''} (${repos.map((r) => r.id).join(', ') || 'none registered'}), or /bind <repo> first.`,
          };
        }
        const args = named ? rest.join(' ') : cmd.args;
        return tagged(repo.id, await repo.commands.message({ ...msg, text: `/${cmd.name} ${args}`.trim() }));
      }
    }
  }

  async action(press: ButtonPress): Promise<string> {
    const repo = this.#d.repos().find((r) => r.hasRun(press.runId));
    if (!repo) return 'That run is not in any repo of this hub any more.';
    return `[${repo.id}] ${await repo.commands.action(press)}`;
  }

  /**
   * A plain message answers the run waiting for a reply: the run of the notice it replies to, else the
   * followed repo's, else the only one waiting.
   */
  async #plainText(
    msg: Inbound,
    repos: HubChatRepo[],
    followed: HubChatRepo | undefined,
  ): Promise<Answer | null> {
    const repliedRun = msg.replyTo ? this.#d.chats.runOfMessage(msg.platform, msg.chatId, msg.replyTo) : null;
    const replied = repliedRun ? repos.find((r) => r.hasRun(repliedRun)) : undefined;
    if (replied) return tagged(replied.id, await replied.commands.message(msg));
    const isWaiting = (r: HubChatRepo) => WAITING.has(r.latestRun()?.status ?? '');
    const waiting = repos.filter(isWaiting);
    const pma = this.#d.chats.isBound(msg.platform, msg.chatId) ? this.#d.pma : undefined;
    if (followed && (isWaiting(followed) || !pma)) {
      return tagged(followed.id, await followed.commands.message(msg));
    }
    if (!followed && waiting.length === 1) {
      return tagged(waiting[0]!.id, await waiting[0]!.commands.message(msg));
    }
    if (pma && (followed || waiting.length === 0)) return pma.handle(msg);
    if (waiting.length === 0) return { text: 'No run is waiting for a reply. /repos shows the hub.' };
    return {
      text: `Runs wait in ${waiting.map((r) => r.id).join(', ')}: reply to its notice, or /reply <repo> <text>.`,
    };
  }

  /** The hub queue's jobs under /repos: state, worker and machine, tickets, takeovers; '' without a queue. */
  async #queue(): Promise<string> {
    const report = await this.#d.queue?.();
    if (!report) return '';
    if ('error' in report) return `\nHub queue (PostgreSQL): cannot be read: ${report.error}`;
    if (report.jobs.length === 0) return '\nHub queue (PostgreSQL): no jobs';
    const lines = report.jobs.map((j) => {
      const by = j.worker ? ` by ${j.worker} on ${j.host ?? '?'}` : '';
      const over = j.attempt > 0 ? `, after ${j.attempt} takeover${j.attempt === 1 ? '' : 's'}` : '';
      const tickets = j.tickets_total !== null ? `, ${j.tickets_done}/${j.tickets_total} tickets` : '';
      const run = j.run_status && j.state !== 'running' ? `: run ${j.run_status}` : '';
      const what = j.ticket
        ? `${j.repo_id} ${(j.ticket.split('/').pop() ?? j.ticket).replace(/\.md$/i, '')}`
        : j.repo_id;
      return `${what}: ${j.state}${by}${over}${tickets}${run}`;
    });
    return `\nHub queue (PostgreSQL):\n${lines.join('\n')}`;
  }

  #repos(repos: HubChatRepo[], followed: string | null): string {
    if (repos.length === 0) return 'No repos in this hub yet (car hub add <path>).';
    return repos
      .map((r) => {
        const latest = r.latestRun();
        const run = latest ? `${latest.status} (run ${latest.id.slice(0, 8)})` : 'no runs';
        return `${r.id === followed ? '* ' : ''}${r.id}: ${run}`;
      })
      .join('\n');
  }
}

function tagged(repoId: string, answer: Answer | null): Answer | null {
  return answer && { ...answer, text: `[${repoId}] ${answer.text}` };
}
