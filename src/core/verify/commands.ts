// Which commands the gate runs for a ticket: the repo's `verify.commands`, then the ticket's own
// `verify:` (a string or a list of strings in the frontmatter; CAR ignores the key).

export interface PlannedCommand {
  command: string;
  source: 'config' | 'ticket';
}

/** The ticket's `verify:` value as commands, or an error message when it has the wrong shape. */
export function ticketVerifyCommands(value: unknown): { commands: string[]; error: string | null } {
  if (value === undefined || value === null) return { commands: [], error: null };
  if (typeof value === 'string') {
    return value.trim() ? { commands: [value.trim()], error: null } : { commands: [], error: null };
  }
  if (Array.isArray(value) && value.every((v) => typeof v === 'string')) {
    return { commands: value.map((v: string) => v.trim()).filter((v) => v !== ''), error: null };
  }
  return { commands: [], error: 'verify must be a string or a list of strings' };
}

/** Config commands first, then the ticket's; a command listed in both runs once. */
export function planCommands(configCommands: readonly string[], ticketValue: unknown): PlannedCommand[] {
  const seen = new Set<string>();
  const out: PlannedCommand[] = [];
  for (const command of configCommands) {
    if (seen.has(command)) continue;
    seen.add(command);
    out.push({ command, source: 'config' });
  }
  for (const command of ticketVerifyCommands(ticketValue).commands) {
    if (seen.has(command)) continue;
    seen.add(command);
    out.push({ command, source: 'ticket' });
  }
  return out;
}
