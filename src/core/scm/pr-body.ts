// The body of a PR car opens: every ticket closed on the branch with the verify gate's evidence for it
// (commands, exit codes, durations, output digests, the commit, tamper findings), so the PR proves the
// work rather than describing it.
import type { EvidenceEntry } from '../verify/evidence.ts';

export interface ClosedTicket {
  name: string;
  ticketId: string;
  title: string | null;
  /** The newest evidence record whose commit is on the branch. */
  evidence: EvidenceEntry;
}

/** Marks a body car wrote (car updates such a body; it is the first line). */
export const PR_BODY_MARKER = '<!-- car: generated from the verify evidence of the tickets below -->';

const cell = (text: string) => text.replace(/\|/g, '\\|').replace(/\n/g, ' ');

function seconds(ms: number): string {
  return `${(ms / 1000).toFixed(ms < 10_000 ? 2 : 1)} s`;
}

function ticketSection(t: ClosedTicket): string {
  const e = t.evidence;
  const lines = [
    `### ${t.name}${t.title ? `: ${t.title}` : ''}`,
    '',
    `\`${t.ticketId}\`, closed in run \`${e.run_id}\` at ${e.verified_at}, commit \`${e.commit ?? '(none)'}\`` +
      `${e.dirty ? ' (tree not clean)' : ''}; ${e.turns} turn(s), ${e.failed_attempts} failed check(s) before this pass.`,
    '',
  ];
  if (e.commands.length === 0) {
    lines.push('No verify commands were configured for this ticket.');
  } else {
    lines.push('| Result | Command | Source | Exit | Duration | Output (sha256) |');
    lines.push('|---|---|---|---|---|---|');
    for (const c of e.commands) {
      const pass = c.exit_code === 0 && !c.timed_out;
      const exit = c.timed_out ? 'timed out' : String(c.exit_code ?? c.signal ?? '?');
      lines.push(
        `| ${pass ? 'pass' : 'FAIL'} | \`${cell(c.command)}\` | ${c.source} | ${exit} | ${seconds(c.duration_ms)} | ` +
          `${c.output_bytes} bytes, \`${c.output_sha256.slice(0, 16)}\` |`,
      );
    }
  }
  lines.push('');
  if (e.findings.length === 0) lines.push('Tamper findings: none.');
  else {
    lines.push('Tamper findings:');
    for (const f of e.findings) lines.push(`- ${f.action}: ${f.kind} in \`${cell(f.file)}\`: ${f.detail}`);
  }
  return lines.join('\n');
}

/** The Markdown body for a branch whose closed tickets are `closed` (in ticket order). */
export function prBody(input: { branch: string; base: string; closed: readonly ClosedTicket[] }): string {
  const { closed } = input;
  const parts = [
    PR_BODY_MARKER,
    `Opened by car from \`${input.branch}\` into \`${input.base}\`. ` +
      (closed.length === 0
        ? 'No ticket was closed by car on this branch, so there is no verify evidence to show.'
        : `${closed.length} ticket(s) closed on this branch, each only after its verify commands passed:`),
  ];
  for (const t of closed) parts.push(ticketSection(t));
  return `${parts.join('\n\n')}\n`;
}

/** Every command in every record passed and no finding blocked: what auto-merge asks of the evidence. */
export function evidencePasses(closed: readonly ClosedTicket[]): boolean {
  return closed.every(
    (t) =>
      t.evidence.commands.every((c) => c.exit_code === 0 && !c.timed_out) &&
      t.evidence.findings.every((f) => f.action !== 'block'),
  );
}
