// Differential test: car's ticket, DISPATCH.md and USER_REPLY.md readers against CAR's rules
// (car_rules.py, which restates CAR 2.2.3's code and uses PyYAML's safe_load, as CAR does) on ~2,200
// generated files. Every verdict (valid or not, and why) and every value must agree, except for the
// differences README's "Differences from CAR" lists; each of those is accepted below only in the shape
// the README gives.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, unlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { isDeepStrictEqual } from 'node:util';
import {
  type Dispatch,
  DispatchFrontmatterError,
  normalizeBody,
  readDispatchFile,
} from '../../src/core/flow/dispatch.ts';
import { parseReply, readReplyFile } from '../../src/core/flow/replies.ts';
import { loadTicketQueue } from '../../src/core/tickets/queue.ts';
import type { Ticket } from '../../src/core/tickets/types.ts';
import { type GeneratedCase, generateCases } from './generate.ts';

/** Fixed for CI; CAR_DIFF_SEED=n explores other files locally. */
const SEED = Number(process.env.CAR_DIFF_SEED) || 20_260_814;
const TICKETS = 1200;
const DISPATCHES = 500;
const REPLIES = 500;
/** CAR's built-in agents; car is given them plus `user`, as knownAgentIds does. */
const CAR_AGENTS = ['codex', 'opencode', 'hermes', 'omp'];
const ORACLE = join(import.meta.dirname, 'car_rules.py');

const tmp = mkdtempSync(join(tmpdir(), 'car-differential-'));
after(() => rmSync(tmp, { recursive: true, force: true }));

interface OracleTicket {
  classes: string[];
  notes: string[];
  index?: number;
  fields: Record<string, unknown> | null;
}
interface OracleReply {
  classes: string[];
  notes: string[];
  title?: string | null;
  body?: string;
  extra?: Record<string, unknown>;
}
interface OracleDispatch {
  classes: string[];
  notes: string[];
  mode?: string;
  title?: string | null;
  body?: string;
  extra?: Record<string, unknown>;
}

function askOracle(cases: GeneratedCase[]): Array<OracleTicket | OracleDispatch> {
  const request = {
    agents: CAR_AGENTS,
    cases: cases.map((c) => ({ kind: c.kind, name: c.name, b64: c.bytes.toString('base64') })),
  };
  const run = spawnSync('python3', [ORACLE], {
    input: JSON.stringify(request),
    encoding: 'utf8',
    maxBuffer: 256 * 1024 * 1024,
  });
  if (run.error || run.status !== 0) {
    throw new Error(
      `the oracle needs python3 with PyYAML (Debian: apt install python3-yaml): ${run.error?.message ?? run.stderr}`,
    );
  }
  return JSON.parse(run.stdout);
}

/** car's value in the oracle's JSON form (see car_rules.py `encode`). */
function encode(value: unknown): unknown {
  if (typeof value === 'number' && !Number.isFinite(value)) {
    return { $float: Number.isNaN(value) ? 'nan' : value > 0 ? 'inf' : '-inf' };
  }
  if (value instanceof Uint8Array) return { $bytes: Buffer.from(value).toString('base64') };
  if (value instanceof Set) return { $set: sortedSet([...value].map(encode)) };
  if (value instanceof Map) return { $map: [...value].map(([k, v]) => [encode(k), encode(v)]) };
  if (Array.isArray(value)) return value.map(encode);
  if (value && typeof value === 'object') {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, encode(v)]));
  }
  return value;
}

/**
 * The oracle's value as car can hold it. Deliberate differences (README): a timestamp is kept as its
 * text, and a mapping key that is not a string becomes one, as the `yaml` package writes it.
 */
function asCar(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(asCar);
  if (!value || typeof value !== 'object') return value;
  const v = value as Record<string, unknown>;
  if (typeof v.$timestamp === 'string') return v.$timestamp;
  if (Array.isArray(v.$map)) {
    return Object.fromEntries((v.$map as Array<[unknown, unknown]>).map(([k, x]) => [keyText(k), asCar(x)]));
  }
  if (Array.isArray(v.$set)) return { $set: sortedSet(v.$set.map(asCar)) };
  if ('$float' in v || '$bytes' in v) return v;
  return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, asCar(x)]));
}

/** A set's members in a fixed order (Python's follows hashes). */
function sortedSet(members: unknown[]): unknown[] {
  return members
    .map((m) => [JSON.stringify(m), m] as const)
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
    .map(([, m]) => m);
}

function keyText(key: unknown): string {
  if (key === null) return '';
  if (typeof key === 'object' && key !== null && '$timestamp' in key) return String(key.$timestamp);
  if (typeof key === 'object' && key !== null && '$float' in key) {
    return { nan: 'NaN', inf: 'Infinity', '-inf': '-Infinity' }[String(key.$float)] ?? '';
  }
  return String(key);
}

/** car's issue codes grouped as the oracle's error classes. */
function ticketClass(code: string): string {
  if (code === 'filename-invalid') return 'filename';
  if (code === 'read-failed') return 'read';
  if (code === 'bom') return 'frontmatter-missing';
  if (code === 'ticket-id-invalid') return 'ticket-id';
  if (code === 'agent-missing' || code === 'agent-empty') return 'agent';
  if (code === 'done-missing' || code === 'done-not-bool') return 'done';
  if (code === 'profile-empty') return 'profile';
  if (code.startsWith('context-')) return 'context';
  if (code.startsWith('limit-')) return 'limit';
  return code;
}

const ticketsDir = join(tmp, '.codex-autorunner', 'tickets');
mkdirSync(ticketsDir, { recursive: true });

/** Reads the case as car reads a tickets folder holding just that file. */
function carTicket(c: GeneratedCase): { classes: string[]; ticket: Ticket | null } {
  const file = join(ticketsDir, c.name);
  writeFileSync(file, c.bytes);
  const queue = loadTicketQueue(ticketsDir, { repoRoot: tmp, agents: new Set([...CAR_AGENTS, 'user']) });
  unlinkSync(file);
  const ticket = queue.tickets[0] ?? null;
  // `depends_on` is car's key (issue 16): car checks its targets, CAR keeps it as an unknown key (README)
  const issues = [...queue.issues, ...(ticket?.issues ?? [])].filter(
    (x) => x.severity === 'error' && !x.code.startsWith('depends-on-'),
  );
  return { classes: [...new Set(issues.map((x) => ticketClass(x.code)))].sort(), ticket };
}

function carFields(t: Ticket): Record<string, unknown> {
  return {
    ticket_id: t.ticketId,
    agent: t.agent,
    done: t.done,
    title: t.title,
    goal: t.goal,
    model: t.model,
    reasoning: t.reasoning,
    profile: t.profile,
    context: t.context.map((e) => ({ path: e.path, max_bytes: e.maxBytes, required: e.required })),
    extra: encode(t.extra),
  };
}

/** Why a ticket case differs, or null when car agrees with CAR. */
function compareTicket(c: GeneratedCase, want: OracleTicket): string | null {
  const { classes, ticket } = carTicket(c);
  const expected =
    // CAR raises on a date PyYAML cannot construct (ValueError escapes its YAMLError handler).
    want.classes[0] === 'yaml-crash' ? ['yaml-invalid'] : want.classes;
  // CAR stops at a file it cannot decode; car goes on to lint what it could read.
  if (expected[0] === 'read') return classes.includes('read') ? null : `classes ${json(classes)} != ["read"]`;
  if (!isDeepStrictEqual(classes, expected)) return `classes ${json(classes)} != ${json(expected)}`;
  if (classes.length > 0) return null;
  if (ticket?.index !== want.index) return `index ${ticket?.index} != ${want.index}`;
  const ours = carFields(ticket!);
  const theirs = asCar(want.fields) as Record<string, unknown>;
  // car keeps a profile's case (an ACP mode id is case-sensitive); CAR lowercases it but for `user`.
  if (typeof ours.profile === 'string' && theirs.agent !== 'user') ours.profile = ours.profile.toLowerCase();
  for (const key of Object.keys(theirs)) {
    if (!isDeepStrictEqual(ours[key], theirs[key]))
      return `${key}: ${json(ours[key])} != ${json(theirs[key])}`;
  }
  return null;
}

/** car's DISPATCH.md errors grouped as classes. */
function dispatchClass(message: string): string {
  if (/UTF-8/.test(message)) return 'read';
  if (/never closed/.test(message)) return 'frontmatter-unclosed';
  if (/does not parse/.test(message)) return 'yaml-invalid';
  if (/must be a YAML mapping/.test(message)) return 'frontmatter-not-mapping';
  if (/^mode must be/.test(message)) return 'mode';
  if (/option/.test(message)) return 'options';
  return message;
}

function carDispatch(c: GeneratedCase, i: number): Dispatch | string[] {
  const file = join(tmp, `d${i}.md`);
  writeFileSync(file, c.bytes);
  try {
    return readDispatchFile(file)!;
  } catch (err) {
    if (!(err instanceof DispatchFrontmatterError)) throw err;
    return [...new Set(err.errors.map(dispatchClass))].sort();
  }
}

/**
 * Why a dispatch case differs, or null when car agrees with CAR. `plain` is the oracle's verdict on
 * the same bytes without a leading BOM (car skips the mark, CAR keeps it and sees no frontmatter).
 */
function compareDispatch(
  c: GeneratedCase,
  i: number,
  oracle: OracleDispatch,
  plain: OracleDispatch,
): string | null {
  const want = oracle.notes.includes('bom') ? plain : oracle;
  const ours = carDispatch(c, i);
  if (Array.isArray(ours)) {
    // CAR stops at the first failing rule, car reports every one.
    if (want.classes.length > 0) {
      return want.classes.every((cls) => ours.includes(cls))
        ? null
        : `classes ${json(ours)} != ${json(want.classes)}`;
    }
    // car refuses, on purpose, what CAR reads as a plain notify: each refusal needs its reason.
    const justified: Record<string, boolean> = {
      'frontmatter-unclosed': want.notes.includes('frontmatter-unclosed'),
      'yaml-invalid': want.notes.includes('yaml-invalid') || want.notes.includes('yaml-crash'),
      'frontmatter-not-mapping': want.notes.includes('frontmatter-not-mapping'),
      mode: want.notes.includes('mode-not-string'),
      options: 'options' in ((asCar(want.extra) as Record<string, unknown> | undefined) ?? {}),
    };
    const unjustified = ours.filter((cls) => !justified[cls]);
    return unjustified.length === 0 ? null : `car refuses (${json(unjustified)}), CAR reads a ${want.mode}`;
  }
  if (want.classes.length > 0) return `car reads a ${ours.mode}, CAR refuses (${json(want.classes)})`;
  if (ours.mode !== want.mode) return `mode ${ours.mode} != ${want.mode}`;
  if (ours.title !== want.title) return `title ${json(ours.title)} != ${json(want.title)}`;
  // car stores the body without leading blank lines and trailing whitespace.
  if (ours.body !== normalizeBody(want.body!)) return `body ${json(ours.body)} != ${json(want.body)}`;
  // `options` is car's own key (ready answers); CAR keeps it with the other extra keys.
  const { options, ...extra } = asCar(want.extra) as Record<string, unknown>;
  if (!isDeepStrictEqual(encode(ours.extra), extra))
    return `extra ${json(encode(ours.extra))} != ${json(extra)}`;
  const wantOptions = Array.isArray(options) ? options.map((o) => String(o).trim()) : [];
  if (!isDeepStrictEqual(ours.options, wantOptions))
    return `options ${json(ours.options)} != ${json(wantOptions)}`;
  return null;
}

/**
 * Why a USER_REPLY.md case differs, or null when car agrees with CAR. `plain`: the oracle's verdict
 * without a leading BOM (car skips the mark, as for DISPATCH.md).
 */
function compareReply(c: GeneratedCase, i: number, oracle: OracleReply, plain: OracleReply): string | null {
  const want = oracle.notes.includes('bom') ? plain : oracle;
  const file = join(tmp, `r${i}.md`);
  writeFileSync(file, c.bytes);
  const read = readReplyFile(file);
  if (want.classes[0] === 'read') {
    return 'error' in read && /not valid UTF-8/.test(read.error)
      ? null
      : 'car reads a file CAR cannot decode';
  }
  if ('error' in read) return `car does not read it: ${read.error}`;
  const ours = parseReply(read.text);
  // car keeps frontmatter CAR drops (it does not parse, is not a mapping, or holds a date PyYAML
  // cannot build, which CAR does not catch) in the body: the person's words reach the agent
  const kept =
    want.classes[0] === 'yaml-crash' ||
    want.notes.includes('yaml-invalid') ||
    want.notes.includes('frontmatter-not-mapping');
  if (kept) {
    const whole = normalizeBody(read.text.replace(/^\ufeff/, '').replace(/\r\n?/g, '\n'));
    if (ours.title !== null || Object.keys(ours.extra).length > 0 || ours.body !== whole) {
      return `frontmatter CAR drops (${json(want.classes[0] ?? want.notes)}) is not kept in the body: ${json(ours)}`;
    }
    return null;
  }
  if (want.classes.length > 0) return `CAR refuses (${json(want.classes)})`;
  if (ours.title !== want.title) return `title ${json(ours.title)} != ${json(want.title)}`;
  if (ours.body !== normalizeBody(want.body!)) return `body ${json(ours.body)} != ${json(want.body)}`;
  const extra = asCar(want.extra);
  if (!isDeepStrictEqual(encode(ours.extra), extra))
    return `extra ${json(encode(ours.extra))} != ${json(extra)}`;
  return null;
}

/** JSON, with invisible characters (controls, format characters, odd spaces and breaks) escaped. */
function json(value: unknown): string {
  return (JSON.stringify(value) ?? String(value)).replace(
    /[\p{C}\p{Zl}\p{Zp}\u00a0\u1680\u2000-\u200a\u202f\u205f\u3000]/gu,
    (ch) => `\\u${ch.codePointAt(0)!.toString(16).padStart(4, '0')}`,
  );
}

test('car reads generated tickets, DISPATCH.md and USER_REPLY.md files as CAR does (PyYAML differential)', (t) => {
  const cases = generateCases(SEED, TICKETS, DISPATCHES, REPLIES);
  // dispatches and replies again without a leading BOM (see compareDispatch)
  const messages = cases.filter((c) => c.kind !== 'ticket');
  const withoutBom = messages.map((c) => ({
    ...c,
    bytes: c.bytes.subarray(0, 3).equals(Buffer.from([0xef, 0xbb, 0xbf])) ? c.bytes.subarray(3) : c.bytes,
  }));
  const answers = askOracle([...cases, ...withoutBom]);
  const differences: string[] = [];
  let d = 0;
  cases.forEach((c, i) => {
    const want = answers[i]!;
    const plain = c.kind === 'ticket' ? undefined : answers[cases.length + d++];
    const why =
      c.kind === 'ticket'
        ? compareTicket(c, want as OracleTicket)
        : c.kind === 'dispatch'
          ? compareDispatch(c, i, want as OracleDispatch, plain as OracleDispatch)
          : compareReply(c, i, want as OracleReply, plain as OracleReply);
    if (why)
      differences.push(`#${i} ${c.kind} ${json(c.name)} ${json(c.bytes.toString('utf8'))}\n    ${why}`);
  });
  t.diagnostic(
    `${cases.length} cases compared (${TICKETS} tickets, ${DISPATCHES} DISPATCH.md, ${REPLIES} USER_REPLY.md, seed ${SEED}): ${differences.length} differences`,
  );
  assert.equal(differences.length, 0, `car differs from CAR:\n${differences.slice(0, 40).join('\n')}`);
});
