// car's operations as MCP tools. Each is a car command line (cli-runner.ts) built from typed arguments;
// positional arguments follow `--` and option values are attached with `=`, so no argument is ever read
// as a flag. The contextspace tools share their code with the HTTP API (contextspace-docs.ts).
import * as z from 'zod';

/** The arguments a tool takes, as a zod object shape (the MCP SDK publishes it as JSON Schema). */
type Shape = Record<string, z.ZodType>;

export interface CliTool {
  name: string;
  description: string;
  input: Shape;
  /** The car command line for these arguments (without --repo/--hub and --json, which the server adds). */
  argv(args: Record<string, unknown>): string[];
  /** Scope: one repo (its --repo) or the hub (its --hub). */
  scope: 'repo' | 'hub';
  /** The command prints one JSON object per line (`car flow events --json`). */
  jsonLines?: boolean;
}

const ticketRef = z
  .string()
  .min(1)
  .describe('the ticket: its number (7), file name (TICKET-007.md) or ticket_id');
const runRef = z.string().min(1).optional().describe('run id (default: the latest run)');

const opt = (flag: string, value: unknown): string[] =>
  value === undefined || value === null ? [] : [`--${flag}=${String(value)}`];
const flag = (name: string, on: unknown): string[] => (on === true ? [`--${name}`] : []);

export const CLI_TOOLS: CliTool[] = [
  {
    name: 'ticket_list',
    description:
      'List the tickets by number with their state (open, done, invalid), agent, title, what each waits for, lint issues, and which runs next.',
    input: {
      open: z.boolean().optional().describe('only tickets that are not done'),
      done: z.boolean().optional().describe('only tickets that are done'),
    },
    argv: (a) => ['ticket', 'list', ...flag('open', a.open), ...flag('done', a.done)],
    scope: 'repo',
  },
  {
    name: 'ticket_show',
    description: 'One ticket: its fields, frontmatter and the whole file (raw).',
    input: { ticket: ticketRef },
    argv: (a) => ['ticket', 'show', '--', String(a.ticket)],
    scope: 'repo',
  },
  {
    name: 'ticket_create',
    description:
      'Create the next ticket (number = highest + 1) as car ticket new does. The body is markdown (default: a Tasks/Acceptance/Tests skeleton).',
    input: {
      title: z.string().min(1).describe('ticket title'),
      agent: z
        .string()
        .optional()
        .describe('agent that works it (default: ticket_flow.default_agent; "user" for a human step)'),
      goal: z.string().optional().describe('one-sentence intent'),
      body: z.string().optional().describe('ticket body in markdown'),
      slug: z.string().optional().describe('file name suffix (default: from the title)'),
      depends_on: z
        .array(z.string())
        .optional()
        .describe('tickets it waits for (numbers, file names or ticket_ids)'),
    },
    argv: (a) => [
      'ticket',
      'new',
      ...opt('agent', a.agent),
      ...opt('goal', a.goal),
      ...opt('body', a.body),
      ...opt('slug', a.slug),
      ...opt('depends-on', (a.depends_on as string[] | undefined)?.join(',')),
      '--',
      String(a.title),
    ],
    scope: 'repo',
  },
  {
    name: 'ticket_edit_field',
    description:
      'Set one frontmatter field of a ticket, keeping every other byte of the file. A string value is stored as a string; use a boolean, number or null for those.',
    input: {
      ticket: ticketRef,
      key: z.string().min(1).describe('frontmatter key, e.g. agent, title, goal, done'),
      value: z.union([z.string(), z.number(), z.boolean(), z.null()]).describe('the new value'),
    },
    argv: (a) => [
      'ticket',
      'edit-field',
      ...flag('string', typeof a.value === 'string'),
      '--',
      String(a.ticket),
      String(a.key),
      a.value === null ? 'null' : String(a.value),
    ],
    scope: 'repo',
  },
  {
    name: 'ticket_done',
    description: 'Mark a ticket done (done: true).',
    input: { ticket: ticketRef },
    argv: (a) => ['ticket', 'done', '--', String(a.ticket)],
    scope: 'repo',
  },
  {
    name: 'ticket_reopen',
    description: 'Mark a ticket not done (done: false).',
    input: { ticket: ticketRef },
    argv: (a) => ['ticket', 'reopen', '--', String(a.ticket)],
    scope: 'repo',
  },
  {
    name: 'ticket_lint',
    description:
      'Check every ticket file name and frontmatter. ok is false (and the result an error) when a ticket has errors.',
    input: {},
    argv: () => ['ticket', 'lint'],
    scope: 'repo',
  },
  {
    name: 'flow_status',
    description:
      'The latest run (or the given one): state, reason, worker, ticket progress and the recommended next action.',
    input: { run: runRef },
    argv: (a) => ['flow', 'status', ...opt('run', a.run)],
    scope: 'repo',
  },
  {
    name: 'flow_start',
    description:
      'Start (or continue) a ticket-flow run in a background worker, as car flow start does. A paused run continues unless new is true.',
    input: {
      new: z.boolean().optional().describe('start a new run even if one is paused'),
      max_total_turns: z.number().int().positive().optional().describe('turn budget for this run'),
      force: z
        .boolean()
        .optional()
        .describe('resume a run paused on a blocking condition without a reply or repo change'),
      bootstrap: z
        .boolean()
        .optional()
        .describe("with no ticket yet, first write CAR's bootstrap ticket (plan the request into tickets)"),
    },
    argv: (a) => [
      'flow',
      'start',
      ...flag('new', a.new),
      ...opt('max-total-turns', a.max_total_turns),
      ...flag('force', a.force),
      ...flag('bootstrap', a.bootstrap),
    ],
    scope: 'repo',
  },
  {
    name: 'flow_pause',
    description: 'Pause the run after the turn in flight.',
    input: { run: runRef },
    argv: (a) => ['flow', 'pause', ...opt('run', a.run)],
    scope: 'repo',
  },
  {
    name: 'flow_resume',
    description: 'Resume a paused run in a background worker.',
    input: {
      run: runRef,
      force: z.boolean().optional().describe('resume a blocking pause without a reply or repo change'),
    },
    argv: (a) => ['flow', 'resume', ...opt('run', a.run), ...flag('force', a.force)],
    scope: 'repo',
  },
  {
    name: 'flow_stop',
    description: 'Stop the run now (the turn in flight is cancelled).',
    input: { run: runRef },
    argv: (a) => ['flow', 'stop', ...opt('run', a.run)],
    scope: 'repo',
  },
  {
    name: 'flow_reply',
    description: "Answer the run's dispatch (written as USER_REPLY.md); the next turn gets the reply.",
    input: {
      text: z.string().min(1).describe('the reply, markdown'),
      title: z.string().optional().describe('reply title'),
      run: runRef,
      resume: z.boolean().optional().describe('resume the run if it is paused'),
    },
    argv: (a) => [
      'flow',
      'reply',
      ...opt('title', a.title),
      ...opt('run', a.run),
      ...flag('resume', a.resume),
      '--',
      String(a.text),
    ],
    scope: 'repo',
  },
  {
    name: 'flow_runs',
    description: 'Recent runs, newest first.',
    input: { limit: z.number().int().positive().max(200).optional().describe('how many (default 20)') },
    argv: (a) => ['flow', 'runs', ...opt('limit', a.limit)],
    scope: 'repo',
  },
  {
    name: 'flow_events',
    description:
      "A run's events (default: the latest run): the last `tail` of them, or those after a sequence number.",
    input: {
      run: runRef,
      tail: z.number().int().positive().max(1000).optional().describe('the last n events (default 50)'),
      after: z.number().int().nonnegative().optional().describe('only events after this sequence number'),
      types: z.array(z.string()).optional().describe('only these event types'),
    },
    argv: (a) => [
      'flow',
      'events',
      ...(a.after === undefined
        ? opt('tail', a.tail ?? 50)
        : [...opt('after', a.after), ...opt('limit', a.tail)]),
      ...((a.types as string[] | undefined) ?? []).map((t) => `--type=${t}`),
      ...(a.run === undefined ? [] : ['--', String(a.run)]),
    ],
    scope: 'repo',
    jsonLines: true,
  },
  {
    name: 'hub_status',
    description: 'Every repo of the hub: its latest run, worker (alive/stale/none) and ticket progress.',
    input: {},
    argv: () => ['hub', 'status'],
    scope: 'hub',
  },
];
