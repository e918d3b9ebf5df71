import { CommanderError } from 'commander';
import { diskErrorOf } from '../../core/fs/disk-error.ts';
import { carArgv } from './car-aliases.ts';
import { CliError, EXIT } from './errors.ts';
import type { CliIo } from './io.ts';
import { buildProgram } from './program.ts';

/** Runs one CLI invocation and returns its exit code; never calls process.exit, so tests call it directly. */
export async function runCli(argv: readonly string[], io: CliIo): Promise<number> {
  const program = buildProgram(io);
  try {
    // CAR's command names and flags become the car command they map to (car-aliases.ts)
    const args = await carArgv(program, argv, async (id, hub) =>
      (await import('./commands/hub.ts')).hubRepoDir(io, id, hub),
    );
    await program.parseAsync(args, { from: 'user' });
    return EXIT.ok;
  } catch (err) {
    if (err instanceof CommanderError) {
      // help and --version exit 0; every other commander error is a usage error
      return err.exitCode === 0 ? EXIT.ok : EXIT.usage;
    }
    if (err instanceof CliError) {
      // an empty message means the command already printed its own report
      if (err.message) io.stderr(`car: ${err.message}\n`);
      return err.code;
    }
    // an expected condition, not a bug: one line naming the file, no stack
    const disk = diskErrorOf(err);
    if (disk) {
      io.stderr(`car: ${disk.message}\n`);
      return EXIT.disk;
    }
    io.stderr(`car: internal error: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    return EXIT.failed;
  }
}
