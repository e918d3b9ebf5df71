// `car hub run` end to end: real git repos and worktrees, real detached `car flow worker` processes,
// demo-agent tickets that sleep so runs overlap. The caps are checked from outside, by sampling every
// checkout's flow.lock while the supervisor runs.
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { FlowControl } from '../../src/control/flow-control.ts';
import { admissionHold, type SupervisorEvent, superviseHub } from '../../src/control/hub-supervisor.ts';
import { loadConfig } from '../../src/core/config/index.ts';
import { readManifest } from '../../src/core/hub/manifest.ts';
import { repoPaths } from '../../src/core/paths.ts';
import { openRunStore } from '../../src/core/store/run-store.ts';
import { createRepoState } from '../../src/integrations/git/index.ts';
import { createApp } from '../../src/surfaces/http/app.ts';
import { workerLauncher } from '../../src/surfaces/worker-spawn.ts';
import { json } from '../helpers/cli.ts';
import { demoTicket, git, liveHolder, makeHub, sampleLive, type TestHub, writeTicket } from './helpers.ts';

const hubs: TestHub[] = [];
after(() => {
  for (const h of hubs) h.cleanup();
});

interface StatusJson {
  summary: Record<string, number>;
  repos: {
    id: string;
    state: string;
    base_id: string;
    worker: { status: string; pid: number | null };
    tickets: { total: number; done: number; open: number };
    run: { status: string; reason_code: string | null } | null;
  }[];
  supervisor: { alive: boolean; repos: Record<string, { state: string }> } | null;
}

const WORK = (name: string) => ['sleep 300', `write ${name}.txt hello`, 'done', `commit ${name}`];

test('hub run works 6 checkouts (3 of one repo) in parallel within the global and per-repo caps', async () => {
  const hub = await makeHub();
  hubs.push(hub);
  for (const name of ['alpha', 'beta', 'gamma', 'delta']) hub.gitRepo(name);
  assert.equal((await hub.run(['hub', 'scan'])).code, 0);
  for (const branch of ['w1', 'w2']) {
    const res = await hub.run(['worktree', 'new', 'alpha', branch]);
    assert.equal(res.code, 0, res.stderr);
  }
  const listed = json<{ repos: { id: string; kind: string; worktree_of: string | null }[] }>(
    await hub.run(['hub', 'list', '--json']),
  );
  assert.deepEqual(
    listed.repos.map((r) => [r.id, r.kind, r.worktree_of]),
    [
      ['alpha', 'base', null],
      ['beta', 'base', null],
      ['delta', 'base', null],
      ['gamma', 'base', null],
      ['alpha--w1', 'worktree', 'alpha'],
      ['alpha--w2', 'worktree', 'alpha'],
    ],
  );
  const checkouts = [
    { id: 'alpha', dir: join(hub.root, 'repos/alpha'), group: 'alpha' },
    { id: 'beta', dir: join(hub.root, 'repos/beta'), group: 'beta' },
    { id: 'gamma', dir: join(hub.root, 'repos/gamma'), group: 'gamma' },
    { id: 'delta', dir: join(hub.root, 'repos/delta'), group: 'delta' },
    { id: 'alpha--w1', dir: join(hub.root, 'worktrees/alpha--w1'), group: 'alpha' },
    { id: 'alpha--w2', dir: join(hub.root, 'worktrees/alpha--w2'), group: 'alpha' },
  ];
  for (const c of checkouts) {
    writeTicket(c.dir, 'TICKET-010.md', demoTicket(1, WORK(`${c.id}-one`)));
    writeTicket(c.dir, 'TICKET-020.md', demoTicket(2, WORK(`${c.id}-two`)));
  }

  const sampler = sampleLive(checkouts);
  const res = await hub.run([
    'hub',
    'run',
    '--max-parallel',
    '3',
    '--per-repo',
    '1',
    '--poll-seconds',
    '0.1',
    '--json',
  ]);
  const seen = sampler.stop();
  assert.equal(res.code, 0, `${res.stdout}\n${res.stderr}`);

  assert.ok(seen.maxLive <= 3, `global cap: saw ${seen.maxLive} live workers`);
  assert.ok(seen.maxLive >= 2, `runs must overlap; saw at most ${seen.maxLive} at once`);
  assert.ok((seen.maxPerGroup.get('alpha') ?? 0) <= 1, 'alpha and its worktrees share one slot');
  assert.equal(seen.seenLive.size, 6, 'every checkout had a live worker at some point');

  const out = JSON.parse(res.stdout) as {
    maxLive: number;
    repos: Record<string, { state: string; status: string }>;
  };
  assert.ok(out.maxLive <= 3);
  for (const c of checkouts) {
    assert.equal(out.repos[c.id]?.status, 'completed', `${c.id}: ${JSON.stringify(out.repos[c.id])}`);
    assert.ok(existsSync(join(c.dir, `${c.id}-two.txt`)), `${c.id} did its work`);
    assert.match(git(c.dir, ['log', '--oneline', '-1']), new RegExp(`${c.id}-two`));
    assert.equal(liveHolder(c.dir), null, 'no worker left behind');
  }
  // worktree commits landed on their own branches of the one shared object store
  assert.match(git(join(hub.root, 'repos/alpha'), ['log', '--oneline', '-1', 'w1']), /alpha--w1-two/);

  const status = json<StatusJson>(await hub.run(['hub', 'status', '--json']));
  assert.deepEqual(status.summary, { repos: 6, completed: 6 });
  for (const r of status.repos) assert.deepEqual(r.tickets, { total: 2, done: 2, open: 0, next: null });
  assert.equal(status.supervisor?.alive, false);
});

test('a worker killed with -9 is reported as crashed; the other flows finish', async () => {
  const hub = await makeHub();
  hubs.push(hub);
  const crashy = hub.gitRepo('crashy');
  const dirs = [hub.gitRepo('steady1'), hub.gitRepo('steady2')];
  assert.equal((await hub.run(['hub', 'scan'])).code, 0);
  writeTicket(crashy, 'TICKET-010.md', demoTicket(1, ['sleep 20000', 'done']));
  for (const dir of dirs) {
    writeTicket(dir, 'TICKET-010.md', demoTicket(1, ['sleep 1500', 'write a.txt a', 'done', 'commit a']));
    writeTicket(dir, 'TICKET-020.md', demoTicket(2, WORK('b')));
  }

  const running = hub.run(['hub', 'run', '--max-parallel', '3', '--poll-seconds', '0.1', '--json']);
  let victim: number | null = null;
  const deadline = Date.now() + 20_000;
  while (victim === null && Date.now() < deadline) {
    victim = liveHolder(crashy);
    if (victim === null) await new Promise((r) => setTimeout(r, 20));
  }
  assert.ok(victim !== null, 'the crashy repo got a worker');
  // the others are running at the same time
  const otherLive = await (async () => {
    // a deadline, not a count of polls: worker start-up is slow on a loaded machine
    for (const until = Date.now() + 30_000; Date.now() < until; ) {
      if (dirs.every((d) => liveHolder(d) !== null)) return true;
      await new Promise((r) => setTimeout(r, 20));
    }
    return false;
  })();
  assert.ok(otherLive, 'all three flows ran at once');
  // kill it mid-run: once its worker has the run running (it owns the lock a moment before that)
  const runningNow = () => {
    const store = openRunStore(repoPaths(crashy).dbFile);
    try {
      return store.latestRun()?.status === 'running';
    } finally {
      store.close();
    }
  };
  for (let i = 0; i < 500 && !runningNow(); i++) await new Promise((r) => setTimeout(r, 20));
  process.kill(victim, 'SIGKILL');

  const res = await running;
  assert.equal(res.code, 1, 'a crash makes hub run exit 1');
  const out = JSON.parse(res.stdout) as {
    repos: Record<string, { state: string; status: string | null; crashes: number }>;
    events: { type: string; repo: string }[];
  };
  assert.equal(out.repos.crashy?.state, 'crashed');
  assert.equal(out.repos.crashy?.crashes, 1);
  assert.equal(out.repos.steady1?.status, 'completed');
  assert.equal(out.repos.steady2?.status, 'completed');
  assert.deepEqual(
    out.events
      .filter((e) => e.type === 'started')
      .map((e) => e.repo)
      .sort(),
    ['crashy', 'steady1', 'steady2'],
    'the crashed flow was not restarted',
  );
  for (const dir of dirs) assert.match(git(dir, ['log', '--oneline', '-1']), /commit|b/);

  const status = json<StatusJson>(await hub.run(['hub', 'status', '--json']));
  const byId = Object.fromEntries(status.repos.map((r) => [r.id, r]));
  assert.equal(byId.crashy?.state, 'crashed');
  assert.equal(byId.crashy?.worker.status, 'stale');
  assert.equal(byId.crashy?.worker.pid, victim);
  assert.equal(byId.crashy?.run?.status, 'running');
  assert.equal(byId.steady1?.state, 'completed');
  assert.deepEqual(byId.steady2?.tickets, { total: 2, done: 2, open: 0, next: null });
  assert.equal(status.supervisor?.repos.crashy?.state, 'crashed');

  // the HTTP API says the same
  const app = createApp({ root: hub.root });
  try {
    const api = (await (await app.request('/api/hub/repos')).json()) as StatusJson;
    assert.deepEqual(
      api.repos.map((r) => [r.id, r.state, r.worker.status]),
      status.repos.map((r) => [r.id, r.state, r.worker.status]),
    );
  } finally {
    app.close();
  }
});

test('admission control: while the host is overloaded no worker starts; the hold is said once, then work goes on', async () => {
  const hub = await makeHub();
  hubs.push(hub);
  const dir = hub.gitRepo('solo');
  assert.equal((await hub.run(['hub', 'add', dir])).code, 0);
  writeTicket(dir, 'TICKET-010.md', demoTicket(1, ['write solo.txt hello', 'done', 'commit solo']));
  git(dir, ['add', '-A']);
  git(dir, ['commit', '-q', '-m', 'plan']);

  let polls = 0;
  const events: SupervisorEvent[] = [];
  const { config } = loadConfig(dir, {});
  const result = await superviseHub(
    {
      hubRoot: hub.root,
      readRepos: () => readManifest(join(hub.root, '.codex-autorunner/manifest.yml')).repos,
      openControl: (d) =>
        new FlowControl(repoPaths(d), config, createRepoState(d), { launcher: workerLauncher(process.env) }),
      lockFile: join(hub.root, '.codex-autorunner/hub.lock'),
      stateFile: join(hub.root, '.codex-autorunner/hub_supervisor.json'),
      // overloaded for the first five looks, then calm
      sampleHost: () =>
        ++polls <= 5
          ? { loadPerCore: 3.5, availableMemoryMib: 8000 }
          : { loadPerCore: 0.2, availableMemoryMib: 8000 },
    },
    {
      maxParallel: 2,
      perRepo: 1,
      pollMs: 20,
      admission: { maxLoadPerCore: 2, minAvailableMemoryMib: 512 },
      onEvent: (e) => events.push(e),
    },
  );
  const held = events.filter((e) => e.type === 'held');
  assert.equal(held.length, 1, 'said once while it lasted');
  assert.match(
    held[0]?.type === 'held' ? held[0].reason : '',
    /load 3\.50 per core is over hub\.admission\.max_load_per_core 2/,
  );
  const started = events.findIndex((e) => e.type === 'started');
  assert.ok(started > events.indexOf(held[0]!), 'started only after the hold');
  assert.ok(polls >= 6);
  assert.equal(result.repos.solo?.status, 'completed');
});

test('admissionHold: load per core and available memory, each optional', () => {
  const limits = { maxLoadPerCore: 2, minAvailableMemoryMib: 512 };
  assert.equal(admissionHold(limits, { loadPerCore: 1.9, availableMemoryMib: 600 }), null);
  assert.match(
    admissionHold(limits, { loadPerCore: 2.1, availableMemoryMib: 600 }) ?? '',
    /load 2\.10 per core/,
  );
  assert.match(
    admissionHold(limits, { loadPerCore: 0.1, availableMemoryMib: 300 }) ?? '',
    /300 MiB of memory available, under hub\.admission\.min_available_memory_mb 512/,
  );
  assert.equal(
    admissionHold(
      { maxLoadPerCore: null, minAvailableMemoryMib: null },
      { loadPerCore: 99, availableMemoryMib: 1 },
    ),
    null,
  );
});
