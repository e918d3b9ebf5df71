// car's entry point. A `car run` may first start the agent the previous run here used (warm-start.ts);
// the rest of car loads after that, so the agent boots while car does.
import { realpathSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { warmStart } from '../../agents/warm-start.ts';

function invokedDirectly(): boolean {
  const entry = process.argv[1];
  if (!entry) return false;
  try {
    return realpathSync(entry) === realpathSync(fileURLToPath(import.meta.url));
  } catch {
    return false;
  }
}

if (invokedDirectly()) {
  const argv = process.argv.slice(2);
  warmStart(argv);
  const [{ runCli }, { processIo }] = await Promise.all([import('./run-cli.ts'), import('./io.ts')]);
  process.exitCode = await runCli(argv, processIo());
}
