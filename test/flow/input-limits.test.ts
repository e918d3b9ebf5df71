// The engine meets files over the input limits (core/input-limits.ts) the way it meets any file it
// cannot read: a DISPATCH.md it cannot read pauses the run (invalid_dispatch) with the reason, the file
// left as the agent wrote it; an oversized USER_REPLY.md is archived unread and the agent is told; a
// ticket the agent turned into an alias bomb gets the limit as a lint error to repair.
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { test } from 'node:test';
import { ensureRunDirs } from '../../src/core/flow/run-paths.ts';
import { completed, finishTicket, writeRepoFile } from '../fakes/scripted-agent.ts';
import { assertOutcome, setup } from './harness.ts';

function laughs(): string {
  const lines = ['a0: &a0 [lol, lol, lol, lol, lol, lol, lol, lol, lol]'];
  for (let i = 1; i < 9; i++)
    lines.push(
      `a${i}: &a${i} [${Array(9)
        .fill(`*a${i - 1}`)
        .join(', ')}]`,
    );
  return `${lines.join('\n')}\n`;
}

for (const [what, text, reason] of [
  [
    'an alias bomb in',
    `---\nmode: pause\n${laughs()}---\nQ?\n`,
    /line 7: YAML aliases expand to more than 10000/,
  ],
  [
    'a 2 MiB',
    `---\nmode: pause\n---\n${'x'.repeat(2 * 1024 * 1024)}\n`,
    /file is 2\.0 MiB, over the 1 MiB limit/,
  ],
] as const) {
  test(`${what} DISPATCH.md pauses the run with invalid_dispatch and the limit; the file stays as written`, async (t) => {
    const h = setup({ tickets: 1 });
    t.after(() => h.cleanup());
    let file = '';
    h.agent.script((ctx) => {
      file = `.codex-autorunner/runs/${ctx.runId}/DISPATCH.md`;
      writeRepoFile(ctx, file, text);
      writeRepoFile(ctx, 'work/a.txt', 'a\n');
      return completed();
    });
    const run = h.newRun();
    const outcome = await h.run(run.id);
    assertOutcome(h, run.id, outcome, 'paused', 'invalid_dispatch');
    assert.match(outcome.reason ?? '', reason);
    assert.equal(readFileSync(h.runPaths(run.id).dispatchFile, 'utf8'), text);
  });
}

test('an oversized USER_REPLY.md is archived unread and the next prompt says why', async (t) => {
  const h = setup({ tickets: 1 });
  t.after(() => h.cleanup());
  const run = h.newRun();
  const paths = h.runPaths(run.id);
  h.agent.script(finishTicket());
  // staged before the first step, as a person might
  ensureRunDirs(paths);
  writeFileSync(paths.replyFile, 'y'.repeat(1024 * 1024 + 10));
  await h.run(run.id);
  const prompt = h.agent.prompt(1);
  assert.match(
    prompt,
    /\[USER_REPLY 0001\]\nErrors:\n- USER_REPLY\.md file is 1\.0 MiB, over the 1 MiB limit for a reply/,
  );
  assert.doesNotMatch(prompt, /yyyyyyyyyy/);
});

test('a ticket the agent turns into an alias bomb gets the limit as the lint error to repair', async (t) => {
  const h = setup({ tickets: 1 });
  t.after(() => h.cleanup());
  h.agent.script(
    (ctx) => {
      const path = `${ctx.cwd}/${ctx.ticketPath}`;
      const text = readFileSync(path, 'utf8').replace(/^---\n/, `---\n${laughs()}`);
      writeFileSync(path, text);
      writeRepoFile(ctx, 'work/a.txt', 'a\n');
      return completed();
    },
    (ctx) => {
      const path = `${ctx.cwd}/${ctx.ticketPath}`;
      writeFileSync(path, readFileSync(path, 'utf8').replace(laughs(), ''));
      return completed();
    },
    finishTicket(),
  );
  const run = h.newRun();
  await h.run(run.id);
  assert.match(h.agent.prompt(2), /YAML aliases expand to more than 10000 nodes \(the limit/);
});
