// The agents people commonly run, as docs/AGENTS.md configures them: what to install, where their
// credentials come from, and the config entry. `car init` looks for them on PATH (in this order) to pick
// the default agent; `car agents` names the install line when a binary is missing. The guide's snippets
// (docs/agents/*.yml) hold the same entries; a test keeps the two equal.

export interface KnownAgent {
  /** The agent id the guide and `car init` use. */
  id: string;
  name: string;
  /** The program `car init` looks for on PATH. */
  binary: string;
  install: string;
  /** Where its credentials come from. */
  credentials: string;
  /** The config entry (`agents.<id>`); null when car's built-in entry is this agent. */
  entry: Record<string, unknown> | null;
  /** The guide's snippet for it, relative to the repo root. */
  snippet: string;
}

export const KNOWN_AGENTS: readonly KnownAgent[] = [
  {
    id: 'codex',
    name: 'Codex (app-server)',
    binary: 'codex',
    install: 'npm install -g @openai/codex',
    credentials: '`codex login` (car links your ~/.codex/auth.json into its private CODEX_HOME)',
    entry: null,
    snippet: 'docs/agents/codex.yml',
  },
  {
    id: 'claude',
    name: 'Claude Code over ACP (claude-agent-acp)',
    binary: 'claude-agent-acp',
    install: 'npm install -g @zed-industries/claude-agent-acp',
    credentials: 'ANTHROPIC_API_KEY, or the login of Claude Code (`claude /login`)',
    entry: { backend: 'acp', command: ['claude-agent-acp'] },
    snippet: 'docs/agents/claude.yml',
  },
  {
    id: 'claude-code',
    name: 'Claude Code (claude -p)',
    binary: 'claude',
    install: 'npm install -g @anthropic-ai/claude-code',
    credentials: 'ANTHROPIC_API_KEY, or the login of Claude Code (`claude /login`)',
    entry: {
      backend: 'command',
      format: 'claude-stream-json',
      command: [
        'claude',
        '-p',
        '--output-format',
        'stream-json',
        '--verbose',
        '--permission-mode',
        'bypassPermissions',
      ],
    },
    snippet: 'docs/agents/claude-code.yml',
  },
  {
    id: 'opencode',
    name: 'OpenCode (ACP)',
    binary: 'opencode',
    install: 'npm install -g opencode-ai',
    credentials: "`opencode auth login`, or the provider's key (e.g. ANTHROPIC_API_KEY)",
    entry: null,
    snippet: 'docs/agents/opencode.yml',
  },
  {
    id: 'gemini',
    name: 'Gemini CLI (ACP)',
    binary: 'gemini',
    install: 'npm install -g @google/gemini-cli',
    credentials: 'GEMINI_API_KEY, or a Google login made in `gemini` once',
    entry: { backend: 'acp', command: ['gemini', '--acp'] },
    snippet: 'docs/agents/gemini.yml',
  },
];

/** The install line for a program an agent runs, when it is a known one. */
export function installHint(binary: string): string | null {
  return KNOWN_AGENTS.find((a) => a.binary === binary)?.install ?? null;
}
