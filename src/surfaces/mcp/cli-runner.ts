// An MCP tool runs the very CLI command a person would (`car ticket new ... --json`), in this process, with
// its output captured: one implementation, the same checks and the same error messages and exit codes.
import { CommanderError } from 'commander';
import { diskErrorOf } from '../../core/fs/disk-error.ts';
import { CliError, EXIT } from '../cli/errors.ts';
import type { CliIo } from '../cli/io.ts';

/** Parses and runs one car command line (commander's `parseAsync` of a fresh program). */
export type CliRunner = (argv: string[], io: CliIo) => Promise<void>;

export interface CliOutcome {
  /** car's exit code for the command line. */
  code: number;
  stdout: string;
  /** What the CLI would print on stderr: `car: <message>` for a refusal, commander's usage errors. */
  stderr: string;
}

export async function runCaptured(
  run: CliRunner,
  argv: string[],
  base: { cwd: string; env: NodeJS.ProcessEnv },
): Promise<CliOutcome> {
  let stdout = '';
  let stderr = '';
  const io: CliIo = {
    cwd: base.cwd,
    env: base.env,
    stdout: (text) => {
      stdout += text;
    },
    stderr: (text) => {
      stderr += text;
    },
    isTTY: false,
  };
  let code: number = EXIT.ok;
  try {
    await run(argv, io);
  } catch (err) {
    if (err instanceof CommanderError) code = err.exitCode === 0 ? EXIT.ok : EXIT.usage;
    else if (err instanceof CliError) {
      if (err.message) stderr += `car: ${err.message}\n`;
      code = err.code;
    } else {
      const disk = diskErrorOf(err);
      if (!disk) throw err;
      stderr += `car: ${disk.message}\n`;
      code = EXIT.disk;
    }
  }
  return { code, stdout, stderr };
}
