// What car answers when an ACP agent asks its client: permission to run a tool (by policy: car runs
// unattended), and reading or writing a text file, confined to the session's workspace. car offers no
// terminal (`clientCapabilities.terminal: false`): agents run their commands themselves.
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { dirname } from 'node:path';
import * as acp from '@agentclientprotocol/sdk';
import { writeFileAtomic } from '../../core/fs/atomic.ts';
import { confinePath } from './confine.ts';
import type { TurnState } from './updates.ts';

export interface ClientSide {
  /** The workspace root, symlinks resolved. */
  rootReal: string;
  permission: 'allow' | 'reject';
  /** The turn under way, if any. */
  turn(): TurnState | null;
}

export function answerPermission(
  client: ClientSide,
  params: acp.RequestPermissionRequest,
): acp.RequestPermissionResponse {
  const turn = client.turn();
  turn?.harness.touch();
  const title =
    params.toolCall.title ?? turn?.tools.get(params.toolCall.toolCallId) ?? params.toolCall.toolCallId;
  if (!turn || turn.harness.stopped) {
    turn?.harness.emit({ type: 'status', message: `permission cancelled: ${title}` });
    return { outcome: { outcome: 'cancelled' } };
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
