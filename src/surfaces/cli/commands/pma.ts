// `car pma`: talk to the project manager agent from a terminal (`-m` for one message).
import { userInfo } from 'node:os';
import { createInterface } from 'node:readline';
import type { Pma, PmaAnswer } from '../../../control/pma.ts';
import { ConfigError } from '../../../core/config/index.ts';
import type { CliRunner } from '../../mcp/cli-runner.ts';
import { openPma, PmaSetupError } from '../../pma/open.ts';
import type { GlobalOptions } from '../context.ts';
import { CliError, EXIT } from '../errors.ts';
import { type CliIo, painter, printJson } from '../io.ts';
import { mcpScope, type ScopeFlags } from './mcp.ts';

interface PmaFlags extends ScopeFlags {
  message?: string;
  reset?: boolean;
  json?: boolean;
}

/** One conversation per terminal user. */
function conversation(io: CliIo): string {
  let user = io.env.USER ?? 'user';
  try {
    user = userInfo().username;
  } catch {
    // no passwd entry: the environment's name
  }
  return `terminal:${user}`;
}

async function openFor(io: CliIo, global: GlobalOptions, flags: PmaFlags, run: CliRunner): Promise<Pma> {
  const scope = await mcpScope(io, global, flags);
  try {
    return openPma({ scope, env: io.env, run });
  } catch (err) {
    if (err instanceof PmaSetupError || err instanceof ConfigError)
      throw new CliError(err.message, EXIT.invalidInput);
    throw err;
  }
}

async function askPrinting(io: CliIo, pma: Pma, key: string, text: string): Promise<PmaAnswer> {
  const paint = painter(io);
  let streamed = false;
  const answer = await pma.ask(key, text, {
    onDelta: (delta) => {
      streamed = true;
      io.stdout(delta);
    },
    onTool: (name) => io.stderr(`${paint('dim', `[${name}]`)}\n`),
  });
  if (answer.error !== null) io.stderr(`car: pma: ${answer.error}\n`);
  else if (!streamed) io.stdout(answer.text);
  if (streamed || answer.text) io.stdout('\n');
  return answer;
}

export async function pmaCommand(
  io: CliIo,
  global: GlobalOptions,
  flags: PmaFlags,
  run: CliRunner,
): Promise<void> {
  if (flags.message !== undefined && !flags.message.trim())
    throw new CliError('the message is empty', EXIT.usage);
  const pma = await openFor(io, global, flags, run);
  const key = conversation(io);
  try {
    if (flags.reset) await pma.reset(key);
    if (flags.message !== undefined) {
      if (flags.json) {
        const answer = await pma.ask(key, flags.message);
        printJson(io, {
          conversation: key,
          agent: pma.agentId,
          status: answer.status,
          text: answer.text,
          error: answer.error,
        });
        if (answer.error !== null) throw new CliError('', EXIT.failed);
        return;
      }
      const answer = await askPrinting(io, pma, key, flags.message);
      if (answer.error !== null) throw new CliError('', EXIT.failed);
      return;
    }
    io.stderr(`car pma (${pma.agentId}): type a message; /reset starts over, /exit or Ctrl-D ends\n`);
    // the line iterator keeps the lines typed (or piped) while an answer is being written
    const rl = createInterface({
      input: process.stdin,
      ...(io.isTTY ? { output: process.stderr, terminal: true } : { terminal: false }),
    });
    const prompt = () => io.stderr('you> ');
    try {
      prompt();
      for await (const line of rl) {
        const text = line.trim();
        if (text === '/exit') break;
        if (text === '/reset') {
          await pma.reset(key);
          io.stderr('conversation reset\n');
        } else if (text !== '') await askPrinting(io, pma, key, text);
        prompt();
      }
    } finally {
      rl.close();
    }
  } finally {
    await pma.close();
  }
}
