// What a paused run's user ticket allows (POST /api/flow/finish-user-ticket, FlowControl.finishUserTicket):
// on `user_ticket`, mark it done and resume; on `commit_barrier` of a user ticket whose only uncommitted
// change is the ticket file itself, commit that edit and resume. Null when neither applies.
import type { Run } from './types.ts';

export interface UserTicketAction {
  ticket: string;
  label: string;
  title: string;
}

export function userTicketAction(run: Run | null): UserTicketAction | null {
  if (run?.status !== 'paused') return null;
  const details = run.reason_details ?? {};
  const ticket = typeof details.ticket === 'string' ? details.ticket : '';
  if (!ticket) return null;
  if (run.reason_code === 'user_ticket') {
    return {
      ticket,
      label: 'Mark done and resume',
      title: `marks ${ticket} done (car ticket done), commits that edit when it is the only change, and resumes`,
    };
  }
  const status = Array.isArray(details.status) ? details.status.map(String) : [];
  if (
    run.reason_code === 'commit_barrier' &&
    details.agent === 'user' &&
    status.length === 1 &&
    status[0]!.slice(3) === ticket
  ) {
    return {
      ticket,
      label: 'Commit the ticket and resume',
      title: `commits ${ticket} (its only change) and resumes`,
    };
  }
  return null;
}
