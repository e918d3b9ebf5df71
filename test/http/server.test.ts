import assert from 'node:assert/strict';
import { after, test } from 'node:test';
import { initRepo } from '../../src/core/init.ts';
import { startServer } from '../../src/surfaces/http/server.ts';
import { carEnv, output, running, startCar, tempHome } from '../helpers/built-car.ts';
import { makeGitRepo } from '../helpers/git-repo.ts';

const cleanups: (() => void | Promise<void>)[] = [];
after(async () => {
  for (const c of cleanups.reverse()) await c();
});

function carRepo(): string {
  const repo = makeGitRepo();
  cleanups.push(repo.cleanup);
  initRepo(repo.dir);
  return repo.dir;
}

test('the real server on 127.0.0.1:0 answers fetch, with the token, and logs no secrets', async () => {
  const root = carRepo();
  const lines: string[] = [];
  const server = await startServer({
    root,
    host: '127.0.0.1',
    port: 0,
    token: 'tok-123',
    accessLog: (l) => lines.push(l),
  });
  cleanups.push(() => server.close());
  assert.ok(server.port > 0);
  assert.equal(server.url, `http://127.0.0.1:${server.port}`);
  const ok = await fetch(`${server.url}/api/health`, { headers: { authorization: 'Bearer tok-123' } });
  assert.equal(ok.status, 200);
  assert.equal(((await ok.json()) as { ok: boolean }).ok, true);
  assert.equal((await fetch(`${server.url}/api/health`)).status, 401);
  const created = await fetch(`${server.url}/api/tickets?x=1`, {
    method: 'POST',
    headers: { authorization: 'Bearer tok-123', 'content-type': 'application/json' },
    body: JSON.stringify({ title: 'over the wire' }),
  });
  assert.equal(created.status, 201);
  assert.deepEqual(
    lines.map((l) => l.replace(/\d+ms$/, 'Nms')),
    ['GET /api/health 200 Nms', 'GET /api/health 401 Nms', 'POST /api/tickets 201 Nms'],
  );
  assert.ok(!lines.join('\n').includes('tok-123'));
});

test('car serve (the built CLI) on a non-loopback address prints a generated token once and requires it', async () => {
  const root = carRepo();
  const home = tempHome();
  cleanups.push(home.cleanup);
  // no CAR_WEB_TOKEN in the environment: car generates one
  const car = startCar(['serve', '--host', '0.0.0.0', '--port', '0'], { cwd: root, env: carEnv(home.home) });
  cleanups.push(async () => {
    if (running(car)) car.child.kill('SIGKILL');
    await car.exited;
  });
  await car.waitForOutput(/token[^\n]*:\n(\S+)\n/, 60_000);
  const out = car.stdout;
  const port = /at http:\/\/0\.0\.0\.0:(\d+)\/api/.exec(out)?.[1];
  const token = /token[^\n]*:\n(\S+)\n/.exec(out)?.[1];
  assert.ok(port && token, out);
  const base = `http://127.0.0.1:${port}`;
  assert.equal((await fetch(`${base}/api/health`)).status, 401);
  assert.equal(
    (await fetch(`${base}/api/health`, { headers: { authorization: 'Bearer nope' } })).status,
    401,
  );
  const ok = await fetch(`${base}/api/health`, { headers: { authorization: `Bearer ${token}` } });
  assert.equal(ok.status, 200);
  car.child.kill('SIGTERM');
  assert.equal((await car.exited).code, 0, output(car));
});
