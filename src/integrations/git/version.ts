import { runGitText } from './run-git.ts';

/** `git version 2.39.5`, or null when git is not installed. */
export async function gitVersion(): Promise<string | null> {
  try {
    return await runGitText(['--version'], { cwd: process.cwd(), readOnly: true });
  } catch {
    return null;
  }
}
