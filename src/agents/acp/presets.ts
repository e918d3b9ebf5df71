// The ACP agents car knows by name: their commands and the environment they need. Apart from the
// adapter so the resolver can name them without loading the ACP SDK.

export interface AcpPreset {
  command: readonly string[];
  env?: Record<string, string>;
  /** Added only when car runs as root (the Claude adapters refuse root without it). */
  rootEnv?: Record<string, string>;
}

/** Known ACP agents; any other is just a command + args + env. */
export const ACP_PRESETS: Readonly<Record<string, AcpPreset>> = {
  opencode: { command: ['opencode', 'acp'] },
  claude: { command: ['claude-agent-acp'], rootEnv: { IS_SANDBOX: '1' } },
  gemini: { command: ['gemini', '--acp'] },
  'codex-acp': { command: ['codex-acp'] },
  hermes: { command: ['hermes', 'acp'] },
  // CAR starts both of its ACP runtimes as `<binary> acp`
  omp: { command: ['omp', 'acp'] },
};

/** The command and env of a preset for this process (adds `rootEnv` when running as root). */
export function resolveAcpPreset(
  name: string,
  isRoot: boolean = process.getuid?.() === 0,
): { command: string[]; env: Record<string, string> } | null {
  const preset = ACP_PRESETS[name];
  if (!preset) return null;
  return {
    command: [...preset.command],
    env: { ...(preset.env ?? {}), ...(isRoot ? (preset.rootEnv ?? {}) : {}) },
  };
}
