// DISPATCH.md and USER_REPLY.md over the input limits (core/input-limits.ts). A dispatch car cannot
// read is an error that leaves the file in place (the engine pauses the run with it); a reply is never
// lost: an oversized one is archived unread with an error the agent sees, and frontmatter over a limit
// stays in the body.
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import {
  archiveDispatch,
  DispatchFrontmatterError,
  DispatchTooLargeError,
  parseDispatch,
} from './dispatch.ts';
import { archiveReply, listRepliesAfter, parseReply, renderRepliesBlock } from './replies.ts';
import { ensureRunDirs, type RunPaths, runPaths } from './run-paths.ts';

const tmp = await mkdtemp(join(tmpdir(), 'car-flow-limits-'));
after(() => rm(tmp, { recursive: true, force: true }));
let n = 0;

function freshRun(): RunPaths {
  const paths = runPaths(join(tmp, `repo${++n}`), 'run-l');
  ensureRunDirs(paths);
  return paths;
}

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

const BIG_BODY = '- a line of output pasted into the message\n'.repeat(30_000); // ~1.3 MB

function dispatchError(fn: () => unknown): DispatchFrontmatterError {
  try {
    fn();
  } catch (err) {
    assert.ok(err instanceof DispatchFrontmatterError, String(err));
    return err;
  }
  assert.fail('expected a DispatchFrontmatterError');
}

test('parseDispatch refuses frontmatter over a limit, naming the line and the limit', () => {
  const bomb = dispatchError(() => parseDispatch(`---\nmode: pause\n${laughs()}---\nQ?\n`));
  assert.match(
    bomb.message,
    /^Invalid DISPATCH\.md frontmatter: line 7: YAML aliases expand to more than 10000/,
  );
  const deep = dispatchError(() => parseDispatch(`---\nmode: pause\nx: ${'['.repeat(5000)}\n---\nQ?\n`));
  assert.match(deep.message, /line 3: YAML nests deeper than 64 levels/);
  const big = dispatchError(() => parseDispatch(`---\nmode: pause\nx: "${'y'.repeat(70_000)}"\n---\nQ?\n`));
  assert.match(big.message, /frontmatter is 68\.\d KiB, over the 32 KiB limit/);
  const dense = Array.from({ length: 300 }, (_, i) => `k${i}: [a, {b: c}]`).join('\n');
  const tokens = dispatchError(() => parseDispatch(`---\nmode: pause\n${dense}\n---\nQ?\n`));
  assert.match(
    tokens.message,
    /^Invalid DISPATCH\.md frontmatter: line \d+: YAML has more than 1000 tokens \(the limit for frontmatter\); it was not parsed$/,
  );
  // a long body is not a frontmatter problem
  assert.equal(parseDispatch(`---\nmode: pause\n---\n${'word '.repeat(100_000)}`).mode, 'pause');
});

test('archiveDispatch: a bomb or an oversized DISPATCH.md is refused and left in place, byte for byte', async () => {
  for (const text of [`---\nmode: pause\n${laughs()}---\nQ?\n`, `---\nmode: pause\n---\n${BIG_BODY}`]) {
    const paths = freshRun();
    await writeFile(paths.dispatchFile, text);
    await assert.rejects(archiveDispatch(paths, 1), DispatchFrontmatterError);
    assert.equal(await readFile(paths.dispatchFile, 'utf8'), text);
    await assert.rejects(stat(join(paths.dispatchHistoryDir, '0001')), { code: 'ENOENT' });
  }
  const paths = freshRun();
  await writeFile(paths.dispatchFile, `---\nmode: pause\n---\n${BIG_BODY}`);
  await assert.rejects(archiveDispatch(paths, 1), (err: unknown) => {
    assert.ok(err instanceof DispatchTooLargeError);
    assert.match(err.message, /^file is 1\.\d MiB, over the 1 MiB limit for a dispatch; it was not read$/);
    return true;
  });
});

test('parseReply keeps frontmatter over a limit in the body, unparsed', () => {
  const text = `---\ntitle: hi\n${laughs()}---\n\nAnswer.\n`;
  const reply = parseReply(text);
  assert.equal(reply.title, null);
  assert.equal(reply.body, text.trimEnd());
});

test('an oversized USER_REPLY.md is archived unread, and the agent is told why', async () => {
  const paths = freshRun();
  await writeFile(paths.replyFile, BIG_BODY);
  const archived = await archiveReply(paths);
  assert.equal(archived?.seq, 1);
  assert.equal(archived?.body, '');
  assert.match(archived?.error ?? '', /^USER_REPLY\.md file is 1\.\d MiB, over the 1 MiB limit for a reply/);
  await assert.rejects(stat(paths.replyFile), { code: 'ENOENT' });
  // the person's file is kept in the history, and reading it back gives the same error
  assert.equal(await readFile(join(archived!.dir, 'USER_REPLY.md'), 'utf8'), BIG_BODY);
  const [again] = await listRepliesAfter(paths, 0);
  assert.equal(again?.error, archived?.error);
  assert.match(renderRepliesBlock([again!]), /\[USER_REPLY 0001\]\nErrors:\n- USER_REPLY\.md file is/);
});
