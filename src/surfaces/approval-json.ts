// The one JSON shape of an approval: `car flow approvals --json`, `approve|deny --json` and /api/approvals.
import type { Approval } from '../core/store/approvals.ts';

export function approvalJson(a: Approval): Record<string, unknown> {
  return {
    id: a.id,
    run_id: a.runId,
    ticket: a.ticket,
    agent: a.agent,
    kind: a.kind,
    title: a.title,
    command: a.command,
    cwd: a.cwd,
    paths: a.paths,
    diff: a.diff,
    reason: a.reason,
    status: a.status,
    decision: a.decision,
    answered_by: a.answeredBy,
    note: a.note,
    created_at: a.createdAt,
    expires_at: a.expiresAt,
    answered_at: a.answeredAt,
  };
}
