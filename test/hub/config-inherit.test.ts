// A repo registered in a hub inherits, as in CAR, the hub's `repo_defaults` and its shared sections
// (agents, app_server, the chat bots...) below its own files; an unregistered repo under the hub does not.
import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { knownAgentIds, loadConfig } from '../../src/core/config/index.ts';
import { loadHubConfig } from '../../src/core/hub/config.ts';
import { openRunStore } from '../../src/core/store/run-store.ts';
import { car } from '../helpers/cli.ts';
import { git, makeHub, type TestHub, writeTicket } from './helpers.ts';

const cleanups: (() => void)[] = [];
after(() => {
  for (const c of cleanups) c();
});

async function hubWithApp(): Promise<{ h: TestHub; app: string }> {
  const h = await makeHub();
  cleanups.push(h.cleanup);
  const app = h.gitRepo('app');
  assert.equal((await h.run(['hub', 'add', app])).code, 0);
  writeFileSync(
    join(h.root, 'codex-autorunner.yml'),
    [
      'repo_defaults:',
      '  ticket_flow:',
      '    max_total_turns: 77',
      '  git:',
      '    auto_commit: true',
      'agents:',
      '  mine:',
      '    backend: demo',
      'hub:',
      '  max_parallel: 2',
      '',
    ].join('\n'),
  );
  return { h, app };
}

test("a hub's repo_defaults and agents reach its registered repos, under the repo's own files", async () => {
  const { h, app } = await hubWithApp();
  const { config, sources } = loadConfig(app, {});
  assert.equal(config.ticket_flow.max_total_turns, 77);
  assert.equal(config.git.auto_commit, true);
  assert.ok(knownAgentIds(config).has('mine'), 'the hub-level agent is known in the repo');
  const hubSource = sources.find((s) => s.layer === 'hub_config');
  assert.equal(hubSource?.present, true);
  assert.equal(hubSource?.file, h.root);
  assert.deepEqual(hubSource?.files, [
    join(h.root, 'codex-autorunner.yml'),
    join(h.root, '.codex-autorunner/config.yml'),
  ]);

  // the repo's own override wins
  writeFileSync(join(app, '.codex-autorunner/repo.override.yml'), 'ticket_flow:\n  max_total_turns: 5\n');
  assert.equal(loadConfig(app, {}).config.ticket_flow.max_total_turns, 5);

  // end to end: a ticket for the hub's agent runs in the repo
  writeTicket(
    app,
    'TICKET-010.md',
    '---\nticket_id: tkt_inherit0000000000000000000000001\nagent: mine\ndone: false\ntitle: inherited agent\n---\n\n```car-demo\nwrite made.txt made\ndone\n```\n',
  );
  git(app, ['add', '-A']);
  git(app, ['commit', '-q', '-m', 'plan']);
  const lint = await car(['ticket', 'lint'], { cwd: app });
  assert.equal(lint.code, 0, lint.stdout + lint.stderr);
  const run = await car(['run'], { cwd: app });
  assert.equal(run.code, 0, run.stdout + run.stderr);
  const store = openRunStore(join(app, '.codex-autorunner/car.db'));
  try {
    assert.equal(store.latestRun()?.status, 'completed');
  } finally {
    store.close();
  }
});

test('a repo under the hub that is not registered inherits nothing; a bad hub value names the hub file', async () => {
  const { h, app } = await hubWithApp();
  const stray = join(h.root, 'repos', 'stray');
  mkdirSync(stray, { recursive: true });
  h.gitRepo('stray');
  assert.equal((await car(['init'], { cwd: stray })).code, 0);
  const { config, sources } = loadConfig(stray, {});
  assert.equal(config.ticket_flow.max_total_turns, null);
  assert.equal(knownAgentIds(config).has('mine'), false);
  assert.equal(sources.find((s) => s.layer === 'hub_config')?.present, false);

  writeFileSync(join(h.root, 'codex-autorunner.override.yml'), 'agents:\n  mine:\n    backend: nope\n');
  const bad = await car(['ticket', 'list'], { cwd: app });
  assert.equal(bad.code, 3, bad.stderr);
  assert.match(
    bad.stderr,
    /\.\.\/\.\.\/codex-autorunner\.override\.yml: agents\.mine\.backend must be one of/,
  );
});

test('a bad `hub:` setting names the hub file it is in (fuzz finding: it said "hub config")', async () => {
  const { h } = await hubWithApp();
  writeFileSync(join(h.root, 'codex-autorunner.yml'), 'hub:\n  max_parallel: 0\n');
  assert.throws(() => loadHubConfig(h.root, {}), {
    name: 'ConfigError',
    message: /^codex-autorunner\.yml: hub\.max_parallel must be a positive integer/,
  });
  writeFileSync(join(h.root, 'codex-autorunner.yml'), 'hub: [x]\n');
  assert.throws(() => loadHubConfig(h.root, {}), {
    message: /^codex-autorunner\.yml: hub must be a mapping/,
  });
  assert.throws(() => loadHubConfig(h.root, { CAR__HUB__MAX_PARALLEL: '-1' }), {
    message: /^CAR__HUB__MAX_PARALLEL: hub\.max_parallel/,
  });
});
