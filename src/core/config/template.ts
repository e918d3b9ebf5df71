/** The agent `car init` sets as the default for new tickets. */
export interface InitialAgent {
  id: string;
  /** Its `agents.<id>` entry, when car's built-in entries lack it. */
  entry: Record<string, unknown> | null;
  /** Why this one, e.g. "claude-agent-acp is on PATH (/usr/bin/claude-agent-acp)". */
  note: string;
}

/** A YAML scalar: plain when it reads back as the same string, else double-quoted (JSON is valid YAML). */
function scalar(value: unknown): string {
  if (typeof value !== 'string') return JSON.stringify(value);
  const plain =
    /^[A-Za-z0-9_./-]+$/.test(value) &&
    !/^(?:y|yes|n|no|true|false|on|off|null|~|[-+.\d][-+.\d_eE]*)$/i.test(value);
  return plain ? value : JSON.stringify(value);
}

/** An agent entry as block YAML, lists in flow style (`command: [claude-agent-acp]`). */
function agentEntryYaml(id: string, entry: Record<string, unknown>, indent = '  '): string {
  const lines = [`${indent}${id}:`];
  for (const [key, value] of Object.entries(entry)) {
    const text = Array.isArray(value) ? `[${value.map(scalar).join(', ')}]` : scalar(value);
    lines.push(`${indent}  ${key}: ${text}`);
  }
  return `${lines.join('\n')}\n`;
}

function agentBlock(agent: InitialAgent): string {
  const entry = agent.entry ? `\nagents:\n${agentEntryYaml(agent.id, agent.entry)}` : '';
  return `
# car init: ${agent.note}.
# The agent new tickets get (car ticket new, the web board). Change it here or with
# \`car init --agent <id>\`; docs/AGENTS.md shows how to run each agent.
ticket_flow:
  default_agent: ${scalar(agent.id)}
${entry}`;
}

/**
 * The `.codex-autorunner/config.yml` that `car init` writes: version and mode, the default agent when
 * one is chosen; the rest are commented examples showing the built-in defaults. Kept free of zod so
 * `car init` stays light.
 */
export function initialRepoConfigYaml(agent?: InitialAgent): string {
  return `# car configuration for this repo. Precedence, lowest first: built-in defaults < the hub's config
# (repos of a hub) < codex-autorunner.yml < codex-autorunner.override.yml < .codex-autorunner/config.yml (this file) <
# .codex-autorunner/repo.override.yml < environment (e.g. CAR__TICKET_FLOW__MAX_TOTAL_TURNS=80).
# \`car describe --json\` lists every key.
version: 2
mode: repo
${agent ? agentBlock(agent) : ''}
# ticket_flow:
#   max_total_turns: 50          # turn budget for a run (null = 50)
#   approval_mode: yolo          # yolo | review | ask (a person answers each approval)
#   require_commit: true         # a ticket is not done until its changes are committed
#   loop_guard_turns: 2          # pause after this many turns with no change

# agents:
#   codex:
#     binary: codex
#   opencode:
#     command: [opencode, acp]

# git:
#   auto_commit: false

# app_server:
#   command: [codex, app-server]
#   turn_timeout_seconds: 7200
`;
}
