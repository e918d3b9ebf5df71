import { styleText } from 'node:util';

/** Everything a command touches of its process, injected so tests run the CLI in-process. */
export interface CliIo {
  cwd: string;
  env: NodeJS.ProcessEnv;
  stdout: (text: string) => void;
  stderr: (text: string) => void;
  /** stdout is a terminal: colour and live progress are allowed. */
  isTTY: boolean;
  /**
   * Ends the process; only the real process has it (in-process tests do not). A run in the foreground
   * uses it to end with a recorded failure instead of silently (control/run-guard.ts).
   */
  exit?: (code: number) => void;
}

export function processIo(): CliIo {
  // `car ... | head` closes the pipe early: that is a normal end, not a crash
  process.stdout.on('error', (err: NodeJS.ErrnoException) => {
    if (err.code === 'EPIPE') process.exit(0);
    throw err;
  });
  return {
    cwd: process.cwd(),
    env: process.env,
    stdout: (text) => process.stdout.write(text),
    stderr: (text) => process.stderr.write(text),
    isTTY: Boolean(process.stdout.isTTY),
    exit: (code) => process.exit(code),
  };
}

type Style = Parameters<typeof styleText>[0];

/** Colours only on a terminal and never with NO_COLOR, so piped output and agents get plain text. */
export function painter(io: CliIo): (style: Style, text: string) => string {
  const enabled = io.isTTY && io.env.NO_COLOR === undefined && io.env.TERM !== 'dumb';
  return (style, text) => (enabled ? styleText(style, text) : text);
}

export function printJson(io: CliIo, value: unknown): void {
  io.stdout(`${JSON.stringify(value, null, 2)}\n`);
}

/** Left-aligned columns; the last column is not padded. */
export function formatTable(rows: string[][]): string {
  const widths: number[] = [];
  for (const row of rows) {
    for (const [i, cell] of row.entries()) widths[i] = Math.max(widths[i] ?? 0, cell.length);
  }
  return rows
    .map((row) =>
      row.map((cell, i) => (i === row.length - 1 ? cell : cell.padEnd(widths[i] ?? 0))).join('  '),
    )
    .join('\n');
}
