// Tamper checks on the agent's diff for one ticket (from the HEAD when the ticket was selected to the
// working tree now). They look for the cheap ways to make acceptance commands pass without doing the
// work: deleting or skipping tests, weakening assertions, editing the verify commands or CI, and
// closing or rewriting other tickets. Heuristics over diff lines, deliberately simple and explainable:
// every finding names its file and says what was seen.
import { isDeepStrictEqual } from 'node:util';
import type { TamperKind } from '../config/schema.ts';
import type { FileChange } from '../flow/ports.ts';
import { parseYaml } from '../tickets/index.ts';

export interface TamperFinding {
  kind: TamperKind;
  /** Repo-relative path. */
  file: string;
  detail: string;
}

export interface TamperInput {
  files: readonly FileChange[];
  /** Repo-relative path of the ticket being verified (its own frontmatter is checked separately). */
  ticketPath: string;
  /** Tickets verified together with it (lanes merged at once): their edits are theirs too. */
  alsoOwn?: readonly string[];
  /** Repo-relative tickets folder, e.g. `.codex-autorunner/tickets`. */
  ticketsDir: string;
  /** The commands the gate runs; scripts they name are watched. */
  verifyCommands: readonly string[];
  /** A file's text at the base commit (null when absent or unknown). */
  oldText(path: string): Promise<string | null>;
  /** A file's text in the working tree now (null when absent). */
  newText(path: string): Promise<string | null>;
}

const CODE_EXT =
  /\.(?:[cm]?[jt]sx?|py|rb|go|rs|java|kt|kts|scala|cs|php|swift|ex|exs|erl|clj|c|cc|cpp|h|hpp|m|dart|lua|sh|bash)$/i;
const TEST_NAME =
  /(?:\.(?:test|spec)\.[cm]?[jt]sx?$|(?:^|\/)test_[^/]*\.py$|_test\.(?:py|go|exs?)$|_spec\.rb$|(?:^|\/)[^/]*Tests?\.(?:java|kt|cs|swift|scala)$)/i;
const TEST_DIR = /(?:^|\/)(?:__tests__|tests?|specs?|e2e|integration-tests)\//i;
const FIXTURE_DIR = /(?:^|\/)(?:__fixtures__|fixtures|__snapshots__|testdata|__mocks__)\//i;

/** A file that holds tests: by name (`*.test.ts`, `test_*.py`, `*_test.go`, …) or a code file in a test folder. */
export function isTestFile(path: string): boolean {
  if (FIXTURE_DIR.test(path)) return false;
  if (TEST_NAME.test(path)) return true;
  return TEST_DIR.test(path) && CODE_EXT.test(path);
}

const TEST_CASE = [
  /^\s*(?:it|test|describe|context|suite|specify|scenario)(?:\.\w+)*\s*\(/,
  /\b(?:t|s|suite)\.test\s*\(/,
  /^\s*(?:async\s+)?def\s+test\w*\s*\(/,
  /^\s*func\s+Test\w*\s*\(/,
  /^\s*#\[(?:\w+::)*test\]/,
  /^\s*@(?:Test|ParameterizedTest)\b/,
  /^\s*(?:it|test|specify)\s+["']/,
];

// Anything that turns a test off or narrows a run to some tests. Test files: all of them.
const SKIP_IN_TESTS = [
  /\b(?:it|test|describe|context|suite|t|this|s)\.skip(?:If)?\s*\(/,
  /\b(?:it|test|describe|context|suite)\.only\s*\(/,
  /\bx(?:it|test|describe|context|specify)\s*\(/,
  /\b(?:skip|todo)\s*:\s*(?:true|['"`])/,
  /\bt\.Skip(?:Now|f)?\s*\(/,
  /\bpytest\.skip\s*\(/,
  /\bself\.skipTest\s*\(/,
];
// Markers that only mean "skip this test" wherever they appear (Rust tests live next to the code).
const SKIP_ANYWHERE = [
  /@pytest\.mark\.(?:skip|skipif|xfail)\b/,
  /@unittest\.(?:skip|skipIf|skipUnless|expectedFailure)\b/,
  /#\[ignore\b/,
  /^\s*@(?:Disabled|Ignore)\b/,
];

const IMPORT_LINE = /^\s*(?:import\b|from\s+\S+\s+import\b|(?:const|let|var)\s+.*=\s*require\s*\()/;
const ASSERTION =
  /\bassert|\bexpect\s*[(.]|\.should\b|\bt\.(?:is|ok|equal|deepEqual|notEqual|not\w*|true|false|throws|same|match|fail|error)\s*\(|\brequire\.\w+\s*\(/i;

const CI_PATH =
  /^(?:\.github\/workflows\/|\.ci\/|\.circleci\/|\.buildkite\/|\.gitlab-ci\.ya?ml$|\.travis\.ya?ml$|Jenkinsfile$|azure-pipelines\.ya?ml$|bitbucket-pipelines\.ya?ml$|\.woodpecker)/;

/** car's config layer files (repo-relative), where `verify:` may be set. */
export const CONFIG_FILES = [
  'codex-autorunner.yml',
  'codex-autorunner.override.yml',
  '.codex-autorunner/config.yml',
  '.codex-autorunner/repo.override.yml',
];

/** The `+` and `-` lines of a unified diff's hunks (headers left out). */
export function patchLines(patch: string): { added: string[]; removed: string[] } {
  const added: string[] = [];
  const removed: string[] = [];
  let inHunk = false;
  for (const line of patch.split('\n')) {
    if (line.startsWith('@@')) inHunk = true;
    else if (line.startsWith('diff --git ')) inHunk = false;
    else if (!inHunk) continue;
    else if (line.startsWith('+')) added.push(line.slice(1));
    else if (line.startsWith('-')) removed.push(line.slice(1));
  }
  return { added, removed };
}

function count(lines: readonly string[], patterns: readonly RegExp[]): number {
  return lines.filter((l) => patterns.some((p) => p.test(l))).length;
}

export function countTestCases(lines: readonly string[]): number {
  return count(lines, TEST_CASE);
}

export function countAssertions(lines: readonly string[]): number {
  return lines.filter((l) => !IMPORT_LINE.test(l) && ASSERTION.test(l)).length;
}

function skipPatterns(path: string): readonly RegExp[] {
  return isTestFile(path) ? [...SKIP_IN_TESTS, ...SKIP_ANYWHERE] : CODE_EXT.test(path) ? SKIP_ANYWHERE : [];
}

/** Added skip/only markers, net of removed ones (moving a skipped test is not adding a skip). */
export function addedSkips(path: string, added: readonly string[], removed: readonly string[]): string[] {
  const patterns = skipPatterns(path);
  if (patterns.length === 0) return [];
  const hits = added.filter((l) => patterns.some((p) => p.test(l)));
  const gone = count(removed, patterns);
  return hits.slice(Math.min(gone, hits.length));
}

function clip(text: string, max = 160): string {
  const t = text.trim();
  return t.length > max ? `${t.slice(0, max - 1)}…` : t;
}

/** The frontmatter block of a ticket's text (between the fences), or null when it has none. */
function frontmatterText(text: string): string | null {
  const match = /^\uFEFF?---[ \t]*\r?\n((?:[^\r\n]*\r?\n)*?)(?:---|\.\.\.)[ \t]*(?:\r?\n|$)/.exec(text);
  return match ? (match[1] ?? '') : null;
}

function yamlValue(text: string): unknown {
  const { value, errors } = parseYaml(text);
  return errors.length > 0 ? { unparseable: text } : value;
}

function frontmatterKeysChanged(before: string, after: string): string[] {
  const a = yamlValue(before);
  const b = yamlValue(after);
  if (typeof a !== 'object' || a === null || typeof b !== 'object' || b === null) return ['(frontmatter)'];
  const ra = a as Record<string, unknown>;
  const rb = b as Record<string, unknown>;
  const keys = new Set([...Object.keys(ra), ...Object.keys(rb)]);
  return [...keys].filter((k) => !isDeepStrictEqual(ra[k], rb[k])).sort();
}

/** `npm test`, `npm run x`, `pnpm x`, `yarn x`, `bun run x` → the package.json scripts they run. */
export function scriptsNamed(commands: readonly string[]): string[] {
  const names = new Set<string>(['test']);
  for (const command of commands) {
    for (const m of command.matchAll(/\b(?:npm|pnpm|yarn|bun)\s+(?:run(?:-script)?\s+)?([\w:.-]+)/g)) {
      const name = m[1] ?? '';
      if (!['install', 'ci', 'exec', 'x', 'dlx', 'add', 'i'].includes(name)) names.add(name);
    }
  }
  return [...names].sort();
}

function scriptsOf(text: string | null): Record<string, unknown> | null {
  if (text === null) return {};
  try {
    const json = JSON.parse(text) as { scripts?: unknown };
    return typeof json.scripts === 'object' && json.scripts !== null
      ? (json.scripts as Record<string, unknown>)
      : {};
  } catch {
    return null;
  }
}

const SCRIPT_EXT = /\.(?:[cm]?[jt]sx?|py|sh|bash|zsh|rb|pl|php|ps1)$/i;

/** Scripts a verify command runs (`node scripts/check.js`, `./ci.sh`); data files it reads do not count. */
function commandScripts(commands: readonly string[]): string[] {
  const paths = new Set<string>();
  for (const command of commands) {
    for (const token of command.split(/[\s;&|()<>]+/)) {
      const raw = token.replace(/^['"]|['"]$/g, '');
      const t = raw.replace(/^\.\//, '');
      if (t && !t.startsWith('-') && (SCRIPT_EXT.test(t) || (raw.startsWith('./') && t.length > 0)))
        paths.add(t);
    }
  }
  return [...paths];
}

function touches(file: string, watched: string): boolean {
  return file === watched || file.startsWith(`${watched}/`);
}

function isTicketFile(path: string, ticketsDir: string): boolean {
  const prefix = `${ticketsDir.replace(/\/$/, '')}/`;
  if (!path.startsWith(prefix)) return false;
  return /^TICKET-\d{3,}[^/]*\.md$/i.test(path.slice(prefix.length));
}

/** Runs every check over the diff; findings come in file order. */
export async function findTampering(input: TamperInput): Promise<TamperFinding[]> {
  const findings: TamperFinding[] = [];
  const add = (kind: TamperKind, file: string, detail: string): void => {
    findings.push({ kind, file, detail });
  };
  const scripts = commandScripts(input.verifyCommands);
  const watchedScripts = scriptsNamed(input.verifyCommands);

  for (const f of input.files) {
    const { added, removed } = patchLines(f.patch);
    const before = f.oldPath ?? f.path;

    // other tickets: new follow-up tickets are welcome; closing, rewriting or removing others is not
    if (
      isTicketFile(before, input.ticketsDir) &&
      before !== input.ticketPath &&
      !input.alsoOwn?.includes(before)
    ) {
      if (f.status === 'deleted') add('other_ticket_edit', before, 'ticket file deleted');
      else if (f.status === 'renamed') add('other_ticket_edit', before, `ticket file renamed to ${f.path}`);
      else if (f.status !== 'added') {
        const [oldText, newText] = await Promise.all([input.oldText(before), input.newText(f.path)]);
        const a = oldText === null ? null : frontmatterText(oldText);
        const b = newText === null ? null : frontmatterText(newText);
        if (a !== b) {
          const keys = a !== null && b !== null ? frontmatterKeysChanged(a, b) : ['(frontmatter)'];
          add('other_ticket_edit', f.path, `frontmatter changed: ${keys.join(', ') || '(formatting)'}`);
        }
      }
    }

    // tests
    if (isTestFile(before)) {
      if (f.status === 'deleted') add('test_deleted', before, 'test file deleted');
      else if (f.status === 'renamed' && !isTestFile(f.path))
        add('test_deleted', before, `test file renamed to ${f.path}, which no test runner picks up`);
      else if (!f.binary) {
        const lost = countTestCases(removed) - countTestCases(added);
        if (lost > 0) add('test_deleted', f.path, `${lost} test case(s) removed`);
        const removedAsserts = countAssertions(removed);
        const addedAsserts = countAssertions(added);
        if (removedAsserts > addedAsserts)
          add(
            'assertion_weakened',
            f.path,
            `${removedAsserts} assertion line(s) removed, ${addedAsserts} added`,
          );
      }
    }
    if (f.status !== 'deleted' && !f.binary) {
      const skips = addedSkips(f.path, added, removed);
      if (skips.length > 0)
        add('test_skipped', f.path, `${skips.length} skip/only marker(s) added: ${clip(skips[0] ?? '')}`);
    }

    // CI and the scripts the verify commands run
    for (const p of new Set([before, f.path])) {
      if (CI_PATH.test(p)) add('ci_edit', p, `CI config ${f.status === 'modified' ? 'changed' : f.status}`);
    }
    if (f.path === 'package.json' || f.path.endsWith('/package.json')) {
      const [a, b] = [scriptsOf(await input.oldText(before)), scriptsOf(await input.newText(f.path))];
      if (a === null || b === null) add('ci_edit', f.path, 'package.json does not parse as JSON');
      else {
        const changed = watchedScripts.filter((s) => !isDeepStrictEqual(a[s], b[s]));
        if (changed.length > 0)
          add('ci_edit', f.path, `scripts changed: ${changed.map((s) => `scripts.${s}`).join(', ')}`);
      }
    }
    const script = scripts.find((s) => touches(f.path, s) || touches(before, s));
    if (script && !isTestFile(f.path))
      add('verify_script_edit', f.path, `a verify command runs it (${clip(script, 80)})`);

    // config `verify:` (the repo-level acceptance commands and policy)
    if (CONFIG_FILES.includes(before) || CONFIG_FILES.includes(f.path)) {
      const [a, b] = await Promise.all([input.oldText(before), input.newText(f.path)]);
      const verifyOf = (text: string | null): unknown => {
        if (text === null) return undefined;
        const value = yamlValue(text);
        return typeof value === 'object' && value !== null && !Array.isArray(value)
          ? (value as Record<string, unknown>).verify
          : value;
      };
      if (!isDeepStrictEqual(verifyOf(a), verifyOf(b)))
        add('verify_edit', f.path, 'config `verify:` changed');
    }
  }
  return findings;
}

/** The ticket's own `verify:` compared with its value when the ticket was selected. */
export function ticketVerifyFinding(ticketPath: string, before: unknown, now: unknown): TamperFinding | null {
  if (isDeepStrictEqual(before ?? null, now ?? null)) return null;
  return {
    kind: 'verify_edit',
    file: ticketPath,
    detail: `ticket \`verify:\` changed from ${JSON.stringify(before ?? null)} to ${JSON.stringify(now ?? null)}`,
  };
}
