// The blocks of a prompt that tell the agent why its ticket came back: car's acceptance check failed
// (verify gate), the merge queue could not merge a lane's work (a conflict, or the merged tree failed), or
// its pull request failed a check or a reviewer asked for changes.
import type { MergeFeedback } from './state.ts';
import { utf8Bytes } from './text-cut.ts';

export function tag(name: string, body: string): string {
  return body ? `<${name}>\n${body}\n</${name}>` : `<${name}>\n</${name}>`;
}

export interface VerifyFailedInput {
  /** Failed verifications so far on this ticket, and how many pause the run. */
  attempt: number;
  maxFailures: number;
  /** The command that failed, how it ended, and the kept tail of its output. */
  command: { command: string; exit: string; output: string; outputBytes: number } | null;
  findings: readonly { kind: string; file: string; detail: string }[];
}

export function verifyFailedBlock(v: VerifyFailedInput): string {
  const parts = [
    "The last time this ticket was marked done, car's acceptance check failed, so car set `done: false` again. " +
      'car closes a ticket only when its verify commands pass and the diff shows no tampering.',
    `Failed checks on this ticket: ${v.attempt} (a human steps in at ${v.maxFailures}).`,
  ];
  if (v.command) {
    const cmd = v.command;
    const shown = utf8Bytes(cmd.output);
    const scope =
      shown < cmd.outputBytes ? `last ${shown} of ${cmd.outputBytes} bytes` : `${cmd.outputBytes} bytes`;
    parts.push(
      `Command: ${cmd.command}\nResult: ${cmd.exit}\nOutput (${scope}):\n${cmd.output.trimEnd() || '(none)'}`,
    );
  }
  if (v.findings.length > 0) {
    parts.push(
      `Tamper findings that block completion:\n${v.findings.map((f) => `- ${f.kind}: ${f.file}: ${f.detail}`).join('\n')}`,
    );
  }
  parts.push(
    'Fix the work, not the check: do not delete, skip or weaken tests, and do not edit the verify commands, ' +
      "CI config or other tickets' frontmatter. When the work is really done, commit it and set `done: true` again.",
  );
  return tag('CAR_VERIFY_FAILED', parts.join('\n\n'));
}

export function mergeFailedBlock(m: MergeFeedback): string {
  const what =
    m.kind === 'conflict'
      ? `Your work on this ticket is done, but merging it into \`${m.integration}\` (at ${m.onto.slice(0, 12)}) conflicts` +
        (m.files.length > 0 ? ` in:\n- ${m.files.join('\n- ')}` : '.')
      : `Your work on this ticket merges into \`${m.integration}\` (at ${m.onto.slice(0, 12)}), but the merged tree fails car's acceptance check:\n${m.output.trimEnd()}`;
  const parts = [
    `${what}\n\nOther tickets were merged into \`${m.integration}\` while you worked. car set \`done: false\` again (attempt ${m.attempt}).`,
    // car has merged the tip into the lane already (merge.ts); a conflict is left in place, mid-merge
    `car has already merged \`${m.integration}\` into your branch in this worktree` +
      (m.kind === 'conflict'
        ? ', leaving the conflicts in the files for you (`git status` lists them)'
        : '') +
      ". Resolve what conflicts keeping both sides' intent, make the checks pass, commit (the merge too), " +
      'and set `done: true` again.',
  ];
  if (m.kind === 'conflict' && m.output.trim()) parts.push(`git said:\n${m.output.trimEnd()}`);
  return tag('CAR_MERGE_FAILED', parts.join('\n\n'));
}

/** Feedback from the ticket's pull request (core/scm/follow.ts): failed check runs, reviews asking for changes. */
export function prFeedbackBlock(items: readonly string[]): string {
  return tag(
    'CAR_PR_FEEDBACK',
    [
      "This ticket's pull request came back after car closed the ticket, so car set `done: false` again:",
      ...items,
    ].join('\n\n'),
  );
}
