// `ticket_flow.lane_setup`: shell commands run in every worktree lanes make (each lane's, and the merge
// queue's scratch tree, where verify commands run again), before anything works in it: a fresh checkout
// lacks what is not committed (installed dependencies, generated files). `CAR_REPO_ROOT` names the repo,
// so a command can link or copy from it (`ln -s "$CAR_REPO_ROOT/node_modules" node_modules`).
import { commandPassed, describeExit, runVerifyCommand } from '../../verify/run-command.ts';
import type { FlowDeps } from '../flow-types.ts';

export class LaneSetupError extends Error {
  readonly output: string;

  constructor(command: string, output: string, how: string) {
    super(`ticket_flow.lane_setup: ${command}: ${how}`);
    this.name = 'LaneSetupError';
    this.output = output;
  }
}

export async function setupWorktree(deps: FlowDeps, dir: string): Promise<void> {
  const vs = deps.settings.verify;
  for (const command of deps.settings.laneSetup) {
    const result = await runVerifyCommand(command, {
      cwd: dir,
      timeoutMs: vs.timeoutMs,
      maxOutputBytes: vs.maxOutputBytes,
      env: { CAR_REPO_ROOT: deps.root, CAR_LANE_WORKTREE: dir },
      unsetEnv: vs.unsetEnv,
      ...(deps.signal ? { signal: deps.signal } : {}),
    });
    if (!commandPassed(result)) throw new LaneSetupError(command, result.output, describeExit(result));
  }
}
