// What the surfaces use from the git adapter.

export { createLaneGit, createLanePorts } from './lanes.ts';
export { createRepoState, gitTopLevel, isGitRepo } from './repo-state.ts';
export { GitError, runGit, runGitText } from './run-git.ts';
export { gitVersion } from './version.ts';
