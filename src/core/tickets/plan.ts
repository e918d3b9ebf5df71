// Bootstrap from a spec (`car flow bootstrap --from`, chat's `/flow bootstrap <text>`, the web app's
// "New plan"): the text becomes the contextspace spec, and a planning ticket after the queue asks the
// agent to split it into tickets and lint them. The run that works the planning ticket then works the
// tickets it wrote, as CAR's bootstrap ticket does with ISSUE.md.
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { writeFileAtomic } from '../fs/atomic.ts';
import type { RepoPaths } from '../paths.ts';
import { createTicket, TicketCreateError } from './create.ts';
import type { Ticket } from './types.ts';

/** A spec larger than this is refused: it goes into every prompt that reads the contextspace. */
export const MAX_SPEC_BYTES = 512 * 1024;

const SPEC_FILE = 'spec.md';

const PLAN_TICKET = {
  title: 'Plan tickets from the spec',
  goal: 'Split the spec into small tickets that lint',
  body: (specRel: string) => `
The request is in \`${specRel}\`. Turn it into a plan of tickets before any code is written.

- Read the spec and enough of the code base to know where each part of the work goes.
- Write one ticket per step into \`.codex-autorunner/tickets/\`, numbered after this one
  (\`car ticket new "<title>" --goal "<goal>"\` picks the next number), each with a clear goal,
  acceptance criteria and tests. Where one step needs another first, say so with \`depends_on\`
  (\`--depends-on <number>\`).
- Run \`car ticket lint\` and fix what it reports until it passes.
- Where the spec leaves a decision open that changes the plan, write \`DISPATCH.md\` with
  \`mode: pause\` and ask; otherwise note the assumption in \`.codex-autorunner/contextspace/decisions.md\`.
- Mark this ticket done (\`done: true\`) once the tickets exist and lint.
`,
} as const;

export interface SeededPlan {
  specFile: string;
  ticket: Ticket;
}

/**
 * Writes `spec` to the contextspace's spec.md and creates the planning ticket for `agent`. Refuses
 * (TicketCreateError, nothing written) an empty or oversized spec, and a spec.md that already says
 * something else unless `replace`.
 */
export function seedPlan(
  paths: Pick<RepoPaths, 'root' | 'ticketsDir' | 'runsDir' | 'contextspaceDir'>,
  agents: ReadonlySet<string>,
  agent: string,
  spec: string,
  opts: { replace?: boolean } = {},
): SeededPlan {
  if (!spec.trim()) throw new TicketCreateError('pack_invalid', 'the spec is empty', 'spec');
  if (Buffer.byteLength(spec) > MAX_SPEC_BYTES)
    throw new TicketCreateError('too_large', `the spec is over ${MAX_SPEC_BYTES} bytes`, 'spec');
  const specFile = join(paths.contextspaceDir, SPEC_FILE);
  const specRel = `.codex-autorunner/contextspace/${SPEC_FILE}`;
  const current = existsSync(specFile) ? readFileSync(specFile, 'utf8') : '';
  const text = spec.endsWith('\n') ? spec : `${spec}\n`;
  if (current.trim() && current !== text && !opts.replace)
    throw new TicketCreateError('spec_exists', `${specRel} already holds a different spec`, 'spec');
  // the ticket first: an unknown agent writes nothing
  const ticket = createTicket(paths, agents, {
    agent,
    ...PLAN_TICKET,
    body: PLAN_TICKET.body(specRel),
    slug: 'plan',
  });
  mkdirSync(paths.contextspaceDir, { recursive: true });
  if (current !== text) writeFileAtomic(specFile, text);
  return { specFile, ticket };
}
