// A throw-away git repo with car initialized and a few tickets committed, in the system temp folder:
// where `car demo` and `car agents test` let an agent work without touching the person's repo.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { initRepo } from '../../core/init.ts';
import { repoPaths } from '../../core/paths.ts';
import { runGit } from '../../integrations/git/index.ts';

export async function makeScratchRepo(
  prefix: string,
  tickets: readonly { file: string; text: string }[],
  message: string,
): Promise<string> {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  try {
    await runGit(['init', '-q', '-b', 'main'], { cwd: dir });
    await runGit(['config', 'user.name', 'car'], { cwd: dir });
    await runGit(['config', 'user.email', 'car@car.invalid'], { cwd: dir });
    initRepo(dir);
    const { ticketsDir } = repoPaths(dir);
    for (const t of tickets) writeFileSync(join(ticketsDir, t.file), t.text);
    await runGit(['add', '-A'], { cwd: dir });
    await runGit(['commit', '-q', '-m', message], { cwd: dir });
    return dir;
  } catch (err) {
    rmSync(dir, { recursive: true, force: true });
    throw err;
  }
}
