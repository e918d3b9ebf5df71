// The questions codex asks car while a turn runs (approvals of commands, file changes and permissions,
// requests for user input), normalised from codex's several server request methods, and the answer in
// the shape each method expects.
import type { ApprovalDecision, ApprovalQuestion } from '../../core/agent.ts';
import type { FileChangeItem } from './events.ts';
import type { ServerRequest } from './jsonrpc.ts';

export type CodexApprovalDecision = 'accept' | 'acceptForSession' | 'decline' | 'cancel';

/** A question codex asks car while a turn runs (normalised from the several server request methods). */
export interface CodexApprovalRequest {
  kind: 'command' | 'file_change' | 'permissions' | 'user_input' | 'elicitation';
  method: string;
  threadId: string | null;
  itemId?: string;
  command?: string;
  cwd?: string;
  reason?: string;
  params: unknown;
}

const KIND_BY_METHOD: Record<string, CodexApprovalRequest['kind']> = {
  'item/commandExecution/requestApproval': 'command',
  execCommandApproval: 'command',
  'item/fileChange/requestApproval': 'file_change',
  applyPatchApproval: 'file_change',
  'item/permissions/requestApproval': 'permissions',
  'item/tool/requestUserInput': 'user_input',
  'mcpServer/elicitation/request': 'elicitation',
};

/** The request as a question to decide, or null for a method car does not handle. */
export function approvalRequest(
  request: ServerRequest,
  threadId: string | null,
): CodexApprovalRequest | null {
  const kind = KIND_BY_METHOD[request.method];
  if (!kind) return null;
  const p = requestParams(request);
  const s = (v: unknown) => (typeof v === 'string' ? v : undefined);
  const command = s(p.command) ?? (Array.isArray(p.command) ? p.command.join(' ') : undefined);
  return {
    kind,
    method: request.method,
    threadId: s(p.threadId) ?? s(p.conversationId) ?? threadId,
    params: request.params,
    ...((s(p.itemId) ?? s(p.callId)) ? { itemId: (s(p.itemId) ?? s(p.callId)) as string } : {}),
    ...(command ? { command } : {}),
    ...(s(p.cwd) ? { cwd: s(p.cwd) as string } : {}),
    ...(s(p.reason) ? { reason: s(p.reason) as string } : {}),
  };
}

/** The result of server request `request` for `decision`. */
export function approvalResponse(request: ServerRequest, decision: CodexApprovalDecision): unknown {
  const params = requestParams(request);
  const accept = decision === 'accept' || decision === 'acceptForSession';
  switch (request.method) {
    case 'item/commandExecution/requestApproval':
    case 'item/fileChange/requestApproval':
      return { decision };
    case 'execCommandApproval':
    case 'applyPatchApproval': {
      const legacy = {
        accept: 'approved',
        acceptForSession: 'approved_for_session',
        decline: 'denied',
        cancel: 'abort',
      };
      return { decision: legacy[decision] };
    }
    case 'item/permissions/requestApproval':
      return {
        permissions: accept ? (params.permissions ?? {}) : {},
        scope: decision === 'acceptForSession' ? 'session' : 'turn',
      };
    case 'item/tool/requestUserInput':
      // nobody is there to answer: no answers (the model carries on without them)
      return { answers: {} };
    case 'mcpServer/elicitation/request':
      return { action: decision === 'cancel' ? 'cancel' : 'decline', content: null, _meta: null };
    default:
      return { decision };
  }
}

function requestParams(request: ServerRequest): Record<string, unknown> {
  const p = request.params;
  return (p !== null && typeof p === 'object' ? p : {}) as Record<string, unknown>;
}

/** A command or file-change request as a question for a person (null: not one a person answers). */
export function approvalQuestion(
  approval: CodexApprovalRequest,
  changes: readonly FileChangeItem[] | undefined,
): ApprovalQuestion | null {
  const reason = approval.reason ? { reason: approval.reason } : {};
  if (approval.kind === 'command') {
    const command = approval.command ?? '(command not shown)';
    return {
      kind: 'command',
      title: `run ${command}`,
      command,
      ...(approval.cwd ? { cwd: approval.cwd } : {}),
      ...reason,
    };
  }
  if (approval.kind === 'file_change') {
    const files = changes ?? [];
    const paths = files.map((c) => c.path);
    return {
      kind: 'file_change',
      title: paths.length > 0 ? `change ${paths.join(', ')}` : 'change files',
      paths,
      ...(files.length > 0 ? { diff: files.map(unifiedDiff).join('') } : {}),
      ...reason,
    };
  }
  return null;
}

/** One file of a change as a unified diff (codex gives an update's hunks, an added file's content). */
function unifiedDiff(change: FileChangeItem): string {
  const header = `diff --git a/${change.path} b/${change.path}\n`;
  if (change.kind === 'add') {
    const lines = change.diff.split('\n');
    if (lines.at(-1) === '') lines.pop();
    return `${header}new file mode 100644\n--- /dev/null\n+++ b/${change.path}\n@@ -0,0 +1,${lines.length} @@\n${lines.map((l) => `+${l}\n`).join('')}`;
  }
  if (change.kind === 'delete')
    return `${header}deleted file mode 100644\n--- a/${change.path}\n+++ /dev/null\n`;
  const body = change.diff.endsWith('\n') || change.diff === '' ? change.diff : `${change.diff}\n`;
  return body.startsWith('---')
    ? `${header}${body}`
    : `${header}--- a/${change.path}\n+++ b/${change.path}\n${body}`;
}

/** A person's answer in codex's words: "for this session" where codex offers it, else once. */
export function codexDecision(decision: ApprovalDecision, request: ServerRequest): CodexApprovalDecision {
  if (decision === 'decline' || decision === 'cancel' || decision === 'accept') return decision;
  const offered = requestParams(request).availableDecisions;
  return !Array.isArray(offered) || offered.includes('acceptForSession') ? 'acceptForSession' : 'accept';
}
