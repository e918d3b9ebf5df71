// What car can do with an agent, per backend (and, for command agents, per output format): the table in
// docs/AGENTS.md and in `car describe --json`. A test holds the guide's copy to this one.
import type { CommandFormat } from './command/parsers.ts';
import type { Backend } from './resolver.ts';

export const CAPABILITIES = [
  'streaming',
  'token_usage',
  'quota_detection',
  'approvals',
  'stall_watchdog',
  'resume',
] as const;
export type Capability = (typeof CAPABILITIES)[number];

/** `partial`: when the agent provides it (see `how`). */
export type Support = 'yes' | 'partial' | 'no';

export interface CapabilityInfo {
  support: Support;
  how: string;
}

/** A backend as the table lists it: `codex`, `acp`, `command:<format>` or `demo`. */
export type BackendKind = Exclude<Backend, 'command'> | `command:${CommandFormat}`;

const cap = (support: Support, how: string): CapabilityInfo => ({ support, how });

const COMMAND_COMMON = {
  quota_detection: cap('partial', 'from the error text ("usage limit reached", "insufficient_quota")'),
  approvals: cap('no', "the CLI's own flags decide (car cannot answer a question)"),
  stall_watchdog: cap('yes', '5 min without output: killed, retried'),
};

export const BACKEND_CAPABILITIES: Record<BackendKind, Record<Capability, CapabilityInfo>> = {
  codex: {
    streaming: cap('yes', 'message deltas, commands, file changes'),
    token_usage: cap('yes', 'per model call, live (a token budget interrupts the turn)'),
    quota_detection: cap('yes', '`usageLimitExceeded`, with the reset time'),
    approvals: cap(
      'yes',
      'never asked in yolo; in review car answers by `default_approval_decision`; with `approval_policy: ask` a person answers each command and patch',
    ),
    stall_watchdog: cap('yes', '`app_server.turn_stall_timeout_seconds` (600 s) silent: ended, retried'),
    resume: cap('yes', '`thread/resume`, also after a car restart'),
  },
  acp: {
    streaming: cap('yes', 'message chunks, tool calls'),
    token_usage: cap('partial', 'when the agent reports it, at the end of the turn'),
    quota_detection: cap('partial', 'from the error text ("usage limit reached", "insufficient_quota")'),
    approvals: cap(
      'yes',
      '`session/request_permission`: allowed in yolo, rejected in review, a person answers with `approval_policy: ask`',
    ),
    stall_watchdog: cap('yes', '5 min without an update: cancelled, killed, retried'),
    resume: cap('partial', '`session/load`, when the agent supports it'),
  },
  'command:claude-stream-json': {
    streaming: cap('yes', 'each message, tool call and result'),
    token_usage: cap('yes', 'at the end of the turn, with cost'),
    ...COMMAND_COMMON,
    quota_detection: cap('yes', "Claude's usage-limit result, with the reset time"),
    resume: cap('yes', '`--resume <session_id>`'),
  },
  'command:gemini-stream-json': {
    streaming: cap('yes', 'message deltas, tool calls and results'),
    token_usage: cap('yes', 'at the end of the turn'),
    ...COMMAND_COMMON,
    resume: cap('yes', '`--resume <session_id>`'),
  },
  'command:opencode-json': {
    streaming: cap('yes', 'text parts, tool calls and results'),
    token_usage: cap('yes', 'at the end of the turn, with cost'),
    ...COMMAND_COMMON,
    resume: cap('yes', '`--session <session_id>`'),
  },
  'command:codex-exec-json': {
    streaming: cap('yes', 'messages, commands, file changes'),
    token_usage: cap('yes', 'at the end of the turn'),
    ...COMMAND_COMMON,
    resume: cap('yes', '`exec resume <thread_id>`'),
  },
  'command:text': {
    streaming: cap('yes', 'stdout line by line'),
    token_usage: cap('no', ''),
    ...COMMAND_COMMON,
    resume: cap('no', 'every turn starts afresh'),
  },
  demo: {
    streaming: cap('yes', 'scripted steps'),
    token_usage: cap('yes', 'a count of prompt and reply bytes'),
    quota_detection: cap('no', ''),
    approvals: cap('no', 'asks for none'),
    stall_watchdog: cap('no', 'never stalls'),
    resume: cap('no', 'its progress is kept per ticket instead'),
  },
};

export function backendKind(backend: Backend, format?: CommandFormat): BackendKind {
  return backend === 'command' ? `command:${format ?? 'text'}` : backend;
}

const HEADINGS: Record<Capability, string> = {
  streaming: 'Streaming',
  token_usage: 'Token usage',
  quota_detection: 'Quota detection',
  approvals: 'Approvals',
  stall_watchdog: 'Stall watchdog',
  resume: 'Resume',
};

/** The table as markdown: one row per backend kind, `yes: how` per cell. */
export function capabilityTableMarkdown(): string {
  const cell = (c: CapabilityInfo) => (c.how ? `${c.support}: ${c.how}` : c.support);
  const rows = [
    `| Backend | ${CAPABILITIES.map((c) => HEADINGS[c]).join(' | ')} |`,
    `|---|${CAPABILITIES.map(() => '---').join('|')}|`,
    ...Object.entries(BACKEND_CAPABILITIES).map(
      ([kind, caps]) => `| \`${kind}\` | ${CAPABILITIES.map((c) => cell(caps[c])).join(' | ')} |`,
    ),
  ];
  return `${rows.join('\n')}\n`;
}
