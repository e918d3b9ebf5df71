// What resuming a paused run grants again (the reason's `resumeResets`), so that its next step does not
// pause again at once: turns, working time, a token budget, the loop guard's count, commit attempts.
// Used by `car flow resume` (control) and by a run with lanes for the lane runs it resumes.
import type { JsonObject } from '../store/types.ts';
import { reasonInfo } from './reasons.ts';
import type { FlowSettings } from './settings.ts';
import type { EngineState } from './state.ts';

export function grantAgain(
  state: EngineState,
  paused: { reasonCode: string | null; reasonDetails: JsonObject | null },
  settings: Pick<FlowSettings, 'maxTotalTurns' | 'maxTokensPerTicket' | 'maxTokensPerRun'>,
  maxTotalTurns = settings.maxTotalTurns,
): void {
  switch (reasonInfo(paused.reasonCode)?.resumeResets) {
    case 'turn_limit':
      state.turnLimit = state.totalTurns + maxTotalTurns;
      break;
    case 'wallclock':
      state.activeMs = 0;
      break;
    case 'token_budget':
      // null when the budget was removed from the config meanwhile: no limit any more
      if (paused.reasonDetails?.scope === 'ticket' && state.ticket) {
        const per = settings.maxTokensPerTicket;
        state.ticket.tokenLimit = per === null ? null : (state.ticket.tokens ?? 0) + per;
      }
      if (paused.reasonDetails?.scope === 'run') {
        const per = settings.maxTokensPerRun;
        state.tokenLimit = per === null ? null : state.tokens + per;
      }
      break;
    case 'loop_guard':
      // a person looked at the loop (replied, changed the repo or forced): it counts afresh
      if (state.ticket) state.ticket.noChange = 0;
      break;
    case 'commit_attempts':
      if (state.ticket) state.ticket.commitAttempts = 0;
      break;
  }
  state.pauseContext = null;
}
