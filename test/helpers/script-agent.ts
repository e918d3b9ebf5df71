// Shell-script agents for tests that drive the built CLI: car's command backend runs `sh <script>
// <prompt>` once per turn, in the ticket's worktree. This is the config that names such a script.

export interface ScriptAgent {
  /** The agent's id (default `script`, as the tickets' `agent:` says). */
  name?: string;
  /** Its environment (paths of the files a test watches, switches of the script). */
  env?: Record<string, string>;
}

/** The `agents:` section with one command agent running `sh <script>`, as YAML lines. */
export function scriptAgentYaml(script: string, { name = 'script', env = {} }: ScriptAgent = {}): string[] {
  const vars = Object.entries(env);
  return [
    'agents:',
    `  ${name}:`,
    '    backend: command',
    '    format: text',
    `    command: [sh, ${JSON.stringify(script)}]`,
    ...(vars.length > 0 ? ['    env:', ...vars.map(([k, v]) => `      ${k}: ${JSON.stringify(v)}`)] : []),
  ];
}

/** A repo's `config.yml`: that agent, and `more` top-level YAML lines (ticket_flow, verify, git ...). */
export function scriptAgentConfig(script: string, agent: ScriptAgent = {}, more: string[] = []): string {
  return ['version: 2', 'mode: repo', ...scriptAgentYaml(script, agent), ...more, ''].join('\n');
}

/**
 * A script agent for lanes that ask: TICKET-002 asks "Which port?" (DISPATCH.md, mode: pause) until the
 * reply "use port 8080" is in its prompt, then writes port.txt; every ticket is worked (work/<name>.txt),
 * marked done and committed.
 */
export const ASKING_AGENT = [
  `f=$(printf '%s\\n' "$1" | sed -n 's/^Current ticket file: //p' | head -1)`,
  `d=$(printf '%s\\n' "$1" | sed -n 's/^DISPATCH.md path: //p' | head -1)`,
  'name=$(basename "$f" .md)',
  'if [ "$name" = TICKET-002 ]; then',
  '  case "$1" in',
  '    *"use port 8080"*) echo "port 8080" > port.txt ;;',
  `    *) printf -- '---\\nmode: pause\\ntitle: Which port?\\n---\\nWhich port should the server use?\\n' > "$d"; exit 0 ;;`,
  '  esac',
  'fi',
  'mkdir -p work && echo "$name" > "work/$name.txt"',
  `sed -i 's/^done: false$/done: true/' "$f"`,
  'git add -A && git commit -qm "work on $name"',
  '',
].join('\n');
