// Worktree commands on repos git cannot branch or remove as asked, through the built CLI: a clear
// one-line refusal with a documented exit code (never `car: internal error`), and nothing changed on disk
// (every file, folder and link of the hub, the base repo's .git included, is the same afterwards).
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import {
  lstatSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  readlinkSync,
  realpathSync,
  renameSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { type CarResult, carEnv, runCar, tempHome } from '../helpers/built-car.ts';
import { git, initGitRepo } from '../hub/helpers.ts';

const cleanups: (() => void)[] = [];
after(() => {
  for (const c of cleanups.reverse()) c();
});

interface BuiltHub {
  root: string;
  run(argv: readonly string[]): Promise<CarResult>;
}

/** `car init --mode hub` by the built CLI, in a temp folder with its own HOME. */
async function builtHub(config?: string): Promise<BuiltHub> {
  const root = realpathSync(mkdtempSync(join(tmpdir(), 'car-wt-errors-')));
  const home = tempHome();
  cleanups.push(() => {
    rmSync(root, { recursive: true, force: true });
    home.cleanup();
  });
  const env = carEnv(home.home, {
    GIT_AUTHOR_NAME: 'Test User',
    GIT_AUTHOR_EMAIL: 'test@example.com',
    GIT_COMMITTER_NAME: 'Test User',
    GIT_COMMITTER_EMAIL: 'test@example.com',
  });
  const run = (argv: readonly string[]) => runCar(argv, { cwd: root, env, timeoutMs: 60_000 });
  const init = await run(['init', '--mode', 'hub']);
  assert.equal(init.code, 0, init.stderr);
  if (config !== undefined) {
    writeFileSync(join(root, 'codex-autorunner.yml'), config);
  }
  return { root, run };
}

/**
 * Every folder, file (by content) and link under `dir`. Git's index files are left out: `git status`
 * may refresh the stat data cached there, which changes no content.
 */
function tree(dir: string, rel = ''): Record<string, string> {
  const out: Record<string, string> = {};
  for (const name of readdirSync(join(dir, rel)).sort()) {
    const path = rel ? `${rel}/${name}` : name;
    const full = join(dir, path);
    const st = lstatSync(full);
    if (st.isSymbolicLink()) out[path] = `link ${readlinkSync(full)}`;
    else if (st.isDirectory()) {
      out[path] = 'dir';
      Object.assign(out, tree(dir, path));
    } else if (!/(^|\/)\.git\/(worktrees\/[^/]+\/)?index$/.test(path))
      out[path] = createHash('sha256').update(readFileSync(full)).digest('hex');
  }
  return out;
}

/** Exit `code`, stderr one `car: ` message matching `message`, and the hub exactly as before. */
async function refusedUnchanged(
  hub: BuiltHub,
  argv: readonly string[],
  code: number,
  message: RegExp,
): Promise<void> {
  const before = tree(hub.root);
  const r = await hub.run(argv);
  assert.doesNotMatch(r.stderr, /internal error/, `car ${argv.join(' ')}`);
  assert.equal(r.code, code, `car ${argv.join(' ')}: ${r.stderr}`);
  assert.match(r.stderr, /^car: /);
  assert.match(r.stderr, message, `car ${argv.join(' ')}`);
  assert.equal(r.stdout, '');
  assert.deepEqual(tree(hub.root), before, `car ${argv.join(' ')} changed nothing`);
}

test('worktree new on a hub repo with no commits says it needs a first commit (exit 2) and changes nothing', async () => {
  // a worktrees folder that does not exist yet: car must not leave one behind either
  const hub = await builtHub('hub:\n  worktrees_root: trees/wt\n');
  const created = await hub.run(['hub', 'create', 'fresh']);
  assert.equal(created.code, 0, created.stderr);
  const needsCommit = new RegExp(
    `repo fresh \\(${join(hub.root, 'repos', 'fresh').replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}\\) has no commits yet: a worktree needs a first commit`,
  );
  for (const argv of [
    ['worktree', 'new', 'fresh', 'feat'],
    ['worktree', 'new', 'fresh', 'feat', '--start-point', 'HEAD'],
    ['worktree', 'new', 'fresh', 'feat', '--json'],
    ['hub', 'worktree', 'create', 'fresh', 'feat', '--path', hub.root],
  ]) {
    await refusedUnchanged(hub, argv, 2, needsCommit);
  }

  // after a first commit the same command works
  const fresh = join(hub.root, 'repos', 'fresh');
  git(fresh, ['add', '-A']);
  git(fresh, ['-c', 'user.name=T', '-c', 'user.email=t@example.com', 'commit', '-qm', 'first']);
  const made = await hub.run(['worktree', 'new', 'fresh', 'feat']);
  assert.equal(made.code, 0, made.stderr);
  assert.ok(lstatSync(join(hub.root, 'trees', 'wt', 'fresh--feat', '.git')).isFile());
});

test('worktree new and remove refuse what git refuses, in one line, changing nothing', async () => {
  const hub = await builtHub('hub:\n  worktree_setup:\n    symlink: [node_modules]\n');
  const app = join(hub.root, 'repos', 'app');
  initGitRepo(app);
  mkdirSync(join(app, 'node_modules'));
  assert.equal((await hub.run(['hub', 'add', app])).code, 0);
  git(app, ['status']); // the index's stat data fresh before any snapshot

  // the base's own branch, and a branch name git does not accept
  await refusedUnchanged(
    hub,
    ['worktree', 'new', 'app', 'main'],
    4,
    /branch main is already checked out in .*repos\/app; a branch can be checked out in one worktree at a time/,
  );
  await refusedUnchanged(
    hub,
    ['worktree', 'new', 'app', 'bad..name'],
    2,
    /git could not add worktree app--bad\.\.name of app: .*'bad\.\.name' is not a valid branch name/s,
  );

  // a worktree git has locked: git refuses the removal after car archived its state; both are undone
  const made = await hub.run(['worktree', 'new', 'app', 'feat']);
  assert.equal(made.code, 0, made.stderr);
  const wt = join(hub.root, 'worktrees', 'app--feat');
  assert.ok(lstatSync(join(wt, 'node_modules')).isSymbolicLink());
  git(app, ['worktree', 'lock', wt]);
  git(wt, ['status']);
  await refusedUnchanged(
    hub,
    ['hub', 'worktree', 'delete', 'app--feat', '--path', hub.root],
    2,
    /git could not remove worktree app--feat: .*locked/s,
  );
  git(app, ['worktree', 'unlock', wt]);

  // a worktree folder that is no longer a git checkout
  rmSync(join(wt, '.git'));
  await refusedUnchanged(
    hub,
    ['worktree', 'remove', 'app--feat'],
    2,
    /app--feat: .*worktrees\/app--feat is not a working git worktree any more \(move the folder away, then car worktree remove app--feat drops it/,
  );
  // as the message says: the folder moved away, remove drops it from the manifest
  renameSync(wt, join(hub.root, 'moved-away'));
  const dropped = await hub.run(['worktree', 'remove', 'app--feat']);
  assert.equal(dropped.code, 0, dropped.stderr);
  // git still counts the branch as checked out in the gone folder until pruned
  await refusedUnchanged(
    hub,
    ['worktree', 'new', 'app', 'feat'],
    4,
    /a worktree whose folder is gone: run git worktree prune in/,
  );
  git(app, ['worktree', 'prune']);
  const again = await hub.run(['worktree', 'new', 'app', 'feat']);
  assert.equal(again.code, 0, again.stderr);
});
