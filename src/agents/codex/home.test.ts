import assert from 'node:assert/strict';
import {
  lstatSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  readlinkSync,
  rmSync,
  statSync,
  utimesSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, test } from 'node:test';
import { seedCodexHome, userCodexHome, workspaceCodexHome } from './home.ts';

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});
function tmp(): string {
  const d = mkdtempSync(join(tmpdir(), 'car-codex-home-'));
  dirs.push(d);
  return d;
}

test('seeds a private home: auth.json symlinked, config.toml copied, idempotent', () => {
  const base = tmp();
  const user = join(base, 'user-codex');
  mkdirSync(user);
  writeFileSync(join(user, 'auth.json'), '{"OPENAI_API_KEY":"sk-test"}');
  writeFileSync(join(user, 'config.toml'), 'model = "gpt-x"\n');
  const target = join(base, 'ws', 'codex_home');

  const first = seedCodexHome({ target, source: user });
  assert.deepEqual(
    { auth: first.auth, config: first.config, home: first.codexHome },
    { auth: 'linked', config: 'copied', home: target },
  );
  assert.ok(lstatSync(join(target, 'auth.json')).isSymbolicLink());
  assert.equal(readlinkSync(join(target, 'auth.json')), join(user, 'auth.json'));
  assert.equal(readFileSync(join(target, 'auth.json'), 'utf8'), '{"OPENAI_API_KEY":"sk-test"}');
  assert.ok(!lstatSync(join(target, 'config.toml')).isSymbolicLink());
  assert.equal(readFileSync(join(target, 'config.toml'), 'utf8'), 'model = "gpt-x"\n');
  assert.equal(statSync(target).mode & 0o777, 0o700);

  // a token refresh in the user's home is seen through the link
  writeFileSync(join(user, 'auth.json'), '{"OPENAI_API_KEY":"sk-new"}');
  assert.equal(readFileSync(join(target, 'auth.json'), 'utf8'), '{"OPENAI_API_KEY":"sk-new"}');

  // codex writing to the private config does not leak back, and a second seed keeps it
  writeFileSync(join(target, 'config.toml'), 'model = "gpt-x"\n[projects."/r"]\ntrust_level = "trusted"\n');
  const second = seedCodexHome({ target, source: user });
  assert.deepEqual([second.auth, second.config], ['already-linked', 'up-to-date']);
  assert.equal(readFileSync(join(user, 'config.toml'), 'utf8'), 'model = "gpt-x"\n');
  assert.match(readFileSync(join(target, 'config.toml'), 'utf8'), /trust_level/);

  // the user edits their config later: the next seed copies it again
  writeFileSync(join(user, 'config.toml'), 'model = "gpt-y"\n');
  const later = new Date(Date.now() + 5000);
  utimesSync(join(user, 'config.toml'), later, later);
  assert.equal(seedCodexHome({ target, source: user }).config, 'copied');
  assert.equal(readFileSync(join(target, 'config.toml'), 'utf8'), 'model = "gpt-y"\n');
});

test('a stale auth link is repointed; a private auth.json is kept; a missing source is fine', () => {
  const base = tmp();
  const userA = join(base, 'a');
  const userB = join(base, 'b');
  for (const u of [userA, userB]) {
    mkdirSync(u);
    writeFileSync(join(u, 'auth.json'), u);
  }
  const target = join(base, 'home');
  assert.equal(seedCodexHome({ target, source: userA }).auth, 'linked');
  assert.equal(seedCodexHome({ target, source: userB }).auth, 'linked');
  assert.equal(readlinkSync(join(target, 'auth.json')), join(userB, 'auth.json'));

  const privateHome = join(base, 'private');
  mkdirSync(privateHome);
  writeFileSync(join(privateHome, 'auth.json'), 'mine');
  assert.equal(seedCodexHome({ target: privateHome, source: userA }).auth, 'kept-private');
  assert.equal(readFileSync(join(privateHome, 'auth.json'), 'utf8'), 'mine');

  const empty = seedCodexHome({ target: join(base, 'fresh'), source: join(base, 'nope') });
  assert.deepEqual([empty.auth, empty.config], ['no-source', 'no-source']);
  assert.ok(statSync(join(base, 'fresh')).isDirectory());
});

test('the user home comes from CODEX_HOME or ~/.codex; workspace homes are per path', () => {
  assert.equal(userCodexHome({ CODEX_HOME: '/x/codex', HOME: '/home/u' }), '/x/codex');
  assert.equal(userCodexHome({ HOME: '/home/u' }), '/home/u/.codex');
  const env = { HOME: '/home/u' };
  const a = workspaceCodexHome('/src/app', env);
  assert.match(a, /^\/home\/u\/\.codex-autorunner\/workspaces\/app-[0-9a-f]{12}\/codex_home$/);
  assert.notEqual(a, workspaceCodexHome('/other/app', env));
  assert.equal(a, workspaceCodexHome('/src/app/', env));
  assert.match(workspaceCodexHome('/src/app', { CAR_GLOBAL_STATE_ROOT: '/state' }), /^\/state\/workspaces\//);
});
