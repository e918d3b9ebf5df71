// The chat commands, the same on Telegram and Discord: /status /runs /start /pause /resume /stop
// /reply <text> /bind /unbind /help, and plain text in a chat while the run waits for a reply. Flow
// actions go through FlowControl, which starts workers with the launcher the surface gave it.
import { type FlowControl, FlowControlError } from '../../control/flow-control.ts';
import { defaultAgentId, knownAgentIds } from '../../core/config/index.ts';
import type { FlowEvent } from '../../core/flow/events.ts';
import type { ChatStore, Platform } from '../../core/notify/chat-store.ts';
import type { NoticeAction, NoticeButton } from '../../core/notify/notices.ts';
import { dispatchLookup } from '../../core/notify/watcher.ts';
import { seedPlan, TicketCreateError } from '../../core/tickets/index.ts';

export interface Inbound {
  platform: Platform;
  chatId: string;
  userId: string;
  text: string;
  /** The platform id of the message this one replies to (Telegram reply, Discord reference). */
  replyTo?: string;
}

export interface Answer {
  text: string;
  buttons?: NoticeButton[];
}

/** A press on a button of a notice, by an allowed sender. */
export interface ButtonPress {
  action: NoticeAction;
  runId: string;
  /** For `answer`: the index of the dispatch option pressed. */
  choice?: number;
  /** For approve, session and deny: the approval answered. */
  approvalId?: string;
  from: Omit<Inbound, 'text'>;
}

/** What the platform adapters hand messages and button presses to (one repo's commands, or a hub's). */
export interface CommandHandler {
  /** Handles one message from an allowed sender; null when there is nothing to say. */
  message(msg: Inbound): Promise<Answer | null>;
  /** A button on a notice; the text says what came of it. */
  action(press: ButtonPress): Promise<string>;
}

/** Where plain messages for the project manager agent go (pma-route.ts); what to say at once, if anything. */
export interface PmaPort {
  handle(msg: Inbound): Answer | null;
}

export interface CommandDeps {
  /** Given a `WorkerLauncher`: /start, /resume and replies start workers through it. */
  control: FlowControl;
  chats: ChatStore;
  log: (line: string) => void;
  /** The project manager agent: plain messages in a bound chat while no run waits go to it. */
  pma?: PmaPort;
}

/** A command as chat platforms list it (Discord's slash commands; one optional text argument). */
export interface SlashCommand {
  name: string;
  description: string;
}

export const SLASH_COMMANDS: readonly SlashCommand[] = [
  { name: 'status', description: 'The latest run, its worker and the tickets' },
  { name: 'runs', description: 'Recent runs' },
  { name: 'start', description: 'Start or continue a run' },
  { name: 'pause', description: 'Pause after the turn in flight' },
  { name: 'resume', description: 'Resume a paused run' },
  { name: 'stop', description: 'Stop the run' },
  { name: 'reply', description: 'Answer the agent (and resume)' },
  { name: 'bind', description: 'Send run notices to this channel' },
  { name: 'unbind', description: 'Stop sending run notices here' },
  { name: 'help', description: 'What car understands' },
];

const HELP = [
  'car commands:',
  '/status - the latest run',
  '/runs - recent runs',
  '/start - start or continue a run',
  '/flow bootstrap <spec> - plan the spec into tickets, then run them',
  '/pause - pause after the turn in flight',
  '/resume - resume a paused run',
  '/stop - stop the run',
  '/reply <text> - answer the agent (and resume)',
  '/bind - send run notices to this chat (/unbind to stop)',
  'While a run waits for you, any message here is the reply; otherwise, in a bound chat, it goes to the project manager agent.',
].join('\n');

const short = (id: string) => id.slice(0, 8);
const ACTIVE = new Set(['pending', 'running', 'stopping']);

/** `/cmd@bot rest` → ['cmd', 'rest']; null for plain text. Also CAR's `/flow <action> …` form. */
export function parseCommand(text: string): { name: string; args: string } | null {
  const m = /^[/!]([A-Za-z_]+)(?:@\S+)?(?:\s+([\s\S]*))?$/.exec(text.trim());
  if (!m) return null;
  let name = m[1]!.toLowerCase();
  let args = (m[2] ?? '').trim();
  if (name === 'flow' || name === 'car') {
    const [sub, ...rest] = args.split(/\s+/);
    name = (sub ?? 'status').toLowerCase() || 'status';
    args = args.slice(sub?.length ?? 0).trim();
    if (rest.length === 0 && !args) args = '';
  }
  // CAR's `/flow bootstrap` starts the run; with text, the text is the spec to plan from first
  if (name === 'bootstrap' && !args) name = 'start';
  return { name, args };
}

export class ChatCommands implements CommandHandler {
  readonly #d: CommandDeps;

  constructor(deps: CommandDeps) {
    this.#d = deps;
  }

  get #control(): FlowControl {
    return this.#d.control;
  }

  /** Handles one message from an allowed sender; null when there is nothing to say. */
  async message(msg: Inbound): Promise<Answer | null> {
    const cmd = parseCommand(msg.text);
    if (!cmd) return this.#plainText(msg);
    try {
      switch (cmd.name) {
        case 'help':
          return { text: HELP };
        case 'status':
          return this.#status();
        case 'runs':
          return { text: this.#runs() };
        case 'bind':
          return { text: this.#bind(msg) };
        case 'unbind':
          return {
            text: this.#d.chats.unbind(msg.platform, msg.chatId)
              ? 'This chat no longer gets run notices.'
              : 'This chat was not bound.',
          };
        case 'start':
          return { text: await this.#start() };
        case 'bootstrap':
          return { text: await this.#bootstrap(cmd.args) };
        case 'pause':
        case 'stop':
          return { text: await this.#request(cmd.name) };
        case 'resume':
          return { text: await this.#resume(undefined, cmd.args === 'force') };
        case 'reply':
          if (!cmd.args) return { text: 'Usage: /reply <text>' };
          return { text: await this.#reply(msg, cmd.args) };
        default:
          return { text: `Unknown command /${cmd.name}.\n\n${HELP}` };
      }
    } catch (err) {
      return { text: this.#explain(err) };
    }
  }

  /** A button on a notice. */
  async action(press: ButtonPress): Promise<string> {
    try {
      if (press.action === 'status') return this.#status(press.runId).text;
      if (press.action === 'stop') return await this.#request('stop', press.runId);
      if (press.action === 'answer') return await this.#answer(press);
      if (press.action === 'approve' || press.action === 'session' || press.action === 'deny') {
        return this.#approval(press);
      }
      return await this.#resume(press.runId, false);
    } catch (err) {
      return this.#explain(err);
    }
  }

  /** A dispatch option pressed: that option's text is the reply, as if typed. */
  async #answer(press: ButtonPress): Promise<string> {
    const run = this.#control.runOrLatest(press.runId);
    const seq = run.status === 'paused' ? run.reasonDetails?.dispatch_seq : undefined;
    const dispatch = typeof seq === 'number' ? dispatchLookup(this.#control.store)(run.id, seq) : null;
    const option = press.choice === undefined ? undefined : dispatch?.options[press.choice];
    if (option === undefined) return `Run ${short(run.id)} no longer waits for that answer.`;
    return this.#reply({ ...press.from, text: option }, option);
  }

  /** An approval answered by a button: recorded as `<platform>:<user id>`; a late press is refused. */
  #approval(press: ButtonPress): string {
    if (!press.approvalId) return 'That button names no approval.';
    const decision =
      press.action === 'deny' ? 'decline' : press.action === 'session' ? 'accept_for_session' : 'accept';
    const a = this.#control.answerApproval(
      press.approvalId,
      decision,
      `${press.from.platform}:${press.from.userId}`,
    );
    const done =
      decision === 'decline' ? 'Denied' : decision === 'accept' ? 'Approved' : 'Approved for the session';
    return `${done} ${a.id}: ${a.title}`;
  }

  #explain(err: unknown): string {
    if (err instanceof FlowControlError) return `Cannot do that: ${err.message}`;
    this.#d.log(`chat command failed: ${err instanceof Error ? err.message : String(err)}`);
    return 'That failed; see the car chat log.';
  }

  async #plainText(msg: Inbound): Promise<Answer | null> {
    const run = this.#control.store.latestRun();
    if (run?.status === 'paused') {
      try {
        return { text: await this.#reply(msg, msg.text) };
      } catch (err) {
        return { text: this.#explain(err) };
      }
    }
    if (this.#d.pma && this.#d.chats.isBound(msg.platform, msg.chatId)) return this.#d.pma.handle(msg);
    return { text: 'No run is waiting for a reply. /status shows the latest run; /help lists commands.' };
  }

  #status(runId?: string): Answer {
    const { run, workerAlive, tickets: t } = this.#control.status(runId);
    const next = t.next?.split('/').pop();
    const tickets = `tickets: ${t.done}/${t.total} done${next ? `, next ${next}` : ''}`;
    if (!run) return { text: `No runs yet. /start begins one.\n${tickets}` };
    const worker = workerAlive ? 'alive' : 'none';
    const lines = [
      `run ${short(run.id)}: ${run.status}${run.reasonCode ? ` (${run.reasonCode})` : ''}`,
      ...(run.reason ? [`reason: ${run.reason}`] : []),
      `worker: ${worker}`,
      tickets,
    ];
    const buttons: NoticeButton[] =
      run.status === 'paused'
        ? [
            { action: 'resume', runId: run.id, label: 'Resume' },
            { action: 'stop', runId: run.id, label: 'Stop' },
          ]
        : ACTIVE.has(run.status)
          ? [{ action: 'stop', runId: run.id, label: 'Stop' }]
          : [];
    return { text: lines.join('\n'), buttons };
  }

  #runs(): string {
    const runs = this.#control.store.listRuns({ limit: 5 });
    if (runs.length === 0) return 'No runs yet.';
    return runs
      .map((r) => `${short(r.id)} ${r.status}${r.reasonCode ? ` (${r.reasonCode})` : ''} ${r.createdAt}`)
      .join('\n');
  }

  #bind(msg: Inbound): string {
    const runs = this.#control.store
      .listRuns({ includeLanes: true })
      .map((r) => ({ id: r.id, lastEventSeq: r.lastEventSeq }));
    const added = this.#d.chats.bind(msg.platform, msg.chatId, msg.userId, runs);
    return added
      ? `This chat now gets notices for ${this.#control.paths.root.split('/').pop()}: pauses, failures, completions.`
      : 'This chat is already bound.';
  }

  async #start(): Promise<string> {
    const { run, action, workerPid } = await this.#control.launchStart();
    return `${action} run ${short(run.id)} (worker pid ${workerPid})`;
  }

  /** `/flow bootstrap <spec>`: the spec into contextspace, a planning ticket, then the run. */
  async #bootstrap(spec: string): Promise<string> {
    const { config, paths } = this.#control;
    let plan: string;
    try {
      plan = seedPlan(paths, knownAgentIds(config), defaultAgentId(config), spec).ticket.name;
    } catch (err) {
      if (err instanceof TicketCreateError) return `Cannot plan that: ${err.message}.`;
      throw err;
    }
    const started = await this.#start();
    return `Wrote the spec to .codex-autorunner/contextspace/spec.md and ${plan}; ${started}.`;
  }

  async #request(what: 'pause' | 'stop', runId?: string): Promise<string> {
    const r = await this.#control.request(runId, what);
    if (r.immediate) {
      const orphans =
        r.orphans.length > 0 ? `; stopped ${r.orphans.length} agent(s) a killed worker left running` : '';
      return `run ${short(r.run.id)} ${r.run.status}${orphans}`;
    }
    return `${what} requested for run ${short(r.run.id)}`;
  }

  /** Resumes a paused run and starts its worker (its previous worker, still letting go, is waited for). */
  async #resume(runId: string | undefined, force: boolean): Promise<string> {
    const { run, workerPid } = await this.#control.launchResume(runId, force ? { force } : {});
    return `Resumed run ${short(run.id)} (worker pid ${workerPid}).`;
  }

  /** Writes the reply for the latest run, records where it came from, and resumes a paused run. */
  async #reply(msg: Inbound, text: string): Promise<string> {
    const latest = this.#control.runOrLatest();
    if (!ACTIVE.has(latest.status) && latest.status !== 'paused') {
      return `Run ${short(latest.id)} is ${latest.status}; there is nothing to reply to.`;
    }
    const { run } = await this.#control.reply(latest.id, text);
    this.#control.store.appendEvent(run.id, {
      type: 'chat_reply',
      data: {
        platform: msg.platform,
        chat_id: msg.chatId,
        user_id: msg.userId,
        bytes: Buffer.byteLength(text),
      },
    } satisfies FlowEvent);
    if (run.status !== 'paused') return `Reply saved; run ${short(run.id)} reads it on its next turn.`;
    const resumed = await this.#resume(run.id, false);
    return `Reply saved. ${resumed}`;
  }
}
