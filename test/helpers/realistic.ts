// Real files at the large end of what people and CAR write, for tests that the input limits
// (core/input-limits.ts) never refuse them.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

/** Frontmatter as a careful person writes a big one: a long goal, a dozen context files, verify. */
export const RICH_FRONTMATTER = [
  'title: Implement the payment reconciliation job and its admin screen',
  'goal: |',
  '  Build the nightly reconciliation job that matches provider payouts with our ledger entries,',
  '  flags mismatches, and exposes them in the admin screen with filters and CSV export.',
  'model: gpt-5.1-codex',
  'reasoning: high',
  'context:',
  ...Array.from(
    { length: 12 },
    (_, i) => `  - path: docs/part-${i}.md\n    max_bytes: 20000\n    required: ${i < 2}`,
  ),
  'verify:',
  '  - npm run typecheck',
  '  - npm test -- payments',
  '',
].join('\n');

/** CAR 2.2.3's root `codex-autorunner.yml`: every documented key with its comments (539 lines). */
export function carDefaultConfig(): string {
  return readFileSync(join(import.meta.dirname, '..', 'fixtures', 'car', 'codex-autorunner.yml'), 'utf8');
}
