// JSON Schema of ticket frontmatter for `car describe --json` and API clients. Parsing and lint do not
// use it (they follow CAR's rules by hand, with CAR's messages); this documents the same rules.
import * as z from 'zod';

const contextEntry = z.object({
  path: z.string().describe('repo-relative path: no leading "/", no "\\\\", no ".."'),
  max_bytes: z
    .int()
    .positive()
    .optional()
    .describe('bytes of the file to include (default 4096, at most 16384)'),
  required: z.boolean().optional().describe('true: the run fails when the file is missing'),
});

const dependency = z
  .union([z.string().min(1), z.int().nonnegative()])
  .describe('a ticket number (decimal digits), TICKET-<number>, a ticket file name or a ticket_id');

const frontmatter = z
  .looseObject({
    ticket_id: z
      .string()
      .regex(/^[A-Za-z0-9._-]{6,128}$/)
      .optional()
      .describe('stable id; car ticket new writes tkt_<32 hex>; absent: derived from the path'),
    agent: z
      .string()
      .min(1)
      .describe('agent id from config (codex, opencode, demo, ...) or "user" for a human step'),
    done: z.boolean().describe('the only completion signal; a YAML boolean (true/false, yes/no, on/off)'),
    title: z.string().optional(),
    goal: z.string().optional().describe('one-sentence intent'),
    model: z.string().optional().describe('per-ticket model override'),
    reasoning: z.string().optional().describe('per-ticket reasoning effort override'),
    profile: z.string().min(1).optional().describe('agent runtime profile'),
    context: z.array(contextEntry).optional().describe('files to include in the prompt'),
    depends_on: z
      .union([dependency, z.array(dependency)])
      .optional()
      .describe(
        'car only (CAR ignores it): tickets that must be done before this one runs. Each names a ticket by number (10 or TICKET-010), file name or ticket_id; a target that names no ticket and a cycle are lint errors. The run takes the first ticket by number whose depends_on tickets are all done; when every ticket left waits, it pauses (dependencies_blocked)',
      ),
  })
  .describe(
    'YAML frontmatter of .codex-autorunner/tickets/TICKET-<number>[suffix].md; unknown keys are kept',
  );

export function ticketFrontmatterJsonSchema(): Record<string, unknown> {
  return z.toJSONSchema(frontmatter) as Record<string, unknown>;
}
