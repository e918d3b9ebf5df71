import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import { join, relative } from 'node:path';
import { afterEach, describe, test } from 'node:test';
import {
  car,
  json,
  makeCarRepo,
  makeTempDir,
  snapshot,
  TICKETS_DIR,
  ticketText,
  tid,
} from '../helpers/cli.ts';
import { makeGitRepo } from '../helpers/git-repo.ts';

const cleanups: (() => void)[] = [];
afterEach(() => {
  for (const fn of cleanups.splice(0)) fn();
});

async function repo() {
  const r = await makeCarRepo();
  cleanups.push(r.cleanup);
  r.ticket('TICKET-001-one.md', ticketText({ id: tid(1), title: 'One' }));
  r.ticket('TICKET-002-two.md', ticketText({ id: tid(2), title: 'Two' }));
  return r;
}

function plainDir() {
  const d = makeTempDir();
  cleanups.push(d.cleanup);
  return d.dir;
}

describe('which repo a command acts on', () => {
  test('from a deep subfolder every ticket command finds the repo root', async () => {
    const r = await repo();
    const deep = join(r.dir, 'src', 'a', 'b', 'c');
    mkdirSync(deep, { recursive: true });
    const atRoot = await r.run(['ticket', 'list', '--json']);
    const fromDeep = await r.run(['ticket', 'list', '--json'], { cwd: deep });
    assert.equal(fromDeep.code, 0, fromDeep.stderr);
    assert.equal(fromDeep.stdout, atRoot.stdout);

    // tickets inside .codex-autorunner count as "deep" too
    const fromTickets = await r.run(['ticket', 'show', '2'], { cwd: join(r.dir, TICKETS_DIR) });
    assert.equal(fromTickets.code, 0, fromTickets.stderr);
    assert.match(fromTickets.stdout, /title: Two/);

    const created = await r.run(['ticket', 'new', 'From deep'], { cwd: deep });
    assert.equal(created.code, 0, created.stderr);
    assert.equal(created.stdout, `created ${TICKETS_DIR}/TICKET-003-from-deep.md\n`);
    assert.equal((await r.run(['ticket', 'done', '3'], { cwd: deep })).code, 0);
    assert.match(r.read(`${TICKETS_DIR}/TICKET-003-from-deep.md`), /^done: true$/m);
    // nothing car-related appeared in the subfolder
    assert.deepEqual([...snapshot(join(r.dir, 'src')).keys()], []);
  });

  test('--repo with an absolute or relative path, from anywhere', async () => {
    const r = await repo();
    const elsewhere = plainDir();
    const expected = (await r.run(['ticket', 'list', '--json'])).stdout;

    const abs = await car(['--repo', r.dir, 'ticket', 'list', '--json'], { cwd: elsewhere });
    assert.equal(abs.code, 0, abs.stderr);
    assert.equal(abs.stdout, expected);

    const rel = relative(elsewhere, r.dir);
    const relRes = await car(['ticket', 'list', '--json', '--repo', rel], { cwd: elsewhere });
    assert.equal(relRes.code, 0, relRes.stderr);
    assert.equal(relRes.stdout, expected);

    // a subfolder given to --repo resolves to its repo root as well
    mkdirSync(join(r.dir, 'docs'));
    const sub = await car(['--repo', join(r.dir, 'docs'), 'ticket', 'show', '1'], { cwd: elsewhere });
    assert.equal(sub.code, 0, sub.stderr);

    const made = await car(['--repo', r.dir, 'ticket', 'new', 'Remote'], { cwd: elsewhere });
    assert.equal(made.code, 0, made.stderr);
    assert.match(r.read(`${TICKETS_DIR}/TICKET-003-remote.md`), /^title: Remote$/m);
    assert.deepEqual(snapshot(elsewhere).size, 0);
  });

  test('--repo takes precedence over the working directory', async () => {
    const a = await repo();
    const b = await makeCarRepo();
    cleanups.push(b.cleanup);
    const res = await car(['--repo', b.dir, 'ticket', 'list', '--json'], { cwd: a.dir });
    assert.equal(res.code, 0, res.stderr);
    assert.deepEqual(json<{ tickets: unknown[] }>(res).tickets, []);
  });

  test('--repo naming a missing folder is a usage error, not the enclosing repo', async () => {
    const r = await repo();
    const before = snapshot(r.dir);
    for (const argv of [
      ['--repo', join(r.dir, 'no-such-dir'), 'ticket', 'list'],
      ['--repo', 'no-such-dir', 'ticket', 'new', 'x'],
      ['--repo', 'no-such-dir', 'describe', '--json'],
      ['--repo', 'no-such-dir', 'doctor', '--json'],
    ]) {
      const res = await car(argv, { cwd: r.dir });
      assert.equal(res.code, 2, `${argv.join(' ')}: ${res.stdout}`);
      assert.match(res.stderr, /no-such-dir/);
    }
    assert.deepEqual(snapshot(r.dir), before);
  });

  test('outside any repo: exit 2', async () => {
    const outside = plainDir();
    for (const argv of [
      ['ticket', 'list'],
      ['ticket', 'new', 'x'],
      ['ticket', 'lint'],
      ['ticket', 'show', '1'],
      ['ticket', 'done', '1'],
    ]) {
      const res = await car(argv, { cwd: outside });
      assert.equal(res.code, 2, argv.join(' '));
      assert.match(res.stderr, /not inside a git repo/);
      assert.equal(res.stdout, '');
    }
    assert.equal(snapshot(outside).size, 0);
  });

  test('in a git repo where car is not initialized: exit 2 pointing at car init', async () => {
    const g = makeGitRepo();
    cleanups.push(g.cleanup);
    const before = snapshot(g.dir);
    const res = await car(['ticket', 'list'], { cwd: g.dir });
    assert.equal(res.code, 2);
    assert.match(res.stderr, /not initialized/);
    assert.match(res.stderr, /car init/);
    assert.deepEqual(snapshot(g.dir), before);
  });

  test('usage errors: unknown command and unknown flag exit 2', async () => {
    const r = await repo();
    const unknown = await r.run(['tickt', 'list']);
    assert.equal(unknown.code, 2);
    assert.match(unknown.stderr, /unknown command/);
    const flag = await r.run(['ticket', 'list', '--bogus']);
    assert.equal(flag.code, 2);
    assert.match(flag.stderr, /unknown option/);
    const version = await r.run(['--version']);
    assert.equal(version.code, 0);
    assert.match(version.stdout, /^\d+\.\d+\.\d+\n$/);
  });
});
