// The prompt for one ticket turn, in CAR's XML-tagged section order (car-spec §4.4), with a byte budget
// enforced by a fixed shrink order so the same inputs always give the same prompt.
import {
  mergeFailedBlock,
  prFeedbackBlock,
  tag,
  type VerifyFailedInput,
  verifyFailedBlock,
} from './prompt-feedback.ts';
import type { MergeFeedback } from './state.ts';
import { TRUNCATION_MARKER, tailExcerpt, truncateUtf8, truncateUtf8Start, utf8Bytes } from './text-cut.ts';

export const DEFAULT_PROMPT_MAX_BYTES = 5 * 1024 * 1024;
export const DEFAULT_PREVIOUS_OUTPUT_MAX_CHARS = 4000;
export const PREVIOUS_TICKET_MAX_BYTES = 16384;
const HUD_MAX_LINES = 14;
const HUD_MAX_CHARS = 900;

const FULL_INSTRUCTIONS = `You are a coding agent driven by car, an autorunner that works through a queue of markdown tickets in \`.codex-autorunner/tickets/\`, one ticket per turn. The ticket file is the source of truth for what to do.

In this turn:
- Read the current ticket (path below) and do the work it describes in this repository.
- Keep the ticket body up to date with your progress: what is done, what is left, what surprised you.
- Set \`done: true\` in the ticket's YAML frontmatter only when every acceptance criterion really holds and your changes are committed to git.

Talking to a human:
- Put any attachments in the dispatch directory first, then write DISPATCH.md last.
- \`mode: pause\` in its frontmatter stops the run until a human replies. When you are blocked, or a decision is not yours to make, ask this way instead of guessing.
- \`mode: notify\` (the default) is for information only; the run goes on.
- Example DISPATCH.md:
  ---
  mode: pause
  title: Which database?
  options: [SQLite, Postgres]
  ---
  The ticket does not say whether to use SQLite or Postgres. Which one should I use?
- \`options\` (optional, up to 8 short answers) become buttons in the human's chat; the answer comes back as a reply like any other.
- You need no closing dispatch: car keeps a summary of every turn.

Also:
- \`.codex-autorunner/contextspace/\` (active_context.md, decisions.md, spec.md) holds durable notes shared by all turns; update it when a later turn will need what you learned.
- Split off follow-up work as new ticket files \`TICKET-NNN-<slug>.md\` using the next free number, then run \`car ticket lint\` to check the queue.
- Do not add \`.codex-autorunner/\` runtime files to git unless they are already tracked.`;

const COMPACT_INSTRUCTIONS =
  'car ticket flow: do the current ticket, record progress in it, set `done: true` only when its acceptance ' +
  'criteria hold and the work is committed. If blocked, write DISPATCH.md with `mode: pause`.';

function hud(): string {
  const lines = [
    'car HUD (stable, no secrets):',
    '- State root: `.codex-autorunner/` (tickets/, contextspace/, runs/)',
    '- Queue: `TICKET-NNN*.md` run in ascending number; the current ticket is the first without `done: true`.',
    '- Humans answer your dispatches in <CAR_HUMAN_REPLIES> on a later turn.',
    '- Check ticket frontmatter: `car ticket lint`',
  ];
  const text = lines.slice(0, HUD_MAX_LINES).join('\n');
  return text.length > HUD_MAX_CHARS ? `${text.slice(0, HUD_MAX_CHARS - 3)}...` : text;
}

export interface PromptInput {
  /** `existing_session`: the agent's thread for this ticket is reused, so the compact prompt (no HUD,
   * contextspace, previous ticket or previous output) is enough. */
  variant?: 'full' | 'existing_session' | undefined;
  /** Repo-relative posix path of the current ticket. */
  ticketPath: string;
  /** The ticket file exactly as on disk, frontmatter included. */
  ticketText: string;
  /** Repo-relative paths from run-paths.ts (`paths.rel`). */
  runtimePaths: { dispatchDir: string; dispatchFile: string };
  /** Rendered requested-context block (context-includes.ts); '' when the ticket asks for none. */
  requestedContext?: string | null | undefined;
  /** Rendered contextspace block (contextspace.ts). */
  contextspace?: string | null | undefined;
  /** Rendered human replies (replies.ts). */
  humanReplies?: string | null | undefined;
  /** The ticket worked on before this one, when the config asks for it. */
  previousTicket?: { path: string; text: string } | null | undefined;
  /** The last turn's full output and the ticket it was on (this one or the previous one). */
  previousOutput?: { ticket: string; text: string } | null | undefined;
  previousOutputMaxChars?: number | undefined;
  checkpointWarning?: string | null | undefined;
  commitRequired?: { attemptsRemaining: number } | null | undefined;
  lintErrors?: readonly string[] | null | undefined;
  loopGuard?: { noChangeTurns: number } | null | undefined;
  /** car's acceptance check rejected the ticket's `done: true` (verify gate). */
  verifyFailed?: VerifyFailedInput | null | undefined;
  /** The merge queue sent this lane's ticket back (a conflict, or the merged tree failed verification). */
  mergeFailed?: MergeFeedback | null | undefined;
  /** What the ticket's pull request said since the last turn: failed checks, reviews asking for changes. */
  prFeedback?: readonly string[] | null | undefined;
  maxBytes?: number | undefined;
}

export type { VerifyFailedInput };

export type SectionName =
  | 'instructions'
  | 'runtime_paths'
  | 'hud'
  | 'checkpoint_warning'
  | 'commit_required'
  | 'lint_repair'
  | 'loop_guard'
  | 'verify_failed'
  | 'merge_failed'
  | 'pr_feedback'
  | 'requested_context'
  | 'contextspace'
  | 'human_replies'
  | 'previous_ticket'
  | 'current_ticket'
  | 'previous_output';

export interface BuiltPrompt {
  text: string;
  bytes: number;
  sections: { name: SectionName; bytes: number }[];
  /** What the budget cut or dropped, in the order it happened. */
  shrunk: SectionName[];
}

export class PromptError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'PromptError';
  }
}

type Shrinkable =
  | 'previous_output'
  | 'previous_ticket'
  | 'human_replies'
  | 'requested_context'
  | 'contextspace';
type Droppable =
  | 'checkpoint_warning'
  | 'commit_required'
  | 'lint_repair'
  | 'loop_guard'
  | 'verify_failed'
  | 'merge_failed'
  | 'pr_feedback';

// Least valuable first (CAR's order); the ticket body goes last and its frontmatter never goes.
const SHRINK_ORDER: readonly Shrinkable[] = [
  'previous_output',
  'previous_ticket',
  'human_replies',
  'requested_context',
  'contextspace',
];
const DROP_ORDER: readonly Droppable[] = [
  'checkpoint_warning',
  'commit_required',
  'lint_repair',
  'loop_guard',
  'verify_failed',
  'merge_failed',
  'pr_feedback',
];

interface Model {
  existing: boolean;
  compact: boolean;
  warnings: Record<Droppable, string>;
  content: Record<Shrinkable, string>;
  prevOutputHeader: string;
  prevTicketPath: string;
  ticketHead: string;
  ticketBody: string;
}

const REQUIRED_MARKERS = [
  '<CAR_TICKET_FLOW_PROMPT>',
  '</CAR_TICKET_FLOW_PROMPT>',
  '<CAR_TICKET_FLOW_INSTRUCTIONS>',
  '</CAR_TICKET_FLOW_INSTRUCTIONS>',
  '<CAR_RUNTIME_PATHS>',
  '</CAR_RUNTIME_PATHS>',
  '<CAR_CURRENT_TICKET_FILE>',
  '</CAR_CURRENT_TICKET_FILE>',
  '<CAR_TICKET>',
  '</CAR_TICKET>',
];

/** Splits the raw ticket after its frontmatter's closing fence, which shrinking must keep. */
function splitTicket(raw: string): { head: string; body: string } {
  const match = /^---[ \t]*\r?\n(?:[^\r\n]*\r?\n)*?(?:---|\.\.\.)[ \t]*(?:\r?\n|$)/.exec(raw);
  if (!match) return { head: '', body: raw };
  return { head: match[0], body: raw.slice(match[0].length) };
}

function warningBlocks(input: PromptInput): Record<Droppable, string> {
  const lint = input.lintErrors ?? [];
  const noChange = input.loopGuard?.noChangeTurns ?? 0;
  return {
    checkpoint_warning: input.checkpointWarning
      ? tag(
          'CAR_CHECKPOINT_WARNING',
          'The checkpoint commit after the last turn failed (pre-commit hooks are the usual cause). ' +
            'Fix that before going on, or later checkpoints will fail too.\n\nError:\n' +
            input.checkpointWarning,
        )
      : '',
    commit_required: input.commitRequired
      ? tag(
          'CAR_COMMIT_REQUIRED',
          'ACTION REQUIRED: the ticket says done but the working tree has uncommitted changes. ' +
            'Commit them (pre-commit hooks must pass) so the flow can move on.\n\n' +
            `Attempts left before a human has to step in: ${Math.max(0, input.commitRequired.attemptsRemaining)}`,
        )
      : '',
    lint_repair:
      lint.length > 0
        ? tag(
            'CAR_TICKET_FRONTMATTER_LINT_REPAIR',
            `The ticket's YAML frontmatter fails lint. Change ONLY the frontmatter so that these pass:\n- ${lint.join('\n- ')}`,
          )
        : '',
    loop_guard:
      noChange > 0
        ? tag(
            'CAR_LOOP_GUARD',
            'The last turn(s) on this ticket changed nothing in the repository.\n' +
              `Turns in a row without a change: ${noChange}\n` +
              'If you are stuck, write DISPATCH.md with mode: pause instead of repeating the same steps.',
          )
        : '',
    verify_failed: input.verifyFailed ? verifyFailedBlock(input.verifyFailed) : '',
    merge_failed: input.mergeFailed ? mergeFailedBlock(input.mergeFailed) : '',
    pr_feedback: input.prFeedback && input.prFeedback.length > 0 ? prFeedbackBlock(input.prFeedback) : '',
  };
}

function previousOutputParts(input: PromptInput): { header: string; text: string } {
  const prev = input.previousOutput;
  const maxChars = input.previousOutputMaxChars ?? DEFAULT_PREVIOUS_OUTPUT_MAX_CHARS;
  if (!prev || maxChars <= 0) return { header: '', text: '' };
  const excerpt = tailExcerpt(prev.text, maxChars);
  if (!excerpt.text) return { header: '', text: '' };
  const from =
    prev.ticket === input.ticketPath
      ? `an earlier turn on this ticket (${prev.ticket})`
      : `the last turn on another ticket (${prev.ticket})`;
  const scope = excerpt.cut
    ? `Excerpt: the last ${excerpt.text.length} of ${excerpt.totalChars} characters; earlier output left out.`
    : 'Complete output.';
  return { header: `From ${from}.\n${scope}\n`, text: excerpt.text };
}

function render(m: Model, input: PromptInput): { name: SectionName; text: string }[] {
  const out: { name: SectionName; text: string }[] = [];
  const add = (name: SectionName, text: string): void => {
    if (text) out.push({ name, text });
  };
  add(
    'instructions',
    tag('CAR_TICKET_FLOW_INSTRUCTIONS', m.compact ? COMPACT_INSTRUCTIONS : FULL_INSTRUCTIONS),
  );
  add(
    'runtime_paths',
    tag(
      'CAR_RUNTIME_PATHS',
      `Current ticket file: ${input.ticketPath}\nDispatch directory: ${input.runtimePaths.dispatchDir}\n` +
        `DISPATCH.md path: ${input.runtimePaths.dispatchFile}`,
    ),
  );
  if (!m.compact) add('hud', tag('CAR_HUD', hud()));
  for (const name of DROP_ORDER) add(name, m.warnings[name]);
  add('requested_context', tag('CAR_REQUESTED_CONTEXT', m.content.requested_context));
  if (!m.existing && m.content.contextspace)
    add('contextspace', tag('CAR_CONTEXTSPACE_DOCS', m.content.contextspace));
  add('human_replies', tag('CAR_HUMAN_REPLIES', m.content.human_replies));
  if (!m.existing && m.content.previous_ticket) {
    add(
      'previous_ticket',
      tag('CAR_PREVIOUS_TICKET_REFERENCE', `PATH: ${m.prevTicketPath}\n${m.content.previous_ticket}`),
    );
  }
  add(
    'current_ticket',
    tag(
      'CAR_CURRENT_TICKET_FILE',
      `PATH: ${input.ticketPath}\n${tag('CAR_TICKET', m.ticketHead + m.ticketBody)}`,
    ),
  );
  if (!m.existing) {
    const body = m.content.previous_output ? m.prevOutputHeader + m.content.previous_output : '';
    add('previous_output', tag('CAR_PREVIOUS_AGENT_OUTPUT', body));
  }
  return out;
}

function join(parts: { text: string }[]): string {
  return `<CAR_TICKET_FLOW_PROMPT>\n\n${parts.map((p) => p.text).join('\n\n')}\n\n</CAR_TICKET_FLOW_PROMPT>`;
}

/**
 * Builds one turn's prompt. Over budget, it gives up in a fixed order: previous output, previous
 * ticket, replies, requested context, contextspace (each cut by exactly the overflow, or emptied), then
 * the ticket body (frontmatter kept), then the long instructions and HUD, then the warning blocks.
 * Throws PromptError when even that does not fit or a required marker is missing.
 */
export function buildPrompt(input: PromptInput): BuiltPrompt {
  const maxBytes = input.maxBytes ?? DEFAULT_PROMPT_MAX_BYTES;
  const existing = input.variant === 'existing_session';
  const ticket = splitTicket(input.ticketText);
  // A reused thread has already seen these, so they are not even candidates for the budget.
  const prevOutput = existing ? { header: '', text: '' } : previousOutputParts(input);
  const m: Model = {
    existing,
    compact: existing,
    warnings: warningBlocks(input),
    content: {
      previous_output: prevOutput.text,
      previous_ticket:
        input.previousTicket && !existing
          ? truncateUtf8(input.previousTicket.text.trim(), PREVIOUS_TICKET_MAX_BYTES)
          : '',
      human_replies: input.humanReplies ?? '',
      requested_context: input.requestedContext ?? '',
      contextspace: existing ? '' : (input.contextspace ?? ''),
    },
    prevOutputHeader: prevOutput.header,
    prevTicketPath: input.previousTicket?.path ?? '',
    ticketHead: ticket.head,
    ticketBody: ticket.body,
  };
  const shrunk: SectionName[] = [];
  const overflow = (): number => utf8Bytes(join(render(m, input))) - maxBytes;

  for (const name of SHRINK_ORDER) {
    const over = overflow();
    if (over <= 0) break;
    const value = m.content[name];
    if (!value) continue;
    const limit = utf8Bytes(value) - over;
    // Too small to carry the marker plus some text: drop the section's content entirely.
    m.content[name] =
      limit <= utf8Bytes(TRUNCATION_MARKER)
        ? ''
        : name === 'previous_output'
          ? truncateUtf8Start(value, limit)
          : truncateUtf8(value, limit);
    shrunk.push(name);
  }
  let over = overflow();
  if (over > 0 && utf8Bytes(m.ticketBody) > utf8Bytes(TRUNCATION_MARKER)) {
    const limit = utf8Bytes(m.ticketBody) - over;
    // Keep at least the marker, so the agent knows the body was cut rather than empty.
    m.ticketBody =
      limit > utf8Bytes(TRUNCATION_MARKER) ? truncateUtf8(m.ticketBody, limit) : TRUNCATION_MARKER;
    shrunk.push('current_ticket');
    over = overflow();
  }
  if (over > 0 && !m.compact) {
    m.compact = true;
    shrunk.push('instructions', 'hud');
    over = overflow();
  }
  for (const name of DROP_ORDER) {
    if (over <= 0) break;
    if (!m.warnings[name]) continue;
    m.warnings[name] = '';
    shrunk.push(name);
    over = overflow();
  }

  const parts = render(m, input);
  const text = join(parts);
  const bytes = utf8Bytes(text);
  if (bytes > maxBytes)
    throw new PromptError(`prompt needs ${bytes} bytes even fully shrunk; budget is ${maxBytes}`);
  const missing = REQUIRED_MARKERS.filter((marker) => !text.includes(marker));
  if (missing.length > 0)
    throw new PromptError(`prompt is missing required marker(s): ${missing.join(', ')}`);
  return { text, bytes, sections: parts.map((p) => ({ name: p.name, bytes: utf8Bytes(p.text) })), shrunk };
}
