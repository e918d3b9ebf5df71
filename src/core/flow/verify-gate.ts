// The verify gate: an agent's `done: true` is a claim, this decides. It runs the tamper checks on the
// ticket's diff (against the HEAD recorded when the ticket was selected) and the acceptance commands
// fixed at selection, records what it saw as events, and returns a plain verdict; settle.ts acts on it.
// A pass is remembered against the content it checked, so the commit that follows does not run
// everything again.
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { RUNTIME_PATHS, STATE_DIR } from '../paths.ts';
import type { JsonObject } from '../store/types.ts';
import { parseTicket, type Ticket } from '../tickets/index.ts';
import { planCommands } from '../verify/commands.ts';
import type { EvidenceCommand, EvidenceFinding } from '../verify/evidence.ts';
import { commandPassed, runVerifyCommand, type VerifyCommandResult } from '../verify/run-command.ts';
import { findTampering, type TamperFinding, ticketVerifyFinding } from '../verify/tamper.ts';
import { writeDispatch } from './dispatch.ts';
import type { FlowOutcome } from './flow-types.ts';
import type { FileChange } from './ports.ts';
import type { RunContext } from './run-context.ts';
import { fileStagedDispatch } from './staged-dispatch.ts';
import { newVerifyProgress, type TicketProgress, type VerifyProgress } from './state.ts';

/** What a passing verification ran and found (the evidence's commands and findings). */
export interface VerifiedRecord {
  commands: EvidenceCommand[];
  findings: EvidenceFinding[];
}

export interface FailedCommand {
  planned: VerifyProgress['commands'][number];
  result: VerifyCommandResult;
}

export type GateVerdict =
  | { kind: 'passed'; record: VerifiedRecord }
  /** A command failed (the gate stops at the first) or findings blocked (then no command ran). */
  | { kind: 'failed'; failed: FailedCommand | null; blocking: EvidenceFinding[] }
  /** The caller aborted the run while a command ran. */
  | { kind: 'aborted'; outcome: FlowOutcome };

/**
 * The tree a gate verifies: the working tree where the agent worked, or a commit (the merge queue's
 * merged tree, verified without a checkout when there are no commands to run in one).
 */
export interface GateTree {
  /** Its changes since `base`. */
  files(base: string | null): Promise<FileChange[]>;
  /** A file's text in it, or null when it is not there. */
  text(path: string): Promise<string | null>;
  /** What it holds that differs from the base: a pass is remembered against this. */
  key(files: readonly FileChange[]): Promise<string>;
}

function workingTree(ctx: RunContext): GateTree {
  return {
    async files(base) {
      // same HEAD and a clean tree: nothing changed since the ticket was picked, so the diff is empty
      const now = await ctx.snapshot();
      return now.head === base && !now.dirty ? [] : ctx.diffFiles(base);
    },
    text: (path) => readFile(join(ctx.root, path), 'utf8').catch(() => null),
    key: (files) => contentKey(ctx.root, files),
  };
}

/**
 * Commit `sha` as the tree to verify (its verify commands, if any, need a checkout instead). What it
 * reads of git is kept: the merge queue reads the tickets and asks for the diff ahead, the gate then
 * finds them read.
 */
export function commitTree(repo: RunContext['repo'], sha: string): GateTree {
  const diffs = new Map<string | null, Promise<FileChange[]>>();
  const texts = new Map<string, Promise<string | null>>();
  const once = <K, V>(memo: Map<K, Promise<V>>, key: K, read: () => Promise<V>): Promise<V> => {
    let p = memo.get(key);
    if (!p) {
      p = read();
      memo.set(key, p);
    }
    return p;
  };
  return {
    files: (base) => once(diffs, base, () => repo.diffCommits(base, sha, RUNTIME_PATHS)),
    text: (path) => once(texts, path, () => repo.fileAt(sha, path)),
    key: async () => `commit ${sha}`,
  };
}

export async function runVerifyGate(
  ctx: RunContext,
  ticket: Ticket,
  progress: TicketProgress,
  tree: GateTree = workingTree(ctx),
): Promise<GateVerdict> {
  const { repo, root } = ctx;
  const vs = ctx.settings.verify;
  progress.verify ??= newVerifyProgress(
    await repo.head(),
    ticket.frontmatter?.verify ?? null,
    planCommands(vs.commands, ticket.frontmatter?.verify),
  );
  const v = progress.verify;
  const files = await tree.files(v.baseHead);
  const key = await tree.key(files);
  if (v.passedKey === key && v.passed)
    return { kind: 'passed', record: v.passed as unknown as VerifiedRecord };

  const raw: TamperFinding[] = [];
  const verifyEdit = ticketVerifyFinding(ticket.relPath, v.ticketVerify, ticket.frontmatter?.verify);
  if (verifyEdit) raw.push(verifyEdit);
  if (vs.tamperChecks) {
    const base = v.baseHead;
    raw.push(
      ...(await findTampering({
        files,
        ticketPath: ticket.relPath,
        ...(ctx.deps.lane?.mergedWith ? { alsoOwn: ctx.deps.lane.mergedWith } : {}),
        ticketsDir: `${STATE_DIR}/tickets`,
        verifyCommands: v.commands.map((c) => c.command),
        oldText: async (path) => (base ? repo.fileAt(base, path) : null),
        newText: (path) => tree.text(path),
      })),
    );
  }
  const findings: EvidenceFinding[] = raw
    .map((f) => ({ ...f, action: vs.policy[f.kind] }))
    .filter((f) => f.action !== 'ignore');
  const blocking = findings.filter((f) => f.action === 'block');
  if (findings.length > 0) {
    ctx.events(
      findings.map((f) => ({
        type: 'tamper_finding',
        data: { ticket: ticket.relPath, kind: f.kind, file: f.file, detail: f.detail, action: f.action },
      })),
    );
  }
  const fresh = findings.filter((f) => f.action === 'notify' && !v.notified.includes(`${f.kind} ${f.file}`));
  if (fresh.length > 0) await notifyFindings(ctx, ticket, fresh);

  // Findings that block make running the commands moot; they are run once those are fixed.
  const commands: EvidenceCommand[] = [];
  let failed: FailedCommand | null = null;
  if (blocking.length === 0) {
    for (const planned of v.commands) {
      const result = await ctx.wait(
        `verify command: ${planned.command}`,
        runVerifyCommand(planned.command, {
          cwd: root,
          timeoutMs: vs.timeoutMs,
          maxOutputBytes: vs.maxOutputBytes,
          env: { CAR_VERIFY: '1', CAR_RUN_ID: ctx.runId, CAR_TICKET: ticket.relPath },
          unsetEnv: vs.unsetEnv,
          ...(ctx.deps.signal ? { signal: ctx.deps.signal } : {}),
        }),
      );
      const aborted = ctx.abortOutcome();
      if (aborted) return { kind: 'aborted', outcome: aborted };
      const entry: EvidenceCommand = {
        command: planned.command,
        source: planned.source,
        exit_code: result.exitCode,
        signal: result.signal,
        timed_out: result.timedOut,
        duration_ms: result.durationMs,
        output_bytes: result.outputBytes,
        output_sha256: result.outputSha256,
        output_tail: result.output,
      };
      commands.push(entry);
      const { output_tail: _tail, ...summary } = entry;
      ctx.event({
        type: 'verify_command',
        data: { ticket: ticket.relPath, ...summary, passed: commandPassed(result) },
      });
      if (!commandPassed(result)) {
        failed = { planned, result };
        break;
      }
    }
  }
  if (blocking.length > 0 || failed !== null) return { kind: 'failed', failed, blocking };

  const record: VerifiedRecord = { commands, findings };
  v.passedKey = key;
  v.passed = record as unknown as JsonObject;
  v.feedback = null;
  ctx.persist({}, [
    {
      type: 'verify_passed',
      data: { ticket: ticket.relPath, commands: commands.length, findings: findings.length },
    },
  ]);
  ctx.progress({
    type: 'verify',
    ticket: ticket.relPath,
    passed: true,
    attempt: v.failures + 1,
    summary: `${commands.length} command(s) passed`,
  });
  return { kind: 'passed', record };
}

/** Tells the human about findings the policy does not block on (a notify dispatch). */
async function notifyFindings(ctx: RunContext, ticket: Ticket, findings: EvidenceFinding[]): Promise<void> {
  const v = ctx.state.ticket?.verify;
  await writeDispatch(ctx.paths, {
    mode: 'notify',
    title: `Review ${ticket.name}: ${findings.length} finding(s) in the agent's diff`,
    body:
      `car's tamper checks noticed these changes while verifying ${ticket.relPath}. They do not block the ticket (policy: notify); have a look.\n\n` +
      findings.map((f) => `- ${f.kind}: ${f.file}: ${f.detail}`).join('\n'),
  });
  await fileStagedDispatch(ctx, { runner: true, reason: 'tamper_finding' });
  if (v) v.notified.push(...findings.map((f) => `${f.kind} ${f.file}`));
}

/**
 * A person resumed a run that paused on `verify_failed`: whatever they left (a fixed ticket, edited
 * verify commands, a reviewed diff) is the new baseline, and the ticket gets a fresh set of attempts.
 */
export async function rebaselineAfterVerifyPause(ctx: RunContext): Promise<void> {
  const progress = ctx.state.ticket;
  const v = progress?.verify;
  if (!progress || !v?.humanPause) return;
  let verifyValue: unknown = v.ticketVerify;
  try {
    const text = readFileSync(join(ctx.root, progress.path), 'utf8');
    verifyValue =
      parseTicket(text, {
        path: join(ctx.root, progress.path),
        relPath: progress.path,
        agents: ctx.deps.knownAgents,
      }).frontmatter?.verify ?? null;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
  }
  progress.verify = {
    ...newVerifyProgress(
      await ctx.repo.head(),
      verifyValue,
      planCommands(ctx.settings.verify.commands, verifyValue),
    ),
    feedback: v.feedback,
  };
  ctx.persist({}, [
    { type: 'verify_rebaselined', data: { ticket: progress.path, previous_failures: v.failures } },
  ]);
}

/**
 * What the tree holds that differs from the ticket's base commit: changed paths and the bytes now at
 * each. The same before and after the agent commits, so a verification is not repeated for a commit.
 */
async function contentKey(root: string, files: readonly FileChange[]): Promise<string> {
  const hash = createHash('sha256');
  const sorted = [...files].sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
  // the files are read together; their digests are hashed in path order
  const digests = await Promise.all(
    sorted.map(async (f) => {
      if (f.status === 'deleted') return 'missing';
      try {
        return createHash('sha256')
          .update(await readFile(join(root, f.path)))
          .digest('hex');
      } catch {
        // a directory (embedded repo) or gone since the diff: the path alone has to do
        return 'missing';
      }
    }),
  );
  sorted.forEach((f, i) => {
    const status = f.status === 'deleted' ? 'deleted' : 'present';
    hash.update(`${f.oldPath ?? ''}\0${f.path}\0${status}\0${digests[i]}\0`);
  });
  return hash.digest('hex');
}
