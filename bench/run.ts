// Runs every bench/*.ts that exports main(), one after another. Run: npm run bench
import { readdirSync } from 'node:fs';
import { dirname } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));

export async function main(): Promise<void> {
  const files = readdirSync(here)
    .filter((f) => f.endsWith('.ts') && f !== 'run.ts' && !f.endsWith('.test.ts') && !f.endsWith('.d.ts'))
    .sort();
  let ran = 0;
  for (const file of files) {
    const mod = (await import(pathToFileURL(`${here}/${file}`).href)) as { main?: () => unknown };
    if (typeof mod.main !== 'function') continue;
    console.log(`\n== ${file}`);
    await mod.main();
    ran++;
  }
  if (ran === 0) throw new Error('no benchmark exports main()');
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) await main();
