import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { after, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { initRepo } from '../../src/core/init.ts';
import { startServer } from '../../src/surfaces/http/server.ts';
import { makeGitRepo } from '../helpers/git-repo.ts';

const MAIN = fileURLToPath(new URL('../../src/surfaces/cli/main.ts', import.meta.url));
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

async function readUntil(child: ChildProcess, pattern: RegExp, timeoutMs = 20_000): Promise<string> {
  let out = '';
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`timed out; output so far:\n${out}`)), timeoutMs);
    child.stdout!.on('data', (chunk: Buffer) => {
      out += chunk.toString('utf8');
      if (pattern.test(out)) {
        clearTimeout(timer);
        resolve(out);
      }
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`car serve exited ${code}:\n${out}`));
    });
  });
}

test('car serve on a non-loopback address prints a generated token once and requires it', async () => {
  const root = carRepo();
  const env = { ...process.env };
  delete env.CAR_WEB_TOKEN;
  const child = spawn(
    process.execPath,
    ['--import', 'tsx', MAIN, '--repo', root, 'serve', '--host', '0.0.0.0', '--port', '0'],
    { env, stdio: ['ignore', 'pipe', 'pipe'] },
  );
  cleanups.push(() => {
    if (child.exitCode === null) child.kill('SIGKILL');
  });
  const out = await readUntil(child, /token[^\n]*:\n(\S+)\n/);
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
  const exited = new Promise<number | null>((resolve) => child.once('exit', resolve));
  child.kill('SIGTERM');
  assert.equal(await exited, 0);
});
