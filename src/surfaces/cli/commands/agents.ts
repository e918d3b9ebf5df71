// `car agents list|test`: the command definitions (eager, so `car describe` sees them); the work is in
// agents-run.ts, loaded when a subcommand runs.
import { type Command, InvalidArgumentError } from 'commander';
import type { GlobalOptions } from '../context.ts';
import type { CliIo } from '../io.ts';

function seconds(value: string): number {
  if (!/^\d+$/.test(value) || Number(value) < 1)
    throw new InvalidArgumentError('expected whole seconds (>= 1)');
  return Number(value);
}

export function addAgentsCommand(program: Command, io: CliIo): void {
  const global = (cmd: Command): GlobalOptions => cmd.optsWithGlobals() as GlobalOptions;
  const agents = program
    .command('agents')
    .description('the configured agents: what car runs for each, and a hello turn to try one');
  agents
    .command('list')
    .description('every configured agent: backend, command, on PATH or not, and which config layer set it')
    .option('--json', "machine-readable output (with each agent's capabilities)")
    .action(async (opts, cmd: Command) =>
      (await import('./agents-run.ts')).agentsList(io, global(cmd), opts),
    );
  agents
    .command('test')
    .description('work one hello ticket with the agent in a throw-away repo; one line says how it went')
    .argument('<id>', 'agent id (car agents list)')
    .option('--timeout <seconds>', 'give up after this long', seconds, 180)
    .option('--keep', 'keep the throw-away repo and print its path')
    .action(async (id: string, opts, cmd: Command) =>
      (await import('./agents-run.ts')).agentsTest(io, global(cmd), id, opts),
    );
}
