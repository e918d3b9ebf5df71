/**
 * The `.codex-autorunner/config.yml` that `car init` writes: only version and mode are set; the rest
 * are commented examples showing the built-in defaults. Kept free of zod so `car init` stays light.
 */
export function initialRepoConfigYaml(): string {
  return `# car configuration for this repo. Precedence, lowest first: built-in defaults < the hub's config
# (repos of a hub) < codex-autorunner.yml < codex-autorunner.override.yml < .codex-autorunner/config.yml (this file) <
# .codex-autorunner/repo.override.yml < environment (e.g. CAR__TICKET_FLOW__MAX_TOTAL_TURNS=80).
# \`car describe --json\` lists every key.
version: 2
mode: repo

# ticket_flow:
#   max_total_turns: 50          # turn budget for a run (null = 50)
#   approval_mode: yolo          # yolo | review
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
