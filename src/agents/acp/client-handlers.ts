// What car answers when an ACP agent asks its client: permission to run a tool (by policy: car runs
// unattended; in a supervised session a person answers through the session's approval gate), and reading
// or writing a text file, confined to the session's workspace. car offers no terminal
// (`clientCapabilities.terminal: false`): agents run their commands themselves.
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { dirname } from 'node:path';
import * as acp from '@agentclientprotocol/sdk';
import type { ApprovalDecision, ApprovalGate, ApprovalQuestion } from '../../core/agent.ts';
import { writeFileAtomic } from '../../core/fs/atomic.ts';
import { confinePath } from './confine.ts';
import type { TurnState } from './updates.ts';

export interface ClientSide {
  /** The workspace root, symlinks resolved. */
  rootReal: string;
  permission: 'allow' | 'reject';
  /** A supervised session: a person answers each permission request. */
  approvals?: ApprovalGate;
  /** The turn under way, if any. */
  turn(): TurnState | null;
}

/** The option a person's answer picks, in order of preference. */
const OPTION_KINDS: Record<Exclude<ApprovalDecision, 'cancel'>, acp.PermissionOptionKind[]> = {
  accept: ['allow_once', 'allow_always'],
  accept_for_session: ['allow_always', 'allow_once'],
  decline: ['reject_once', 'reject_always'],
};

export async function answerPermission(
  client: ClientSide,
  params: acp.RequestPermissionRequest,
): Promise<acp.RequestPermissionResponse> {
  const turn = client.turn();
  turn?.harness.touch();
  const title =
    params.toolCall.title ?? turn?.tools.get(params.toolCall.toolCallId) ?? params.toolCall.toolCallId;
  if (!turn || turn.harness.stopped) {
    turn?.harness.emit({ type: 'status', message: `permission cancelled: ${title}` });
    return { outcome: { outcome: 'cancelled' } };
  }
  if (client.approvals) {
    const release = turn.harness.hold(); // the agent waits for a person: its silence is not a stall
    let decision: ApprovalDecision;
    try {
      decision = await client.approvals.ask(permissionQuestion(client, params, title), turn.harness.over);
    } catch {
      decision = 'cancel';
    } finally {
      release();
    }
    const option =
      decision === 'cancel'
        ? undefined
        : OPTION_KINDS[decision]
            .map((kind) => params.options.find((o) => o.kind === kind))
            .find((o) => o !== undefined);
    turn.harness.emit({
      type: 'status',
      message: `permission ${option ? `${decision} (${option.kind})` : 'cancelled'}: ${title}`,
    });
    return option
      ? { outcome: { outcome: 'selected', optionId: option.optionId } }
      : { outcome: { outcome: 'cancelled' } };
  }
  const allow = client.permission === 'allow';
  const preferred = allow ? ['allow_once', 'allow_always'] : ['reject_once', 'reject_always'];
  const option = preferred
    .map((kind) => params.options.find((o) => o.kind === kind))
    .find((o) => o !== undefined);
  if (!option) {
    turn.harness.emit({
      type: 'status',
      message: `permission cancelled (no ${allow ? 'allow' : 'reject'} option): ${title}`,
    });
    return { outcome: { outcome: 'cancelled' } };
  }
  turn.harness.emit({
    type: 'status',
    message: `permission ${allow ? 'allowed' : 'rejected'} (${option.kind}): ${title}`,
  });
  return { outcome: { outcome: 'selected', optionId: option.optionId } };
}

/** A permission request as a question for a person: the command it runs, or the diff it makes. */
function permissionQuestion(
  client: ClientSide,
  params: acp.RequestPermissionRequest,
  title: string,
): ApprovalQuestion {
  const call = params.toolCall;
  const input = (call.rawInput ?? {}) as Record<string, unknown>;
  const command =
    typeof input.command === 'string'
      ? input.command
      : Array.isArray(input.command)
        ? input.command.join(' ')
        : undefined;
  const diffs = (call.content ?? []).flatMap((c) => (c.type === 'diff' ? [c] : []));
  // paths inside the workspace are shown relative to it
  const shown = (path: string) =>
    path.startsWith(`${client.rootReal}/`) ? path.slice(client.rootReal.length + 1) : path;
  const paths = [
    ...new Set([...diffs.map((d) => d.path), ...(call.locations ?? []).map((l) => l.path)].map(shown)),
  ];
  return {
    kind: call.kind === 'execute' || command ? 'command' : diffs.length > 0 ? 'file_change' : 'permission',
    title,
    ...(command ? { command } : {}),
    ...(paths.length > 0 ? { paths } : {}),
    ...(diffs.length > 0
      ? { diff: diffs.map((d) => unifiedDiff(shown(d.path), d.oldText ?? null, d.newText)).join('') }
      : {}),
  };
}

/**
 * An ACP diff (a file's old and new text) as a unified diff: one hunk from the first to the last changed
 * line, with up to three lines of context around it.
 */
function unifiedDiff(path: string, oldText: string | null, newText: string): string {
  const lines = (text: string) => {
    const l = text.split('\n');
    if (l.at(-1) === '') l.pop();
    return l;
  };
  const a = oldText === null ? [] : lines(oldText);
  const b = lines(newText);
  let head = 0;
  while (head < a.length && head < b.length && a[head] === b[head]) head++;
  let tail = 0;
  while (
    tail < a.length - head &&
    tail < b.length - head &&
    a[a.length - 1 - tail] === b[b.length - 1 - tail]
  )
    tail++;
  const from = Math.max(0, head - CONTEXT_LINES);
  const aEnd = Math.min(a.length, a.length - tail + CONTEXT_LINES);
  const bEnd = Math.min(b.length, b.length - tail + CONTEXT_LINES);
  const range = (start: number, count: number) => `${count === 0 ? start : start + 1},${count}`;
  return [
    `diff --git a/${path} b/${path}`,
    oldText === null ? '--- /dev/null' : `--- a/${path}`,
    `+++ b/${path}`,
    `@@ -${range(from, aEnd - from)} +${range(from, bEnd - from)} @@`,
    ...a.slice(from, head).map((l) => ` ${l}`),
    ...a.slice(head, a.length - tail).map((l) => `-${l}`),
    ...b.slice(head, b.length - tail).map((l) => `+${l}`),
    ...a.slice(a.length - tail, aEnd).map((l) => ` ${l}`),
    '',
  ].join('\n');
}

const CONTEXT_LINES = 3;

export function readTextFile(client: ClientSide, params: acp.ReadTextFileRequest): acp.ReadTextFileResponse {
  client.turn()?.harness.touch();
  const real = confine(client, params.path, 'read');
  let content: string;
  try {
    content = readFileSync(real, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT')
      throw acp.RequestError.resourceNotFound(params.path);
    throw acp.RequestError.internalError(undefined, (err as Error).message);
  }
  if (params.line != null || params.limit != null) {
    const start = Math.max(0, (params.line ?? 1) - 1);
    const lines = content.split('\n');
    const end = params.limit != null ? start + params.limit : lines.length;
    content = lines.slice(start, end).join('\n');
  }
  return { content };
}

export function writeTextFile(
  client: ClientSide,
  params: acp.WriteTextFileRequest,
): acp.WriteTextFileResponse {
  client.turn()?.harness.touch();
  const real = confine(client, params.path, 'write');
  const existed = existsSync(real);
  try {
    mkdirSync(dirname(real), { recursive: true });
    writeFileAtomic(real, params.content);
  } catch (err) {
    throw acp.RequestError.internalError(undefined, (err as Error).message);
  }
  client.turn()?.harness.emit({ type: 'file_change', path: params.path, kind: existed ? 'modify' : 'add' });
  return {};
}

/** The real path of `path` inside the workspace; refuses (and reports) a path outside it. */
function confine(client: ClientSide, path: string, action: string): string {
  const real = confinePath(client.rootReal, path);
  if (real === null) {
    const message = `refused to ${action} ${path}: outside the workspace ${client.rootReal}`;
    client.turn()?.harness.emit({ type: 'error', message });
    throw acp.RequestError.invalidParams({ path }, message);
  }
  return real;
}
