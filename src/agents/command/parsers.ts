// Parsers for the JSONL streams headless agent CLIs print, normalised to car's AgentEvents:
//   claude-stream-json  `claude -p … --output-format stream-json --verbose` (also Amp, Cursor CLI)
//   gemini-stream-json  `gemini -p … -o stream-json`
//   opencode-json       `opencode run --format json …`
//   codex-exec-json     `codex exec --json …`
//   text                any CLI: stdout is the answer
// (each JSON format's parser is in formats/)
import type { AgentEvent } from '../../core/agent.ts';
import type { ParsedOutcome, StreamParser } from './formats/base.ts';
import { claudeParser } from './formats/claude.ts';
import { codexExecParser } from './formats/codex-exec.ts';
import { geminiParser } from './formats/gemini.ts';
import { opencodeParser } from './formats/opencode.ts';

export type CommandFormat =
  | 'claude-stream-json'
  | 'gemini-stream-json'
  | 'opencode-json'
  | 'codex-exec-json'
  | 'text';

export const COMMAND_FORMATS: readonly CommandFormat[] = [
  'claude-stream-json',
  'gemini-stream-json',
  'opencode-json',
  'codex-exec-json',
  'text',
];

function textParser(): StreamParser {
  const lines: string[] = [];
  return {
    line(line) {
      lines.push(line);
      return [{ type: 'message_delta', text: `${line}\n` }];
    },
    finish() {
      const finalText = lines.join('\n').trim();
      return { outcome: { finalText }, events: finalText ? [{ type: 'message', text: finalText }] : [] };
    },
  };
}

export function createParser(format: CommandFormat): StreamParser {
  switch (format) {
    case 'claude-stream-json':
      return claudeParser();
    case 'gemini-stream-json':
      return geminiParser();
    case 'opencode-json':
      return opencodeParser();
    case 'codex-exec-json':
      return codexExecParser();
    case 'text':
      return textParser();
  }
}

/** Parses a whole recorded output (for tests and offline replays). */
export function parseAll(
  format: CommandFormat,
  output: string,
): { events: AgentEvent[]; outcome: ParsedOutcome } {
  const parser = createParser(format);
  const events: AgentEvent[] = [];
  const lines = output.split('\n');
  if (lines.at(-1) === '') lines.pop();
  for (const line of lines) events.push(...parser.line(line));
  const end = parser.finish();
  events.push(...end.events);
  return { events, outcome: end.outcome };
}
