import assert from 'node:assert/strict';
import { existsSync, mkdirSync, readFileSync, realpathSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, test } from 'node:test';
import { car, json, makeTempDir, snapshot } from '../helpers/cli.ts';
import { makeGitRepo } from '../helpers/git-repo.ts';

const LAYOUT = [
  '.codex-autorunner/.gitignore',
  '.codex-autorunner/config.yml',
  '.codex-autorunner/ABOUT_CAR.md',
  '.codex-autorunner/tickets/AGENTS.md',
  '.codex-autorunner/contextspace/active_context.md',
  '.codex-autorunner/contextspace/decisions.md',
  '.codex-autorunner/contextspace/spec.md',
];

const cleanups: (() => void)[] = [];
afterEach(() => {
  for (const fn of cleanups.splice(0)) fn();
});

function gitRepo() {
  const repo = makeGitRepo();
  cleanups.push(repo.cleanup);
  return repo;
}

describe('car init', () => {
  test('creates the whole layout in a git repo and lists what it created', async () => {
    const repo = gitRepo();
    const res = await car(['init'], { cwd: repo.dir });
    assert.equal(res.code, 0, res.stderr);
    for (const file of LAYOUT) {
      assert.ok(statSync(join(repo.dir, file)).isFile(), `${file} missing`);
      assert.match(res.stdout, new RegExp(`created ${file.replaceAll('.', '\\.')}\\n`));
    }
    const config = readFileSync(join(repo.dir, '.codex-autorunner/config.yml'), 'utf8');
    assert.match(config, /^version: 2$/m);
    assert.match(config, /^mode: repo$/m);
    // runtime state is ignored, the plan is not
    const ignore = readFileSync(join(repo.dir, '.codex-autorunner/.gitignore'), 'utf8');
    assert.match(ignore, /^car\.db$/m);
    assert.doesNotMatch(ignore, /tickets/);
    assert.match(readFileSync(join(repo.dir, '.codex-autorunner/tickets/AGENTS.md'), 'utf8'), /ticket_id/);
    // the freshly initialized repo is immediately usable
    const lint = await car(['ticket', 'lint'], { cwd: repo.dir });
    assert.equal(lint.code, 0, lint.stderr);
    assert.match(lint.stdout, /OK: 0 ticket\(s\) linted\./);
  });

  test('a second run creates nothing and changes no byte', async () => {
    const repo = gitRepo();
    assert.equal((await car(['init'], { cwd: repo.dir })).code, 0);
    repo.git(['add', '-A']);
    const before = snapshot(repo.dir);
    const again = await car(['init'], { cwd: repo.dir });
    assert.equal(again.code, 0, again.stderr);
    assert.doesNotMatch(again.stdout, /created/);
    assert.match(again.stdout, /already initialized/);
    assert.deepEqual(snapshot(repo.dir), before);

    const asJson = json<{ created: string[]; kept: string[] }>(
      await car(['init', '--json'], { cwd: repo.dir }),
    );
    assert.deepEqual(asJson.created, []);
    assert.deepEqual([...asJson.kept].sort(), [...LAYOUT].sort());
    assert.deepEqual(snapshot(repo.dir), before);
  });

  test('never overwrites edited files; --force only regenerates car briefings', async () => {
    const repo = gitRepo();
    assert.equal((await car(['init'], { cwd: repo.dir })).code, 0);
    const about = join(repo.dir, '.codex-autorunner/ABOUT_CAR.md');
    const config = join(repo.dir, '.codex-autorunner/config.yml');
    const spec = join(repo.dir, '.codex-autorunner/contextspace/spec.md');
    const original = readFileSync(about, 'utf8');
    writeFileSync(about, `${original}\nlocal scribble\n`);
    writeFileSync(config, 'version: 2\nmode: repo\nticket_flow:\n  max_total_turns: 7\n');
    writeFileSync(spec, '# my spec\n');

    assert.equal((await car(['init'], { cwd: repo.dir })).code, 0);
    assert.match(readFileSync(about, 'utf8'), /local scribble/);

    const forced = json<{ created: string[] }>(await car(['init', '--force', '--json'], { cwd: repo.dir }));
    assert.deepEqual([...forced.created].sort(), [
      '.codex-autorunner/ABOUT_CAR.md',
      '.codex-autorunner/tickets/AGENTS.md',
    ]);
    assert.equal(readFileSync(about, 'utf8'), original);
    assert.match(readFileSync(config, 'utf8'), /max_total_turns: 7/);
    assert.equal(readFileSync(spec, 'utf8'), '# my spec\n');
  });

  test('from a subfolder it initializes the git top level', async () => {
    const repo = gitRepo();
    const deep = join(repo.dir, 'src', 'lib', 'deep');
    mkdirSync(deep, { recursive: true });
    const res = await car(['init', '--json'], { cwd: deep });
    assert.equal(res.code, 0, res.stderr);
    const out = json<{ root: string; created: string[] }>(res);
    assert.equal(realpathSync(out.root), realpathSync(repo.dir));
    assert.deepEqual([...out.created].sort(), [...LAYOUT].sort());
    for (const file of LAYOUT) assert.ok(existsSync(join(repo.dir, file)), file);
    assert.equal(existsSync(join(deep, '.codex-autorunner')), false);
    assert.equal(existsSync(join(repo.dir, 'src', '.codex-autorunner')), false);
  });

  test('an explicit path argument is honoured', async () => {
    const repo = gitRepo();
    const elsewhere = makeTempDir();
    cleanups.push(elsewhere.cleanup);
    const res = await car(['init', repo.dir], { cwd: elsewhere.dir });
    assert.equal(res.code, 0, res.stderr);
    assert.ok(existsSync(join(repo.dir, '.codex-autorunner/config.yml')));
    assert.deepEqual(snapshot(elsewhere.dir).size, 0);
  });

  test('a folder that is not a git repo: exit 2 naming --git-init, nothing created', async () => {
    const plain = makeTempDir();
    cleanups.push(plain.cleanup);
    writeFileSync(join(plain.dir, 'notes.txt'), 'hello\n');
    const res = await car(['init'], { cwd: plain.dir });
    assert.equal(res.code, 2);
    assert.match(res.stderr, /not a git repo/);
    assert.match(res.stderr, /--git-init/);
    assert.equal(res.stdout, '');
    assert.deepEqual([...snapshot(plain.dir).keys()], ['notes.txt']);
    assert.equal(existsSync(join(plain.dir, '.codex-autorunner')), false);
  });

  test('a path that does not exist: exit 2', async () => {
    const plain = makeTempDir();
    cleanups.push(plain.cleanup);
    const res = await car(['init', 'missing'], { cwd: plain.dir });
    assert.equal(res.code, 2);
    assert.match(res.stderr, /no such folder/);
    assert.equal(existsSync(join(plain.dir, 'missing')), false);
  });

  test('--git-init creates the git repo first, then the layout', async () => {
    const plain = makeTempDir();
    cleanups.push(plain.cleanup);
    const res = await car(['init', '--git-init', '--json'], { cwd: plain.dir });
    assert.equal(res.code, 0, res.stderr);
    const out = json<{ root: string; created: string[] }>(res);
    assert.equal(realpathSync(out.root), realpathSync(plain.dir));
    assert.ok(statSync(join(plain.dir, '.git')).isDirectory());
    for (const file of LAYOUT) assert.ok(existsSync(join(plain.dir, file)), file);
    // and car now finds it as a repo
    const list = await car(['ticket', 'list', '--json'], { cwd: plain.dir });
    assert.equal(list.code, 0, list.stderr);
  });

  test('--json has root, created, kept, changed and the default agent', async () => {
    const repo = gitRepo();
    const res = await car(['init', '--json', '--agent', 'demo'], { cwd: repo.dir });
    assert.equal(res.code, 0, res.stderr);
    const out = json<Record<string, unknown>>(res);
    assert.deepEqual(Object.keys(out).sort(), ['changed', 'created', 'default_agent', 'kept', 'root']);
    assert.deepEqual(out.default_agent, { id: 'demo', note: 'chosen with car init --agent demo' });
    assert.deepEqual(out.changed, []);
    assert.deepEqual([...(out.created as string[])].sort(), [...LAYOUT].sort());
    assert.deepEqual(out.kept, []);
  });

  test('an unknown --mode is a usage error', async () => {
    const repo = gitRepo();
    const res = await car(['init', '--mode', 'galaxy'], { cwd: repo.dir });
    assert.equal(res.code, 2);
    assert.equal(existsSync(join(repo.dir, '.codex-autorunner')), false);
  });
});
